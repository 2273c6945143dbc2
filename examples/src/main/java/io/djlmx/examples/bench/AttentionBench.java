package io.djlmx.examples.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.djlmx.attention.AttentionConfig;
import io.djlmx.attention.QkPrecision;
import io.djlmx.attention.djl.MxAttention;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.Locale;

/**
 * Times MX CPU attention against the same attention built from DJL PyTorch FP32 ops (transpose,
 * matMul, scale, softmax, matMul: what DJL's {@code ScaledDotProductAttentionBlock} does) at B=1,
 * H=12, D=64, side by side in one JVM.
 *
 * <p>After warm-up, every round runs each contender once, in turn, so that load from other
 * processes hits all of them alike; it reports the median wall time and the mean process CPU time
 * per call (the latter is steadier on a shared machine).
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp
 * 'examples/target/mx.jar:examples/target/lib/*' io.djlmx.examples.bench.AttentionBench [S...]}
 */
public final class AttentionBench {

  private static final com.sun.management.OperatingSystemMXBean OS =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

  private AttentionBench() {}

  /**
   * Runs the benchmark.
   *
   * @param args sequence lengths (default 512 2048)
   */
  public static void main(String[] args) {
    int[] lengths =
        args.length == 0
            ? new int[] {512, 2048}
            : Arrays.stream(args).mapToInt(Integer::parseInt).toArray();
    int heads = 12;
    int dim = 64;
    AttentionConfig[] configs = {
      AttentionConfig.builder().optPvFp8(true).build(),
      AttentionConfig.builder().optQkPrecision(QkPrecision.MXFP8_E4M3).optPvFp8(true).build(),
      AttentionConfig.defaults(),
    };
    String[] names = {
      "DJL PyTorch FP32 ops",
      "MX int8 QK + fp8 PV",
      "MX mxfp8 QK + fp8 PV",
      "MX int8 QK + fp32 PV (default)"
    };
    System.out.printf(
        Locale.ROOT,
        "cores=%d, vector=%s, engine=PyTorch %s, load average at start %.1f%n",
        Runtime.getRuntime().availableProcessors(),
        jdk.incubator.vector.FloatVector.SPECIES_PREFERRED,
        Engine.getEngine("PyTorch").getVersion(),
        OS.getSystemLoadAverage());
    try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
      manager.getEngine().setRandomSeed(42);
      for (int s : lengths) {
        int rounds = s <= 512 ? 30 : 7;
        int warm = s <= 512 ? 10 : 3;
        NDArray q = manager.randomNormal(new Shape(1, heads, s, dim));
        NDArray k = manager.randomNormal(new Shape(1, heads, s, dim));
        NDArray v = manager.randomNormal(new Shape(1, heads, s, dim));
        float scale = (float) (1 / Math.sqrt(dim));
        Runnable[] runs = new Runnable[names.length];
        runs[0] =
            () -> {
              try (NDArray kt = k.transpose(0, 1, 3, 2);
                  NDArray sc = q.matMul(kt);
                  NDArray scaled = sc.mul(scale);
                  NDArray p = scaled.softmax(3);
                  NDArray o = p.matMul(v)) {
                o.getShape();
              }
            };
        for (int c = 0; c < configs.length; c++) {
          AttentionConfig cfg = configs[c];
          runs[c + 1] =
              () -> {
                try (NDArray o = MxAttention.attention(q, k, v, null, false, null, cfg)) {
                  o.getShape();
                }
              };
        }
        double[][] wall = new double[runs.length][rounds];
        double[][] cpu = new double[runs.length][rounds];
        for (int i = 0; i < warm; i++) {
          for (Runnable r : runs) {
            r.run();
          }
        }
        for (int i = 0; i < rounds; i++) {
          for (int c = 0; c < runs.length; c++) {
            long c0 = OS.getProcessCpuTime();
            long t0 = System.nanoTime();
            runs[c].run();
            wall[c][i] = (System.nanoTime() - t0) / 1e6;
            cpu[c][i] = (OS.getProcessCpuTime() - c0) / 1e6;
          }
        }
        double baseWall = median(wall[0]);
        double baseCpu = mean(cpu[0]);
        for (int c = 0; c < runs.length; c++) {
          double w = median(wall[c]);
          double u = mean(cpu[c]);
          System.out.printf(
              Locale.ROOT,
              "S=%-5d %-22s wall %8.2f ms (%.2fx)   cpu %8.2f ms (%.2fx)   %.1f GOP/s wall%n",
              s,
              names[c],
              w,
              baseWall / w,
              u,
              baseCpu / u,
              4.0 * heads * s * (double) s * dim / w / 1e6);
        }
        System.out.printf(
            Locale.ROOT,
            "(S=%d: %d rounds, wall median, cpu mean; load average now %.1f)%n",
            s,
            rounds,
            OS.getSystemLoadAverage());
        q.close();
        k.close();
        v.close();
      }
    }
  }

  /**
   * Process CPU time ticks in jiffies (10 ms) here: a mean over rounds resolves it, a median not.
   */
  private static double mean(double[] a) {
    return Arrays.stream(a).average().orElse(Double.NaN);
  }

  private static double median(double[] a) {
    double[] t = a.clone();
    Arrays.sort(t);
    return t[t.length / 2];
  }
}

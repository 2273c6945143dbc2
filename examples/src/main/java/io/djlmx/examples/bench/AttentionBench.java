package io.djlmx.examples.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.djlmx.attention.AttentionConfig;
import io.djlmx.attention.QkPrecision;
import io.djlmx.attention.djl.MxAttention;
import java.util.Arrays;
import java.util.Locale;

/**
 * Times MX CPU attention against the same attention built from DJL PyTorch FP32 ops (matMul,
 * softmax, matMul) at B=1, H=12, D=64, side by side in one JVM, with warm-up and medians.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp
 * examples/target/mx.jar:examples/target/lib/* io.djlmx.examples.bench.AttentionBench [S...]}
 */
public final class AttentionBench {

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
      AttentionConfig.defaults(),
      AttentionConfig.builder().optQkPrecision(QkPrecision.MXFP8_E4M3).build(),
      AttentionConfig.builder().optPvFp8(false).build(),
    };
    String[] names = {"MX int8 QK + fp8 PV", "MX mxfp8 QK + fp8 PV", "MX int8 QK + fp32 PV"};
    System.out.printf(
        Locale.ROOT,
        "threads=%d, vector=%s, engine=%s%n",
        Runtime.getRuntime().availableProcessors(),
        jdk.incubator.vector.FloatVector.SPECIES_PREFERRED,
        Engine.getEngine("PyTorch").getEngineName()
            + " "
            + Engine.getEngine("PyTorch").getVersion());
    try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
      manager.getEngine().setRandomSeed(42);
      for (int s : lengths) {
        int iters = s <= 512 ? 30 : 7;
        int warm = s <= 512 ? 10 : 3;
        NDArray q = manager.randomNormal(new Shape(1, heads, s, dim));
        NDArray k = manager.randomNormal(new Shape(1, heads, s, dim));
        NDArray v = manager.randomNormal(new Shape(1, heads, s, dim));
        float scale = (float) (1 / Math.sqrt(dim));
        double base =
            median(
                warm,
                iters,
                () -> {
                  // The same ops as DJL's ScaledDotProductAttentionBlock; every temporary closed.
                  try (NDArray kt = k.transpose(0, 1, 3, 2);
                      NDArray sc = q.matMul(kt);
                      NDArray scaled = sc.mul(scale);
                      NDArray p = scaled.softmax(3);
                      NDArray o = p.matMul(v)) {
                    o.getShape();
                  }
                });
        System.out.printf(
            Locale.ROOT, "S=%d  DJL PyTorch FP32 ops: %.2f ms (median of %d)%n", s, base, iters);
        for (int c = 0; c < configs.length; c++) {
          AttentionConfig cfg = configs[c];
          double t =
              median(
                  warm,
                  iters,
                  () -> {
                    try (NDArray o = MxAttention.attention(q, k, v, null, false, null, cfg)) {
                      o.getShape();
                    }
                  });
          System.out.printf(
              Locale.ROOT,
              "S=%d  %-22s %.2f ms  = %.2fx DJL  (%.1f GOP/s)%n",
              s,
              names[c],
              t,
              base / t,
              4.0 * heads * s * (double) s * dim / t / 1e6);
        }
        q.close();
        k.close();
        v.close();
      }
    }
  }

  private static double median(int warm, int iters, Runnable r) {
    for (int i = 0; i < warm; i++) {
      r.run();
    }
    double[] t = new double[iters];
    for (int i = 0; i < iters; i++) {
      long t0 = System.nanoTime();
      r.run();
      t[i] = (System.nanoTime() - t0) / 1e6;
    }
    Arrays.sort(t);
    return t[iters / 2];
  }
}

package io.djlmx.examples.bench;

import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.format.ScaleMode;
import io.djlmx.kernel.PreparedWeight;
import io.djlmx.kernel.cpu.CpuLinearKernel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Times {@link CpuLinearKernel} alone (no PyTorch), for machines where PyTorch's natives are not
 * available: median and minimum of 25 timed batches, with the weight bytes per second and FLOP/s.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -Xmx8g -cp examples/target/mx.jar
 * io.djlmx.examples.bench.CpuLinearKernelBench M K N THREADS FORMAT...} where a format may end in
 * {@code +A} for weight + activation in the same format (e.g. {@code MXFP8+A}).
 */
public final class CpuLinearKernelBench {

  private CpuLinearKernelBench() {}

  /**
   * Runs the benchmark.
   *
   * @param args {@code M K N THREADS FORMAT...}
   */
  public static void main(String[] args) {
    if (args.length < 5) {
      System.err.println("usage: CpuLinearKernelBench M K N THREADS FORMAT[+A]...");
      System.exit(2);
    }
    int m = Integer.parseInt(args[0]);
    int k = Integer.parseInt(args[1]);
    int n = Integer.parseInt(args[2]);
    int threads = Integer.parseInt(args[3]);
    float[] w = new float[Math.multiplyExact(n, k)];
    IntStream.range(0, n)
        .parallel()
        .forEach(
            r -> {
              SplittableRandom rr = new SplittableRandom(r);
              for (int c = 0; c < k; c++) {
                w[r * k + c] = (float) rr.nextGaussian();
              }
            });
    try (CpuLinearKernel kernel = CpuLinearKernel.builder().optThreads(threads).build();
        Arena arena = Arena.ofShared()) {
      MemorySegment x = arena.allocate(4L * m * k, 64);
      MemorySegment y = arena.allocate(4L * m * n, 64);
      SplittableRandom rnd = new SplittableRandom(1);
      for (long i = 0; i < (long) m * k; i++) {
        x.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextGaussian());
      }
      for (int a = 4; a < args.length; a++) {
        String spec = args[a];
        boolean withActivations = spec.endsWith("+A");
        MxFormat f = MxFormat.parse(spec.replace("+A", ""));
        MxFormat act = withActivations ? f : null;
        long bytes;
        PreparedWeight pw;
        try (MxTensor t = MxTensor.quantize(w, new long[] {n, k}, f)) {
          bytes = t.byteSize();
          pw = kernel.prepare(t);
        }
        try (pw) {
          int calls = (int) Math.max(1, 2e8 / ((double) n * k * Math.max(1, m / 8)));
          double[] ms = new double[25];
          for (int rep = 0; rep < ms.length; rep++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < calls; i++) {
              kernel.linear(x, m, pw, null, y, act, ScaleMode.FLOOR);
            }
            ms[rep] = (System.nanoTime() - t0) / 1e6 / calls;
          }
          Arrays.sort(ms);
          double median = ms[ms.length / 2];
          System.out.printf(
              Locale.ROOT,
              "%-14s m=%d k=%d n=%d median %.3f ms min %.3f (%.1f GB/s of weights, %.1f GFLOP/s)%n",
              spec,
              m,
              k,
              n,
              median,
              ms[0],
              bytes / median / 1e6,
              2.0 * m * n * k / median / 1e6);
        }
      }
    }
  }
}

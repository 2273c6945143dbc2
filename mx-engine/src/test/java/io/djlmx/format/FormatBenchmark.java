package io.djlmx.format;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * Throughput of quantize and dequantize, scalar path versus Vector API path, in GB/s of FP32 (read
 * by quantize, written by dequantize). A harness with warm-up and medians, not a test; run it with
 *
 * <pre>
 * ./mvnw -B -q -pl mx-engine test-compile
 * java --add-modules jdk.incubator.vector -cp mx-engine/target/classes:mx-engine/target/test-classes \
 *     io.djlmx.format.FormatBenchmark [rows] [cols] [reps] [formats,...]
 * </pre>
 */
public final class FormatBenchmark {

  /** Long enough for C2 to finish compiling on a loaded 2-core machine. */
  private static final long WARMUP_NANOS = 3_000_000_000L;

  private FormatBenchmark() {}

  interface Run {
    void run();
  }

  /** Warms up for at least {@code warmup} runs and {@value #WARMUP_NANOS} ns, then times. */
  private static double[] medianAndBestSeconds(Run r, int warmup, int reps) {
    long start = System.nanoTime();
    for (int i = 0; i < warmup || System.nanoTime() - start < WARMUP_NANOS; i++) {
      r.run();
    }
    double[] t = new double[reps];
    for (int i = 0; i < reps; i++) {
      long t0 = System.nanoTime();
      r.run();
      t[i] = (System.nanoTime() - t0) * 1e-9;
    }
    Arrays.sort(t);
    return new double[] {t[reps / 2], t[0]};
  }

  private static String rate(double gb, double[] seconds) {
    return String.format(Locale.ROOT, "%.2f (%.2f)", gb / seconds[0], gb / seconds[1]);
  }

  /**
   * Runs the benchmark and prints a Markdown table.
   *
   * @param args rows, cols, repetitions, formats (defaults 4096, 8192, 21, all)
   */
  public static void main(String[] args) {
    int rows = args.length > 0 ? Integer.parseInt(args[0]) : 4096;
    int cols = args.length > 1 ? Integer.parseInt(args[1]) : 8192;
    int reps = args.length > 2 ? Integer.parseInt(args[2]) : 21;
    long n = (long) rows * cols;
    double gb = n * 4 / 1e9;
    if (!VectorBlockCodec.isSupported()) {
      throw new IllegalStateException("no 512-bit vectors: the vector path does not run here");
    }
    try (Arena arena = Arena.ofShared()) {
      MemorySegment x = arena.allocate(n * 4, 64);
      MemorySegment y = arena.allocate(n * 4, 64);
      Random rnd = new Random(1);
      for (long i = 0; i < n; i++) {
        x.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextGaussian());
      }
      long[] shape = {rows, cols};
      System.out.printf(
          Locale.ROOT,
          "%d x %d FP32 (%.0f MiB), block 32, FLOOR, median of %d after warm-up%n%n",
          rows,
          cols,
          n * 4 / 1048576.0,
          reps);
      int threads = java.util.concurrent.ForkJoinPool.getCommonPoolParallelism() + 1;
      System.out.println(
          "| format | quantize scalar | quantize vector | vector/scalar | quantize vector, "
              + threads
              + " threads | dequantize scalar | dequantize vector | vector/scalar | dequantize"
              + " vector, "
              + threads
              + " threads |");
      System.out.println("|---|---|---|---|---|---|---|---|---|");
      MxFormat[] formats =
          args.length > 3
              ? Arrays.stream(args[3].split(",")).map(MxFormat::parse).toArray(MxFormat[]::new)
              : MxFormat.values();
      int scalarReps = Math.max(3, reps / 5);
      for (MxFormat f : formats) {
        try (MxTensor t = MxTensor.allocate(shape, f, ScaleMode.FLOOR, 32)) {
          double[] qs =
              medianAndBestSeconds(() -> MxTensor.RowCodec.quantizeScalar(x, t), 1, scalarReps);
          double[] qv =
              medianAndBestSeconds(() -> VectorBlockCodec.quantizeRows(x, t, 0, rows), 5, reps);
          double[] qp = medianAndBestSeconds(() -> MxTensor.RowCodec.quantize(x, t), 5, reps);
          double[] ds =
              medianAndBestSeconds(() -> MxTensor.RowCodec.dequantizeScalar(t, y), 1, scalarReps);
          double[] dv =
              medianAndBestSeconds(() -> VectorBlockCodec.dequantizeRows(t, y, 0, rows), 5, reps);
          double[] dp = medianAndBestSeconds(() -> MxTensor.RowCodec.dequantize(t, y), 5, reps);
          System.out.printf(
              Locale.ROOT,
              "| %s | %s | %s | %.1fx | %s | %s | %s | %.1fx | %s |%n",
              f,
              rate(gb, qs),
              rate(gb, qv),
              qs[0] / qv[0],
              rate(gb, qp),
              rate(gb, ds),
              rate(gb, dv),
              ds[0] / dv[0],
              rate(gb, dp));
        }
      }
      System.out.println();
      System.out.println(
          "GB/s of FP32 (read by quantize, written by dequantize), 1 GB = 10^9 bytes: median"
              + " (best); speed-ups are ratios of medians.");
    }
  }
}

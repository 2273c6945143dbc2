package io.djlmx.examples.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.format.ScaleMode;
import io.djlmx.kernel.PreparedWeight;
import io.djlmx.kernel.cpu.CpuLinearKernel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Times MX linear ({@link CpuLinearKernel}) against DJL PyTorch FP32 linear on the same inputs,
 * side by side: each round runs every contender once (a batch of calls lasting about 20 ms), and
 * the table reports medians over the rounds, the ratio of PyTorch's median to each contender's, and
 * the median over the rounds of each round's own ratio (PyTorch's batch and the contender's, timed
 * moments apart): on a shared machine the load drifts between rounds, and the paired ratio follows
 * the contenders' relative speed more closely than the ratio of medians.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx8g
 * -cp examples/target/mx.jar io.djlmx.examples.bench.CpuLinearBench [rounds] [shapes]} where shapes
 * is a comma-separated list like {@code 1x4096x4096,128x768x3072} (M×K×N).
 */
public final class CpuLinearBench {

  private static final MxFormat[] FORMATS = {
    MxFormat.MXFP4_E2M1,
    MxFormat.MXFP6_E2M3,
    MxFormat.MXFP8_E4M3,
    MxFormat.MXFP8_E5M2,
    MxFormat.MXINT8
  };

  /**
   * The shapes timed by default (M×K×N): the five, then the linear layers of
   * all-MiniLM-L6-v2 (hidden 384, feed-forward 1536) for one sentence of 8–64 tokens.
   */
  public static final String DEFAULT_SHAPES =
      "1x4096x4096,1x16384x16384,8x4096x4096,128x768x3072,128x4096x4096,"
          + "8x384x384,16x384x1536,16x1536x384,40x384x384,40x384x1536,64x1536x384";

  /**
   * Idle time before each contender's timed batch, so that what the previous contender left running
   * (PyTorch's OpenMP workers spin for a while after a call) does not eat into it.
   */
  private static final long GAP_MS = 40;

  private static boolean firstShape = true;

  /** The memory read ceiling measured on the 2-core machine (anchors.md), bytes per second. */
  private static final double READ_CEILING = 32e9;

  private CpuLinearBench() {}

  /** One timed operation. */
  private interface Op {
    void run();
  }

  /** A contender: name, the call, its weight bytes. */
  private record Contender(String name, Op op, long weightBytes) {}

  /**
   * Runs the benchmark and prints a Markdown table.
   *
   * @param args {@code [rounds] [shapes]}
   */
  public static void main(String[] args) {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 15;
    String shapes = args.length > 1 ? args[1] : DEFAULT_SHAPES;
    System.setProperty("ai.djl.pytorch.num_threads", "2");
    System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
    Engine pt = Engine.getEngine("PyTorch");
    System.out.println(
        "| M×K→N | contender | median ms | vs PyTorch FP32 | weight MiB | floor ms (32 GB/s)"
            + " | rel. L2 error vs FP32 | paired ratio (median per round) |");
    System.out.println("|---|---|---|---|---|---|---|---|");
    try (CpuLinearKernel kernel = new CpuLinearKernel();
        NDManager manager = pt.newBaseManager()) {
      for (String s : shapes.split(",")) {
        long[] d = Arrays.stream(s.trim().split("x")).mapToLong(Long::parseLong).toArray();
        runShape(kernel, manager, (int) d[0], (int) d[1], (int) d[2], rounds);
      }
    }
  }

  private static void runShape(
      CpuLinearKernel kernel, NDManager manager, int m, int k, int n, int rounds) {
    SplittableRandom rnd = new SplittableRandom(42L * k + n + m);
    float[] w = new float[Math.multiplyExact(n, k)];
    float std = (float) (1 / Math.sqrt(k));
    IntStream.range(0, n)
        .parallel()
        .forEach(
            r -> {
              SplittableRandom rr = new SplittableRandom(r * 31L + k);
              for (int c = 0; c < k; c++) {
                w[r * k + c] = (float) (rr.nextGaussian() * std);
              }
            });
    float[] x = new float[m * k];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) rnd.nextGaussian();
    }
    String shape = m + "×" + k + "→" + n;
    List<Contender> list = new ArrayList<>();
    List<AutoCloseable> toClose = new ArrayList<>();
    try (Arena arena = Arena.ofShared();
        NDManager sub = manager.newSubManager()) {
      NDArray xNd = sub.create(x, new Shape(m, k));
      NDArray wNd = sub.create(w, new Shape(n, k));
      float[] ref =
          xNd.getNDArrayInternal().linear(xNd, wNd, null).singletonOrThrow().toFloatArray();
      list.add(
          new Contender(
              "PyTorch FP32",
              () -> {
                NDList out = xNd.getNDArrayInternal().linear(xNd, wNd, null);
                out.close();
              },
              4L * n * k));
      MemorySegment xs = arena.allocate(4L * m * k, 64);
      MemorySegment.copy(x, 0, xs, ValueLayout.JAVA_FLOAT, 0, x.length);
      MemorySegment ys = arena.allocate(4L * m * n, 64);
      List<String> errors = new ArrayList<>();
      errors.add("");
      for (MxFormat f : FORMATS) {
        long bytes;
        PreparedWeight pw;
        try (MxTensor t = quantize(w, n, k, f)) {
          bytes = t.byteSize();
          pw = kernel.prepare(t);
        }
        toClose.add(pw);
        list.add(
            new Contender(f.name(), () -> kernel.linear(xs, m, pw, null, ys, null, null), bytes));
        kernel.linear(xs, m, pw, null, ys, null, null);
        errors.add(relError(ys, ref));
        if (f == MxFormat.MXFP8_E4M3) {
          list.add(
              new Contender(
                  f.name() + " W+A (acts MXFP8_E4M3)",
                  () -> kernel.linear(xs, m, pw, null, ys, f, ScaleMode.FLOOR),
                  bytes));
          kernel.linear(xs, m, pw, null, ys, f, ScaleMode.FLOOR);
          errors.add(relError(ys, ref));
        }
      }
      double[][] samples = measure(list, rounds);
      double[] medians = new double[list.size()];
      double[] pairedRatios = new double[list.size()];
      for (int i = 0; i < list.size(); i++) {
        medians[i] = median(samples[i]);
        double[] ratios = new double[rounds];
        for (int r = 0; r < rounds; r++) {
          ratios[r] = samples[0][r] / samples[i][r];
        }
        pairedRatios[i] = median(ratios);
      }
      for (int i = 0; i < list.size(); i++) {
        Contender c = list.get(i);
        System.out.printf(
            Locale.ROOT,
            "| %s | %s | %.3f | %s | %.1f | %.2f | %s | %.2f× |%n",
            shape,
            c.name(),
            medians[i],
            i == 0 ? "1.00×" : String.format(Locale.ROOT, "%.2f×", medians[0] / medians[i]),
            c.weightBytes() / 1048576.0,
            c.weightBytes() / READ_CEILING * 1e3,
            errors.get(i),
            pairedRatios[i]);
      }
    } finally {
      for (AutoCloseable c : toClose) {
        try {
          c.close();
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      }
    }
  }

  /** Quantizes row chunks in parallel into one tensor (rows are independent). */
  private static MxTensor quantize(float[] w, int n, int k, MxFormat f) {
    MxTensor t =
        MxTensor.allocate(new long[] {n, k}, f, ScaleMode.FLOOR, MxFormat.DEFAULT_BLOCK_SIZE);
    int chunk = 256;
    long cbpr = t.codeBytesPerRow();
    long bpr = t.blocksPerRow();
    IntStream.range(0, (n + chunk - 1) / chunk)
        .parallel()
        .forEach(
            c -> {
              int r0 = c * chunk;
              int rows = Math.min(chunk, n - r0);
              MemorySegment src = MemorySegment.ofArray(w).asSlice(4L * r0 * k, 4L * rows * k);
              try (MxTensor part =
                  MxTensor.quantize(
                      src, new long[] {rows, k}, f, ScaleMode.FLOOR, MxFormat.DEFAULT_BLOCK_SIZE)) {
                MemorySegment.copy(part.codes(), 0, t.codes(), r0 * cbpr, rows * cbpr);
                MemorySegment.copy(part.scales(), 0, t.scales(), r0 * bpr, rows * bpr);
              }
            });
    return t;
  }

  private static String relError(MemorySegment y, float[] ref) {
    double num = 0;
    double den = 0;
    for (int i = 0; i < ref.length; i++) {
      double d = y.getAtIndex(ValueLayout.JAVA_FLOAT, i) - ref[i];
      num += d * d;
      den += (double) ref[i] * ref[i];
    }
    return String.format(Locale.ROOT, "%.2e", Math.sqrt(num / den));
  }

  private static void pause() {
    try {
      Thread.sleep(GAP_MS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  /**
   * Warms up, sizes each contender's batch to ~20 ms, then times rounds of all contenders, each
   * batch after a short idle gap.
   */
  private static double[][] measure(List<Contender> list, int rounds) {
    // The first shape also waits out the JIT: C2 takes seconds to compile the large kernel loops,
    // and until then they run interpreted.
    long warmupNanos = firstShape ? 5_000_000_000L : 400_000_000L;
    firstShape = false;
    int[] inner = new int[list.size()];
    for (int i = 0; i < list.size(); i++) {
      Op op = list.get(i).op();
      long t0 = System.nanoTime();
      int calls = 0;
      while (System.nanoTime() - t0 < warmupNanos || calls < 3) {
        op.run();
        calls++;
      }
      double perCall = (System.nanoTime() - t0) / (double) calls;
      inner[i] = (int) Math.max(1, Math.min(1000, 20e6 / perCall));
    }
    double[][] samples = new double[list.size()][rounds];
    for (int r = 0; r < rounds; r++) {
      for (int i = 0; i < list.size(); i++) {
        Op op = list.get(i).op();
        pause();
        long t0 = System.nanoTime();
        for (int j = 0; j < inner[i]; j++) {
          op.run();
        }
        samples[i][r] = (System.nanoTime() - t0) / 1e6 / inner[i];
      }
    }
    return samples;
  }

  private static double median(double[] values) {
    double[] s = values.clone();
    Arrays.sort(s);
    int n = s.length;
    return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }
}

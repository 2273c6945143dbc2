package io.djlmx.examples.bench;

import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.format.ScaleMode;
import io.djlmx.kernel.PreparedWeight;
import io.djlmx.kernel.cpu.CpuLinearKernel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;

/**
 * Times two builds of the CPU linear kernel against each other in one process: each build's {@code
 * mx-engine} jar is loaded in its own class loader, and every round times one batch of calls of
 * each build, alternating which goes first. So both see the same machine load at the same moments,
 * which on a shared machine is the only way to compare small differences.
 *
 * <p>Run (from the repository root, after {@code ./mvnw -B -q -pl examples -am package
 * -DskipTests}):
 *
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx6g \
 *   -cp examples/target/mx.jar io.djlmx.examples.bench.KernelAbBench \
 *   OLD/mx-engine.jar NEW/mx-engine.jar ROUNDS CASES_FILE
 * </pre>
 *
 * where each line of the cases file is {@code M K N FORMAT ACTIVATION THREADS} ({@code none} for
 * weight-only); the system property {@code warm} sets the warm-up per case and build in ms (default
 * 800: the JIT must have compiled the kernels, or interpreted calls pollute the medians). Prints a
 * Markdown table of median µs per call and the ratio old / new (above 1: the new build is faster),
 * and each build's first and last output element, which must agree up to summation order.
 */
public final class KernelAbBench {

  private KernelAbBench() {}

  /**
   * Runs the comparison.
   *
   * @param args {@code OLD_JAR NEW_JAR ROUNDS CASES_FILE}
   * @throws Exception on a bad argument or a failed call
   */
  public static void main(String[] args) throws Exception {
    if (args.length != 4) {
      System.err.println("usage: KernelAbBench OLD_ENGINE_JAR NEW_ENGINE_JAR ROUNDS CASES_FILE");
      System.exit(2);
    }
    URL self = KernelAbBench.class.getProtectionDomain().getCodeSource().getLocation();
    URL slf4j = org.slf4j.Logger.class.getProtectionDomain().getCodeSource().getLocation();
    ClassLoader parent = ClassLoader.getPlatformClassLoader();
    ClassLoader[] loaders = new ClassLoader[2];
    for (int i = 0; i < 2; i++) {
      // The engine jar first: this jar's manifest class path names the current engine jar too.
      URL engine = Path.of(args[i]).toUri().toURL();
      loaders[i] = new URLClassLoader(new URL[] {engine, self, slf4j}, parent);
    }
    for (int i = 0; i < 2; i++) {
      Class<?> k = Class.forName(CpuLinearKernel.class.getName(), false, loaders[i]);
      System.out.println(
          (i == 0 ? "old: " : "new: ") + k.getProtectionDomain().getCodeSource().getLocation());
    }
    int rounds = Integer.parseInt(args[2]);
    long warmNanos = Long.getLong("warm", 800) * 1_000_000L;
    List<String> cases = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of(args[3]))) {
      if (!line.isBlank() && !line.startsWith("#")) {
        cases.add(line.trim());
      }
    }
    List<DoubleSupplier[]> calls = new ArrayList<>();
    for (String c : cases) {
      DoubleSupplier[] pair = new DoubleSupplier[2];
      for (int i = 0; i < 2; i++) {
        pair[i] =
            (DoubleSupplier)
                Class.forName(Call.class.getName(), true, loaders[i])
                    .getConstructor(String.class)
                    .newInstance(c);
      }
      calls.add(pair);
    }
    for (int pass = 0; pass < 2; pass++) {
      for (DoubleSupplier[] pair : calls) {
        for (DoubleSupplier d : pair) {
          long t0 = System.nanoTime();
          while (System.nanoTime() - t0 < warmNanos) {
            d.getAsDouble();
          }
        }
      }
    }
    System.out.println(
        "| M K N format activation threads | old µs | new µs | old/new | y old | y new |");
    System.out.println("|---|---|---|---|---|---|");
    for (int ci = 0; ci < cases.size(); ci++) {
      DoubleSupplier[] pair = calls.get(ci);
      int[] inner = new int[2];
      for (int i = 0; i < 2; i++) {
        long t0 = System.nanoTime();
        int n = 0;
        while (System.nanoTime() - t0 < 20_000_000L) {
          pair[i].getAsDouble();
          n++;
        }
        inner[i] = Math.max(1, n / 2);
      }
      double[][] micros = new double[2][rounds];
      double[] check = new double[2];
      for (int r = 0; r < rounds; r++) {
        for (int j = 0; j < 2; j++) {
          int i = (r & 1) == 0 ? j : 1 - j;
          long t0 = System.nanoTime();
          for (int k = 0; k < inner[i]; k++) {
            check[i] = pair[i].getAsDouble();
          }
          micros[i][r] = (System.nanoTime() - t0) / 1e3 / inner[i];
        }
      }
      double[] median = new double[2];
      for (int i = 0; i < 2; i++) {
        Arrays.sort(micros[i]);
        median[i] = micros[i][rounds / 2];
      }
      System.out.printf(
          Locale.ROOT,
          "| %s | %.1f | %.1f | %.2f | %.6g | %.6g |%n",
          cases.get(ci),
          median[0],
          median[1],
          median[0] / median[1],
          check[0],
          check[1]);
    }
    System.exit(0);
  }

  /**
   * One case, built inside one build's class loader: random weights quantized and prepared once;
   * each {@link #getAsDouble()} is one kernel call. Public for reflective construction only.
   */
  public static final class Call implements DoubleSupplier {

    private static CpuLinearKernel oneThread;
    private static CpuLinearKernel twoThreads;

    private final int m;
    private final PreparedWeight weight;
    private final MemorySegment x;
    private final MemorySegment y;
    private final MxFormat activation;
    private final CpuLinearKernel kernel;

    /**
     * Builds a case.
     *
     * @param spec {@code M K N FORMAT ACTIVATION THREADS} (threads 1 or 2)
     */
    public Call(String spec) {
      String[] s = spec.split("\\s+");
      m = Integer.parseInt(s[0]);
      int k = Integer.parseInt(s[1]);
      int n = Integer.parseInt(s[2]);
      MxFormat f = MxFormat.parse(s[3]);
      activation = "none".equals(s[4]) ? null : MxFormat.parse(s[4]);
      synchronized (Call.class) {
        if (oneThread == null) {
          oneThread = CpuLinearKernel.builder().optThreads(1).build();
          twoThreads = CpuLinearKernel.builder().optThreads(2).build();
        }
      }
      kernel = "1".equals(s[5]) ? oneThread : twoThreads;
      float[] w = new float[n * k];
      SplittableRandom rnd = new SplittableRandom(7L * n + k);
      for (int i = 0; i < w.length; i++) {
        w[i] = (float) (rnd.nextGaussian() / Math.sqrt(k));
      }
      try (MxTensor t = MxTensor.quantize(w, new long[] {n, k}, f)) {
        weight = kernel.prepare(t);
      }
      Arena arena = Arena.ofAuto();
      x = arena.allocate(4L * m * k, 64);
      y = arena.allocate(4L * m * n, 64);
      for (long i = 0; i < (long) m * k; i++) {
        x.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextGaussian());
      }
    }

    @Override
    public double getAsDouble() {
      kernel.linear(x, m, weight, null, y, activation, ScaleMode.FLOOR);
      return y.getAtIndex(ValueLayout.JAVA_FLOAT, 0)
          + y.getAtIndex(ValueLayout.JAVA_FLOAT, y.byteSize() / 4 - 1);
    }
  }
}

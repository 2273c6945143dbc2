package io.djlmx.engine;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.translate.TranslateException;
import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.format.ScaleMode;
import io.djlmx.kernel.LinearKernel;
import io.djlmx.kernel.PreparedWeight;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * End-to-end {@code Predictor.predict} latency of one DJL model on PyTorch FP32 and on MX, same
 * weights, same translator: what an application sees, engine plumbing included.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -cp <test classpath>
 * io.djlmx.engine.bench.EnginePredictBench [k] [n] [m]}. Median of 7 rounds after warm-up.
 */
public final class EnginePredictBench {

  private EnginePredictBench() {}

  /** Prepares weights like the real kernel but computes nothing per call. */
  private static final class NoOpKernel implements LinearKernel {
    private final LinearKernel real;

    NoOpKernel(LinearKernel real) {
      this.real = real;
    }

    @Override
    public PreparedWeight prepare(MxTensor weight) {
      return real.prepare(weight);
    }

    @Override
    public void linear(
        MemorySegment x,
        long m,
        PreparedWeight w,
        MemorySegment bias,
        MemorySegment y,
        MxFormat activation,
        ScaleMode activationScale) {
      // intentionally empty
    }
  }

  private static Block block(long k, long n, int layers) {
    SequentialBlock b = new SequentialBlock();
    for (int i = 0; i < layers; i++) {
      b.add(Linear.builder().setUnits(i == layers - 1 ? n : k).optBias(true).build());
    }
    return b;
  }

  private static double medianMicros(Predictor<float[], float[]> p, float[] x, int iters)
      throws TranslateException {
    for (int i = 0; i < iters; i++) {
      p.predict(x);
    }
    double[] rounds = new double[7];
    for (int r = 0; r < rounds.length; r++) {
      long t0 = System.nanoTime();
      for (int i = 0; i < iters; i++) {
        p.predict(x);
      }
      rounds[r] = (System.nanoTime() - t0) / 1e3 / iters;
    }
    Arrays.sort(rounds);
    return rounds[rounds.length / 2];
  }

  /**
   * Runs the benchmark.
   *
   * @param args k (input features), n (output features), m (batch rows)
   * @throws Exception on failure
   */
  public static void main(String[] args) throws Exception {
    long k = args.length > 0 ? Long.parseLong(args[0]) : 4096;
    long n = args.length > 1 ? Long.parseLong(args[1]) : 4096;
    long m = args.length > 2 ? Long.parseLong(args[2]) : 1;
    int layers = args.length > 3 ? Integer.parseInt(args[3]) : 1;
    int iters = args.length > 4 ? Integer.parseInt(args[4]) : 50;
    Shape in = new Shape(m, k);
    float[] x = new float[Math.toIntExact(in.size())];
    Random r = new Random(1);
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextGaussian();
    }
    System.out.printf(
        Locale.ROOT,
        "shape %dx%d->%d, %d linear layer(s), median of 7 x %d%n",
        m,
        k,
        n,
        layers,
        iters);
    // Pass 0 warms up every path (JIT, kernel threads, allocator); pass 1 is reported.
    for (int pass = 0; pass < 2; pass++) {
      run(k, n, layers, in, x, iters, pass == 1);
    }
  }

  private static void run(long k, long n, int layers, Shape in, float[] x, int iters, boolean print)
      throws Exception {
    double base;
    try (Model pt = Model.newInstance("b", Device.cpu(), "PyTorch")) {
      Block b = block(k, n, layers);
      pt.setBlock(b);
      b.initialize(pt.getNDManager(), DataType.FLOAT32, in);
      try (Predictor<float[], float[]> p = pt.newPredictor(new ModelFixtures.FloatTranslator(in))) {
        base = medianMicros(p, x, iters);
      }
    }
    if (print) {
      System.out.printf(Locale.ROOT, "PyTorch FP32   %10.1f us  1.00x%n", base);
    }
    for (String f : new String[] {"MXFP8_E4M3", "MXFP6_E2M3", "MXFP4_E2M1", "plumbing"}) {
      boolean plumbing = "plumbing".equals(f);
      LinearKernel cpu = MxLinear.getKernel("cpu");
      if (plumbing) {
        // A kernel that computes nothing: what is left is the engine's own cost per call.
        MxLinear.registerKernel("cpu", new NoOpKernel(cpu));
        f = "MXFP6_E2M3";
      }
      try (Model mx = Model.newInstance("b", Device.cpu(), "MX")) {
        ((MxModel) mx).setConfig(MxConfig.resolve(Map.of(MxConfig.WEIGHTS, f)));
        Block b = block(k, n, layers);
        mx.setBlock(b);
        b.initialize(mx.getNDManager(), DataType.FLOAT32, in);
        ((MxModel) mx).getMemoryReport();
        try (Predictor<float[], float[]> p =
            mx.newPredictor(new ModelFixtures.FloatTranslator(in))) {
          double t = medianMicros(p, x, iters);
          if (print) {
            String label = plumbing ? "no-op kernel" : f;
            System.out.printf(Locale.ROOT, "MX %-12s %10.1f us  %.2fx%n", label, t, base / t);
          }
        }
      } finally {
        MxLinear.registerKernel("cpu", cpu);
      }
    }
  }
}

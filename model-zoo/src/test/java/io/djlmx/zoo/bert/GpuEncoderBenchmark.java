package io.djlmx.zoo.bert;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import io.djlmx.engine.MxConfig;
import io.djlmx.engine.MxFallbacks;
import io.djlmx.engine.MxNDManager;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;

/**
 * Times the zoo's {@link BertEncoder} with all-MiniLM-L6-v2's full shape (6 layers, hidden 384,
 * seeded random weights, 30,522-token vocabulary) on MX GPU arrays: batch × 128 tokens, MXFP6_E2M3
 * weight-only, warm-up then the median of timed forwards (each ends with the hidden states copied
 * to the host). Run on the GPU machine: {@code java ... io.djlmx.zoo.bert.GpuEncoderBenchmark
 * [batch]}.
 */
public final class GpuEncoderBenchmark {

  private GpuEncoderBenchmark() {}

  /**
   * Runs the benchmark and prints one RESULT line.
   *
   * @param args optional batch size (default 32)
   */
  public static void main(String[] args) {
    int batch = args.length > 0 ? Integer.parseInt(args[0]) : 32;
    int seq = 128;
    BertConfig c = new BertConfig(30522, 384, 6, 12, 1536, 512, 2, 1e-12f);
    Random r = new Random(7);
    Map<String, io.djlmx.zoo.onnx.NamedTensor> map = new java.util.LinkedHashMap<>();
    for (Map.Entry<String, long[]> e : BertWeights.expectedShapes(c).entrySet()) {
      float[] d = new float[(int) new Shape(e.getValue()).size()];
      for (int i = 0; i < d.length; i++) {
        d[i] = (float) (e.getKey().endsWith("LayerNorm.weight") ? 1 : 0.05 * r.nextGaussian());
      }
      map.put(e.getKey(), new io.djlmx.zoo.onnx.NamedTensor(e.getKey(), e.getValue(), d));
    }
    BertWeights w = new BertWeights(c, map);
    long[] ids = new long[batch * seq];
    long[] types = new long[batch * seq];
    long[] mask = new long[batch * seq];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = r.nextInt(c.vocabSize());
      mask[i] = (i % seq) < seq - (i / seq) % 17 ? 1 : 0; // ragged padding
    }
    MxFallbacks.reset();
    try (MxNDManager m = (MxNDManager) Engine.getEngine("MX").newBaseManager(Device.gpu())) {
      m.setConfig(MxConfig.resolve(Map.of(MxConfig.WEIGHTS, "MXFP6_E2M3")));
      BertEncoder encoder = new BertEncoder(c);
      encoder.setWeights(w, m);
      int warm = 3;
      int runs = 15;
      double[] ms = new double[runs];
      for (int i = 0; i < warm + runs; i++) {
        try (NDManager sub = m.newSubManager()) {
          Shape s = new Shape(batch, seq);
          NDList in = new NDList(sub.create(ids, s), sub.create(types, s), sub.create(mask, s));
          long t0 = System.nanoTime();
          float[] out =
              encoder
                  .forward(new ParameterStore(sub, false), in, false)
                  .singletonOrThrow()
                  .toFloatArray();
          long t1 = System.nanoTime();
          if (out.length != batch * seq * 384) {
            throw new IllegalStateException("unexpected output length " + out.length);
          }
          if (i >= warm) {
            ms[i - warm] = (t1 - t0) / 1e6;
          }
        }
      }
      Arrays.sort(ms);
      double med = ms[runs / 2];
      System.out.printf(
          "RESULT gpu-encoder MiniLM-shape batch=%d seq=%d MXFP6_E2M3: median %.2f ms (min %.2f, max"
              + " %.2f) = %.0f sentences/s, host fallbacks %d%n",
          batch, seq, med, ms[0], ms[runs - 1], batch * 1000 / med, MxFallbacks.total());
    }
  }
}

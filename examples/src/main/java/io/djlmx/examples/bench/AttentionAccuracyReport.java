package io.djlmx.examples.bench;

import ai.djl.Model;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import io.djlmx.attention.AccuracyMetrics;
import io.djlmx.attention.AttentionConfig;
import io.djlmx.attention.AttentionShape;
import io.djlmx.attention.CpuAttention;
import io.djlmx.attention.QkPrecision;
import io.djlmx.attention.ReferenceAttention;
import io.djlmx.attention.TensorLayout;
import io.djlmx.attention.TensorView;
import io.djlmx.zoo.SentenceEncoderLoader;
import io.djlmx.zoo.SentenceEncoderSpec;
import io.djlmx.zoo.bert.ActivationQuantizer;
import io.djlmx.zoo.bert.AttentionCore;
import io.djlmx.zoo.bert.BertEncoder;
import io.djlmx.zoo.bert.SoftmaxAttentionCore;
import io.djlmx.zoo.checkpoint.MxCheckpoint;
import io.djlmx.zoo.translator.SentenceBatchCodec;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Measures MX CPU attention against FP64 attention for every variant (K smoothing on/off, INT8 or
 * MXFP8 Q·Kᵀ, FP8 or FP32 P·V) on several input families, and writes the markdown table of {@code
 * docs/ACCURACY-attention.md}.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -cp
 * 'examples/target/mx.jar:examples/target/lib/*' io.djlmx.examples.bench.AttentionAccuracyReport
 * [output.md]}
 */
public final class AttentionAccuracyReport {

  private AttentionAccuracyReport() {}

  private record Variant(String name, AttentionConfig cfg) {}

  private record Input(
      String name,
      AttentionShape shape,
      float[] q,
      float[] k,
      float[] v,
      float[] mask,
      long[] maskShape,
      boolean causal) {}

  /**
   * Runs the measurements.
   *
   * @param args optional output file (default: standard output)
   * @throws IOException when the file cannot be written
   */
  public static void main(String[] args) throws IOException {
    List<Variant> variants = new ArrayList<>();
    for (QkPrecision p : new QkPrecision[] {QkPrecision.INT8, QkPrecision.MXFP8_E4M3}) {
      for (boolean pv8 : new boolean[] {true, false}) {
        for (boolean smooth : new boolean[] {true, false}) {
          String name =
              (p == QkPrecision.INT8 ? "INT8" : "MXFP8")
                  + " Q·Kᵀ, "
                  + (smooth ? "smooth K" : "raw K")
                  + ", "
                  + (pv8 ? "FP8 P·V" : "FP32 P·V");
          variants.add(
              new Variant(
                  name,
                  AttentionConfig.builder()
                      .optQkPrecision(p)
                      .optSmoothK(smooth)
                      .optPvFp8(pv8)
                      .build()));
        }
      }
    }
    variants.add(
        new Variant(
            "INT8 Q·Kᵀ, smooth K and V, FP8 P·V",
            AttentionConfig.builder().optSmoothV(true).optPvFp8(true).build()));

    List<Input> inputs = new ArrayList<>();
    inputs.add(random("random normal, S=512, D=64", 1, 4, 512, 512, 64, 1, 0f));
    inputs.add(random("random normal, S=256, D=128", 1, 4, 256, 256, 128, 2, 0f));
    inputs.add(random("K offset N(0,20²) per channel, S=512, D=64", 1, 4, 512, 512, 64, 3, 20f));
    Input padded = random("padding mask [B,1,1,Sk] (-inf), B=2, S=200", 2, 4, 200, 200, 64, 4, 0f);
    float[] mask = new float[2 * 200];
    for (int j = 120; j < 200; j++) {
      mask[j] = Float.NEGATIVE_INFINITY;
    }
    inputs.add(
        new Input(
            padded.name,
            padded.shape,
            padded.q,
            padded.k,
            padded.v,
            mask,
            new long[] {2, 1, 1, 200},
            false));
    Input causal = random("causal, S=300, D=64", 1, 4, 300, 300, 64, 5, 0f);
    inputs.add(
        new Input(causal.name, causal.shape, causal.q, causal.k, causal.v, null, null, true));
    inputs.add(random("one query, Sk=333 (decode step)", 1, 4, 1, 333, 64, 6, 0f));

    StringBuilder md = new StringBuilder();
    md.append("| input | variant | cosine | relative L1 | max abs error | targets met |\n");
    md.append("|---|---|---|---|---|---|\n");
    for (Input in : inputs) {
      double[] ref = reference(in);
      for (Variant var : variants) {
        AccuracyMetrics m = measure(in, ref, var.cfg);
        md.append(
            String.format(
                Locale.ROOT,
                "| %s | %s | %.6f | %.4f | %.4f | %s |%n",
                in.name,
                var.name,
                m.cosine(),
                m.relativeL1(),
                m.maxAbsError(),
                m.meetsTargets() ? "yes" : "no"));
      }
    }
    md.append(miniLmRows(variants));
    if (args.length > 0) {
      Files.writeString(Path.of(args[0]), md.toString(), StandardCharsets.UTF_8);
    } else {
      System.out.print(md);
    }
  }

  /**
   * Captures Q, K, V and the padding mask of all six layers of all-MiniLM-L6-v2 (FP32, head dim 32)
   * running on eight sentences of different lengths (batched, so padded), and measures every
   * variant on each layer against FP64; reports the worst layer per variant.
   */
  private static String miniLmRows(List<Variant> variants) throws IOException {
    List<Input> layers = new ArrayList<>();
    SentenceEncoderSpec spec = SentenceEncoderSpec.ALL_MINILM_L6_V2;
    MxCheckpoint ckpt = MxCheckpoint.quantize(SentenceEncoderLoader.importOnnx(spec), null, null);
    SentenceBatchCodec codec = SentenceEncoderLoader.newCodec(spec);
    AttentionCore reference = new SoftmaxAttentionCore();
    try (Model model = Model.newInstance("minilm-capture", "PyTorch")) {
      AttentionCore capture =
          (q, k, v, mask) -> {
            long[] s = q.getShape().getShape();
            AttentionShape shape =
                new AttentionShape((int) s[0], (int) s[1], (int) s[2], (int) s[2], (int) s[3]);
            layers.add(
                new Input(
                    "all-MiniLM-L6-v2 layer " + (layers.size() + 1),
                    shape,
                    q.toFloatArray(),
                    k.toFloatArray(),
                    v.toFloatArray(),
                    mask.toType(ai.djl.ndarray.types.DataType.FLOAT32, true).toFloatArray(),
                    mask.getShape().getShape(),
                    false));
            return reference.attend(q, k, v, mask);
          };
      BertEncoder encoder = new BertEncoder(ckpt.config(), capture, ActivationQuantizer.NONE);
      model.setBlock(encoder);
      encoder.setWeights(ckpt.toBertWeights(), model.getNDManager());
      try (NDManager m = model.getNDManager().newSubManager()) {
        NDList in = codec.encode(m, SENTENCES);
        encoder.forward(new ParameterStore(m, false), in, false);
      }
    }
    StringBuilder md = new StringBuilder();
    for (Variant var : variants) {
      AccuracyMetrics worst = null;
      String worstLayer = "";
      for (Input in : layers) {
        AccuracyMetrics m = measure(in, reference(in), var.cfg);
        if (worst == null || m.relativeL1() > worst.relativeL1()) {
          worst = m;
          worstLayer = in.name.substring(in.name.lastIndexOf(' ') + 1);
        }
      }
      AttentionShape s = layers.get(0).shape;
      md.append(
          String.format(
              Locale.ROOT,
              "| all-MiniLM-L6-v2 real Q/K/V, B=%d, S=%d, H=%d, D=%d, padding mask (worst of 6"
                  + " layers: %s) | %s | %.6f | %.4f | %.4f | %s |%n",
              s.batch(),
              s.queryLength(),
              s.heads(),
              s.headDim(),
              worstLayer,
              var.name,
              worst.cosine(),
              worst.relativeL1(),
              worst.maxAbsError(),
              worst.meetsTargets() ? "yes" : "no"));
    }
    return md.toString();
  }

  private static double[] reference(Input in) {
    return ReferenceAttention.compute(
        in.shape,
        view(in, in.q, true),
        view(in, in.k, false),
        view(in, in.v, false),
        maskView(in),
        in.causal,
        null);
  }

  private static AccuracyMetrics measure(Input in, double[] ref, AttentionConfig cfg) {
    float[] out = new float[in.q.length];
    CpuAttention.compute(
        in.shape,
        view(in, in.q, true),
        view(in, in.k, false),
        view(in, in.v, false),
        view(in, out, true),
        maskView(in),
        in.causal,
        null,
        cfg);
    return AccuracyMetrics.of(out, ref);
  }

  private static final List<String> SENTENCES =
      List.of(
          "A man is playing a guitar on the street corner.",
          "The quarterly report shows revenue grew by twelve percent while costs stayed flat.",
          "Cats sleep.",
          "How do I reset my password if I no longer have access to the email account?",
          "The committee postponed its decision until the environmental survey is finished.",
          "Rain is expected tomorrow.",
          "Quantized attention keeps accuracy when the key channels are smoothed first.",
          "She bought fresh bread, two kinds of cheese and a bottle of olive oil at the market.");

  private static Input random(
      String name, int b, int h, int sq, int sk, int d, long seed, float keyOffset) {
    Random r = new Random(seed);
    float[] q = gaussian(r, b * h * sq * d);
    float[] k = gaussian(r, b * h * sk * d);
    float[] v = gaussian(r, b * h * sk * d);
    if (keyOffset != 0f) {
      for (int bh = 0; bh < b * h; bh++) {
        for (int c = 0; c < d; c++) {
          float off = (float) (keyOffset * r.nextGaussian());
          for (int j = 0; j < sk; j++) {
            k[(bh * sk + j) * d + c] += off;
          }
        }
      }
    }
    return new Input(name, new AttentionShape(b, h, sq, sk, d), q, k, v, null, null, false);
  }

  private static float[] gaussian(Random r, int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) r.nextGaussian();
    }
    return a;
  }

  private static TensorView view(Input in, float[] a, boolean query) {
    AttentionShape s = in.shape;
    return TensorView.of(
        MemorySegment.ofArray(a),
        TensorLayout.BHSD,
        s.batch(),
        s.heads(),
        query ? s.queryLength() : s.keyLength(),
        s.headDim());
  }

  private static TensorView maskView(Input in) {
    return in.mask == null
        ? null
        : TensorView.ofMask(MemorySegment.ofArray(in.mask), in.maskShape, in.shape);
  }
}

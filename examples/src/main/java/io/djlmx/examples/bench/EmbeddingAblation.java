package io.djlmx.examples.bench;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.format.ScaleMode;
import io.djlmx.zoo.SentenceEncoderLoader;
import io.djlmx.zoo.SentenceEncoderSpec;
import io.djlmx.zoo.bert.ActivationQuantizer;
import io.djlmx.zoo.bert.AttentionCore;
import io.djlmx.zoo.bert.BertEncoder;
import io.djlmx.zoo.bert.BertWeights;
import io.djlmx.zoo.bert.MxAttentionCore;
import io.djlmx.zoo.bert.SoftmaxAttentionCore;
import io.djlmx.zoo.eval.EmbeddingMetrics;
import io.djlmx.zoo.onnx.NamedTensor;
import io.djlmx.zoo.translator.SentenceBatchCodec;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Finds where the embedding error of all-MiniLM-L6-v2 in an MX weight format comes from: the MX
 * attention core alone, the weight format and its scale rule (FLOOR or RCEIL), and the weights of
 * one projection kind or one layer at a time, each against the FP32 encoder (mean and minimum
 * cosine, top-10 agreement). Everything runs on PyTorch with weights rounded and decoded exactly,
 * as {@code mx eval embeddings} does, so the rows do not depend on any kernel.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -cp
 * 'examples/target/mx.jar:examples/target/lib/*' io.djlmx.examples.bench.EmbeddingAblation [count]
 * [format]} (defaults: 200 sentences, MXFP8_E4M3).
 */
public final class EmbeddingAblation {

  private static final SentenceEncoderSpec SPEC = SentenceEncoderSpec.ALL_MINILM_L6_V2;

  private final List<String> sentences;
  private final SentenceBatchCodec codec;
  private final PrintStream out;

  private EmbeddingAblation(List<String> sentences, SentenceBatchCodec codec, PrintStream out) {
    this.sentences = sentences;
    this.codec = codec;
    this.out = out;
  }

  /**
   * Prints the ablation table.
   *
   * @param args optional sentence count and weight format
   * @throws Exception if the model files are missing
   */
  public static void main(String[] args) throws Exception {
    int count = args.length > 0 ? Integer.parseInt(args[0]) : 200;
    MxFormat format = args.length > 1 ? MxFormat.parse(args[1]) : MxFormat.MXFP8_E4M3;
    List<String> sentences =
        Files.readAllLines(
                Path.of("model-zoo/src/test/resources/sentences-en.txt"), StandardCharsets.UTF_8)
            .stream()
            .filter(s -> !s.isBlank())
            .limit(count)
            .toList();
    EmbeddingAblation a =
        new EmbeddingAblation(sentences, SentenceEncoderLoader.newCodec(SPEC), System.out);
    a.run(format);
  }

  private void run(MxFormat format) throws Exception {
    BertWeights fp32 = SentenceEncoderLoader.importOnnx(SPEC);
    float[][] ref = embed(fp32, new SoftmaxAttentionCore());
    out.println("| weights | attention | mean cosine | min cosine | top-10 agreement |");
    out.println("|---|---|---|---|---|");
    row("FP32", "MX (INT8 Q·Kᵀ)", ref, embed(fp32, new MxAttentionCore()));
    for (ScaleMode mode : ScaleMode.values()) {
      BertWeights q = rounded(fp32, format, mode, n -> true);
      row(format + " " + mode, "FP32", ref, embed(q, new SoftmaxAttentionCore()));
      row(format + " " + mode, "MX (INT8 Q·Kᵀ)", ref, embed(q, new MxAttentionCore()));
    }
    Map<String, Predicate<String>> kinds = new LinkedHashMap<>();
    kinds.put("query", n -> n.contains("self.query"));
    kinds.put("key", n -> n.contains("self.key"));
    kinds.put("value", n -> n.contains("self.value"));
    kinds.put("attention output", n -> n.contains("attention.output.dense"));
    kinds.put("FFN intermediate", n -> n.contains("intermediate.dense"));
    kinds.put("FFN output", n -> n.matches(".*layer\\.\\d+\\.output\\.dense.*"));
    for (Map.Entry<String, Predicate<String>> k : kinds.entrySet()) {
      BertWeights q = rounded(fp32, format, ScaleMode.FLOOR, k.getValue());
      row(format + " FLOOR, only " + k.getKey(), "FP32", ref, embed(q, new SoftmaxAttentionCore()));
    }
    for (int l = 0; l < fp32.config().numLayers(); l++) {
      String prefix = "encoder.layer." + l + ".";
      BertWeights q = rounded(fp32, format, ScaleMode.FLOOR, n -> n.startsWith(prefix));
      row(format + " FLOOR, only layer " + l, "FP32", ref, embed(q, new SoftmaxAttentionCore()));
    }
  }

  private void row(String weights, String attention, float[][] ref, float[][] candidate) {
    EmbeddingMetrics m = EmbeddingMetrics.compare(ref, candidate, 10);
    out.printf(
        Locale.ROOT,
        "| %s | %s | %.5f | %.5f | %.4f |%n",
        weights,
        attention,
        m.meanCosine(),
        m.minCosine(),
        m.topKAgreement());
    out.flush();
  }

  private float[][] embed(BertWeights weights, AttentionCore core) throws Exception {
    try (Model model = Model.newInstance("ablation", "PyTorch")) {
      BertEncoder encoder = new BertEncoder(weights.config(), core, ActivationQuantizer.NONE);
      model.setBlock(encoder);
      encoder.setWeights(weights, model.getNDManager());
      float[][] result = new float[sentences.size()][];
      for (int i = 0; i < sentences.size(); i += 32) {
        List<String> batch = sentences.subList(i, Math.min(sentences.size(), i + 32));
        try (NDManager m = model.getNDManager().newSubManager()) {
          NDList in = codec.encode(m, batch);
          NDArray hidden =
              encoder.forward(new ParameterStore(m, false), in, false).singletonOrThrow();
          float[][] e = codec.pool(hidden, in.get(2));
          System.arraycopy(e, 0, result, i, e.length);
        }
      }
      return result;
    }
  }

  /** The linear weights {@code which} selects, rounded to a format and decoded exactly. */
  private static BertWeights rounded(
      BertWeights w, MxFormat format, ScaleMode mode, Predicate<String> which) {
    Map<String, NamedTensor> out = new LinkedHashMap<>();
    for (NamedTensor t : w.tensors().values()) {
      if (!BertWeights.isLinearWeight(t.name()) || !which.test(t.name())) {
        out.put(t.name(), t);
        continue;
      }
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment seg = arena.allocate((long) t.data().length * Float.BYTES, 64);
        MemorySegment.copy(t.data(), 0, seg, ValueLayout.JAVA_FLOAT, 0, t.data().length);
        try (MxTensor q =
            MxTensor.quantize(seg, t.shape(), format, mode, MxFormat.DEFAULT_BLOCK_SIZE)) {
          out.put(t.name(), new NamedTensor(t.name(), t.shape(), q.dequantize()));
        }
      }
    }
    return new BertWeights(w.config(), out);
  }
}

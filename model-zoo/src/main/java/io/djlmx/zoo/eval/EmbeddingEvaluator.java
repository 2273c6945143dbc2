package io.djlmx.zoo.eval;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.djl.translate.NoopTranslator;
import ai.djl.translate.TranslateException;
import io.djlmx.format.MxFormat;
import io.djlmx.format.ScaleMode;
import io.djlmx.zoo.EncoderCalibration;
import io.djlmx.zoo.SentenceEncoderLoader;
import io.djlmx.zoo.SentenceEncoderSpec;
import io.djlmx.zoo.bert.ActivationQuantizer;
import io.djlmx.zoo.bert.AttentionCore;
import io.djlmx.zoo.bert.BertEncoder;
import io.djlmx.zoo.bert.MxAttentionCore;
import io.djlmx.zoo.bert.SoftmaxAttentionCore;
import io.djlmx.zoo.checkpoint.CalibrationData;
import io.djlmx.zoo.checkpoint.MxCheckpoint;
import io.djlmx.zoo.checkpoint.WeightRounding;
import io.djlmx.zoo.emulation.MxActivationQuantizer;
import io.djlmx.zoo.translator.SentenceBatchCodec;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Measures how closely a zoo encoder in an MX format reproduces its FP32 embeddings on real
 * sentences: mean and minimum cosine to FP32 and top-k neighbour agreement, and sentences per
 * second.
 *
 * <p>The encoder runs on the engine named by {@link Builder#optEngine} (default PyTorch). Where
 * that engine has no MX {@code linear}, the MX rows measure the MX-rounded weights (decoded
 * exactly) and, for weight + activation rows, activations rounded per 32-block before every
 * projection: the numbers an MX kernel computes with, accumulated in FP32. The attention core is
 * the one a zoo model gets on that engine: MX attention ({@link MxAttentionCore}) on the MX engine,
 * exact softmax attention elsewhere.
 */
public final class EmbeddingEvaluator {

  private static final Logger logger = LoggerFactory.getLogger(EmbeddingEvaluator.class);

  private final List<String> sentences;
  private final int batchSize;
  private final int k;
  private final Path cacheDir;
  private final String engine;
  private final boolean warmUp;
  private final WeightRounding rounding;
  private final java.util.Map<String, CalibrationData> calibrations = new java.util.HashMap<>();
  private final java.util.Map<String, io.djlmx.zoo.bert.BertWeights> imported =
      new java.util.HashMap<>();

  private EmbeddingEvaluator(Builder b) {
    this.sentences = List.copyOf(b.sentences);
    this.batchSize = b.batchSize;
    this.k = b.k;
    this.cacheDir = b.cacheDir;
    this.engine = b.engine;
    this.warmUp = b.warmUp;
    this.rounding = b.rounding;
  }

  /**
   * Creates a builder.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Returns the sentences evaluated.
   *
   * @return the sentences
   */
  public List<String> getSentences() {
    return sentences;
  }

  /**
   * Embeds every sentence with an encoder whose linear weights are in a format.
   *
   * @param spec the encoder
   * @param weights the weight format, or null for FP32
   * @param activations the activation format, or null for FP32 activations
   * @return the embeddings and the time taken
   * @throws IOException if the model files are missing or corrupt
   */
  public Run embed(SentenceEncoderSpec spec, MxFormat weights, MxFormat activations)
      throws IOException {
    return embed(spec, weights, ScaleMode.FLOOR, activations);
  }

  /**
   * Embeds every sentence with an encoder whose linear weights are in a format, quantized with a
   * given scale rule.
   *
   * @param spec the encoder
   * @param weights the weight format, or null for FP32
   * @param scale the shared-scale rule of the weights
   * @param activations the activation format, or null for FP32 activations
   * @return the embeddings and the time taken
   * @throws IOException if the model files are missing or corrupt
   */
  public Run embed(
      SentenceEncoderSpec spec, MxFormat weights, ScaleMode scale, MxFormat activations)
      throws IOException {
    // quantized in memory from one import per encoder: no checkpoint files written
    io.djlmx.zoo.bert.BertWeights fp32 = fp32Weights(spec);
    CalibrationData calibration =
        weights != null && rounding == WeightRounding.GPTQ
            ? calibration(spec, fp32, weights, scale)
            : null;
    MxCheckpoint ckpt = MxCheckpoint.quantize(fp32, weights, scale, calibration, null);
    return embedCheckpoint(spec, ckpt, activations);
  }

  /**
   * Embeds every sentence with an encoder made from a given checkpoint (e.g. a calibrated one).
   *
   * @param spec the encoder (tokenizer, pooling)
   * @param ckpt the checkpoint of that encoder
   * @return the embeddings and the time taken
   * @throws IOException if the tokenizer is missing
   */
  public Run embed(SentenceEncoderSpec spec, MxCheckpoint ckpt) throws IOException {
    return embedCheckpoint(spec, ckpt, null);
  }

  private Run embedCheckpoint(SentenceEncoderSpec spec, MxCheckpoint ckpt, MxFormat activations)
      throws IOException {
    SentenceBatchCodec codec = SentenceEncoderLoader.newCodec(spec);
    ActivationQuantizer aq =
        activations == null ? ActivationQuantizer.NONE : new MxActivationQuantizer(activations);
    try (Model model = Model.newInstance(spec.artifactId(), engine)) {
      // the attention a zoo model gets on this engine: MX attention under MX, exact elsewhere
      AttentionCore core = "MX".equals(engine) ? new MxAttentionCore() : new SoftmaxAttentionCore();
      BertEncoder encoder = new BertEncoder(ckpt.config(), core, aq);
      model.setBlock(encoder);
      encoder.setWeights(ckpt.toBertWeights(), model.getNDManager());
      float[][] out = new float[sentences.size()][];
      if (warmUp) {
        // one untimed pass over the same sentences: the engine packs its weights, and the JIT
        // compiles the Java kernels (a single batch left them partly interpreted at batch 1)
        for (int i = 0; i < sentences.size(); i += batchSize) {
          try (NDManager m = model.getNDManager().newSubManager()) {
            NDList in =
                codec.encode(m, sentences.subList(i, Math.min(sentences.size(), i + batchSize)));
            encoder.forward(new ParameterStore(m, false), in, false);
          }
        }
      }
      long start = System.nanoTime();
      for (int i = 0; i < sentences.size(); i += batchSize) {
        List<String> batch = sentences.subList(i, Math.min(sentences.size(), i + batchSize));
        try (NDManager m = model.getNDManager().newSubManager()) {
          NDList in = codec.encode(m, batch);
          NDArray hidden =
              encoder.forward(new ParameterStore(m, false), in, false).singletonOrThrow();
          float[][] e = codec.pool(hidden, in.get(2));
          System.arraycopy(e, 0, out, i, e.length);
        }
      }
      return new Run(out, System.nanoTime() - start);
    }
  }

  /** The calibration statistics of an encoder, recorded once per evaluator. */
  private synchronized CalibrationData calibration(
      SentenceEncoderSpec spec,
      io.djlmx.zoo.bert.BertWeights fp32,
      MxFormat format,
      ScaleMode scale)
      throws IOException {
    // one FP32 pass serves every format; layer by layer, the statistics depend on the format
    String key =
        Boolean.getBoolean(EncoderCalibration.SEQUENTIAL_PROPERTY)
            ? spec.artifactId() + "-" + format + "-" + scale
            : spec.artifactId();
    CalibrationData c = calibrations.get(key);
    if (c == null) {
      calibrations.clear(); // one model and format at a time
      long start = System.nanoTime();
      c = EncoderCalibration.record(spec, fp32, format, scale, null);
      logger.info(
          "Recorded calibration statistics of {} in {} ms ({})",
          spec.artifactId(),
          (System.nanoTime() - start) / 1_000_000,
          c.description());
      calibrations.put(key, c);
    }
    return c;
  }

  private synchronized io.djlmx.zoo.bert.BertWeights fp32Weights(SentenceEncoderSpec spec)
      throws IOException {
    io.djlmx.zoo.bert.BertWeights w = imported.get(spec.artifactId());
    if (w == null) {
      imported.clear(); // keep one model's FP32 weights at a time
      w = SentenceEncoderLoader.importOnnx(spec);
      imported.put(spec.artifactId(), w);
    }
    return w;
  }

  /**
   * Embeds every sentence with an ONNX model on ONNX Runtime (the FP32 original or an INT8 peer).
   *
   * @param spec the encoder whose tokenizer and pooling to use
   * @param onnxResource the class-path resource of the ONNX model
   * @return the embeddings and the time taken
   * @throws IOException if the model is missing
   * @throws TranslateException if ONNX Runtime fails
   */
  public Run embedOnnxRuntime(SentenceEncoderSpec spec, String onnxResource)
      throws IOException, TranslateException {
    Path file = cacheDir.resolve("onnx").resolve(onnxResource);
    if (!Files.isRegularFile(file)) {
      Files.createDirectories(file.getParent());
      try (InputStream in =
          EmbeddingEvaluator.class.getClassLoader().getResourceAsStream(onnxResource)) {
        if (in == null) {
          throw new IOException("ONNX model '" + onnxResource + "' is not on the class path");
        }
        Path tmp = Files.createTempFile(file.getParent(), "onnx", ".tmp");
        Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
    }
    SentenceBatchCodec codec = SentenceEncoderLoader.newCodec(spec);
    try (Model model = Model.newInstance("ort", "OnnxRuntime");
        NDManager pt = NDManager.newBaseManager(engine)) {
      model.load(file);
      try (Predictor<NDList, NDList> p = model.newPredictor(new NoopTranslator())) {
        float[][] out = new float[sentences.size()][];
        if (warmUp) {
          // one untimed pass, as for the DJL-block encoder
          for (int i = 0; i < sentences.size(); i += batchSize) {
            try (NDManager m = model.getNDManager().newSubManager()) {
              NDList in =
                  codec.encode(m, sentences.subList(i, Math.min(sentences.size(), i + batchSize)));
              p.predict(new NDList(in.get(0), in.get(2), in.get(1)));
            }
          }
        }
        long start = System.nanoTime();
        for (int i = 0; i < sentences.size(); i += batchSize) {
          List<String> batch = sentences.subList(i, Math.min(sentences.size(), i + batchSize));
          try (NDManager m = model.getNDManager().newSubManager();
              NDManager pm = pt.newSubManager()) {
            NDList in = codec.encode(m, batch);
            // ONNX Runtime's input order for these exports
            NDList result = p.predict(new NDList(in.get(0), in.get(2), in.get(1)));
            NDArray h = result.get(0);
            NDArray hidden = pm.create(h.toFloatArray(), h.getShape());
            NDArray mask = pm.create(in.get(2).toLongArray(), in.get(2).getShape());
            float[][] e = codec.pool(hidden, mask);
            System.arraycopy(e, 0, out, i, e.length);
          }
        }
        return new Run(out, System.nanoTime() - start);
      }
    } catch (ai.djl.MalformedModelException e) {
      throw new IOException("ONNX Runtime cannot load " + file, e);
    }
  }

  /**
   * Compares embeddings to a reference.
   *
   * @param reference the FP32 embeddings
   * @param candidate the embeddings to judge
   * @return the metrics
   */
  public EmbeddingMetrics compare(float[][] reference, float[][] candidate) {
    return EmbeddingMetrics.compare(reference, candidate, k);
  }

  /**
   * Evaluates every configuration of one encoder against its FP32 self: the given weight formats,
   * weight-only and with activations in the same format.
   *
   * @param spec the encoder
   * @param formats the weight formats
   * @return one row per configuration, FP32 first
   * @throws IOException if the model files are missing or corrupt
   */
  public List<Row> evaluate(SentenceEncoderSpec spec, List<MxFormat> formats) throws IOException {
    List<Row> rows = new ArrayList<>();
    Run ref = embed(spec, null, null);
    rows.add(
        new Row(
            spec.artifactId(),
            "FP32",
            "FP32",
            compare(ref.embeddings(), ref.embeddings()),
            ref.sentencesPerSecond()));
    for (MxFormat f : formats) {
      for (MxFormat act : new MxFormat[] {null, f}) {
        Run r = embed(spec, f, act);
        Row row =
            new Row(
                spec.artifactId(),
                f.name(),
                act == null ? "FP32" : act.name(),
                compare(ref.embeddings(), r.embeddings()),
                r.sentencesPerSecond());
        logger.info("{}", row);
        rows.add(row);
      }
    }
    return rows;
  }

  /**
   * Embeddings of every sentence and the time it took.
   *
   * @param embeddings one unit vector per sentence
   * @param nanos the wall time of the forward passes (tokenization included)
   */
  public record Run(float[][] embeddings, long nanos) {
    /**
     * Returns the throughput.
     *
     * @return sentences per second
     */
    public double sentencesPerSecond() {
      return embeddings.length / (nanos / 1e9);
    }
  }

  /**
   * One configuration's result.
   *
   * @param model the artifact id
   * @param weights the weight format
   * @param activations the activation format
   * @param metrics fidelity to FP32
   * @param sentencesPerSecond throughput of the run (one pass, indicative)
   */
  public record Row(
      String model,
      String weights,
      String activations,
      EmbeddingMetrics metrics,
      double sentencesPerSecond) {

    /**
     * Formats the row as a Markdown table row.
     *
     * @return {@code | model | weights | activations | mean | min | top-k |}
     */
    public String toMarkdown() {
      return String.format(
          java.util.Locale.ROOT,
          "| %s | %s | %s | %.5f | %.5f | %.4f |",
          model,
          weights,
          activations,
          metrics.meanCosine(),
          metrics.minCosine(),
          metrics.topKAgreement());
    }
  }

  /** Builds an {@link EmbeddingEvaluator}. */
  public static final class Builder {
    private List<String> sentences;
    private int batchSize = 32;
    private int k = 10;
    private Path cacheDir = ai.djl.util.Utils.getCacheDir().resolve("mx-zoo");
    private String engine = "PyTorch";
    private boolean warmUp;
    private WeightRounding rounding = WeightRounding.RTN;

    private Builder() {}

    /**
     * Sets how the MX codes of the weights are chosen (default round-to-nearest); {@link
     * WeightRounding#GPTQ} records the zoo's calibration statistics once per encoder.
     *
     * @param rounding the rounding
     * @return this builder
     */
    public Builder optRounding(WeightRounding rounding) {
      this.rounding = Objects.requireNonNull(rounding, "rounding");
      return this;
    }

    /**
     * Runs one untimed pass over the sentences before timing each {@link #embed} (default off).
     *
     * @param warmUp whether to warm up
     * @return this builder
     */
    public Builder optWarmUp(boolean warmUp) {
      this.warmUp = warmUp;
      return this;
    }

    /**
     * Sets the sentences (required, more than k of them).
     *
     * @param sentences the sentences
     * @return this builder
     */
    public Builder setSentences(List<String> sentences) {
      this.sentences = Objects.requireNonNull(sentences, "sentences");
      return this;
    }

    /**
     * Sets the batch size (default 32).
     *
     * @param batchSize sentences per forward pass
     * @return this builder
     */
    public Builder optBatchSize(int batchSize) {
      if (batchSize < 1) {
        throw new IllegalArgumentException("batch size must be >= 1: " + batchSize);
      }
      this.batchSize = batchSize;
      return this;
    }

    /**
     * Sets the neighbourhood size of the retrieval agreement (default 10).
     *
     * @param k the number of neighbours
     * @return this builder
     */
    public Builder optTopK(int k) {
      this.k = k;
      return this;
    }

    /**
     * Sets the checkpoint cache directory (default {@code <DJL cache>/mx-zoo}).
     *
     * @param cacheDir the directory
     * @return this builder
     */
    public Builder optCacheDir(Path cacheDir) {
      this.cacheDir = cacheDir;
      return this;
    }

    /**
     * Sets the engine the encoder runs on (default PyTorch).
     *
     * @param engine the engine name
     * @return this builder
     */
    public Builder optEngine(String engine) {
      this.engine = engine;
      return this;
    }

    /**
     * Builds the evaluator.
     *
     * @return the evaluator
     */
    public EmbeddingEvaluator build() {
      if (sentences == null || sentences.size() <= k) {
        throw new IllegalArgumentException("Need more than " + k + " sentences to evaluate");
      }
      return new EmbeddingEvaluator(this);
    }
  }
}

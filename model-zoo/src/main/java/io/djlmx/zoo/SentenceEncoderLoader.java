package io.djlmx.zoo;

import ai.djl.Application;
import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.util.ProgressBar;
import ai.djl.translate.Translator;
import ai.djl.util.Progress;
import ai.djl.util.Utils;
import io.djlmx.attention.AttentionConfig;
import io.djlmx.engine.MxConfig;
import io.djlmx.engine.MxModel;
import io.djlmx.engine.MxNDArray;
import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.format.ScaleMode;
import io.djlmx.zoo.bert.ActivationQuantizer;
import io.djlmx.zoo.bert.AttentionCore;
import io.djlmx.zoo.bert.BertEncoder;
import io.djlmx.zoo.bert.BertWeights;
import io.djlmx.zoo.bert.MxAttentionCore;
import io.djlmx.zoo.bert.SoftmaxAttentionCore;
import io.djlmx.zoo.checkpoint.CalibrationData;
import io.djlmx.zoo.checkpoint.MxCheckpoint;
import io.djlmx.zoo.checkpoint.WeightRecipe;
import io.djlmx.zoo.checkpoint.WeightRounding;
import io.djlmx.zoo.emulation.MxActivationQuantizer;
import io.djlmx.zoo.onnx.BertOnnxImporter;
import io.djlmx.zoo.onnx.NamedTensor;
import io.djlmx.zoo.onnx.OnnxModelFile;
import io.djlmx.zoo.translator.BatchSentenceEmbeddingTranslator;
import io.djlmx.zoo.translator.ListSentenceEmbeddingTranslator;
import io.djlmx.zoo.translator.SentenceBatchCodec;
import io.djlmx.zoo.translator.SentenceEmbeddingTranslator;
import java.io.IOException;
import java.io.InputStream;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads one zoo sentence encoder: imports the ONNX weights on first use, converts them to an MX
 * checkpoint cached on disk, and builds a {@link BertEncoder} with a sentence-embedding translator.
 *
 * <p>Options ({@code Criteria.optOption}, else system property, else environment variable with dots
 * as underscores, upper case): {@code mx.weights} (an {@link MxFormat} name or {@code FP32}; the
 * filter {@code format} is accepted too; default {@code MXFP6_E2M3}), {@code mx.activations}
 * ({@code none} or a format), {@code mx.scale} ({@code floor} or {@code rceil}: the scale rule the
 * checkpoint is made with, cached in its own file), {@code mx.attention} ({@code mx}, the default
 * under the MX engine, or {@code off}), {@code mx.zoo.rounding} ({@code rtn}: round each weight to
 * nearest; {@code gptq}: calibrated rounding on the zoo's calibration text, see {@link
 * EncoderCalibration}; the filter {@code rounding} is accepted too; each rounding is cached in its
 * own file), {@code mx.zoo.cache} (the checkpoint directory; default {@code <DJL cache>/mx-zoo}).
 * Scale rule and rounding default to the format's {@link WeightRecipe}.
 */
public final class SentenceEncoderLoader extends ClassPathModelLoader {

  /** The default weight format of zoo models. */
  public static final MxFormat DEFAULT_WEIGHTS = MxFormat.MXFP6_E2M3;

  /**
   * The default rounding of zoo checkpoints in the default format (option {@code mx.zoo.rounding}):
   * its {@link WeightRecipe}'s.
   */
  public static final WeightRounding DEFAULT_ROUNDING =
      WeightRecipe.defaultFor(DEFAULT_WEIGHTS).rounding();

  private static final Logger logger = LoggerFactory.getLogger(SentenceEncoderLoader.class);

  private final SentenceEncoderSpec spec;

  SentenceEncoderLoader(MxModelZoo zoo, SentenceEncoderSpec spec) {
    super(zoo, spec.artifactId(), Application.NLP.TEXT_EMBEDDING);
    this.spec = spec;
  }

  /**
   * Returns the encoder this loader serves.
   *
   * @return the spec
   */
  public SentenceEncoderSpec getSpec() {
    return spec;
  }

  /** {@inheritDoc} */
  @Override
  public <I, O> ZooModel<I, O> loadModel(Criteria<I, O> criteria)
      throws IOException, ModelNotFoundException, MalformedModelException {
    Translator<I, O> translator =
        translatorFor(criteria.getInputClass(), criteria.getOutputClass());
    if (translator == null) {
      throw new ModelNotFoundException(
          spec.artifactId()
              + " embeds String -> float[], String[] -> float[][], List -> List; not "
              + criteria.getInputClass().getSimpleName()
              + " -> "
              + criteria.getOutputClass().getSimpleName());
    }
    Map<String, String> options = criteria.getOptions();
    MxFormat weights = weightsFormat(criteria.getFilters(), options);
    MxFormat activations = activationFormat(options);
    String engineName = engineName(criteria.getEngine());
    Path cacheDir = cacheDir(options);
    Progress progress = criteria.getProgress() != null ? criteria.getProgress() : new ProgressBar();
    long start = System.nanoTime();
    ScaleMode scale = scaleMode(options, weights);
    WeightRounding rounding = rounding(criteria.getFilters(), options, weights);
    MxCheckpoint ckpt = loadOrConvert(spec, weights, scale, rounding, cacheDir, progress);

    ActivationQuantizer aq = ActivationQuantizer.NONE;
    if (activations != null) {
      if (engineName.equals("MX")) {
        logger.debug("Activations in {} are left to the MX engine's linear", activations);
      } else {
        aq = new MxActivationQuantizer(activations);
      }
    }
    // MX attention (the attention module's core) runs only under the MX engine, unless turned off
    String attentionOption = option(options, "mx.attention");
    boolean mxAttention = engineName.equals("MX") && !"off".equalsIgnoreCase(attentionOption);
    AttentionCore core =
        mxAttention
            ? new MxAttentionCore(attentionConfig(attentionOption))
            : new SoftmaxAttentionCore();
    BertEncoder block = new BertEncoder(ckpt.config(), core, aq);
    Device device = criteria.getDevice();
    Model model = Model.newInstance(spec.artifactId(), device, engineName);
    try {
      if (model instanceof MxModel mx) {
        mx.setConfig(engineConfig(weights, activations, options));
      }
      model.setBlock(block);
      installWeights(block, ckpt, model);
      model.setProperty("mx.weights", weights == null ? "FP32" : weights.name());
      model.setProperty("mx.activations", activations == null ? "none" : activations.name());
      model.setProperty("mx.zoo.rounding", ckpt.rounding().key());
      if (options != null) {
        for (Map.Entry<String, String> e : options.entrySet()) {
          model.setProperty(e.getKey(), e.getValue());
        }
      }
    } catch (RuntimeException e) {
      model.close();
      throw e;
    }
    logger.info(
        "Loaded {} ({} weights{}, {} activations, {} attention) on engine {} in {} ms",
        spec.artifactId(),
        weights == null ? "FP32" : weights,
        weights != null && ckpt.rounding() == WeightRounding.GPTQ ? " calibrated" : "",
        activations == null ? "FP32" : activations,
        mxAttention ? "MX" : "FP32",
        engineName,
        (System.nanoTime() - start) / 1_000_000);
    return new ZooModel<>(model, translator);
  }

  /**
   * Sets an encoder's parameters from a checkpoint. Under the MX engine the packed MX weights go to
   * its kernels as they are ({@link MxModel#adoptPackedWeights}): nothing is dequantized into FP32
   * and quantized again, which was most of a cached load. Elsewhere (and for weights the engine
   * does not take, e.g. with {@code mx.keepFp32}) the weights are dequantized into FP32 arrays.
   *
   * @param encoder the encoder, already the model's block
   * @param ckpt the checkpoint (its configuration must equal the encoder's)
   * @param model the model whose manager owns the arrays
   */
  static void installWeights(BertEncoder encoder, MxCheckpoint ckpt, Model model) {
    if (!(model instanceof MxModel mx) || ckpt.mxWeights().isEmpty()) {
      encoder.setWeights(ckpt.toBertWeights(), model.getNDManager());
      return;
    }
    if (!ckpt.config().equals(encoder.getConfig())) {
      throw new IllegalArgumentException(
          "Checkpoint is for " + ckpt.config() + ", the encoder is " + encoder.getConfig());
    }
    NDManager manager = model.getNDManager();
    Map<String, io.djlmx.zoo.checkpoint.MxWeight> packed = ckpt.mxWeights();
    Map<String, NamedTensor> fp32 = ckpt.fp32Tensors();
    Map<NDArray, io.djlmx.zoo.checkpoint.MxWeight> byArray = new IdentityHashMap<>();
    for (Map.Entry<String, Parameter> e : encoder.parametersByName().entrySet()) {
      io.djlmx.zoo.checkpoint.MxWeight w = packed.get(e.getKey());
      NDArray a;
      if (w != null) {
        // a placeholder: its values are the MX weight's once adopted (filled below otherwise)
        a = manager.create(new Shape(w.rows(), w.cols()), DataType.FLOAT32);
        byArray.put(a, w);
      } else {
        NamedTensor t = fp32.get(e.getKey());
        a = manager.create(t.data(), new Shape(t.shape()));
      }
      e.getValue().setArray(a);
    }
    List<MxTensor> open = new ArrayList<>();
    try {
      mx.adoptPackedWeights(
          a -> {
            io.djlmx.zoo.checkpoint.MxWeight w = byArray.get(a);
            if (w == null) {
              return null;
            }
            MxTensor t = w.toTensor();
            open.add(t);
            return t;
          });
    } finally {
      open.forEach(MxTensor::close);
    }
    for (Map.Entry<NDArray, io.djlmx.zoo.checkpoint.MxWeight> e : byArray.entrySet()) {
      if (!(e.getKey() instanceof MxNDArray m) || !m.isFp32Released()) {
        // not taken by the engine: it needs the values as FP32
        e.getKey().set(FloatBuffer.wrap(e.getValue().dequantize().data()));
      }
    }
  }

  /**
   * The MX engine's configuration for this model: its kernels must pack the weights in the format
   * the checkpoint was made in (else they would repack them in the engine's default format), and
   * quantize activations as asked. FP32 weights on the MX engine are excluded from packing.
   */
  static MxConfig engineConfig(
      MxFormat weights, MxFormat activations, Map<String, String> options) {
    Map<String, String> cfg = new HashMap<>();
    if (options != null) {
      options.forEach(
          (k, v) -> {
            if (MxConfig.KEYS.contains(k)) {
              cfg.put(k, v);
            }
          });
    }
    cfg.put(MxConfig.WEIGHTS, weights == null ? DEFAULT_WEIGHTS.name() : weights.name());
    if (weights == null) {
      cfg.put(MxConfig.EXCLUDE, "*");
    }
    cfg.put(MxConfig.ACTIVATIONS, activations == null ? "none" : activations.name());
    return MxConfig.resolve(cfg);
  }

  @SuppressWarnings("unchecked")
  private <I, O> Translator<I, O> translatorFor(Class<I> in, Class<O> out) throws IOException {
    SentenceBatchCodec codec = newCodec(spec);
    if (in == String.class && out == float[].class) {
      return (Translator<I, O>) new SentenceEmbeddingTranslator(codec);
    } else if (in == String[].class && out == float[][].class) {
      return (Translator<I, O>) new BatchSentenceEmbeddingTranslator(codec);
    } else if (List.class.isAssignableFrom(in) && List.class.isAssignableFrom(out)) {
      return (Translator<I, O>) new ListSentenceEmbeddingTranslator(codec);
    }
    return null;
  }

  /**
   * Creates the tokenization and pooling of an encoder from its class-path tokenizer.
   *
   * @param spec the encoder
   * @return a codec
   * @throws IOException if the tokenizer is missing or unreadable
   */
  public static SentenceBatchCodec newCodec(SentenceEncoderSpec spec) throws IOException {
    Map<String, String> opts =
        Map.of(
            "truncation", "true",
            "padding", "false",
            "maxLength", String.valueOf(spec.maxTokens()));
    try (InputStream in = spec.openTokenizer()) {
      HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(in, opts);
      return new SentenceBatchCodec(tokenizer, spec.pooling(), spec.maxTokens(), "");
    }
  }

  /**
   * Returns the checkpoint of an encoder in a format, reading the cached one or converting the ONNX
   * weights (and caching the result) on first use.
   *
   * @param spec the encoder
   * @param weights the format of the linear weights, or null for FP32
   * @param cacheDir the checkpoint directory
   * @param progress reports the conversion, or null
   * @return the checkpoint
   * @throws IOException if the model files are missing or corrupt
   */
  public static MxCheckpoint loadOrConvert(
      SentenceEncoderSpec spec, MxFormat weights, Path cacheDir, Progress progress)
      throws IOException {
    return loadOrConvert(spec, weights, ScaleMode.FLOOR, cacheDir, progress);
  }

  /**
   * Returns the checkpoint of an encoder in a format and scale rule, reading the cached one or
   * converting the ONNX weights (and caching the result) on first use.
   *
   * @param spec the encoder
   * @param weights the format of the linear weights, or null for FP32
   * @param scale the shared-scale rule of the linear weights
   * @param cacheDir the checkpoint directory
   * @param progress reports the conversion, or null
   * @return the checkpoint
   * @throws IOException if the model files are missing or corrupt
   */
  public static MxCheckpoint loadOrConvert(
      SentenceEncoderSpec spec, MxFormat weights, ScaleMode scale, Path cacheDir, Progress progress)
      throws IOException {
    return loadOrConvert(spec, weights, scale, WeightRounding.RTN, cacheDir, progress);
  }

  /**
   * Returns the checkpoint of an encoder in a format, scale rule and rounding, reading the cached
   * one or converting the ONNX weights (and caching the result) on first use. Calibrated rounding
   * first runs the FP32 encoder over the calibration text ({@link EncoderCalibration}).
   *
   * @param spec the encoder
   * @param weights the format of the linear weights, or null for FP32
   * @param scale the shared-scale rule of the linear weights
   * @param rounding how the codes are chosen (ignored for FP32)
   * @param cacheDir the checkpoint directory
   * @param progress reports the conversion, or null
   * @return the checkpoint
   * @throws IOException if the model files are missing or corrupt
   */
  public static MxCheckpoint loadOrConvert(
      SentenceEncoderSpec spec,
      MxFormat weights,
      ScaleMode scale,
      WeightRounding rounding,
      Path cacheDir,
      Progress progress)
      throws IOException {
    WeightRounding r = weights == null ? WeightRounding.RTN : rounding;
    Path file = checkpointFile(spec, weights, scale, r, cacheDir);
    if (Files.isRegularFile(file)) {
      try {
        MxCheckpoint cached = MxCheckpoint.read(file);
        String method = EncoderCalibration.method();
        if (cached.rounding() == r
            && (r == WeightRounding.RTN
                || (cached.calibration() != null && cached.calibration().endsWith(method)))) {
          return cached;
        }
        logger.warn(
            "Discarding cached checkpoint {}: made with rounding {} ({}), not {} ({})",
            file,
            cached.rounding().key(),
            cached.calibration(),
            r.key(),
            r == WeightRounding.RTN ? "-" : method);
      } catch (IOException e) {
        logger.warn("Discarding unreadable cached checkpoint {}: {}", file, e.getMessage());
      }
    }
    logger.info(
        "Converting {} to {}{} (first use; cached as {})",
        spec.artifactId(),
        weights == null ? "FP32" : weights,
        r == WeightRounding.GPTQ ? " with calibrated rounding" : "",
        file);
    long start = System.nanoTime();
    BertWeights fp32 = importOnnx(spec);
    CalibrationData calibration =
        r == WeightRounding.GPTQ
            ? EncoderCalibration.record(spec, fp32, weights, scale, progress)
            : null;
    MxCheckpoint ckpt = MxCheckpoint.quantize(fp32, weights, scale, calibration, progress);
    ckpt.write(file);
    logger.info(
        "Converted {} to {} in {} ms",
        spec.artifactId(),
        file,
        (System.nanoTime() - start) / 1_000_000);
    return ckpt;
  }

  /**
   * Imports an encoder's FP32 weights from its ONNX file on the class path.
   *
   * @param spec the encoder
   * @return the weights
   * @throws IOException if the model file is missing or corrupt
   */
  public static BertWeights importOnnx(SentenceEncoderSpec spec) throws IOException {
    try (InputStream in = spec.openOnnx()) {
      return BertOnnxImporter.importModel(OnnxModelFile.read(in, spec.onnxResource()));
    }
  }

  /**
   * Returns where an encoder's checkpoint in a format is cached.
   *
   * @param spec the encoder
   * @param weights the format, or null for FP32
   * @param cacheDir the checkpoint directory
   * @return the file
   */
  public static Path checkpointFile(SentenceEncoderSpec spec, MxFormat weights, Path cacheDir) {
    return checkpointFile(spec, weights, ScaleMode.FLOOR, cacheDir);
  }

  /**
   * Returns where an encoder's checkpoint in a format and scale rule is cached: the FLOOR file name
   * has no suffix, other rules add theirs (e.g. {@code -RCEIL}).
   *
   * @param spec the encoder
   * @param weights the format, or null for FP32
   * @param scale the shared-scale rule
   * @param cacheDir the checkpoint directory
   * @return the file
   */
  public static Path checkpointFile(
      SentenceEncoderSpec spec, MxFormat weights, ScaleMode scale, Path cacheDir) {
    return checkpointFile(spec, weights, scale, WeightRounding.RTN, cacheDir);
  }

  /**
   * Returns where an encoder's checkpoint in a format, scale rule and rounding is cached: FLOOR and
   * round-to-nearest add no suffix, other choices add theirs (e.g. {@code -RCEIL}, {@code -GPTQ}),
   * so checkpoints made differently never share a file.
   *
   * @param spec the encoder
   * @param weights the format, or null for FP32
   * @param scale the shared-scale rule
   * @param rounding how the codes were chosen
   * @param cacheDir the checkpoint directory
   * @return the file
   */
  public static Path checkpointFile(
      SentenceEncoderSpec spec,
      MxFormat weights,
      ScaleMode scale,
      WeightRounding rounding,
      Path cacheDir) {
    String suffix = "";
    if (weights != null) {
      suffix += scale == ScaleMode.FLOOR ? "" : "-" + scale.name();
      suffix += rounding == WeightRounding.RTN ? "" : "-" + rounding.name();
    }
    return cacheDir.resolve(
        spec.artifactId() + "-" + (weights == null ? "FP32" : weights.name()) + suffix + ".mxckpt");
  }

  /**
   * The {@code mx.zoo.rounding} option (or filter {@code rounding}); default the format's {@link
   * WeightRecipe}.
   */
  static WeightRounding rounding(
      Map<String, String> filters, Map<String, String> options, MxFormat weights) {
    String v = filters == null ? null : filters.get("rounding");
    if (v == null) {
      v = option(options, "mx.zoo.rounding");
    }
    return v == null ? WeightRecipe.defaultFor(weights).rounding() : WeightRounding.parse(v);
  }

  static MxFormat weightsFormat(Map<String, String> filters, Map<String, String> options) {
    String v = filters == null ? null : filters.get("format");
    if (v == null) {
      v = option(options, "mx.weights");
    }
    return v == null ? DEFAULT_WEIGHTS : parseFormatOrFp32(v, "mx.weights");
  }

  /**
   * The {@code mx.scale} option: the scale rule of the checkpoint's weights (default the format's
   * {@link WeightRecipe}).
   */
  static ScaleMode scaleMode(Map<String, String> options, MxFormat weights) {
    String v = option(options, "mx.scale");
    return v == null ? WeightRecipe.defaultFor(weights).scale() : ScaleMode.parse(v);
  }

  static MxFormat activationFormat(Map<String, String> options) {
    String v = option(options, "mx.activations");
    if (v == null || v.equalsIgnoreCase("none")) {
      return null;
    }
    return parseFormatOrFp32(v, "mx.activations");
  }

  static Path cacheDir(Map<String, String> options) {
    String v = option(options, "mx.zoo.cache");
    return v != null ? Paths.get(v) : Utils.getCacheDir().resolve("mx-zoo");
  }

  private static MxFormat parseFormatOrFp32(String v, String key) {
    if (v.equalsIgnoreCase("FP32")) {
      return null;
    }
    try {
      return MxFormat.parse(v);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "Invalid " + key + " '" + v + "': use FP32 or one of " + List.of(MxFormat.values()), e);
    }
  }

  /**
   * The MX attention configuration for an {@code mx.attention} value: the defaults, with FP8 P·V
   * for {@code fp8} (the value itself is checked by the engine's configuration).
   */
  static AttentionConfig attentionConfig(String attentionOption) {
    return AttentionConfig.defaults().toBuilder()
        .optPvFp8("fp8".equalsIgnoreCase(attentionOption))
        .build();
  }

  /** An option from the Criteria options, else a system property, else the environment. */
  static String option(Map<String, String> options, String key) {
    String v = options == null ? null : options.get(key);
    if (v == null) {
      v = System.getProperty(key);
    }
    if (v == null) {
      v = System.getenv(key.replace('.', '_').toUpperCase(Locale.ROOT));
    }
    return v;
  }

  /**
   * Picks the engine: the one asked for, else MX where present, else PyTorch. Where MX is asked for
   * but not on the class path, PyTorch runs the same MX-rounded weights (an emulation) and a
   * warning says so.
   */
  static String engineName(String requested) {
    if (requested == null) {
      return Engine.hasEngine("MX") ? "MX" : "PyTorch";
    }
    if (requested.equals("MX") && !Engine.hasEngine("MX")) {
      logger.warn(
          "The MX engine is not on the class path: running MX-rounded weights on PyTorch instead");
      return "PyTorch";
    }
    return requested;
  }
}

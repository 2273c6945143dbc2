package io.djlmx.zoo.checkpoint;

import ai.djl.util.Progress;
import io.djlmx.checkpoint.CheckpointFiles;
import io.djlmx.checkpoint.CheckpointTensor;
import io.djlmx.checkpoint.ModelCheckpoint;
import io.djlmx.format.CalibratedMxQuantizer;
import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.format.ScaleMode;
import io.djlmx.zoo.bert.BertConfig;
import io.djlmx.zoo.bert.BertWeights;
import io.djlmx.zoo.onnx.NamedTensor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A BERT encoder checkpoint with its linear weights in an MX format ({@code .mxckpt}).
 *
 * <p>The file is a {@link ModelCheckpoint} (format {@code DJLMXCK2}, checksummed), the one
 * checkpoint format of the project, with the encoder's shape in its metadata:
 *
 * <pre>
 * source          "bert-onnx"
 * weights, scale  the MX format of the linear weights ("FP32" for none) and its scale rule
 * rounding        how the codes were chosen: "rtn" (round to nearest; also when absent) or "gptq"
 *                 (calibrated rounding), with "calibration" describing the text and damping
 * bert.*          vocabSize, hiddenSize, numLayers, numHeads, intermediateSize, maxPositions,
 *                 typeVocabSize, layerNormEps
 * </pre>
 *
 * <p>Tensors carry their Hugging Face names. Linear weights ({@code encoder.layer.N.*.weight}) are
 * stored in MX unless the checkpoint is FP32; embeddings, biases and layer norms stay FP32. {@code
 * mx inspect} reads it like any model checkpoint.
 */
public final class MxCheckpoint {

  /** The {@link ModelCheckpoint#SOURCE} of an encoder checkpoint. */
  public static final String SOURCE_BERT = "bert-onnx";

  /** The metadata key of the rounding ({@link WeightRounding#key()}). */
  public static final String ROUNDING = "rounding";

  /** The metadata key describing the calibration of a calibrated checkpoint. */
  public static final String CALIBRATION = "calibration";

  private static final String CONFIG_PREFIX = "bert.";

  private final BertConfig config;
  private final MxFormat format;
  private final Map<String, NamedTensor> fp32;
  private final Map<String, MxWeight> mx;
  private final WeightRounding rounding;
  private final String calibration;

  private MxCheckpoint(
      BertConfig config,
      MxFormat format,
      Map<String, NamedTensor> fp32,
      Map<String, MxWeight> mx,
      WeightRounding rounding,
      String calibration) {
    this.config = config;
    this.format = format;
    this.fp32 = fp32;
    this.mx = mx;
    this.rounding = rounding;
    this.calibration = calibration;
  }

  /**
   * Quantizes FP32 weights into a checkpoint with the spec's FLOOR scale rule.
   *
   * @param weights the FP32 weights
   * @param format the format of the linear weights, or null to keep them FP32
   * @param progress reports one step per tensor, or null
   * @return the checkpoint
   */
  public static MxCheckpoint quantize(BertWeights weights, MxFormat format, Progress progress) {
    return quantize(weights, format, ScaleMode.FLOOR, progress);
  }

  /**
   * Quantizes FP32 weights into a checkpoint.
   *
   * @param weights the FP32 weights
   * @param format the format of the linear weights, or null to keep them FP32
   * @param scale the shared-scale rule of the linear weights
   * @param progress reports one step per tensor, or null
   * @return the checkpoint
   */
  public static MxCheckpoint quantize(
      BertWeights weights, MxFormat format, ScaleMode scale, Progress progress) {
    return quantize(weights, format, scale, null, progress);
  }

  /**
   * Quantizes FP32 weights into a checkpoint, with calibrated rounding where statistics are given.
   *
   * @param weights the FP32 weights
   * @param format the format of the linear weights, or null to keep them FP32
   * @param scale the shared-scale rule of the linear weights
   * @param calibration the input statistics of the linear weights, or null for round-to-nearest
   * @param progress reports one step per tensor, or null
   * @return the checkpoint
   * @throws IllegalArgumentException if a weight holds NaN or infinity, or its statistics cannot be
   *     factored (naming the parameter)
   */
  public static MxCheckpoint quantize(
      BertWeights weights,
      MxFormat format,
      ScaleMode scale,
      CalibrationData calibration,
      Progress progress) {
    Map<String, NamedTensor> fp32 = new LinkedHashMap<>();
    Map<String, MxWeight> mx = new LinkedHashMap<>();
    boolean calibrated = format != null && calibration != null;
    if (progress != null) {
      progress.reset(
          (calibrated ? "Calibrated rounding to " : "Converting to ")
              + (format == null ? "FP32" : format),
          weights.tensors().size());
    }
    CalibratedMxQuantizer quantizer =
        calibrated
            ? CalibratedMxQuantizer.builder()
                .setFormat(format)
                .optScaleMode(scale)
                .optDamping(calibration.damping())
                .optRefinePasses(calibration.refinePasses())
                .build()
            : null;
    for (NamedTensor t : weights.tensors().values()) {
      if (format != null && BertWeights.isLinearWeight(t.name())) {
        double[] gram = calibrated ? calibration.grams().get(t.name()) : null;
        if (gram == null) {
          if (calibrated) {
            throw new IllegalArgumentException("No calibration statistics for " + t.name());
          }
          mx.put(t.name(), MxWeight.quantize(t, format, scale));
        } else {
          int rows = Math.toIntExact(t.shape()[0]);
          int cols = Math.toIntExact(t.shape()[1]);
          try (MxTensor q = quantizer.quantize(t.name(), t.data(), rows, cols, gram)) {
            mx.put(t.name(), MxWeight.of(t.name(), q));
          }
        }
      } else {
        fp32.put(t.name(), t);
      }
      if (progress != null) {
        progress.increment(1);
      }
    }
    if (progress != null) {
      progress.end();
    }
    return new MxCheckpoint(
        weights.config(),
        format,
        fp32,
        mx,
        calibrated ? WeightRounding.GPTQ : WeightRounding.RTN,
        calibrated ? calibration.description() : null);
  }

  /**
   * Returns how the MX codes were chosen.
   *
   * @return the rounding ({@link WeightRounding#RTN} for FP32 checkpoints and older files)
   */
  public WeightRounding rounding() {
    return rounding;
  }

  /**
   * Returns what a calibrated checkpoint was calibrated on (text, size, damping).
   *
   * @return the description, or null when not calibrated
   */
  public String calibration() {
    return calibration;
  }

  /**
   * Returns the encoder's shape.
   *
   * @return the configuration
   */
  public BertConfig config() {
    return config;
  }

  /**
   * Returns the format of the linear weights.
   *
   * @return the format, or null for an FP32 checkpoint
   */
  public MxFormat format() {
    return format;
  }

  /**
   * Returns the MX-quantized weights by name.
   *
   * @return the packed linear weights
   */
  public Map<String, MxWeight> mxWeights() {
    return java.util.Collections.unmodifiableMap(mx);
  }

  /**
   * Returns the tensors kept in FP32 (embeddings, biases, norms; every tensor of an FP32
   * checkpoint) by Hugging Face name.
   *
   * @return an unmodifiable map
   */
  public Map<String, NamedTensor> fp32Tensors() {
    return java.util.Collections.unmodifiableMap(fp32);
  }

  /**
   * Returns every weight as FP32, MX weights decoded to the values the MX kernels use.
   *
   * @return the weights
   */
  public BertWeights toBertWeights() {
    Map<String, NamedTensor> all = new LinkedHashMap<>(fp32);
    for (MxWeight w : mx.values()) {
      all.put(w.name(), w.dequantize());
    }
    return new BertWeights(config, all);
  }

  /**
   * Writes the checkpoint atomically (to a temporary file, then renamed).
   *
   * @param file the target file
   * @throws IOException on write failure
   */
  public void write(Path file) throws IOException {
    CheckpointFiles.writeAtomically(file, this::write);
  }

  /**
   * Writes the checkpoint to a stream, in the {@link ModelCheckpoint} format.
   *
   * @param out the stream, not closed here
   * @throws IOException on write failure
   */
  public void write(OutputStream out) throws IOException {
    List<CheckpointTensor> tensors = new ArrayList<>(fp32.size() + mx.size());
    for (NamedTensor t : fp32.values()) {
      tensors.add(new CheckpointTensor(t.name(), t.shape(), t.data(), null));
    }
    try {
      for (MxWeight w : mx.values()) {
        long[] shape = {w.rows(), w.cols()};
        tensors.add(new CheckpointTensor(w.name(), shape, null, w.toTensor()));
      }
      new ModelCheckpoint(metadata(), tensors).write(out);
    } finally {
      for (CheckpointTensor t : tensors) {
        if (t.mx() != null) {
          t.mx().close();
        }
      }
    }
  }

  private Map<String, String> metadata() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put(ModelCheckpoint.SOURCE, SOURCE_BERT);
    m.put(ModelCheckpoint.WEIGHTS, format == null ? "FP32" : format.name());
    ScaleMode scale =
        mx.values().stream().findFirst().map(MxWeight::scaleMode).orElse(ScaleMode.FLOOR);
    m.put(ModelCheckpoint.SCALE, scale.name().toLowerCase(java.util.Locale.ROOT));
    m.put(ROUNDING, rounding.key());
    if (calibration != null) {
      m.put(CALIBRATION, calibration);
    }
    m.put(CONFIG_PREFIX + "vocabSize", Integer.toString(config.vocabSize()));
    m.put(CONFIG_PREFIX + "hiddenSize", Integer.toString(config.hiddenSize()));
    m.put(CONFIG_PREFIX + "numLayers", Integer.toString(config.numLayers()));
    m.put(CONFIG_PREFIX + "numHeads", Integer.toString(config.numHeads()));
    m.put(CONFIG_PREFIX + "intermediateSize", Integer.toString(config.intermediateSize()));
    m.put(CONFIG_PREFIX + "maxPositions", Integer.toString(config.maxPositions()));
    m.put(CONFIG_PREFIX + "typeVocabSize", Integer.toString(config.typeVocabSize()));
    // Float.toString round-trips a float exactly
    m.put(CONFIG_PREFIX + "layerNormEps", Float.toString(config.layerNormEps()));
    return m;
  }

  /**
   * Reads a checkpoint file, verifying its checksum.
   *
   * @param file the file
   * @return the checkpoint
   * @throws IOException naming the file when it is missing, truncated, corrupt, not a checkpoint,
   *     or the checkpoint of something other than a BERT encoder
   */
  public static MxCheckpoint read(Path file) throws IOException {
    try (ModelCheckpoint ckpt = ModelCheckpoint.read(file)) {
      return from(ckpt, file.toString());
    }
  }

  /**
   * Reads a checkpoint from a stream, verifying its checksum.
   *
   * @param in the stream, not closed here
   * @param source a name for error messages
   * @return the checkpoint
   * @throws IOException when the data is truncated, corrupt, not a checkpoint, or the checkpoint of
   *     something other than a BERT encoder
   */
  public static MxCheckpoint read(InputStream in, String source) throws IOException {
    try (ModelCheckpoint ckpt = ModelCheckpoint.read(in, source)) {
      return from(ckpt, source);
    }
  }

  /**
   * Takes an encoder checkpoint out of a model checkpoint (copying the packed weights on-heap).
   *
   * @param ckpt the model checkpoint, still owned by the caller
   * @param source a name for error messages
   * @return the encoder checkpoint
   * @throws IOException when the checkpoint is not a complete BERT encoder checkpoint
   */
  public static MxCheckpoint from(ModelCheckpoint ckpt, String source) throws IOException {
    if (!SOURCE_BERT.equals(ckpt.get(ModelCheckpoint.SOURCE))) {
      throw new IOException(
          "MX checkpoint "
              + source
              + " is not a BERT encoder checkpoint (source '"
              + ckpt.get(ModelCheckpoint.SOURCE)
              + "', expected '"
              + SOURCE_BERT
              + "')");
    }
    BertConfig config;
    MxFormat format;
    WeightRounding rounding;
    try {
      String r = ckpt.get(ROUNDING);
      rounding = r == null ? WeightRounding.RTN : WeightRounding.parse(r);
      config =
          new BertConfig(
              configInt(ckpt, "vocabSize"),
              configInt(ckpt, "hiddenSize"),
              configInt(ckpt, "numLayers"),
              configInt(ckpt, "numHeads"),
              configInt(ckpt, "intermediateSize"),
              configInt(ckpt, "maxPositions"),
              configInt(ckpt, "typeVocabSize"),
              Float.parseFloat(configValue(ckpt, "layerNormEps")));
      format = ckpt.weightFormat();
    } catch (IllegalArgumentException e) {
      throw new IOException("Corrupt MX checkpoint " + source + ": " + e.getMessage(), e);
    }
    Map<String, NamedTensor> fp32 = new LinkedHashMap<>();
    Map<String, MxWeight> mx = new LinkedHashMap<>();
    for (CheckpointTensor t : ckpt.tensors().values()) {
      try {
        if (!t.isMx()) {
          fp32.put(t.name(), new NamedTensor(t.name(), t.shape(), t.fp32()));
        } else if (t.shape().length == 2 && t.mx().blockSize() == MxWeight.BLOCK) {
          MxTensor m = t.mx();
          mx.put(
              t.name(),
              new MxWeight(
                  t.name(),
                  m.format(),
                  Math.toIntExact(m.rows()),
                  Math.toIntExact(m.cols()),
                  m.codes().toArray(ValueLayout.JAVA_BYTE),
                  m.scales().toArray(ValueLayout.JAVA_BYTE),
                  m.scaleMode()));
        } else {
          throw new IOException(
              "MX checkpoint "
                  + source
                  + ": MX tensor "
                  + t.name()
                  + " must be 2-D in blocks of "
                  + MxWeight.BLOCK
                  + ", is "
                  + Arrays.toString(t.shape())
                  + " in blocks of "
                  + t.mx().blockSize());
        }
      } catch (IllegalArgumentException | ArithmeticException e) {
        throw new IOException("Corrupt MX checkpoint " + source + ": " + e.getMessage(), e);
      }
    }
    MxCheckpoint result =
        new MxCheckpoint(config, format, fp32, mx, rounding, ckpt.get(CALIBRATION));
    try {
      result.toBertWeightsShapesCheck();
    } catch (IllegalArgumentException e) {
      throw new IOException("Incomplete MX checkpoint " + source + ": " + e.getMessage(), e);
    }
    return result;
  }

  private static String configValue(ModelCheckpoint ckpt, String key) {
    String v = ckpt.get(CONFIG_PREFIX + key);
    if (v == null) {
      throw new IllegalArgumentException("metadata " + CONFIG_PREFIX + key + " is missing");
    }
    return v;
  }

  private static int configInt(ModelCheckpoint ckpt, String key) {
    try {
      return Integer.parseInt(configValue(ckpt, key));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "metadata " + CONFIG_PREFIX + key + " is not a whole number: " + e.getMessage(), e);
    }
  }

  private void toBertWeightsShapesCheck() {
    // 5 embedding tensors and 16 per layer: check the count before listing the names, so that a
    // corrupt layer count cannot make the check itself build billions of names.
    long needed = 5 + 16L * config.numLayers();
    if (needed > fp32.size() + mx.size()) {
      throw new IllegalArgumentException(
          "the config needs "
              + needed
              + " tensors for "
              + config.numLayers()
              + " layers, the file holds "
              + (fp32.size() + mx.size()));
    }
    for (Map.Entry<String, long[]> e : BertWeights.expectedShapes(config).entrySet()) {
      String name = e.getKey();
      long[] shape;
      if (fp32.containsKey(name)) {
        shape = fp32.get(name).shape();
      } else if (mx.containsKey(name)) {
        shape = new long[] {mx.get(name).rows(), mx.get(name).cols()};
      } else {
        throw new IllegalArgumentException("parameter '" + name + "' is missing");
      }
      // A config that disagrees with the tensors would only fail later, deep in the encoder.
      if (!Arrays.equals(shape, e.getValue())) {
        throw new IllegalArgumentException(
            "parameter '"
                + name
                + "' has shape "
                + Arrays.toString(shape)
                + " but the config needs "
                + Arrays.toString(e.getValue()));
      }
    }
  }
}

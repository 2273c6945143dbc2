package io.djlmx.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.translate.TranslateException;
import io.djlmx.format.CalibratedMxQuantizer;
import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Calibrated MX rounding for a model's {@code linear} weights: runs the user's inputs through the
 * FP32 model, records each weight's input Gram matrix, and re-quantizes the weights with {@link
 * CalibratedMxQuantizer} (error-feedback rounding that minimises the layer's output error on those
 * inputs instead of each weight's own rounding error). The packed weights stay ordinary MX tensors
 * in the model's {@code mx.weights} format and {@code mx.scale} rule; the same kernels run them.
 *
 * <pre>{@code
 * // the FP32 weights must still be there: load with mx.keepFp32=true
 * Criteria<float[], float[]> c = Criteria.builder()....optEngine("MX")
 *     .optOption("mx.weights", "MXFP8_E4M3").optOption("mx.keepFp32", "true").build();
 * try (ZooModel<float[], float[]> model = c.loadModel();
 *     Predictor<float[], float[]> p = model.newPredictor()) {
 *   MxCalibration.builder().build().calibrate((MxModel) model.getWrappedModel(), () -> {
 *     for (float[] x : calibrationInputs) {
 *       p.predict(x);
 *     }
 *   });
 *   float[] y = p.predict(input); // calibrated MX weights from here on
 * }
 * }</pre>
 *
 * <p>While recording, the model's {@code linear} calls run in FP32 on PyTorch (they are the
 * reference the rounding is fitted to); one calibration runs at a time per JVM. Only CPU models are
 * calibrated. The FP32 weights are needed: a weight whose FP32 copy was released after packing (the
 * default after load, unless {@code mx.keepFp32=true}) is reported, since quantizing its MX values
 * again cannot recover what was lost. The calibrated weight is installed like a packed checkpoint
 * weight and stays in use until the weight array changes.
 *
 * <p>Statistics are summed over input rows (every token of every sequence, padding included): feed
 * inputs without padding, or few of it, for the best fit.
 */
public final class MxCalibration {

  private static final Logger logger = LoggerFactory.getLogger(MxCalibration.class);

  private final double damping;

  private MxCalibration(Builder b) {
    this.damping = b.damping;
  }

  /**
   * Returns a new builder.
   *
   * @return the builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Returns the damping relative to the mean diagonal of each Gram matrix.
   *
   * @return the relative damping
   */
  public double getDamping() {
    return damping;
  }

  /**
   * Runs {@code run} with the model's {@code linear} weights in FP32 and returns each weight's
   * input statistics (nothing is quantized).
   *
   * @param model a CPU model with its block and FP32 weights
   * @param run feeds the calibration inputs (e.g. through a {@code Predictor} of this model)
   * @return statistics by parameter name (as {@link MxModel} names linear weights), in block order
   * @throws TranslateException when {@code run} does
   * @throws IllegalStateException when the model has no block, a weight's FP32 values were
   *     released, a weight is on a GPU, or another calibration is running
   */
  public Map<String, LinearInputStatistics> record(MxModel model, CalibrationRun run)
      throws TranslateException {
    return record(model, w -> true, run);
  }

  /**
   * Runs {@code run} with the model's {@code linear} weights in FP32 and returns the input
   * statistics of the weights {@code include} accepts (e.g. one layer at a time, for calibrating
   * layer by layer on the inputs of the already quantized layers before it).
   *
   * @param model a CPU model with its block and FP32 weights
   * @param include which weight arrays to record
   * @param run feeds the calibration inputs
   * @return statistics by parameter name, in block order
   * @throws TranslateException when {@code run} does
   * @throws IllegalStateException as {@link #record(MxModel, CalibrationRun)} does
   */
  public Map<String, LinearInputStatistics> record(
      MxModel model, java.util.function.Predicate<NDArray> include, CalibrationRun run)
      throws TranslateException {
    Objects.requireNonNull(run, "run");
    Map<String, NDArray> weights = linearWeights(model);
    weights.values().removeIf(w -> !include.test(w));
    try (GramRecorder recorder = new GramRecorder(weights)) {
      MxLinear.startRecording(recorder);
      try {
        run.run();
      } finally {
        MxLinear.stopRecording(recorder);
      }
      return recorder.statistics();
    }
  }

  /**
   * Records statistics with {@code run} ({@link #record}), then re-quantizes every {@code linear}
   * weight with calibrated rounding ({@link #apply}).
   *
   * @param model a CPU model with its block and FP32 weights
   * @param run feeds the calibration inputs
   * @return how many weights were calibrated
   * @throws TranslateException when {@code run} does
   * @throws IllegalStateException as {@link #record} does
   * @throws IllegalArgumentException when a weight holds NaN or infinity, or a Gram matrix cannot
   *     be factored (naming the parameter)
   */
  public int calibrate(MxModel model, CalibrationRun run) throws TranslateException {
    return apply(model, record(model, run));
  }

  /**
   * Re-quantizes the model's {@code linear} weights from recorded statistics in its {@code
   * mx.weights} format and {@code mx.scale} rule, and installs them. Weights excluded by {@code
   * mx.exclude}, and weights that saw no input, keep their round-to-nearest packing.
   *
   * @param model the model the statistics were recorded on
   * @param stats the statistics by parameter name
   * @return how many weights were calibrated
   * @throws IllegalArgumentException when a weight holds NaN or infinity, or a Gram matrix cannot
   *     be factored (naming the parameter)
   */
  public int apply(MxModel model, Map<String, LinearInputStatistics> stats) {
    MxConfig config = model.getConfig();
    MxFormat format = config.getWeights();
    if (format == null) {
      return 0;
    }
    CalibratedMxQuantizer quantizer =
        CalibratedMxQuantizer.builder()
            .setFormat(format)
            .optScaleMode(config.getScale())
            .optDamping(damping)
            .build();
    Map<String, NDArray> weights = linearWeights(model);
    long start = System.nanoTime();
    int count = 0;
    for (Map.Entry<String, NDArray> e : weights.entrySet()) {
      String name = e.getKey();
      LinearInputStatistics s = stats.get(name);
      if (config.isExcluded(name)) {
        continue;
      }
      if (s == null || s.samples() == 0) {
        logger.warn("MX calibration: {} saw no input; it keeps round-to-nearest rounding", name);
        continue;
      }
      MxNDArray w = (MxNDArray) e.getValue();
      long[] shape = w.getShape().getShape();
      float[] values = fp32Values(w);
      try (MxTensor t =
          quantizer.quantize(
              name, values, Math.toIntExact(shape[0]), Math.toIntExact(shape[1]), s.gram())) {
        MxLinear.install(w, name, t, config);
      }
      count++;
    }
    logger.info(
        "MX calibration: {} linear weights re-quantized to {} with calibrated rounding in {} ms",
        count,
        format,
        (System.nanoTime() - start) / 1_000_000);
    return count;
  }

  private static float[] fp32Values(MxNDArray w) {
    NDArray d = w.getDelegate();
    if (d.getDataType() == DataType.FLOAT32) {
      return d.toFloatArray();
    }
    try (NDArray f = d.toType(DataType.FLOAT32, true)) {
      return f.toFloatArray();
    }
  }

  /** The model's CPU linear weights by name, each still holding its FP32 values. */
  private static Map<String, NDArray> linearWeights(MxModel model) {
    Objects.requireNonNull(model, "model");
    if (model.getBlock() == null) {
      throw new IllegalStateException("Model " + model.getName() + " has no block to calibrate");
    }
    Map<String, NDArray> out = new LinkedHashMap<>();
    MxModel.forEachLinearWeight(
        model.getBlock(),
        "",
        (name, a) -> {
          if (!(a instanceof MxNDArray w)) {
            throw new IllegalStateException(
                "MX calibration runs on CPU models; parameter " + name + " is on " + a.getDevice());
          }
          if (w.isFp32Released()) {
            throw new IllegalStateException(
                "Parameter "
                    + name
                    + " holds only its packed MX values (its FP32 copy was released): calibration"
                    + " needs the FP32 weights; load the model with mx.keepFp32=true");
          }
          out.put(name, w);
        });
    return out;
  }

  /** Feeds calibration inputs through the model, e.g. with a {@code Predictor}. */
  @FunctionalInterface
  public interface CalibrationRun {

    /**
     * Runs the calibration inputs.
     *
     * @throws TranslateException when a prediction fails
     */
    void run() throws TranslateException;
  }

  /** Builds an {@link MxCalibration}; every value is optional. */
  public static final class Builder {
    private double damping = CalibratedMxQuantizer.DEFAULT_DAMPING;

    private Builder() {}

    /**
     * Sets the damping added to each Gram matrix's diagonal, relative to its mean diagonal; {@value
     * CalibratedMxQuantizer#DEFAULT_DAMPING} by default.
     *
     * @param damping the relative damping, finite and {@code >= 0}
     * @return this builder
     */
    public Builder optDamping(double damping) {
      CalibratedMxQuantizer.builder().optDamping(damping); // the quantizer's own check
      this.damping = damping;
      return this;
    }

    /**
     * Builds the calibration.
     *
     * @return the calibration
     */
    public MxCalibration build() {
      return new MxCalibration(this);
    }
  }
}

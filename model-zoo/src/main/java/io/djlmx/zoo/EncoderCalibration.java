package io.djlmx.zoo;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.nn.Parameter;
import ai.djl.translate.TranslateException;
import ai.djl.util.Progress;
import io.djlmx.engine.LinearInputStatistics;
import io.djlmx.engine.MxCalibration;
import io.djlmx.engine.MxConfig;
import io.djlmx.engine.MxModel;
import io.djlmx.format.CalibratedMxQuantizer;
import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.format.ScaleMode;
import io.djlmx.zoo.bert.ActivationQuantizer;
import io.djlmx.zoo.bert.BertEncoder;
import io.djlmx.zoo.bert.BertWeights;
import io.djlmx.zoo.bert.SoftmaxAttentionCore;
import io.djlmx.zoo.checkpoint.CalibrationData;
import io.djlmx.zoo.onnx.NamedTensor;
import io.djlmx.zoo.translator.SentenceEmbeddingTranslator;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Records the statistics for calibrated MX rounding of a zoo encoder: runs the FP32 encoder (on the
 * MX engine with every weight kept FP32, DJL's softmax attention) over the calibration text, one
 * sentence per forward pass (no padding), and returns each linear weight's input Gram matrix under
 * its Hugging Face name.
 *
 * <p>The calibration text ({@value #CALIBRATION_RESOURCE}) is 512 WordNet 3.0 glosses and usage
 * examples made by {@code scripts/make-calibration.sh}: a different corpus from the Debian {@code
 * fortunes} sentences the zoo is evaluated on.
 */
public final class EncoderCalibration {

  /** The class-path resource holding the calibration text, one sentence per line. */
  public static final String CALIBRATION_RESOURCE = "/io/djlmx/zoo/calibration/wordnet-glosses.txt";

  /**
   * System property overriding the relative damping of the zoo's calibrated rounding (default
   * {@link #DEFAULT_DAMPING}).
   */
  public static final String DAMPING_PROPERTY = "mx.calibration.damping";

  /**
   * System property naming a text file (one sentence a line) to calibrate on instead of the bundled
   * text; its checkpoints are cached like the bundled text's, so clear the cache after changing it.
   */
  public static final String TEXT_PROPERTY = "mx.calibration.text";

  /**
   * System property: {@code true} records the statistics layer by layer on the inputs of the
   * already quantized layers (one pass per layer) instead of one FP32 pass.
   */
  public static final String SEQUENTIAL_PROPERTY = "mx.calibration.sequential";

  /**
   * System property: the most coordinate-descent passes over each row after the error feedback
   * ({@link CalibratedMxQuantizer.Builder#optRefinePasses(int)}); default {@value
   * #DEFAULT_REFINE_PASSES}.
   */
  public static final String REFINE_PROPERTY = "mx.calibration.refine";

  /**
   * The zoo's relative damping: 10%, chosen on held-out sentences (lines 1,001-2,000 of the
   * evaluation file, never the reported ones) together with the refinement ({@code
   * docs/bench/calib.md}); the format core's default is 1%.
   */
  public static final double DEFAULT_DAMPING = 0.1;

  /** The zoo's coordinate-descent passes; they stop early once a pass changes nothing. */
  public static final int DEFAULT_REFINE_PASSES = 16;

  /** Sentences joined into one calibration passage. */
  static final int GROUP = 8;

  /** Sentences also run alone. */
  static final int SINGLES = 256;

  private EncoderCalibration() {}

  /**
   * Returns how the codes are fitted to the statistics, as the checkpoint's metadata ends: a cached
   * calibrated checkpoint made another way is converted again.
   *
   * @return e.g. {@code damping 0.1, refine 16}
   */
  static String method() {
    return "damping " + damping() + ", refine " + refinePasses();
  }

  static int refinePasses() {
    String v = System.getProperty(REFINE_PROPERTY);
    if (v == null) {
      return DEFAULT_REFINE_PASSES;
    }
    try {
      int n = Integer.parseInt(v.trim());
      if (n >= 0) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException(
        "Invalid " + REFINE_PROPERTY + " '" + v + "': a whole number >= 0 (passes)");
  }

  static double damping() {
    String v = System.getProperty(DAMPING_PROPERTY);
    if (v == null) {
      return DEFAULT_DAMPING;
    }
    try {
      double d = Double.parseDouble(v.trim());
      if (d >= 0 && !Double.isInfinite(d)) {
        return d;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException(
        "Invalid " + DAMPING_PROPERTY + " '" + v + "': a finite number >= 0 (relative damping)");
  }

  /**
   * Reads the calibration sentences.
   *
   * @return the sentences, in file order
   * @throws IOException if the resource is missing
   */
  public static List<String> sentences() throws IOException {
    String file = System.getProperty(TEXT_PROPERTY);
    InputStream in =
        file != null
            ? java.nio.file.Files.newInputStream(java.nio.file.Paths.get(file))
            : EncoderCalibration.class.getResourceAsStream(CALIBRATION_RESOURCE);
    if (in == null) {
      throw new IOException(
          "Calibration text " + CALIBRATION_RESOURCE + " is not on the class path");
    }
    List<String> out = new ArrayList<>();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        if (!line.isBlank()) {
          out.add(line.strip());
        }
      }
    }
    return out;
  }

  /**
   * Builds the calibration inputs from sentences: runs of {@value #GROUP} consecutive sentences
   * joined into one passage, then the first {@value #SINGLES} sentences alone. Short glosses alone
   * would leave the later token positions unseen (the statistics would have almost no energy there,
   * and the rounding would push its error into exactly those directions, which longer text then
   * excites); the passages cover positions up to about 150 tokens, the single sentences the short
   * inputs.
   *
   * @param sentences the sentences
   * @return the inputs, one forward pass each
   */
  public static List<String> inputs(List<String> sentences) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < sentences.size(); i += GROUP) {
      out.add(String.join(" ", sentences.subList(i, Math.min(sentences.size(), i + GROUP))));
    }
    out.addAll(sentences.subList(0, Math.min(SINGLES, sentences.size())));
    return out;
  }

  /**
   * Records the calibration statistics of an encoder on the zoo's calibration text, layer by layer
   * for a format: see {@link #record(SentenceEncoderSpec, BertWeights, List, String, MxFormat,
   * ScaleMode, Progress)}.
   *
   * @param spec the encoder
   * @param fp32 its FP32 weights
   * @param format the weight format the statistics are for, or null for one FP32 pass
   * @param scale the scale rule of the weights
   * @param progress reports one step per input and pass, or null
   * @return the statistics with the zoo's damping
   * @throws IOException if the calibration text or the tokenizer is missing
   */
  public static CalibrationData record(
      SentenceEncoderSpec spec,
      BertWeights fp32,
      MxFormat format,
      ScaleMode scale,
      Progress progress)
      throws IOException {
    MxFormat layered = Boolean.getBoolean(SEQUENTIAL_PROPERTY) ? format : null;
    return record(spec, fp32, inputs(sentences()), "wordnet-glosses", layered, scale, progress);
  }

  /**
   * Records the calibration statistics of an encoder on given inputs.
   *
   * <p>With a format, layer by layer (as GPTQ does): the statistics of layer {@code l}'s
   * projections are recorded while layers {@code 0..l-1} already run their calibrated MX weights
   * (decoded), so each layer is fitted to the inputs it will really see, errors of the layers
   * before it included. Without that, rounding fitted to FP32 inputs alone moved the weights where
   * upstream quantization error then excited them, and the encoder's embeddings came out further
   * from FP32 than with round-to-nearest (measured: {@code docs/bench/calib.md}). One forward pass
   * over the inputs per layer. Without a format, one FP32 pass records every layer.
   *
   * @param spec the encoder (its tokenizer and pooling)
   * @param fp32 its FP32 weights
   * @param inputs the calibration inputs, one forward pass each
   * @param textName a name for the text, recorded in the checkpoint's metadata
   * @param format the weight format, or null for one FP32 pass
   * @param scale the scale rule of the weights
   * @param progress reports one step per input and pass, or null
   * @return the statistics with the zoo's damping
   * @throws IOException if the tokenizer is missing or an input cannot be run
   */
  public static CalibrationData record(
      SentenceEncoderSpec spec,
      BertWeights fp32,
      List<String> inputs,
      String textName,
      MxFormat format,
      ScaleMode scale,
      Progress progress)
      throws IOException {
    double damping = damping();
    BertEncoder encoder =
        new BertEncoder(fp32.config(), new SoftmaxAttentionCore(), ActivationQuantizer.NONE);
    try (Model model = Model.newInstance(spec.artifactId() + "-calibration", Device.cpu(), "MX")) {
      MxModel mx = (MxModel) model;
      // every linear weight stays FP32 on the engine: the recording sees exactly the values set
      mx.setConfig(MxConfig.resolve(Map.of(MxConfig.EXCLUDE, "*")));
      model.setBlock(encoder);
      encoder.setWeights(fp32, model.getNDManager());
      Map<NDArray, String> names = new IdentityHashMap<>();
      for (Map.Entry<String, Parameter> e : encoder.parametersByName().entrySet()) {
        if (BertWeights.isLinearWeight(e.getKey())) {
          names.put(e.getValue().getArray(), e.getKey());
        }
      }
      CalibratedMxQuantizer quantizer =
          format == null
              ? null
              : CalibratedMxQuantizer.builder()
                  .setFormat(format)
                  .optScaleMode(scale)
                  .optDamping(damping)
                  .build();
      int passes = format == null ? 1 : fp32.config().numLayers();
      Map<String, double[]> grams = new LinkedHashMap<>();
      long tokens = 0;
      MxCalibration calibration = MxCalibration.builder().optDamping(damping).build();
      try (Predictor<String, float[]> predictor =
          model.newPredictor(
              new SentenceEmbeddingTranslator(SentenceEncoderLoader.newCodec(spec)))) {
        for (int pass = 0; pass < passes; pass++) {
          String layer = "encoder.layer." + pass + ".";
          java.util.function.Predicate<NDArray> include =
              format == null
                  ? a -> names.containsKey(a)
                  : a -> names.containsKey(a) && names.get(a).startsWith(layer);
          if (progress != null) {
            progress.reset(
                "Calibrating " + spec.artifactId() + (passes > 1 ? " layer " + pass : ""),
                inputs.size());
          }
          Map<String, LinearInputStatistics> stats;
          try {
            stats =
                calibration.record(
                    mx,
                    include,
                    () -> {
                      for (String s : inputs) {
                        predictor.predict(s);
                        if (progress != null) {
                          progress.increment(1);
                        }
                      }
                    });
          } finally {
            if (progress != null) {
              progress.end();
            }
          }
          for (LinearInputStatistics s : stats.values()) {
            String name = names.get(s.weight());
            grams.put(name, s.gram());
            tokens = Math.max(tokens, s.samples());
            if (quantizer != null) {
              // the next layers see this one's calibrated MX values
              NamedTensor w = fp32.get(name);
              int rows = Math.toIntExact(w.shape()[0]);
              int cols = Math.toIntExact(w.shape()[1]);
              try (MxTensor q = quantizer.quantize(name, w.data(), rows, cols, s.gram())) {
                s.weight().set(FloatBuffer.wrap(q.dequantize()));
              }
            }
          }
        }
      } catch (TranslateException e) {
        throw new IOException("Calibration of " + spec.artifactId() + " failed: " + e, e);
      }
      if (grams.size() != names.size()) {
        throw new IllegalStateException(
            "Calibration recorded " + grams.size() + " of " + names.size() + " linear weights");
      }
      String description =
          textName
              + ", "
              + inputs.size()
              + " inputs, "
              + tokens
              + " tokens, "
              + (format == null ? "FP32 inputs" : "layer by layer")
              + ", "
              + method();
      return new CalibrationData(grams, damping, description, refinePasses());
    }
  }
}

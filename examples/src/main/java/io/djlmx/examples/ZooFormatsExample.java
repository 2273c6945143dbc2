package io.djlmx.examples;

import ai.djl.ModelException;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.TranslateException;
import io.djlmx.zoo.translator.SentenceSimilarity;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Example 2: load a zoo model in MXFP6 (the default), then choose another format with one option,
 * and compare each format's embeddings and weight memory with FP32.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -cp
 * "examples/target/mx.jar:examples/target/lib/*" io.djlmx.examples.ZooFormatsExample}.
 */
public final class ZooFormatsExample {

  /** The sentences the example embeds. */
  public static final List<String> SENTENCES =
      List.of(
          "A bug in the code is worth two in the documentation.",
          "The river overflowed its banks after a week of rain.",
          "She paid for the groceries with a credit card.",
          "Quantized weights take a fraction of the memory.");

  private ZooFormatsExample() {}

  /**
   * Loads all-MiniLM-L6-v2 from the djl-mx zoo.
   *
   * @param format {@code null} for the zoo's default (MXFP6_E2M3), else an MX format name or {@code
   *     FP32}
   * @param cacheDir where converted checkpoints are cached, or null for the DJL cache
   * @return the model; the caller closes it
   * @throws IOException if the model files are missing
   * @throws ModelException if the model cannot be loaded
   */
  public static ZooModel<String, float[]> load(String format, Path cacheDir)
      throws IOException, ModelException {
    Criteria.Builder<String, float[]> builder =
        Criteria.builder()
            .setTypes(String.class, float[].class)
            .optGroupId("io.djlmx")
            .optArtifactId("all-MiniLM-L6-v2")
            .optEngine("FP32".equals(format) ? "PyTorch" : "MX");
    if (format != null) {
      builder.optOption("mx.weights", format); // or optFilter("format", format)
    }
    if (cacheDir != null) {
      builder.optOption("mx.zoo.cache", cacheDir.toString());
    }
    return builder.build().loadModel();
  }

  /**
   * Embeds {@link #SENTENCES} in each format and compares with FP32.
   *
   * @param formats the formats; {@code null} stands for the default
   * @param cacheDir the checkpoint cache, or null
   * @return one row per format
   * @throws IOException if the model files are missing
   * @throws ModelException if a model cannot be loaded
   * @throws TranslateException if embedding fails
   */
  public static List<FormatRow> compare(List<String> formats, Path cacheDir)
      throws IOException, ModelException, TranslateException {
    float[][] reference = embed("FP32", cacheDir).embeddings();
    List<FormatRow> rows = new ArrayList<>();
    for (String f : formats) {
      Embedded e = embed(f, cacheDir);
      double min = 1;
      double sum = 0;
      for (int i = 0; i < SENTENCES.size(); i++) {
        double c = SentenceSimilarity.cosine(reference[i], e.embeddings()[i]);
        sum += c;
        min = Math.min(min, c);
      }
      rows.add(new FormatRow(e.format(), e.memory(), sum / SENTENCES.size(), min));
    }
    return rows;
  }

  private record Embedded(String format, float[][] embeddings, ZooEncoder.WeightMemory memory) {}

  private static Embedded embed(String format, Path cacheDir)
      throws IOException, ModelException, TranslateException {
    try (ZooModel<String, float[]> model = load(format, cacheDir);
        Predictor<String, float[]> predictor = model.newPredictor()) {
      float[][] out = new float[SENTENCES.size()][];
      for (int i = 0; i < out.length; i++) {
        out[i] = predictor.predict(SENTENCES.get(i));
      }
      String used = model.getWrappedModel().getProperty("mx.weights");
      return new Embedded(used, out, ZooEncoder.weightMemory(model.getWrappedModel()));
    }
  }

  /**
   * One format compared with FP32.
   *
   * @param format the weight format the model reports
   * @param memory its weight memory
   * @param meanCosine mean cosine to the FP32 embeddings
   * @param minCosine minimum cosine to the FP32 embeddings
   */
  public record FormatRow(
      String format, ZooEncoder.WeightMemory memory, double meanCosine, double minCosine) {}

  /**
   * Prints the comparison for the default format and three others.
   *
   * @param args ignored
   * @throws Exception if a step fails
   */
  public static void main(String[] args) throws Exception {
    List<String> formats = new ArrayList<>();
    formats.add(null); // the zoo default
    formats.addAll(List.of("MXFP8_E4M3", "MXFP6_E3M2", "MXFP4_E2M1"));
    TextTable t =
        new TextTable("weights", " linear MB", " bits/weight", " mean cosine", " min cosine");
    for (FormatRow r : compare(formats, null)) {
      t.addRow(
          r.format(),
          String.format(Locale.ROOT, "%.1f", r.memory().linearBytes() / 1e6),
          String.format(Locale.ROOT, "%.2f", r.memory().linearBitsPerElement()),
          String.format(Locale.ROOT, "%.5f", r.meanCosine()),
          String.format(Locale.ROOT, "%.5f", r.minCosine()));
    }
    System.out.print(t.render());
  }
}

package io.djlmx.examples.train;

import ai.djl.inference.Predictor;
import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import io.djlmx.format.MxFormat;
import io.djlmx.zoo.cnn.FashionMnistCnn;
import io.djlmx.zoo.cnn.IdxImages;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Direct-cast accuracy of the zoo's {@code fashion-mnist-cnn} per MX format, as the MX paper's
 * inference tables: top-1 on the 10,000 Fashion-MNIST test images through the zoo (engine MX, the
 * image-classification translator), FP32 and each format weight-only and weight + activation.
 *
 * <p>Run: {@code java -cp ... io.djlmx.examples.train.FashionMnistAccuracy
 * /usr/share/datasets/fashion-mnist docs/ACCURACY-cnn.md}.
 */
public final class FashionMnistAccuracy {

  private static final MxFormat[] FORMATS = {
    MxFormat.MXINT8,
    MxFormat.MXFP8_E4M3,
    MxFormat.MXFP6_E2M3,
    MxFormat.MXFP6_E3M2,
    MxFormat.MXFP4_E2M1
  };

  private FashionMnistAccuracy() {}

  /**
   * Measures every row and writes the Markdown report.
   *
   * @param args the dataset directory and the report file
   * @throws Exception if a step fails
   */
  public static void main(String[] args) throws Exception {
    Path data = Paths.get(args[0]);
    Path out = Paths.get(args[1]);
    IdxImages test =
        IdxImages.read(
            data.resolve("t10k-images-idx3-ubyte.gz"), data.resolve("t10k-labels-idx1-ubyte.gz"));
    List<Image> images = new ArrayList<>(test.size());
    for (int i = 0; i < test.size(); i++) {
      images.add(test.image(i));
    }
    long start = System.nanoTime();
    double ptFp32 = top1("PyTorch", "FP32", "none", images, test);
    double fp32 = top1("MX", "FP32", "none", images, test);
    // binomial standard error of one top-1 figure on the test set
    double se = Math.sqrt(fp32 * (1 - fp32) / test.size());
    double worst = 0;
    String worstRow = "";
    List<String> outside = new ArrayList<>();
    StringBuilder table = new StringBuilder();
    table.append(
        "| format | weight-only top-1 | Δ vs FP32 | weight + activation top-1 | Δ vs FP32 |\n");
    table.append("|---|---:|---:|---:|---:|\n");
    table.append(String.format(Locale.ROOT, "| FP32 | %.4f | — | — | — |%n", fp32));
    for (MxFormat f : FORMATS) {
      double w = top1("MX", f.name(), "none", images, test);
      double wa = top1("MX", f.name(), f.name(), images, test);
      for (double[] r : new double[][] {{w, 0}, {wa, 1}}) {
        String row = f + (r[1] == 0 ? " weight-only" : " weight + activation");
        if (r[0] - fp32 < worst) {
          worst = r[0] - fp32;
          worstRow = row;
        }
        if (Math.abs(r[0] - fp32) > 2 * se) {
          outside.add(row);
        }
      }
      table.append(
          String.format(
              Locale.ROOT,
              "| %s | %.4f | %+.4f | %.4f | %+.4f |%n",
              f,
              w,
              w - fp32,
              wa,
              wa - fp32));
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    String md =
        "# Fashion-MNIST CNN accuracy per MX format\n\n"
            + "Measured "
            + Instant.now()
            + " on this 2-core CPU machine (PyTorch CPU 2.7.1 under the MX engine), "
            + String.format(Locale.ROOT, "%.0f s for all rows.%n%n", seconds)
            + "Command: `scripts/fashion-mnist-accuracy.sh` (runs `io.djlmx.examples.train."
            + "FashionMnistAccuracy /usr/share/datasets/fashion-mnist docs/ACCURACY-cnn.md`).\n\n"
            + "Model: zoo artifact `io.djlmx:fashion-mnist-cnn` ("
            + "`io.djlmx.zoo.cnn.FashionMnistCnn`: three 3×3 conv + batch norm + ReLU + 2×2 max pool "
            + "blocks (16, 32, 64 filters), then Linear 576→256, ReLU, Linear 256→10; 173,802 "
            + "parameters), trained in FP32 on PyTorch by `scripts/train-fashion-mnist.sh`. "
            + "Direct cast: no fine-tuning, the FP32 weights are rounded to each format at load "
            + "(blocks of 32, FLOOR shared scale). Top-1 on the 10,000 test images, through the zoo "
            + "(`Image` → `Classifications`, engine `MX`, options `mx.weights` and `mx.activations`; "
            + "weight + activation uses the same format for both).\n\n"
            + "**Only the two `Linear` layers run in MX** (they hold 150,282 of the 173,802 "
            + "parameters); the convolutions, batch norm and pooling stay FP32 on PyTorch, so this "
            + "measures MX in the classifier head only, not in the convolutions as the MX paper's "
            + "CNN rows do.\n\n"
            + String.format(
                Locale.ROOT,
                "FP32 on the PyTorch engine (reference): %.4f; FP32 on the MX engine "
                    + "(`mx.weights=FP32`): %.4f.%n%n",
                ptFp32,
                fp32)
            + table
            + "\n## Reading the table\n\n"
            + String.format(
                Locale.ROOT,
                "The standard error of one top-1 figure here is about %.4f (binomial, %d images); "
                    + "the largest drop is %+.4f (%s). ",
                se,
                test.size(),
                worst,
                worstRow.isEmpty() ? "none" : worstRow)
            + (outside.isEmpty()
                ? "Every format, weight-only and weight + activation, is within two standard "
                    + "errors of FP32. "
                : "Outside two standard errors of FP32: " + String.join(", ", outside) + ". ")
            + "The MX paper expects MXINT8 and MXFP8 within noise of FP32, MXFP6 close and MXFP4 "
            + "visibly worse in direct cast. MXINT8, MXFP8 and MXFP6 behave as expected; MXFP4 "
            + "is not visibly worse here, which differs from the paper. The likely reason is "
            + "that only the two small `Linear` layers of the head are MX: the features they read "
            + "come from FP32 convolutions, and a 10-way argmax over 256 hidden units tolerates "
            + "the rounding of the head. The paper's CNN rows put the convolutions in MX too, "
            + "which this engine does not do. Small gains over FP32 are noise, not an effect of "
            + "the formats.\n";
    Files.writeString(out, md);
    System.out.print(md);
  }

  private static double top1(
      String engine, String weights, String activations, List<Image> images, IdxImages test)
      throws Exception {
    Criteria<Image, Classifications> criteria =
        Criteria.builder()
            .setTypes(Image.class, Classifications.class)
            .optGroupId("io.djlmx")
            .optArtifactId(FashionMnistCnn.ARTIFACT_ID)
            .optEngine(engine)
            .optOption("mx.weights", weights)
            .optOption("mx.activations", activations)
            .build();
    int correct = 0;
    try (ZooModel<Image, Classifications> model = criteria.loadModel();
        Predictor<Image, Classifications> predictor = model.newPredictor()) {
      for (int from = 0; from < images.size(); from += 500) {
        int to = Math.min(images.size(), from + 500);
        List<Classifications> out = predictor.batchPredict(images.subList(from, to));
        for (int i = 0; i < out.size(); i++) {
          String name = out.get(i).best().getClassName();
          if (name.equals(FashionMnistCnn.LABELS.get(test.label(from + i)))) {
            correct++;
          }
        }
      }
    }
    return correct / (double) test.size();
  }
}

package io.djlmx.zoo.cnn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The zoo's {@code fashion-mnist-cnn} on the committed 200-image test sample (the first 200
 * Fashion-MNIST test images, written by {@code scripts/train-fashion-mnist.sh}).
 */
class FashionMnistCnnZooTest {

  @TempDir static Path cache;

  private static IdxImages sample;
  private static List<Image> images;

  @BeforeAll
  static void readSample() throws Exception {
    ClassLoader cl = FashionMnistCnnZooTest.class.getClassLoader();
    try (InputStream i = cl.getResourceAsStream("fashion-mnist/sample-images-idx3-ubyte.gz");
        InputStream l = cl.getResourceAsStream("fashion-mnist/sample-labels-idx1-ubyte.gz")) {
      sample = IdxImages.read(i, l, "fashion-mnist sample");
    }
    images = new ArrayList<>();
    for (int k = 0; k < sample.size(); k++) {
      images.add(sample.image(k));
    }
  }

  private static Criteria.Builder<Image, Classifications> criteria(String weights) {
    Criteria.Builder<Image, Classifications> b =
        Criteria.builder()
            .setTypes(Image.class, Classifications.class)
            .optGroupId("io.djlmx")
            .optArtifactId("fashion-mnist-cnn")
            .optEngine("MX")
            .optOption("mx.zoo.cache", cache.toString());
    return weights == null ? b : b.optOption("mx.weights", weights);
  }

  /** The predicted class names (top-1) of the sample under one configuration. */
  private static List<String> classify(Criteria<Image, Classifications> c) throws Exception {
    try (ZooModel<Image, Classifications> model = c.loadModel();
        Predictor<Image, Classifications> predictor = model.newPredictor()) {
      assertEquals("MX", model.getNDManager().getEngine().getEngineName());
      List<String> best = new ArrayList<>();
      for (Classifications cls : predictor.batchPredict(images)) {
        best.add(cls.best().getClassName());
      }
      return best;
    }
  }

  private static double accuracy(List<String> predicted) {
    int correct = 0;
    for (int k = 0; k < predicted.size(); k++) {
      if (predicted.get(k).equals(FashionMnistCnn.LABELS.get(sample.label(k)))) {
        correct++;
      }
    }
    return correct / (double) predicted.size();
  }

  @Test
  void defaultMxfp6ClassifiesCloseToFp32() throws Exception {
    assertEquals(200, sample.size());
    List<String> fp32 = classify(criteria("FP32").build());
    List<String> mx = classify(criteria(null).build()); // default MXFP6_E2M3
    double accFp32 = accuracy(fp32);
    double accMx = accuracy(mx);
    assertTrue(accFp32 >= 0.85, "FP32 accuracy on the sample " + accFp32);
    assertTrue(Math.abs(accMx - accFp32) <= 0.02, "MXFP6_E2M3 " + accMx + " vs FP32 " + accFp32);
    int same = 0;
    for (int k = 0; k < fp32.size(); k++) {
      if (fp32.get(k).equals(mx.get(k))) {
        same++;
      }
    }
    assertTrue(same >= 194, "MXFP6_E2M3 agrees with FP32 on only " + same + " of 200");
  }

  @Test
  void weightAndActivationInMxfp8StaysAccurate() throws Exception {
    double acc =
        accuracy(
            classify(criteria("MXFP8_E4M3").optOption("mx.activations", "MXFP8_E4M3").build()));
    assertTrue(acc >= 0.85, "MXFP8_E4M3 weight + activation accuracy " + acc);
  }

  @Test
  void translatorReturnsTheTenClassNames() throws Exception {
    try (ZooModel<Image, Classifications> model = criteria(null).build().loadModel();
        Predictor<Image, Classifications> predictor = model.newPredictor()) {
      Classifications c = predictor.predict(images.get(0));
      List<String> names = new ArrayList<>(c.getClassNames());
      assertEquals(10, names.size());
      assertTrue(names.containsAll(FashionMnistCnn.LABELS), names.toString());
      double sum = c.getProbabilities().stream().mapToDouble(Double::doubleValue).sum();
      assertEquals(1.0, sum, 1e-4);
      assertTrue(FashionMnistCnn.LABELS.contains(c.best().getClassName()));
    }
  }

  @Test
  void criteriaWithoutOptionsLoads() throws Exception {
    // No optOption at all: the loader must not trip over DJL's null option map.
    String before = System.getProperty("DJL_CACHE_DIR");
    System.setProperty("DJL_CACHE_DIR", cache.resolve("djl-cache").toString());
    try {
      Criteria<Image, Classifications> c =
          Criteria.builder()
              .setTypes(Image.class, Classifications.class)
              .optGroupId("io.djlmx")
              .optArtifactId("fashion-mnist-cnn")
              .optEngine("MX")
              .build();
      double acc = accuracy(classify(c));
      assertTrue(acc >= 0.85, "default criteria accuracy " + acc);
    } finally {
      if (before == null) {
        System.clearProperty("DJL_CACHE_DIR");
      } else {
        System.setProperty("DJL_CACHE_DIR", before);
      }
    }
  }

  @Test
  void wrongTypesAreRefused() {
    Criteria<String, Classifications> c =
        Criteria.builder()
            .setTypes(String.class, Classifications.class)
            .optGroupId("io.djlmx")
            .optArtifactId("fashion-mnist-cnn")
            .optEngine("MX")
            .build();
    assertThrows(ModelNotFoundException.class, c::loadModel);
  }
}

package io.djlmx.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.transformer.TransformerEncoderBlock;
import ai.djl.repository.zoo.ZooModel;
import io.djlmx.attention.djl.MxTransformerEncoderBlock;
import io.djlmx.engine.ModelFixtures.FloatTranslator;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** DJL block models saved under PyTorch, loaded with optEngine("MX"), compared with FP32. */
class MxModelTest {

  @TempDir Path dir;

  /** Saves a model under PyTorch into the test's directory. */
  private interface Fixture {
    Model save() throws Exception;
  }

  private double[] compare(
      String name, Supplier<Block> block, Shape inputShape, int expectedLinear, String... formats)
      throws Exception {
    // These tests measure MX linear: attention stays DJL's.
    return compare(
        name,
        () -> ModelFixtures.saveUnderPyTorch(block.get(), inputShape, dir, name),
        block,
        inputShape,
        expectedLinear,
        Map.of("mx.attention", "off"),
        formats);
  }

  private double[] compare(
      String name,
      Fixture fixture,
      Supplier<Block> block,
      Shape inputShape,
      int expectedLinear,
      Map<String, String> options,
      String... formats)
      throws Exception {
    float[] x = ModelFixtures.randomInput(inputShape, 7);
    float[] reference;
    try (Model pt = fixture.save()) {
      reference = ModelFixtures.predict(pt, inputShape, x);
    }
    double[] cos = new double[formats.length];
    for (int i = 0; i < formats.length; i++) {
      FloatTranslator t = new FloatTranslator(inputShape);
      Map<String, String> config = new HashMap<>(options);
      config.put("mx.weights", formats[i]);
      try (ZooModel<float[], float[]> model = ModelFixtures.loadMx(dir, name, block, t, config);
          Predictor<float[], float[]> predictor = model.newPredictor()) {
        MxModel mx = assertInstanceOf(MxModel.class, model.getWrappedModel());
        MxMemoryReport report = mx.getMemoryReport();
        assertEquals(expectedLinear, report.quantized(), report.toString());
        assertTrue(report.mxBytes() > 0, report.toString());
        if (!options.containsKey("mx.attention")) {
          // The default configuration swaps DJL's encoder blocks for MX attention ones.
          for (Block child : model.getBlock().getChildren().values()) {
            if (child instanceof TransformerEncoderBlock) {
              assertInstanceOf(MxTransformerEncoderBlock.class, child);
            }
          }
        }
        long kernelCalls = MxLinear.getCallCount(MxLinear.Path.KERNEL);
        float[] y = predictor.predict(x);
        assertEquals(
            kernelCalls + expectedLinear,
            MxLinear.getCallCount(MxLinear.Path.KERNEL),
            "every linear ran on the MX CPU kernel");
        assertEquals("MX", t.lastEngine);
        assertEquals(reference.length, y.length);
        assertNotEquals(0, y[0]);
        cos[i] = ModelFixtures.cosine(reference, y);
        LoggerFactory.getLogger(MxModelTest.class)
            .info("{} {} cosine {}", name, formats[i], cos[i]);
      }
    }
    return cos;
  }

  @Test
  void mlpMatchesPyTorch() throws Exception {
    double[] cos =
        compare("mlp", ModelFixtures::mlp, new Shape(4, 32), 3, "MXFP8_E4M3", "MXFP6_E2M3");
    assertTrue(cos[0] >= 0.995, "MXFP8 cosine " + cos[0]);
    assertTrue(cos[1] >= 0.995, "MXFP6 cosine " + cos[1]);
  }

  @Test
  void resnetMatchesPyTorch() throws Exception {
    double[] cos = compare("resnet", ModelFixtures::resnet, new Shape(2, 3, 8, 8), 1, "MXFP6_E2M3");
    assertTrue(cos[0] >= 0.995, "MXFP6 cosine " + cos[0]);
  }

  @Test
  void transformerMatchesPyTorch() throws Exception {
    double[] cos =
        compare(
            "transformer",
            ModelFixtures::transformer,
            new Shape(2, 8, 64),
            6,
            "MXINT8",
            "MXFP8_E4M3",
            "MXFP6_E2M3",
            "MXFP4_E2M1");
    // Measured on this random-init block: MXINT8 ~0.9999, E4M3 ~0.998, E2M3 ~0.998, E2M1 ~0.97.
    // Untrained, each of the six linears passes its whole weight error (~2.4% RMS for three
    // mantissa bits) to the output: the 0.999 for MXFP8 is met by the trained block below,
    // and this one is recorded in docs/ACCURACY.md.
    assertTrue(cos[0] >= 0.999, "MXINT8 cosine " + cos[0]);
    assertTrue(cos[1] >= 0.995, "MXFP8 cosine " + cos[1]);
    assertTrue(cos[2] >= 0.995, "MXFP6 cosine " + cos[2]);
    assertTrue(cos[3] >= 0.95, "MXFP4 cosine " + cos[3]);
  }

  @Test
  void trainedTransformerMeetsTheFormatBounds() throws Exception {
    Shape in = new Shape(2, 8, 64);
    String[] formats = {
      "MXINT8", "MXFP8_E4M3", "MXFP8_E5M2", "MXFP6_E2M3", "MXFP6_E3M2", "MXFP4_E2M1"
    };
    // The default configuration: MX linear and MX attention.
    double[] cos =
        compare(
            "trained",
            () ->
                ModelFixtures.trainUnderPyTorch(
                    ModelFixtures.transformer(), in, dir, "trained", 300),
            ModelFixtures::transformer,
            in,
            6,
            Map.of(),
            formats);
    // Measured: MXINT8 0.99999, E4M3 0.99977, E5M2 0.99933, E2M3 0.99979, E3M2 0.99934, E2M1 0.997.
    assertTrue(cos[0] >= 0.999, "MXINT8 cosine " + cos[0]);
    assertTrue(cos[1] >= 0.999, "MXFP8_E4M3 cosine " + cos[1]);
    assertTrue(cos[2] >= 0.999, "MXFP8_E5M2 cosine " + cos[2]);
    assertTrue(cos[3] >= 0.995, "MXFP6_E2M3 cosine " + cos[3]);
    assertTrue(cos[4] >= 0.995, "MXFP6_E3M2 cosine " + cos[4]);
    assertTrue(cos[5] >= 0.95, "MXFP4_E2M1 cosine " + cos[5]);
  }

  private float[] runMx(String name, Shape inputShape, float[] x, Map<String, String> options)
      throws Exception {
    FloatTranslator t = new FloatTranslator(inputShape);
    try (ZooModel<float[], float[]> model =
            ModelFixtures.loadMx(dir, name, ModelFixtures::mlp, t, options);
        Predictor<float[], float[]> predictor = model.newPredictor()) {
      float[] y = predictor.predict(x);
      assertEquals("MX", t.lastEngine);
      return y;
    }
  }

  @Test
  void weightAndActivationModeAndEmulationAgreeWithKernel() throws Exception {
    Shape in = new Shape(3, 32);
    float[] x = ModelFixtures.randomInput(in, 9);
    float[] reference;
    try (Model pt = ModelFixtures.saveUnderPyTorch(ModelFixtures.mlp(), in, dir, "mlp")) {
      reference = ModelFixtures.predict(pt, in, x);
    }
    Map<String, String> wa = Map.of("mx.weights", "MXFP8_E4M3", "mx.activations", "MXFP8_E4M3");
    float[] kernelWa = runMx("mlp", in, x, wa);
    float[] kernelW = runMx("mlp", in, x, Map.of("mx.weights", "MXFP8_E4M3"));
    double cosWa = ModelFixtures.cosine(reference, kernelWa);
    assertTrue(cosWa >= 0.995, "weight+activation MXFP8 cosine " + cosWa);
    assertNotEquals(kernelW[0], kernelWa[0], "activations were quantized");

    io.djlmx.kernel.LinearKernel cpu = MxLinear.getKernel("cpu");
    MxLinear.registerKernel("cpu", null);
    try {
      long emulated = MxLinear.getCallCount(MxLinear.Path.EMULATION);
      float[] emuWa = runMx("mlp", in, x, wa);
      float[] emuW = runMx("mlp", in, x, Map.of("mx.weights", "MXFP8_E4M3"));
      assertEquals(emulated + 6, MxLinear.getCallCount(MxLinear.Path.EMULATION));
      // Same quantized values, different summation order: agree to FP32 rounding.
      assertTrue(ModelFixtures.cosine(kernelW, emuW) > 0.99999);
      assertTrue(ModelFixtures.cosine(kernelWa, emuWa) > 0.99999);
    } finally {
      MxLinear.registerKernel("cpu", cpu);
    }
  }

  @Test
  void hooksRunAtLoadWithTheResolvedConfig() throws Exception {
    Shape in = new Shape(1, 32);
    try (Model pt = ModelFixtures.saveUnderPyTorch(ModelFixtures.mlp(), in, dir, "mlp")) {
      // saved
    }
    java.util.List<String> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
    MxModel.registerHook(
        m -> {
          // Hooks are process-wide: record only the model this test loads.
          if (m.getConfig().getWeights() == io.djlmx.format.MxFormat.MXFP8_E5M2) {
            seen.add(m.getConfig().isAttentionEnabled() + " " + (m.getBlock() != null));
          }
        });
    runMx("mlp", in, ModelFixtures.randomInput(in, 1), Map.of("mx.weights", "MXFP8_E5M2"));
    assertEquals(java.util.List.of("true true"), seen);
  }
}

package io.djlmx.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.ndarray.types.Shape;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import io.djlmx.engine.ModelFixtures.FloatTranslator;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** A TorchScript module (scripts/make-torchscript-fixture.py) loaded under MX as emulation. */
class TorchScriptTest {

  private static final Shape INPUT = new Shape(3, 64);

  private static ZooModel<float[], float[]> load(String engine, FloatTranslator t, String weights)
      throws Exception {
    Path file = Paths.get(TorchScriptTest.class.getResource("/torchscript/mlp.pt").toURI());
    Criteria.Builder<float[], float[]> b =
        Criteria.builder()
            .setTypes(float[].class, float[].class)
            .optModelPath(file)
            .optEngine(engine)
            .optTranslator(t);
    if (weights != null) {
      b.optOption("mx.weights", weights);
    }
    return b.build().loadModel();
  }

  private static float[] run(ZooModel<float[], float[]> model, float[] x) throws Exception {
    try (Predictor<float[], float[]> p = model.newPredictor()) {
      return p.predict(x);
    }
  }

  @Test
  void weightsAreEmulatedInMx() throws Exception {
    float[] x = ModelFixtures.randomInput(INPUT, 11);
    float[] reference;
    try (ZooModel<float[], float[]> pt = load("PyTorch", new FloatTranslator(INPUT), null)) {
      reference = run(pt, x);
    }
    for (String format : new String[] {"MXFP8_E4M3", "MXFP6_E2M3", "MXFP4_E2M1"}) {
      FloatTranslator t = new FloatTranslator(INPUT);
      try (ZooModel<float[], float[]> mx = load("MX", t, format)) {
        MxModel model = assertInstanceOf(MxModel.class, mx.getWrappedModel());
        assertTrue(model.isEmulation());
        MxMemoryReport report = model.getMemoryReport();
        assertEquals(2, report.quantized(), report.toString());
        assertTrue(report.emulated());
        float[] y = run(mx, x);
        assertEquals("MX", t.lastEngine);
        assertEquals(30, y.length);
        assertNotEquals(Arrays.toString(reference), Arrays.toString(y), "weights were quantized");
        double cos = ModelFixtures.cosine(reference, y);
        double bound = format.startsWith("MXFP4") ? 0.95 : 0.995;
        assertTrue(cos >= bound, format + " cosine " + cos);
      }
    }
  }
}

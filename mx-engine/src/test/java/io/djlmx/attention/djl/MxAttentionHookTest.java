package io.djlmx.attention.djl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.transformer.TransformerEncoderBlock;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** A DJL transformer saved under PyTorch and loaded under MX gets MX attention at load. */
class MxAttentionHookTest {

  private static final Shape INPUT = new Shape(2, 24, 128); // 2 heads of 64

  private static final class Floats implements NoBatchifyTranslator<float[], float[]> {
    @Override
    public NDList processInput(TranslatorContext ctx, float[] input) {
      return new NDList(ctx.getNDManager().create(input, INPUT));
    }

    @Override
    public float[] processOutput(TranslatorContext ctx, NDList list) {
      return list.get(0).toType(DataType.FLOAT32, false).toFloatArray();
    }
  }

  private static Block encoder() {
    return new SequentialBlock()
        .add(new TransformerEncoderBlock(128, 2, 256, 0f, Activation::gelu));
  }

  private static ZooModel<float[], float[]> load(Path dir, String attention) throws Exception {
    return Criteria.builder()
        .setTypes(float[].class, float[].class)
        .optModelPath(dir)
        .optModelName("enc")
        .optEngine("MX")
        .optBlock(encoder())
        .optTranslator(new Floats())
        .optOption("mx.attention", attention)
        .build()
        .loadModel();
  }

  @Test
  void engineLoadReplacesAttentionUnlessOff() throws Exception {
    Path dir = Files.createTempDirectory("mx-attention-hook");
    try (Model pt = Model.newInstance("enc", Device.cpu(), "PyTorch")) {
      pt.setBlock(encoder());
      ai.djl.engine.Engine.getEngine("PyTorch").setRandomSeed(7);
      pt.getBlock().initialize(pt.getNDManager(), DataType.FLOAT32, INPUT);
      pt.save(dir, "enc");
    }
    float[] x = new float[Math.toIntExact(INPUT.size())];
    Random r = new Random(8);
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextGaussian();
    }
    float[] withMx;
    float[] without;
    try (ZooModel<float[], float[]> m = load(dir, "mx");
        Predictor<float[], float[]> p = m.newPredictor()) {
      assertInstanceOf(MxTransformerEncoderBlock.class, m.getBlock().getChildren().valueAt(0));
      withMx = p.predict(x);
    }
    try (ZooModel<float[], float[]> m = load(dir, "off");
        Predictor<float[], float[]> p = m.newPredictor()) {
      assertEquals(TransformerEncoderBlock.class, m.getBlock().getChildren().valueAt(0).getClass());
      without = p.predict(x);
    }
    double cos = io.djlmx.attention.AccuracyMetrics.of(withMx, without).cosine();
    assertTrue(cos > 0.999, "cosine " + cos);
  }
}

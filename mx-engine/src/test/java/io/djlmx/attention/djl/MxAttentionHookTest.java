package io.djlmx.attention.djl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import io.djlmx.attention.AttentionConfig;
import io.djlmx.engine.MxConfig;
import io.djlmx.engine.MxModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.function.Consumer;
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

  private static Path savedEncoder() throws Exception {
    Path dir = Files.createTempDirectory("mx-attention-hook");
    try (Model pt = Model.newInstance("enc", Device.cpu(), "PyTorch")) {
      pt.setBlock(encoder());
      ai.djl.engine.Engine.getEngine("PyTorch").setRandomSeed(7);
      pt.getBlock().initialize(pt.getNDManager(), DataType.FLOAT32, INPUT);
      pt.save(dir, "enc");
    }
    return dir;
  }

  private static float[] input() {
    float[] x = new float[Math.toIntExact(INPUT.size())];
    Random r = new Random(8);
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextGaussian();
    }
    return x;
  }

  private static AttentionConfig attentionConfig(ZooModel<float[], float[]> m) {
    Block enc = m.getBlock().getChildren().valueAt(0);
    assertInstanceOf(MxTransformerEncoderBlock.class, enc);
    Block sa = ((MxTransformerEncoderBlock) enc).getSelfAttention();
    return assertInstanceOf(MxScaledDotProductAttentionBlock.class, sa).getConfig();
  }

  /** Loads the saved encoder with {@code mx.attention=attention}, checks it, predicts {@code x}. */
  private static float[] predict(
      Path dir, String attention, float[] x, Consumer<ZooModel<float[], float[]>> check)
      throws Exception {
    try (ZooModel<float[], float[]> m = load(dir, attention);
        Predictor<float[], float[]> p = m.newPredictor()) {
      check.accept(m);
      return p.predict(x);
    }
  }

  private static void plainBlock(ZooModel<float[], float[]> m) {
    assertEquals(TransformerEncoderBlock.class, m.getBlock().getChildren().valueAt(0).getClass());
  }

  @Test
  void engineLoadReplacesAttentionUnlessOff() throws Exception {
    Path dir = savedEncoder();
    float[] x = input();
    float[] withMx = predict(dir, "mx", x, m -> assertFalse(attentionConfig(m).pvFp8()));
    float[] without = predict(dir, "off", x, MxAttentionHookTest::plainBlock);
    double cos = io.djlmx.attention.AccuracyMetrics.of(withMx, without).cosine();
    assertTrue(cos > 0.999, "cosine " + cos);
  }

  /**
   * {@code mx.attention=fp8} gives the replaced blocks SageAttention's FP8 P·V: other numbers than
   * the default's FP32 P·V, still close to the model without MX attention.
   */
  @Test
  void fp8OptionGivesFp8Pv() throws Exception {
    Path dir = savedEncoder();
    float[] x = input();
    float[] fp8 =
        predict(
            dir,
            "fp8",
            x,
            m -> {
              assertTrue(attentionConfig(m).pvFp8());
              MxConfig c = assertInstanceOf(MxModel.class, m.getWrappedModel()).getConfig();
              assertTrue(c.isAttentionEnabled() && c.isAttentionPvFp8(), c.toString());
              assertTrue(c.toString().contains("mx.attention=fp8"), c.toString());
            });
    float[] fp32Pv = predict(dir, "mx", x, m -> assertFalse(attentionConfig(m).pvFp8()));
    float[] without = predict(dir, "off", x, MxAttentionHookTest::plainBlock);
    assertFalse(Arrays.equals(fp8, fp32Pv), "FP8 P·V gave the FP32 P·V output");
    double cos = io.djlmx.attention.AccuracyMetrics.of(fp8, without).cosine();
    assertTrue(cos > 0.999, "cosine " + cos);
  }
}

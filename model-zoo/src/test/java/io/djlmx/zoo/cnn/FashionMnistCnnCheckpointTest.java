package io.djlmx.zoo.cnn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;
import io.djlmx.checkpoint.CheckpointTensor;
import io.djlmx.checkpoint.ModelCheckpoint;
import io.djlmx.checkpoint.ParamsConverter;
import io.djlmx.engine.MxLinear;
import io.djlmx.format.MxFormat;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The zoo's trained CNN, a real {@code .params} model, converted to an MX checkpoint through its
 * block factory: convolutions and batch norm stay FP32, the two linear weights are packed, and the
 * checkpoint loads under MX (no block given) with the outputs of quantizing at load.
 */
class FashionMnistCnnCheckpointTest {

  private static final Shape IN = new Shape(4, 1, 28, 28);

  /** float[] pixels in, logits out. */
  private static final class Logits implements NoBatchifyTranslator<float[], float[]> {
    @Override
    public NDList processInput(TranslatorContext ctx, float[] input) {
      return new NDList(ctx.getNDManager().create(input, IN));
    }

    @Override
    public float[] processOutput(TranslatorContext ctx, NDList list) {
      return list.get(0).toFloatArray();
    }
  }

  private static float[] predict(Path dir, Block block, Map<String, String> options, float[] x)
      throws Exception {
    Criteria.Builder<float[], float[]> b =
        Criteria.builder()
            .setTypes(float[].class, float[].class)
            .optModelPath(dir)
            .optModelName(FashionMnistCnn.ARTIFACT_ID)
            .optEngine("MX")
            .optTranslator(new Logits());
    if (block != null) {
      b.optBlock(block);
    }
    options.forEach(b::optOption);
    try (ZooModel<float[], float[]> m = b.build().loadModel();
        Predictor<float[], float[]> p = m.newPredictor()) {
      return p.predict(x);
    }
  }

  @Test
  void convertsAndLoadsWithoutQuantizingAgain(@TempDir Path dir) throws Exception {
    String params = FashionMnistCnn.ARTIFACT_ID + "-0000.params";
    try (InputStream in =
        FashionMnistCnn.class
            .getClassLoader()
            .getResourceAsStream(FashionMnistCnn.RESOURCE_DIR + params)) {
      Files.copy(in, dir.resolve(params));
    }
    float[] x = new float[(int) IN.size()];
    Random r = new Random(17);
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextGaussian();
    }
    float[] onTheFly =
        predict(dir, FashionMnistCnn.newBlock(), Map.of("mx.weights", "MXFP4_E2M1"), x);
    try (ModelCheckpoint ckpt =
        ParamsConverter.builder()
            .setModelPath(dir)
            .optModelName(FashionMnistCnn.ARTIFACT_ID)
            .optBlockFactory(FashionMnistCnnBlockFactory.class.getName())
            .optFormat(MxFormat.MXFP4_E2M1)
            .build()
            .convert()) {
      long mx = ckpt.tensors().values().stream().filter(CheckpointTensor::isMx).count();
      assertEquals(2, mx, "the two Linear weights; convolutions stay FP32");
      assertTrue(ckpt.tensors().size() > 10, "convolutions, batch norm statistics, biases");
      ckpt.write(dir.resolve(FashionMnistCnn.ARTIFACT_ID + ".mxckpt"));
    }
    long packs = MxLinear.getPackCount();
    assertArrayEquals(onTheFly, predict(dir, null, Map.of(), x));
    assertEquals(packs, MxLinear.getPackCount(), "the checkpoint's weights were packed again");
  }
}

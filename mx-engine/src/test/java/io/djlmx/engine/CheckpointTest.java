package io.djlmx.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import io.djlmx.checkpoint.CheckpointTensor;
import io.djlmx.checkpoint.ModelCheckpoint;
import io.djlmx.checkpoint.ParamsConverter;
import io.djlmx.checkpoint.TorchScriptConverter;
import io.djlmx.engine.ModelFixtures.FloatTranslator;
import io.djlmx.format.MxFormat;
import io.djlmx.format.ScaleMode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * MX model checkpoints ({@code mx convert}): a DJL {@code .params} MLP and transformer and a
 * TorchScript module convert, load back under MX without quantizing again, and give the outputs of
 * quantizing at load bit for bit; bad input is refused by name.
 */
class CheckpointTest {

  private static final Shape MLP_IN = new Shape(3, 20);
  private static final Shape TRANSFORMER_IN = new Shape(2, 8, 64);

  @TempDir Path tmp;

  private static ZooModel<float[], float[]> load(
      Path path, String name, Supplier<Block> block, Shape in, Map<String, String> options)
      throws Exception {
    Criteria.Builder<float[], float[]> b =
        Criteria.builder()
            .setTypes(float[].class, float[].class)
            .optModelPath(path)
            .optEngine("MX")
            .optTranslator(new FloatTranslator(in));
    if (name != null) {
      b.optModelName(name);
    }
    if (block != null) {
      b.optBlock(block.get());
    }
    options.forEach(b::optOption);
    return b.build().loadModel();
  }

  private static float[] predictOnTheFly(
      Path dir, String name, Supplier<Block> block, Shape in, float[] x, MxFormat format)
      throws Exception {
    try (ZooModel<float[], float[]> m =
        load(dir, name, block, in, Map.of("mx.weights", format.name()))) {
      return ModelFixtures.predict(m, in, x);
    }
  }

  private Path saveMlp(String name) throws IOException {
    Path dir = Files.createDirectories(tmp.resolve(name));
    ModelFixtures.saveUnderPyTorch(ModelFixtures.mlp(), MLP_IN, dir, name).close();
    return dir;
  }

  @Test
  void paramsMlpRoundTripWithBlockFactory() throws Exception {
    Path dir = saveMlp("mlp");
    float[] x = ModelFixtures.randomInput(MLP_IN, 5);
    MxFormat format = MxFormat.MXFP4_E2M1;
    float[] onTheFly = predictOnTheFly(dir, "mlp", ModelFixtures::mlp, MLP_IN, x, format);
    try (ModelCheckpoint ckpt =
        ParamsConverter.builder()
            .setModelPath(dir)
            .optBlockFactory(MlpBlockFactory.class.getName())
            .optFormat(format)
            .build()
            .convert()) {
      assertEquals(6, ckpt.tensors().size()); // 3 weights + 3 biases
      assertEquals(3, ckpt.tensors().values().stream().filter(CheckpointTensor::isMx).count());
      assertEquals("3,20", ckpt.get(ModelCheckpoint.INPUT_SHAPES));
      ckpt.write(dir.resolve("mlp.mxckpt"));
    }
    // Next to the .params, no block and no format given: both come from the checkpoint.
    long packs = MxLinear.getPackCount();
    try (ZooModel<float[], float[]> m = load(dir, "mlp", null, MLP_IN, Map.of())) {
      MxModel model = assertInstanceOf(MxModel.class, m.getWrappedModel());
      assertEquals(format, model.getConfig().getWeights());
      assertArrayEquals(onTheFly, ModelFixtures.predict(m, MLP_IN, x));
      assertEquals(3, model.getMemoryReport().quantized());
    }
    assertEquals(packs, MxLinear.getPackCount(), "a checkpoint's weights must not be packed again");
    // The checkpoint alone (no .params), given as the model path.
    Path alone = Files.createDirectories(tmp.resolve("alone"));
    Files.copy(dir.resolve("mlp.mxckpt"), alone.resolve("mlp.mxckpt"));
    try (ZooModel<float[], float[]> m =
        load(alone.resolve("mlp.mxckpt"), "mlp", null, MLP_IN, Map.of())) {
      assertArrayEquals(onTheFly, ModelFixtures.predict(m, MLP_IN, x));
    }
    assertEquals(packs, MxLinear.getPackCount());
  }

  @Test
  void transformerRoundTripWithBlockInCode() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("tr"));
    ModelFixtures.saveUnderPyTorch(ModelFixtures.transformer(), TRANSFORMER_IN, dir, "tr").close();
    float[] x = ModelFixtures.randomInput(TRANSFORMER_IN, 8);
    MxFormat format = MxFormat.MXFP6_E2M3;
    float[] onTheFly =
        predictOnTheFly(dir, "tr", ModelFixtures::transformer, TRANSFORMER_IN, x, format);
    int mx;
    try (ModelCheckpoint ckpt =
        ParamsConverter.builder()
            .setModelPath(dir.resolve("tr-0000.params"))
            .optBlock(ModelFixtures::transformer)
            .optFormat(format)
            .build()
            .convert()) {
      mx = (int) ckpt.tensors().values().stream().filter(CheckpointTensor::isMx).count();
      assertTrue(mx >= 6, "Q, K, V, output and two FFN projections, got " + mx);
      ckpt.write(dir.resolve("tr.mxckpt"));
    }
    long packs = MxLinear.getPackCount();
    try (ZooModel<float[], float[]> m =
        load(dir, "tr", ModelFixtures::transformer, TRANSFORMER_IN, Map.of())) {
      float[] y = ModelFixtures.predict(m, TRANSFORMER_IN, x);
      assertArrayEquals(onTheFly, y);
      MxModel model = (MxModel) m.getWrappedModel();
      assertEquals(mx, model.getMemoryReport().quantized());
    }
    assertEquals(packs, MxLinear.getPackCount(), "a checkpoint's weights must not be packed again");
  }

  @Test
  void torchScriptRoundTrip() throws Exception {
    Path pt = Paths.get(CheckpointTest.class.getResource("/torchscript/mlp.pt").toURI());
    Shape in = new Shape(3, 64);
    float[] x = ModelFixtures.randomInput(in, 11);
    float[] fp4;
    float[] fp6;
    try (ZooModel<float[], float[]> m =
        load(pt, null, null, in, Map.of("mx.weights", "MXFP4_E2M1"))) {
      fp4 = ModelFixtures.predict(m, in, x);
    }
    try (ZooModel<float[], float[]> m = load(pt, null, null, in, Map.of())) {
      fp6 = ModelFixtures.predict(m, in, x);
    }
    Path dir = Files.createDirectories(tmp.resolve("ts"));
    Files.copy(pt, dir.resolve("mlp.pt"));
    try (ModelCheckpoint ckpt =
        TorchScriptConverter.convert(pt, MxFormat.MXFP4_E2M1, ScaleMode.FLOOR, null)) {
      assertEquals(2, ckpt.tensors().size());
      ckpt.write(dir.resolve("mlp.mxckpt"));
    }
    // The default format would be MXFP6_E2M3: the checkpoint's MXFP4 weights are what runs.
    try (ZooModel<float[], float[]> m = load(dir.resolve("mlp.pt"), null, null, in, Map.of())) {
      MxModel model = (MxModel) m.getWrappedModel();
      assertTrue(model.isEmulation());
      assertEquals(2, model.getMemoryReport().quantized());
      float[] y = ModelFixtures.predict(m, in, x);
      assertArrayEquals(fp4, y);
      assertNotEquals(Arrays.toString(fp6), Arrays.toString(y));
    }
  }

  @Test
  void badInputIsRefusedByName() throws Exception {
    Path dir = saveMlp("bad");
    IllegalArgumentException noFactory =
        assertThrows(
            IllegalArgumentException.class,
            () -> ParamsConverter.builder().setModelPath(dir).build());
    assertTrue(noFactory.getMessage().contains("BlockFactory"), noFactory.getMessage());
    IllegalArgumentException unknown =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                ParamsConverter.builder()
                    .setModelPath(dir)
                    .optBlockFactory("com.example.NoSuchFactory")
                    .build()
                    .convert());
    assertTrue(unknown.getMessage().contains("com.example.NoSuchFactory"), unknown.getMessage());

    Path file = dir.resolve("bad.mxckpt");
    try (ModelCheckpoint ckpt =
        ParamsConverter.builder()
            .setModelPath(dir)
            .optBlockFactory(MlpBlockFactory.class.getName())
            .build()
            .convert()) {
      ckpt.write(file);
    }
    // A block of another shape, the checkpoint alone: the parameter is named.
    Path alone = Files.createDirectories(tmp.resolve("other"));
    Files.copy(file, alone.resolve("bad.mxckpt"));
    Supplier<Block> wider =
        () ->
            new SequentialBlock()
                .add(Linear.builder().setUnits(32).build())
                .add(Linear.builder().setUnits(48).build())
                .add(Linear.builder().setUnits(10).build());
    Exception shape =
        assertThrows(Exception.class, () -> load(alone, "bad", wider, MLP_IN, Map.of()).close());
    MalformedModelException mme = causeOf(shape, MalformedModelException.class);
    assertTrue(
        mme.getMessage().contains("Parameter 01Linear_weight has shape (32, 20)"),
        mme.getMessage());
    // Another format asked for than the checkpoint holds.
    Exception format =
        assertThrows(
            Exception.class,
            () -> load(dir, "bad", null, MLP_IN, Map.of("mx.weights", "MXINT8")).close());
    assertTrue(messages(format).contains("holds MXFP6_E2M3 weights"), messages(format));
    // Corrupt and truncated files name the file.
    byte[] bytes = Files.readAllBytes(file);
    bytes[bytes.length / 2] ^= 0x10;
    Files.write(file, bytes);
    Exception corrupt =
        assertThrows(Exception.class, () -> load(dir, "bad", null, MLP_IN, Map.of()).close());
    assertTrue(messages(corrupt).contains("checksum mismatch"), messages(corrupt));
    assertTrue(messages(corrupt).contains(file.toString()), messages(corrupt));
    Files.write(file, Arrays.copyOf(bytes, bytes.length / 3));
    IOException truncated = assertThrows(IOException.class, () -> ModelCheckpoint.read(file));
    assertTrue(truncated.getMessage().contains("truncated"), truncated.getMessage());
    Files.write(file, "DJL@ not a checkpoint".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    IOException foreign = assertThrows(IOException.class, () -> ModelCheckpoint.read(file));
    assertTrue(foreign.getMessage().contains("bad magic"), foreign.getMessage());
  }

  @Test
  void aFileThatIsNoModelCheckpointIsIgnoredUnlessNamed() throws Exception {
    Path dir = saveMlp("other");
    float[] x = ModelFixtures.randomInput(MLP_IN, 9);
    float[] plain =
        predictOnTheFly(dir, "other", ModelFixtures::mlp, MLP_IN, x, MxFormat.MXFP6_E2M3);
    // a zoo encoder's cache (a model checkpoint of another source) under the model's name
    try (ModelCheckpoint zoo =
        new ModelCheckpoint(
            Map.of(ModelCheckpoint.SOURCE, "bert-onnx"),
            java.util.List.of(
                new io.djlmx.checkpoint.CheckpointTensor(
                    "embeddings.LayerNorm.bias", new long[] {2}, new float[] {1, 2}, null)))) {
      zoo.write(dir.resolve("other.mxckpt"));
    }
    try (ZooModel<float[], float[]> m = load(dir, "other", ModelFixtures::mlp, MLP_IN, Map.of())) {
      assertArrayEquals(plain, ModelFixtures.predict(m, MLP_IN, x));
    }
    // and a file of an older format
    Files.writeString(dir.resolve("other.mxckpt"), "DJLMXCK1 another format");
    try (ZooModel<float[], float[]> m = load(dir, "other", ModelFixtures::mlp, MLP_IN, Map.of())) {
      assertArrayEquals(plain, ModelFixtures.predict(m, MLP_IN, x));
    }
    Exception named =
        assertThrows(
            Exception.class,
            () ->
                load(dir.resolve("other.mxckpt"), "other", ModelFixtures::mlp, MLP_IN, Map.of())
                    .close());
    assertTrue(messages(named).contains("older djl-mx (DJLMXCK1)"), messages(named));
  }

  @Test
  void nanWeightIsNamedAtConversion() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("nan"));
    try (Model pt = ModelFixtures.saveUnderPyTorch(ModelFixtures.mlp(), MLP_IN, dir, "nan")) {
      var w = pt.getBlock().getParameters().get("03Linear_weight").getArray();
      float[] v = w.toFloatArray();
      v[3 * 64 + 40] = Float.NaN;
      w.set(v);
      pt.save(dir, "nan");
    }
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                ParamsConverter.builder()
                    .setModelPath(dir.resolve("nan-0001.params"))
                    .optBlock(ModelFixtures::mlp)
                    .build()
                    .convert());
    assertTrue(
        e.getMessage().contains("Parameter 03Linear_weight holds NaN in row 3, MX block 1"),
        e.getMessage());
    assertFalse(Files.exists(dir.resolve("nan.mxckpt")));
  }

  private static String messages(Throwable t) {
    StringBuilder sb = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause()) {
      sb.append(c.getClass().getSimpleName()).append(": ").append(c.getMessage()).append(" / ");
    }
    return sb.toString();
  }

  private static <T extends Throwable> T causeOf(Throwable t, Class<T> type) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (type.isInstance(c)) {
        return type.cast(c);
      }
    }
    throw new AssertionError("no " + type.getSimpleName() + " in " + messages(t));
  }
}

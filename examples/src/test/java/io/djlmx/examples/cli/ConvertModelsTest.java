package io.djlmx.examples.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code mx convert --params / --torchscript} and {@code mx inspect} on the result: the checkpoint
 * loads back under MX with the outputs of quantizing at load; bad input gets one line saying what
 * to do.
 */
class ConvertModelsTest {

  private static final Shape IN = new Shape(2, 40);
  private static final String FACTORY = MlpTestBlockFactory.class.getName();

  /** float[] in, float[] out. */
  private static final class Floats implements NoBatchifyTranslator<float[], float[]> {
    @Override
    public NDList processInput(TranslatorContext ctx, float[] input) {
      return new NDList(ctx.getNDManager().create(input, IN));
    }

    @Override
    public float[] processOutput(TranslatorContext ctx, NDList list) {
      return list.get(0).toType(DataType.FLOAT32, false).toFloatArray();
    }
  }

  private static float[] predict(Path path, Block block, Map<String, String> options)
      throws Exception {
    Criteria.Builder<float[], float[]> b =
        Criteria.builder()
            .setTypes(float[].class, float[].class)
            .optModelPath(path)
            .optEngine("MX")
            .optTranslator(new Floats());
    if (block != null) {
      b.optBlock(block);
    }
    options.forEach(b::optOption);
    float[] x = new float[(int) IN.size()];
    Random r = new Random(3);
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextGaussian();
    }
    try (ZooModel<float[], float[]> m = b.build().loadModel();
        Predictor<float[], float[]> p = m.newPredictor()) {
      return p.predict(x);
    }
  }

  private static Path saveMlp(Path dir) throws Exception {
    Files.createDirectories(dir);
    try (Model pt = Model.newInstance("mlp", Device.cpu(), "PyTorch")) {
      Block block = new MlpTestBlockFactory().newBlock(pt, dir, Map.of());
      pt.setBlock(block);
      Engine.getEngine("PyTorch").setRandomSeed(42);
      block.initialize(pt.getNDManager(), DataType.FLOAT32, IN);
      pt.save(dir, dir.getFileName().toString());
    }
    return dir;
  }

  @Test
  void paramsModelConvertsInspectsAndLoads(@TempDir Path tmp) throws Exception {
    Path dir = saveMlp(tmp.resolve("mlp"));
    float[] onTheFly =
        predict(
            dir,
            new MlpTestBlockFactory().newBlock(null, dir, Map.of()),
            Map.of("mx.weights", "MXFP8_E4M3"));
    CliTest.Run c =
        CliTest.run(
            "convert", "--params", dir.toString(), "--block-factory", FACTORY, "-w", "MXFP8_E4M3");
    assertEquals(0, c.rc(), c.err());
    assertTrue(c.out().contains("3 linear weights in MXFP8_E4M3"), c.out());
    Path ckpt = dir.resolve("mlp.mxckpt");
    assertTrue(Files.isRegularFile(ckpt), "written next to the .params");

    CliTest.Run i = CliTest.run("inspect", ckpt.toString());
    assertEquals(0, i.rc(), i.err());
    assertTrue(i.out().contains("MX model checkpoint"), i.out());
    assertTrue(i.out().contains("blockFactory: " + FACTORY), i.out());
    assertTrue(i.out().contains("01Linear_weight  MXFP8_E4M3"), i.out());
    assertTrue(i.out().contains("3 MX weights"), i.out());
    assertTrue(i.out().contains("block scales (E8M0)"), i.out());

    // No block, no format: the checkpoint names both; outputs equal quantizing at load.
    assertArrayEquals(onTheFly, predict(dir, null, Map.of()));

    CliTest.Run again =
        CliTest.run("convert", "--params", dir.toString(), "--block-factory", FACTORY);
    assertEquals(UserErrorHandler.USER_ERROR, again.rc());
    assertTrue(again.err().contains("--force"), again.err());
  }

  @Test
  void torchScriptConvertsInspectsAndLoads(@TempDir Path tmp) throws Exception {
    Path pt = tmp.resolve("mlp.pt");
    Files.copy(Paths.get(ConvertModelsTest.class.getResource("/torchscript/mlp.pt").toURI()), pt);
    CliTest.Run c = CliTest.run("convert", "--torchscript", pt.toString(), "-w", "MXFP4_E2M1");
    assertEquals(0, c.rc(), c.err());
    assertTrue(c.out().contains("2 linear weights in MXFP4_E2M1"), c.out());
    CliTest.Run i = CliTest.run("inspect", tmp.resolve("mlp.mxckpt").toString());
    assertEquals(0, i.rc(), i.err());
    assertTrue(i.out().contains("source: torchscript"), i.out());
    assertTrue(i.out().contains("MXFP4_E2M1"), i.out());
    assertTrue(i.out().contains("4.25"), i.out()); // 4 bits + one 8-bit scale per 32
  }

  @Test
  void badInputSaysWhatToDo(@TempDir Path tmp) throws Exception {
    Path dir = saveMlp(tmp.resolve("bad"));
    CliTest.Run noFactory = CliTest.run("convert", "--params", dir.toString());
    assertEquals(UserErrorHandler.USER_ERROR, noFactory.rc());
    assertTrue(noFactory.err().contains("--block-factory CLASS"), noFactory.err());

    CliTest.Run unknown =
        CliTest.run("convert", "--params", dir.toString(), "--block-factory", "com.example.Nope");
    assertEquals(UserErrorHandler.USER_ERROR, unknown.rc());
    assertTrue(unknown.err().contains("com.example.Nope not found"), unknown.err());
    assertFalse(unknown.err().contains("\tat "), unknown.err());

    // The factory builds another block than the one saved (DJL's loader would take the file's
    // sizes silently): the converter names the parameter.
    CliTest.Run mismatch =
        CliTest.run(
            "convert",
            "--params",
            dir.toString(),
            "--block-factory",
            FACTORY,
            "--arg",
            "hidden=32",
            "-o",
            tmp.resolve("m.mxckpt").toString());
    assertEquals(UserErrorHandler.USER_ERROR, mismatch.rc(), mismatch.err() + mismatch.out());
    assertTrue(
        mismatch.err().contains("Parameter 03Linear_weight has shape (48, 64)"), mismatch.err());
    assertTrue(mismatch.err().contains("makes it (32, 64)"), mismatch.err());
    assertFalse(mismatch.err().contains("\tat "), mismatch.err());

    Path junk = Files.writeString(tmp.resolve("junk.pt"), "not a module");
    CliTest.Run notTs = CliTest.run("convert", "--torchscript", junk.toString());
    assertEquals(UserErrorHandler.USER_ERROR, notTs.rc());
    assertTrue(notTs.err().contains("Not a TorchScript module"), notTs.err());

    CliTest.Run wrongOption =
        CliTest.run("convert", "--torchscript", junk.toString(), "--block-factory", FACTORY);
    assertEquals(UserErrorHandler.USER_ERROR, wrongOption.rc());
    assertTrue(wrongOption.err().contains("--params only"), wrongOption.err());

    // A corrupt checkpoint next to the model: the load names the file.
    Path ckpt = tmp.resolve("bad").resolve("bad.mxckpt");
    assertEquals(
        0, CliTest.run("convert", "--params", dir.toString(), "--block-factory", FACTORY).rc());
    byte[] b = Files.readAllBytes(ckpt);
    b[b.length - 20] ^= 1;
    Files.write(ckpt, b);
    CliTest.Run inspect = CliTest.run("inspect", ckpt.toString());
    assertEquals(UserErrorHandler.USER_ERROR, inspect.rc());
    assertTrue(inspect.err().contains("checksum mismatch"), inspect.err());
  }
}

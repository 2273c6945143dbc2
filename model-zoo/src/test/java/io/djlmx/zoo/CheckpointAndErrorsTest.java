package io.djlmx.zoo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import io.djlmx.checkpoint.CheckpointTensor;
import io.djlmx.checkpoint.ModelCheckpoint;
import io.djlmx.format.MxFormat;
import io.djlmx.format.ScaleMode;
import io.djlmx.zoo.bert.BertWeights;
import io.djlmx.zoo.checkpoint.MxCheckpoint;
import io.djlmx.zoo.checkpoint.MxWeight;
import io.djlmx.zoo.onnx.BertOnnxImporter;
import io.djlmx.zoo.onnx.NamedTensor;
import io.djlmx.zoo.onnx.OnnxModelFile;
import io.djlmx.zoo.translator.Pooling;
import io.djlmx.zoo.translator.SentenceSimilarity;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checkpoint round trips, the zoo's Criteria, and clear errors for bad model files. */
class CheckpointAndErrorsTest {

  @TempDir Path tmp;

  @Test
  void checkpointRoundTripKeepsCodesScalesAndFp32Tensors() throws Exception {
    BertWeights w = SentenceEncoderLoader.importOnnx(SentenceEncoderSpec.ALL_MINILM_L6_V2);
    MxCheckpoint ckpt = MxCheckpoint.quantize(w, MxFormat.MXFP6_E2M3, null);
    Path file = tmp.resolve("m.mxckpt");
    ckpt.write(file);
    MxCheckpoint back = MxCheckpoint.read(file);
    assertEquals(ckpt.config(), back.config());
    assertEquals(MxFormat.MXFP6_E2M3, back.format());
    assertEquals(36, back.mxWeights().size());
    for (MxWeight a : ckpt.mxWeights().values()) {
      MxWeight b = back.mxWeights().get(a.name());
      assertArrayEquals(a.codes(), b.codes(), a.name());
      assertArrayEquals(a.scales(), b.scales(), a.name());
    }
    BertWeights wb = back.toBertWeights();
    String emb = "embeddings.word_embeddings.weight";
    assertArrayEquals(w.get(emb).data(), wb.get(emb).data());
    // MXFP6 file: linear weights at 6.25 bits instead of 32
    assertTrue(Files.size(file) < 70_000_000L, "size " + Files.size(file));
  }

  @Test
  void encoderCheckpointIsAModelCheckpointThatKeepsItsScaleRule() throws Exception {
    BertWeights w = SentenceEncoderLoader.importOnnx(SentenceEncoderSpec.ALL_MINILM_L6_V2);
    Path file = tmp.resolve("rceil.mxckpt");
    MxCheckpoint.quantize(w, MxFormat.MXFP8_E4M3, ScaleMode.RCEIL, null).write(file);
    // one checkpoint format for the project: the engine's reader (and mx inspect) read it
    try (ModelCheckpoint model = ModelCheckpoint.read(file)) {
      assertEquals(MxCheckpoint.SOURCE_BERT, model.get(ModelCheckpoint.SOURCE));
      assertEquals(MxFormat.MXFP8_E4M3, model.weightFormat());
      assertEquals(ScaleMode.RCEIL, model.scaleMode());
      assertEquals("384", model.get("bert.hiddenSize"));
    }
    MxCheckpoint back = MxCheckpoint.read(file);
    MxWeight q = back.mxWeights().get("encoder.layer.0.attention.self.query.weight");
    assertEquals(ScaleMode.RCEIL, q.scaleMode());
    assertEquals(w.config().layerNormEps(), back.config().layerNormEps());
  }

  @Test
  void otherModelCheckpointsAndOldFilesAreRejectedByName() throws Exception {
    Path other = tmp.resolve("mlp.mxckpt");
    try (ModelCheckpoint ckpt =
        new ModelCheckpoint(
            Map.of(ModelCheckpoint.SOURCE, ModelCheckpoint.SOURCE_PARAMS),
            List.of(new CheckpointTensor("w", new long[] {2}, new float[] {1, 2}, null)))) {
      ckpt.write(other);
    }
    IOException e = assertThrows(IOException.class, () -> MxCheckpoint.read(other));
    assertTrue(e.getMessage().contains("mlp.mxckpt"), e.getMessage());
    assertTrue(e.getMessage().contains("not a BERT encoder checkpoint"), e.getMessage());
    Path old = tmp.resolve("old.mxckpt");
    Files.write(old, "DJLMXCK1 and the rest of an old file".getBytes(StandardCharsets.US_ASCII));
    e = assertThrows(IOException.class, () -> MxCheckpoint.read(old));
    assertTrue(e.getMessage().contains("older djl-mx (DJLMXCK1)"), e.getMessage());
  }

  @Test
  void packedCodesDecodeToRoundedValues() {
    Random rnd = new Random(7);
    float[] x = new float[5 * 70]; // ragged last block
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) rnd.nextGaussian();
    }
    NamedTensor t = new NamedTensor("w", new long[] {5, 70}, x);
    for (MxFormat f :
        new MxFormat[] {
          MxFormat.MXFP8_E4M3,
          MxFormat.MXFP6_E2M3,
          MxFormat.MXFP6_E3M2,
          MxFormat.MXFP4_E2M1,
          MxFormat.MXINT8
        }) {
      float[] d = MxWeight.quantize(t, f).dequantize().data();
      for (int i = 0; i < x.length; i++) {
        // each value within half a quantum of its block: relative to the block max
        assertTrue(Math.abs(d[i] - x[i]) <= 0.25 * 4, f + " " + i);
      }
      double cos =
          SentenceSimilarity.cosine(x, d); // coarse sanity: 4-bit still points the same way
      assertTrue(cos > 0.95, f + " cosine " + cos);
    }
  }

  @Test
  void rejectsNonFiniteWeightsNamingTheBlock() {
    float[] x = new float[64];
    x[40] = Float.NaN;
    NamedTensor t = new NamedTensor("encoder.layer.0.x.weight", new long[] {1, 64}, x);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> MxWeight.quantize(t, MxFormat.MXFP8_E4M3));
    assertTrue(e.getMessage().contains("encoder.layer.0.x.weight"), e.getMessage());
    assertTrue(e.getMessage().contains("block 1"), e.getMessage());
  }

  @Test
  void corruptOrTruncatedCheckpointIsReported() throws Exception {
    BertWeights w = SentenceEncoderLoader.importOnnx(SentenceEncoderSpec.ALL_MINILM_L6_V2);
    Path file = tmp.resolve("c.mxckpt");
    MxCheckpoint.quantize(w, MxFormat.MXFP4_E2M1, null).write(file);
    byte[] bytes = Files.readAllBytes(file);
    bytes[bytes.length / 2] ^= 0x5A;
    Path bad = tmp.resolve("bad.mxckpt");
    Files.write(bad, bytes);
    IOException e = assertThrows(IOException.class, () -> MxCheckpoint.read(bad));
    assertTrue(e.getMessage().contains("bad.mxckpt"), e.getMessage());
    Path cut = tmp.resolve("cut.mxckpt");
    Files.write(cut, java.util.Arrays.copyOf(Files.readAllBytes(file), 1000));
    e = assertThrows(IOException.class, () -> MxCheckpoint.read(cut));
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    Path missing = tmp.resolve("none.mxckpt");
    e = assertThrows(IOException.class, () -> MxCheckpoint.read(missing));
    assertTrue(e.getMessage().contains("none.mxckpt"), e.getMessage());
  }

  @Test
  void corruptOrMissingOnnxIsReported() throws Exception {
    byte[] junk = new byte[4096];
    new Random(1).nextBytes(junk);
    IOException e =
        assertThrows(
            IOException.class,
            () -> OnnxModelFile.read(new ByteArrayInputStream(junk), "junk.onnx"));
    assertTrue(e.getMessage().contains("junk.onnx"), e.getMessage());
    Path missing = tmp.resolve("missing.onnx");
    e = assertThrows(IOException.class, () -> BertOnnxImporter.importFile(missing));
    assertTrue(e.getMessage().contains("missing.onnx"), e.getMessage());
    SentenceEncoderSpec absent =
        new SentenceEncoderSpec("x", "no-such.onnx", "no-such.json", Pooling.MEAN, 128, "none");
    e = assertThrows(IOException.class, () -> SentenceEncoderLoader.importOnnx(absent));
    assertTrue(e.getMessage().contains("no-such.onnx"), e.getMessage());
  }

  @Test
  void zooCriteriaLoadsOfflineCachesAndTruncatesLongInput() throws Exception {
    Criteria<String, float[]> criteria =
        Criteria.builder()
            .setTypes(String.class, float[].class)
            .optGroupId("io.djlmx")
            .optArtifactId("all-MiniLM-L6-v2")
            .optEngine("MX")
            .optOption("mx.weights", "MXFP8_E4M3")
            .optOption("mx.zoo.cache", tmp.toString())
            .build();
    float[] a;
    try (ZooModel<String, float[]> model = criteria.loadModel();
        Predictor<String, float[]> p = model.newPredictor()) {
      a = p.predict("The cat sat on the mat.");
      assertEquals(384, a.length);
      float[] b = p.predict("A cat was sitting on a rug.");
      float[] c = p.predict("Interest rates rose sharply in the third quarter.");
      assertTrue(SentenceSimilarity.cosine(a, b) > SentenceSimilarity.cosine(a, c));
      // far beyond 256 tokens: truncated with a warning, never an error
      float[] longOne = p.predict("word ".repeat(5000));
      assertEquals(384, longOne.length);
    }
    // MXFP8_E4M3's zoo recipe: RCEIL scales, calibrated rounding, cached under that name
    Path ckpt =
        SentenceEncoderLoader.checkpointFile(
            SentenceEncoderSpec.ALL_MINILM_L6_V2,
            MxFormat.MXFP8_E4M3,
            io.djlmx.format.ScaleMode.RCEIL,
            io.djlmx.zoo.checkpoint.WeightRounding.GPTQ,
            tmp);
    assertTrue(Files.isRegularFile(ckpt), ckpt.toString());
    assertTrue(
        io.djlmx.zoo.checkpoint.MxCheckpoint.read(ckpt)
            .calibration()
            .endsWith(EncoderCalibration.method()));
    Criteria<String[], float[][]> batch =
        Criteria.builder()
            .setTypes(String[].class, float[][].class)
            .optGroupId("io.djlmx")
            .optArtifactId("all-MiniLM-L6-v2")
            .optFilter("format", "MXFP8_E4M3")
            .optOption("mx.zoo.cache", tmp.toString())
            .build();
    try (ZooModel<String[], float[][]> model = batch.loadModel();
        Predictor<String[], float[][]> p = model.newPredictor()) {
      float[][] e =
          p.predict(new String[] {"The cat sat on the mat.", "Short.", "word ".repeat(40)});
      assertEquals(3, e.length);
      // padding in a batch does not change a sentence's embedding
      assertTrue(SentenceSimilarity.cosine(a, e[0]) > 0.99999);
    }
    assertThrows(
        IllegalArgumentException.class,
        () ->
            Criteria.builder()
                .setTypes(String.class, float[].class)
                .optGroupId("io.djlmx")
                .optArtifactId("all-MiniLM-L6-v2")
                .optOption("mx.weights", "MXFP5")
                .optOption("mx.zoo.cache", tmp.toString())
                .build()
                .loadModel());
  }

  @Test
  void rceilScaleKeepsTheBlockMaximumThatFloorClips() {
    float[] x = new float[32];
    for (int i = 0; i < x.length; i++) {
      x[i] = (i + 1) * 3f;
    }
    x[5] = 480f; // FLOOR: scale 2^0, 480 > 448 (E4M3's largest) clips; RCEIL: scale 2^1, 240 exact
    NamedTensor t = new NamedTensor("w", new long[] {1, 32}, x);
    float[] floor = MxWeight.quantize(t, MxFormat.MXFP8_E4M3).dequantize().data();
    float[] rceil =
        MxWeight.quantize(t, MxFormat.MXFP8_E4M3, io.djlmx.format.ScaleMode.RCEIL)
            .dequantize()
            .data();
    assertEquals(448f, floor[5]);
    assertEquals(480f, rceil[5]);
    Path dir = Path.of("cache");
    SentenceEncoderSpec spec = SentenceEncoderSpec.ALL_MINILM_L6_V2;
    assertEquals(
        dir.resolve("all-MiniLM-L6-v2-MXFP8_E4M3-RCEIL.mxckpt"),
        SentenceEncoderLoader.checkpointFile(
            spec, MxFormat.MXFP8_E4M3, io.djlmx.format.ScaleMode.RCEIL, dir));
    assertEquals(
        dir.resolve("all-MiniLM-L6-v2-MXFP8_E4M3.mxckpt"),
        SentenceEncoderLoader.checkpointFile(spec, MxFormat.MXFP8_E4M3, dir));
  }

  @Test
  void unknownArtifactListsKnownOnes() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> SentenceEncoderSpec.of("nope"));
    assertTrue(e.getMessage().contains("all-MiniLM-L6-v2"), e.getMessage());
    assertEquals(
        List.of("all-MiniLM-L6-v2", "bge-small-en-v1.5", "e5-small-v2"),
        SentenceEncoderSpec.all().stream().map(SentenceEncoderSpec::artifactId).toList());
  }
}

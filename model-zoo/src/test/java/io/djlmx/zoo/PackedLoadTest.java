package io.djlmx.zoo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import io.djlmx.engine.MxLinear;
import io.djlmx.engine.MxModel;
import io.djlmx.engine.MxNDArray;
import io.djlmx.format.MxFormat;
import io.djlmx.zoo.bert.ActivationQuantizer;
import io.djlmx.zoo.bert.BertEncoder;
import io.djlmx.zoo.bert.MxAttentionCore;
import io.djlmx.zoo.checkpoint.MxCheckpoint;
import io.djlmx.zoo.translator.SentenceBatchCodec;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cached checkpoint's packed MX weights go to the MX engine as they are (no dequantize and
 * quantize again), and give the same embeddings as the FP32 route.
 */
class PackedLoadTest {

  private static final List<String> SENTENCES =
      List.of("The cat sat on the mat.", "Interest rates rose sharply.", "Short.");

  @TempDir Path tmp;

  @Test
  void packedWeightsAreAdoptedAndMatchTheFp32Route() throws Exception {
    SentenceEncoderSpec spec = SentenceEncoderSpec.ALL_MINILM_L6_V2;
    // the cache directory from a system property: a Criteria with no options at all
    System.setProperty("mx.zoo.cache", tmp.toString());
    float[][] adopted;
    try {
      Criteria<String[], float[][]> criteria =
          Criteria.builder()
              .setTypes(String[].class, float[][].class)
              .optGroupId("io.djlmx")
              .optArtifactId(spec.artifactId())
              .optEngine("MX")
              .build();
      // the first load converts and caches; the second reads the cached checkpoint
      criteria.loadModel().close();
      try (ZooModel<String[], float[][]> model = criteria.loadModel();
          Predictor<String[], float[][]> p = model.newPredictor()) {
        long packs = MxLinear.getPackCount();
        adopted = p.predict(SENTENCES.toArray(String[]::new));
        assertEquals(packs, MxLinear.getPackCount(), "weights packed again at predict");
        BertEncoder encoder = (BertEncoder) model.getBlock();
        MxCheckpoint ckpt =
            MxCheckpoint.read(SentenceEncoderLoader.checkpointFile(spec, MxFormat.MXFP6_E2M3, tmp));
        Map<String, Parameter> params = encoder.parametersByName();
        String name = "encoder.layer.3.intermediate.dense.weight";
        MxNDArray w = (MxNDArray) params.get(name).getArray();
        assertTrue(w.isFp32Released(), "adopted weight keeps an FP32 copy");
        // read back as an ordinary array: exactly the checkpoint's MX values
        assertArrayEquals(ckpt.mxWeights().get(name).dequantize().data(), w.toFloatArray());
      }
    } finally {
      System.clearProperty("mx.zoo.cache");
    }
    float[][] viaFp32 = embedViaFp32(spec);
    // the same MX values either way (checked bit for bit above); what differs between two model
    // instances is FP32 summation order (JIT-compiled vector reductions against the interpreter's),
    // which MX attention's INT8 rounding of Q and K can turn into ~1e-4 differences: two instances
    // of the same route differ as much
    for (int i = 0; i < SENTENCES.size(); i++) {
      assertArrayEquals(viaFp32[i], adopted[i], 1e-3f, SENTENCES.get(i));
      double cos = io.djlmx.zoo.translator.SentenceSimilarity.cosine(viaFp32[i], adopted[i]);
      assertTrue(cos > 0.99999, SENTENCES.get(i) + ": cosine " + cos);
    }
  }

  @Test
  void keepFp32TakesTheFp32Route() throws Exception {
    Criteria<String, float[]> criteria =
        Criteria.builder()
            .setTypes(String.class, float[].class)
            .optGroupId("io.djlmx")
            .optArtifactId("all-MiniLM-L6-v2")
            .optEngine("MX")
            .optOption("mx.keepFp32", "true")
            .optOption("mx.zoo.cache", tmp.toString())
            .build();
    try (ZooModel<String, float[]> model = criteria.loadModel();
        Predictor<String, float[]> p = model.newPredictor()) {
      float[] e = p.predict(SENTENCES.get(0));
      BertEncoder encoder = (BertEncoder) model.getBlock();
      MxNDArray w =
          (MxNDArray)
              encoder
                  .parametersByName()
                  .get("encoder.layer.0.attention.self.query.weight")
                  .getArray();
      assertFalse(w.isFp32Released());
      assertEquals(384, e.length);
      assertTrue(Float.isFinite(e[0]));
    }
  }

  /** The same checkpoint through FP32 arrays that the MX engine quantizes itself. */
  private float[][] embedViaFp32(SentenceEncoderSpec spec) throws Exception {
    MxCheckpoint ckpt = SentenceEncoderLoader.loadOrConvert(spec, MxFormat.MXFP6_E2M3, tmp, null);
    SentenceBatchCodec codec = SentenceEncoderLoader.newCodec(spec);
    try (Model model = Model.newInstance("ref", "MX")) {
      ((MxModel) model)
          .setConfig(SentenceEncoderLoader.engineConfig(MxFormat.MXFP6_E2M3, null, null));
      BertEncoder encoder =
          new BertEncoder(ckpt.config(), new MxAttentionCore(), ActivationQuantizer.NONE);
      model.setBlock(encoder);
      encoder.setWeights(ckpt.toBertWeights(), model.getNDManager());
      try (NDManager m = model.getNDManager().newSubManager()) {
        NDList in = codec.encode(m, SENTENCES);
        NDArray hidden =
            encoder.forward(new ParameterStore(m, false), in, false).singletonOrThrow();
        return codec.pool(hidden, in.get(2));
      }
    }
  }
}

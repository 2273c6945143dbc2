package io.djlmx.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import io.djlmx.zoo.bert.BertEncoder;
import io.djlmx.zoo.bert.BertWeights;
import io.djlmx.zoo.translator.SentenceBatchCodec;
import io.djlmx.zoo.translator.SentenceSimilarity;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The importer and the DJL blocks reproduce ONNX Runtime's FP32 embeddings. */
class Fp32EncoderMatchesOnnxRuntimeTest {

  @TempDir Path tmp;

  @Test
  void miniLmFp32MatchesOnnxRuntime() throws Exception {
    SentenceEncoderSpec spec = SentenceEncoderSpec.ALL_MINILM_L6_V2;
    List<String> sentences = TestSentences.sample(48);
    BertWeights w = SentenceEncoderLoader.importOnnx(spec);
    assertEquals(6, w.config().numLayers());
    assertEquals(12, w.config().numHeads());
    assertEquals(384, w.config().hiddenSize());
    SentenceBatchCodec codec = SentenceEncoderLoader.newCodec(spec);
    float[][] ours;
    try (Model model = Model.newInstance("fp32", "PyTorch")) {
      BertEncoder encoder = new BertEncoder(w.config());
      model.setBlock(encoder);
      encoder.setWeights(w, model.getNDManager());
      try (NDManager m = model.getNDManager().newSubManager()) {
        // one padded batch of mixed lengths: exercises the attention mask
        NDList in = codec.encode(m, sentences);
        NDList out = encoder.forward(new ParameterStore(m, false), in, false);
        ours = codec.pool(out.get(0), in.get(2));
      }
    }
    float[][] ref;
    try (OrtReference ort = new OrtReference(spec.onnxResource(), codec, tmp)) {
      ref = ort.embed(sentences);
    }
    double min = 1;
    for (int i = 0; i < sentences.size(); i++) {
      min = Math.min(min, SentenceSimilarity.cosine(ours[i], ref[i]));
    }
    assertTrue(min >= 0.9999, "min cosine to ONNX Runtime FP32 = " + min);
  }
}

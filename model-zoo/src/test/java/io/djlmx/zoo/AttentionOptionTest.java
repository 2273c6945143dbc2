package io.djlmx.zoo;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import io.djlmx.zoo.translator.SentenceSimilarity;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code mx.attention} on a zoo encoder: {@code fp8} gives the MX attention core FP8 E4M3 P·V,
 * whose embeddings differ from the default's (FP32 P·V) and stay close to FP32 attention ({@code
 * off}).
 */
class AttentionOptionTest {

  @TempDir Path tmp;

  private float[] embed(String attention, String sentence) throws Exception {
    Criteria<String, float[]> criteria =
        Criteria.builder()
            .setTypes(String.class, float[].class)
            .optGroupId("io.djlmx")
            .optArtifactId("all-MiniLM-L6-v2")
            .optEngine("MX")
            .optOption("mx.attention", attention)
            .optOption("mx.zoo.cache", tmp.toString())
            .build();
    try (ZooModel<String, float[]> model = criteria.loadModel();
        Predictor<String, float[]> p = model.newPredictor()) {
      return p.predict(sentence);
    }
  }

  @Test
  void fp8ReachesTheEncodersAttention() throws Exception {
    assertTrue(SentenceEncoderLoader.attentionConfig("FP8").pvFp8());
    assertFalse(SentenceEncoderLoader.attentionConfig("mx").pvFp8());
    assertFalse(SentenceEncoderLoader.attentionConfig(null).pvFp8());
    String s = "A quick brown fox jumps over the lazy dog near the river bank at dawn.";
    float[] fp8 = embed("fp8", s);
    float[] mx = embed("mx", s);
    float[] off = embed("off", s);
    assertFalse(Arrays.equals(fp8, mx), "fp8 gave the default attention's embedding");
    double cos = SentenceSimilarity.cosine(fp8, off);
    assertTrue(cos > 0.999, "cosine to FP32 attention " + cos);
  }
}

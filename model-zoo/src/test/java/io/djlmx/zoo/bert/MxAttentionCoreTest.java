package io.djlmx.zoo.bert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

class MxAttentionCoreTest {

  @Test
  void matchesTheReferenceCoreWithPaddingMask() {
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      m.getEngine().setRandomSeed(11);
      Shape shape = new Shape(2, 12, 21, 32); // MiniLM: 12 heads of 32
      NDArray q = m.randomNormal(shape).transpose(0, 2, 1, 3).transpose(0, 2, 1, 3);
      NDArray k = m.randomNormal(shape);
      NDArray v = m.randomNormal(shape);
      float[] bias = new float[2 * 21];
      for (int j = 15; j < 21; j++) {
        bias[21 + j] = -10000f; // second sentence is 15 tokens long
      }
      NDArray mask = m.create(bias, new Shape(2, 1, 1, 21));
      float[] expected = new SoftmaxAttentionCore().attend(q, k, v, mask).toFloatArray();
      float[] actual = new MxAttentionCore().attend(q, k, v, mask).toFloatArray();
      assertEquals(expected.length, actual.length);
      double cos = io.djlmx.attention.AccuracyMetrics.of(actual, expected).cosine();
      assertTrue(cos > 0.999, "cosine " + cos);
    }
  }

  @Test
  void mergedLayoutMatchesTheSplitHeadsPath() {
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      m.getEngine().setRandomSeed(12);
      Shape shape = new Shape(2, 17, 384); // [batch, seq, 12 heads of 32], seq not a tile multiple
      NDArray q = m.randomNormal(shape);
      NDArray k = m.randomNormal(shape);
      NDArray v = m.randomNormal(shape);
      float[] bias = new float[2 * 17];
      for (int j = 11; j < 17; j++) {
        bias[17 + j] = -Float.MAX_VALUE; // HF's mask value, as BertEncoder uses it
      }
      NDArray mask = m.create(bias, new Shape(2, 1, 1, 17));
      NDArray reference = new SoftmaxAttentionCore().attendMerged(q, k, v, mask, 12);
      MxAttentionCore core = new MxAttentionCore();
      NDArray merged = core.attendMerged(q, k, v, mask, 12);
      assertEquals(shape, merged.getShape());
      // the MX core through the default split/merge path: same kernel, other layout
      NDArray split = ((AttentionCore) core::attend).attendMerged(q, k, v, mask, 12);
      float[] a = merged.toFloatArray();
      assertEquals(
          1.0, io.djlmx.attention.AccuracyMetrics.of(a, split.toFloatArray()).cosine(), 1e-6);
      double cos = io.djlmx.attention.AccuracyMetrics.of(a, reference.toFloatArray()).cosine();
      assertTrue(cos > 0.999, "cosine " + cos);
    }
  }
}

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
}

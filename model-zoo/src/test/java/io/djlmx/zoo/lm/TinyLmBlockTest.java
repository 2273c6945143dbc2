package io.djlmx.zoo.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The {@link TinyLm} block with random weights: the key/value cache gives the logits of a full
 * re-run of the prefix, on PyTorch (FP32) and under the MX engine (MX linear and attention).
 */
class TinyLmBlockTest {

  private static final TinyLmConfig SMALL = new TinyLmConfig(257, 32, 64, 2, 2, 128, 1e-5f);

  @Test
  void cachedStepsMatchFullRerunOnPyTorch() {
    float worst = maxCacheError("PyTorch", new ReferenceCausalAttention());
    assertTrue(worst < 1e-4f, "cached vs full logits differ by " + worst + " of the logit range");
  }

  @Test
  void cachedStepsMatchFullRerunUnderMx() {
    float worst = maxCacheError("MX", new MxCausalAttention());
    // MX attention quantizes Q·Kᵀ per call (K smoothed by the mean of the keys it sees), so cached
    // and full runs round a little differently
    assertTrue(worst < 0.03f, "cached vs full logits differ by " + worst + " of the logit range");
  }

  @Test
  void severalNewTokensAfterACacheMatchFullRerun() {
    try (Model model = Model.newInstance("tiny", "PyTorch")) {
      TinyLm block = initialized(model, new ReferenceCausalAttention());
      NDManager m = model.getNDManager();
      ParameterStore ps = new ParameterStore(m, false);
      long[] ids = randomIds(12, 3);
      NDList full = block.forward(ps, new NDList(m.create(ids, new Shape(1, 12))), false);
      long[] head = java.util.Arrays.copyOf(ids, 5);
      long[] tail = java.util.Arrays.copyOfRange(ids, 5, 12);
      NDList first = block.forward(ps, new NDList(m.create(head, new Shape(1, 5))), false);
      NDList in = new NDList(m.create(tail, new Shape(1, 7)));
      in.addAll(first.subNDList(1));
      NDList rest = block.forward(ps, in, false);
      float[] expected = full.get(0).get(":, 5:, :").toFloatArray();
      float[] actual = rest.get(0).toFloatArray();
      assertEquals(expected.length, actual.length);
      for (int i = 0; i < expected.length; i++) {
        assertEquals(expected[i], actual[i], 1e-4f, "logit " + i);
      }
      assertEquals(12, rest.get(1).getShape().get(2), "cache length after the second call");
    }
  }

  @Test
  void contextOverflowIsRefused() {
    try (Model model = Model.newInstance("tiny", "PyTorch")) {
      TinyLm block = initialized(model, new ReferenceCausalAttention());
      NDManager m = model.getNDManager();
      ParameterStore ps = new ParameterStore(m, false);
      NDArray tooLong = m.create(randomIds(33, 1), new Shape(1, 33));
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class, () -> block.forward(ps, new NDList(tooLong), false));
      assertTrue(e.getMessage().contains("at most 32 positions"), e.getMessage());
      NDArray flat = m.create(randomIds(4, 1));
      assertThrows(
          IllegalArgumentException.class, () -> block.forward(ps, new NDList(flat), false));
    }
  }

  /**
   * Runs 20 tokens one at a time over the cache and compares each step's logits with the last row
   * of a full run over the prefix; returns the largest absolute difference relative to the range
   * (max − min) of the full run's logits at that step.
   */
  private static float maxCacheError(String engine, CausalAttention core) {
    try (Model model = Model.newInstance("tiny", engine)) {
      TinyLm block = initialized(model, core);
      NDManager m = model.getNDManager();
      ParameterStore ps = new ParameterStore(m, false);
      long[] ids = randomIds(24, 7);
      int prompt = 4;
      float worst = 0;
      try (NDManager scope = m.newSubManager()) {
        long[] head = java.util.Arrays.copyOf(ids, prompt);
        NDList out = block.forward(ps, new NDList(scope.create(head, new Shape(1, prompt))), false);
        NDList cache = out.subNDList(1);
        for (int t = prompt; t < ids.length; t++) {
          NDList in = new NDList(scope.create(new long[] {ids[t]}, new Shape(1, 1)));
          in.addAll(cache);
          NDList step = block.forward(ps, in, false);
          cache = step.subNDList(1);
          assertEquals(t + 1, cache.get(0).getShape().get(2));
          float[] cached = step.get(0).toFloatArray();
          long[] prefix = java.util.Arrays.copyOf(ids, t + 1);
          NDList full =
              block.forward(ps, new NDList(scope.create(prefix, new Shape(1, t + 1))), false);
          float[] expected = full.get(0).get(0).get(t).toFloatArray();
          assertEquals(SMALL.vocabSize(), cached.length);
          float lo = Float.MAX_VALUE;
          float hi = -Float.MAX_VALUE;
          for (float e : expected) {
            lo = Math.min(lo, e);
            hi = Math.max(hi, e);
          }
          for (int i = 0; i < cached.length; i++) {
            worst = Math.max(worst, Math.abs(cached[i] - expected[i]) / (hi - lo));
          }
          assertArrayEquals(
              new long[] {1, 1, SMALL.vocabSize()}, step.get(0).getShape().getShape());
        }
      }
      return worst;
    }
  }

  /** A small model with random weights on the model's engine. */
  private static TinyLm initialized(Model model, CausalAttention core) {
    TinyLm block = new TinyLm(SMALL, core, io.djlmx.zoo.bert.ActivationQuantizer.NONE);
    model.setBlock(block);
    block.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 8));
    return block;
  }

  private static long[] randomIds(int n, long seed) {
    Random r = new Random(seed);
    long[] ids = new long[n];
    for (int i = 0; i < n; i++) {
      ids[i] = r.nextInt(SMALL.vocabSize());
    }
    return ids;
  }
}

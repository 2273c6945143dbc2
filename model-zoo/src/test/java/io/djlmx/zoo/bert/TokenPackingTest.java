package io.djlmx.zoo.bert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import io.djlmx.engine.MxConfig;
import io.djlmx.engine.MxNDManager;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Inference with the real tokens packed ({@link TokenPacking}) gives the real tokens what the
 * padded computation gives them, and zeros at padding: on PyTorch (FP32, exact softmax attention)
 * and on the MX engine (MX linear with either attention core), for batches with ragged padding, no
 * padding, and a sequence of padding only (which runs unpacked).
 */
class TokenPackingTest {

  private static final long SEED = 7;
  private static final int SEQ = 19;

  /** Ragged lengths: a full row, short rows, a one-token row. */
  private static final int[] LENGTHS = {19, 5, 12, 1, 17};

  @Test
  void pytorchFp32PackedMatchesPadded() {
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      compare(m, null, LENGTHS, 2e-5);
    }
  }

  @Test
  void mxEnginePackedMatchesPadded() {
    try (NDManager m = Engine.getEngine("MX").newBaseManager()) {
      ((MxNDManager) m)
          .setConfig(MxConfig.resolve(Map.of(MxConfig.WEIGHTS, EncoderFixture.FORMAT.name())));
      // Softmax core: only the linear layers' summation order may differ (other row counts).
      compare(m, new SoftmaxAttentionCore(), LENGTHS, 2e-4);
      // MX attention: its K/V quantization statistics see other values at padding.
      compare(m, new MxAttentionCore(), LENGTHS, 3e-2);
    }
  }

  /**
   * With MX attention each packed sequence attends to its own rows, as it would alone: a padded
   * batch (large enough to spread the sequences over threads) gives every sentence what a batch of
   * one gives it, up to the linear layers' summation order (other row counts).
   */
  @Test
  void mxAttentionPackedBatchMatchesEachSentenceAlone() {
    int[] lengths = {19, 3, 11, 19, 1, 7, 16, 19, 2, 13, 18, 9};
    try (NDManager m = Engine.getEngine("MX").newBaseManager()) {
      ((MxNDManager) m)
          .setConfig(MxConfig.resolve(Map.of(MxConfig.WEIGHTS, EncoderFixture.FORMAT.name())));
      BertEncoder encoder = new BertEncoder(EncoderFixture.CONFIG);
      encoder.setAttentionCore(new MxAttentionCore());
      encoder.setWeights(EncoderFixture.weights(SEED), m);
      Inputs batch = inputs(lengths, SEQ, new Random(SEED + 3));
      float[] all;
      try (NDManager sub = m.newSubManager()) {
        all = run(encoder, sub, batch.toList(sub));
      }
      int h = EncoderFixture.CONFIG.hiddenSize();
      for (int b = 0; b < lengths.length; b++) {
        int len = lengths[b];
        Inputs one = batch.row(b, len);
        float[] alone;
        try (NDManager sub = m.newSubManager()) {
          alone = run(encoder, sub, one.toList(sub), len);
        }
        for (int j = 0; j < len; j++) {
          double scale = 0;
          for (int c = 0; c < h; c++) {
            scale = Math.max(scale, Math.abs(alone[j * h + c]));
          }
          for (int c = 0; c < h; c++) {
            float got = all[(b * SEQ + j) * h + c];
            float want = alone[j * h + c];
            assertTrue(
                Math.abs(got - want) <= 5e-3 * scale,
                "sentence " + b + " token " + j + " channel " + c + ": " + got + " vs " + want);
          }
        }
      }
    }
  }

  /** Token ids, types and mask of a batch, row-major {@code [batch, seq]}. */
  private record Inputs(long[] ids, long[] types, long[] mask, int batch, int seq) {

    NDList toList(NDManager m) {
      Shape s = new Shape(batch, seq);
      return new NDList(m.create(ids, s), m.create(types, s), m.create(mask, s));
    }

    /** Row {@code b}'s first {@code len} tokens as a batch of one without padding. */
    Inputs row(int b, int len) {
      long[] i = new long[len];
      long[] t = new long[len];
      long[] k = new long[len];
      System.arraycopy(ids, b * seq, i, 0, len);
      System.arraycopy(types, b * seq, t, 0, len);
      System.arraycopy(mask, b * seq, k, 0, len);
      return new Inputs(i, t, k, 1, len);
    }
  }

  private static Inputs inputs(int[] lengths, int seq, Random r) {
    int batch = lengths.length;
    long[] ids = new long[batch * seq];
    long[] types = new long[batch * seq];
    long[] mask = new long[batch * seq];
    for (int b = 0; b < batch; b++) {
      for (int j = 0; j < seq; j++) {
        ids[b * seq + j] = j < lengths[b] ? r.nextInt(EncoderFixture.CONFIG.vocabSize()) : 0;
        types[b * seq + j] = j < lengths[b] / 2 ? 0 : 1;
        mask[b * seq + j] = j < lengths[b] ? 1 : 0;
      }
    }
    return new Inputs(ids, types, mask, batch, seq);
  }

  @Test
  void batchesWithoutPaddingOrWithAnEmptySequenceRunUnpacked() {
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      compare(m, null, new int[] {SEQ, SEQ}, 0);
      compare(m, null, new int[] {SEQ, 0, 4}, 0);
    }
  }

  /**
   * Runs one batch packed and padded; real tokens must agree within {@code tol} of the token's
   * largest magnitude, padded positions must be zero in the packed output (unless it ran unpacked).
   */
  private static void compare(NDManager m, AttentionCore core, int[] lengths, double tol) {
    BertWeights w = EncoderFixture.weights(SEED);
    BertEncoder encoder = new BertEncoder(EncoderFixture.CONFIG);
    if (core != null) {
      encoder.setAttentionCore(core);
    }
    encoder.setWeights(w, m);
    int batch = lengths.length;
    int seq = SEQ;
    Inputs inputs = inputs(lengths, seq, new Random(SEED + batch));
    long[] mask = inputs.mask();
    boolean emptyRow = false;
    for (int len : lengths) {
      emptyRow |= len == 0;
    }
    float[] packed;
    float[] padded;
    try (NDManager sub = m.newSubManager()) {
      NDList in = inputs.toList(sub);
      encoder.setTokenPacking(true);
      packed = run(encoder, sub, in);
      encoder.setTokenPacking(false);
      padded = run(encoder, sub, in);
    }
    int h = EncoderFixture.CONFIG.hiddenSize();
    boolean anyPadding = false;
    for (int p = 0; p < batch * seq; p++) {
      double scale = 0;
      for (int c = 0; c < h; c++) {
        scale = Math.max(scale, Math.abs(padded[p * h + c]));
      }
      anyPadding |= mask[p] == 0;
      for (int c = 0; c < h; c++) {
        float got = packed[p * h + c];
        if (mask[p] == 1) {
          float want = padded[p * h + c];
          assertTrue(
              Math.abs(got - want) <= tol * scale,
              "position " + p + " channel " + c + ": packed " + got + ", padded " + want);
        } else if (!emptyRow) {
          assertEquals(0f, got, "padded position " + p + " channel " + c + " must be zero");
        } else {
          assertEquals(padded[p * h + c], got, "unpacked run: position " + p + " channel " + c);
        }
      }
    }
    assertEquals(
        lengths[0] == SEQ && lengths.length == 2 && lengths[1] == SEQ, !anyPadding, "test setup");
  }

  private static float[] run(BertEncoder encoder, NDManager m, NDList in) {
    return run(encoder, m, in, SEQ);
  }

  private static float[] run(BertEncoder encoder, NDManager m, NDList in, int seq) {
    NDArray hidden = encoder.forward(new ParameterStore(m, false), in, false).singletonOrThrow();
    assertEquals(new Shape(in.get(0).getShape().get(0), seq, 384), hidden.getShape());
    return hidden.toFloatArray();
  }
}

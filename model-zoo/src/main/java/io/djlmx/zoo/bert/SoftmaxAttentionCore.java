package io.djlmx.zoo.bert;

import ai.djl.ndarray.NDArray;
import io.djlmx.engine.MxFusedOps;

/** The reference attention core from DJL ops: {@code softmax(Q·Kᵀ/√d + mask)·V} in FP32. */
public final class SoftmaxAttentionCore implements AttentionCore {

  /** Creates the reference attention core. */
  public SoftmaxAttentionCore() {}

  /** {@inheritDoc} */
  @Override
  public NDArray attend(NDArray query, NDArray key, NDArray value, NDArray maskBias) {
    long headSize = query.getShape().get(3);
    NDArray scores = query.matMul(key.transpose(0, 1, 3, 2)).divi(Math.sqrt(headSize));
    NDArray probs = scores.addi(maskBias).softmax(-1);
    return probs.matMul(value);
  }

  /**
   * {@inheritDoc}
   *
   * <p>Where the engine has a fused attention kernel for these arrays ({@link
   * MxFusedOps#attention}: MX GPU arrays) it computes the same in one launch on the merged layout;
   * otherwise the heads are split, {@link #attend} runs and the heads are merged.
   */
  @Override
  public NDArray attendMerged(
      NDArray query, NDArray key, NDArray value, NDArray maskBias, int heads) {
    NDArray fused = MxFusedOps.attention(query, key, value, maskBias, heads);
    return fused != null
        ? fused
        : AttentionCore.super.attendMerged(query, key, value, maskBias, heads);
  }

  /**
   * {@inheritDoc}
   *
   * <p>Where the engine has a fused attention kernel for these arrays ({@link
   * MxFusedOps#attentionPacked}: MX GPU arrays) each sequence attends to its own packed rows in one
   * launch; otherwise null (the caller spreads the rows to a padded batch).
   */
  @Override
  public NDArray attendPacked(
      NDArray query, NDArray key, NDArray value, int[] starts, int[] lengths, int heads) {
    return MxFusedOps.attentionPacked(query, key, value, starts, lengths, heads);
  }
}

package io.djlmx.zoo.bert;

import ai.djl.ndarray.NDArray;

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
}

package io.djlmx.zoo.lm;

import ai.djl.ndarray.NDArray;

/**
 * Causal attention from DJL ops in FP32 ({@code matMul}, additive mask, {@code softmax}):
 * differentiable, used for training and on engines without MX attention.
 */
public final class ReferenceCausalAttention implements CausalAttention {

  /** Creates the reference attention. */
  public ReferenceCausalAttention() {}

  /** {@inheritDoc} */
  @Override
  public NDArray attend(NDArray query, NDArray key, NDArray value, int pastLength) {
    long newLength = query.getShape().get(2);
    long headSize = query.getShape().get(3);
    NDArray scores = query.matMul(key.transpose(0, 1, 3, 2)).divi(Math.sqrt(headSize));
    if (newLength > 1) {
      // one query sees every cached key: only a block of several new positions needs the mask
      scores =
          scores.add(CausalAttention.causalMask(query.getManager(), (int) newLength, pastLength));
    }
    return scores.softmax(-1).matMul(value);
  }
}

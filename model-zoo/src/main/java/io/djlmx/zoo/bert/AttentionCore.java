package io.djlmx.zoo.bert;

import ai.djl.ndarray.NDArray;

/**
 * The attention core of a transformer layer: {@code softmax(Q·Kᵀ/√d + mask)·V}, the one place an
 * engine's fused (MX) attention kernel replaces the reference computation.
 *
 * <p>Everything around it (the Q/K/V and output projections, the head split and merge) stays in
 * {@link BertSelfAttention}, so an implementation sees only per-head tensors.
 */
@FunctionalInterface
public interface AttentionCore {

  /**
   * Computes attention for every head.
   *
   * @param query {@code [batch, heads, seq, headSize]}
   * @param key {@code [batch, heads, seq, headSize]}
   * @param value {@code [batch, heads, seq, headSize]}
   * @param maskBias additive mask {@code [batch, 1, 1, seq]}: 0 where a key is attended, a large
   *     negative value at padding
   * @return the context {@code [batch, heads, seq, headSize]}
   */
  NDArray attend(NDArray query, NDArray key, NDArray value, NDArray maskBias);
}

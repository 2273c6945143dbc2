package io.djlmx.zoo.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * The attention core of a transformer layer: {@code softmax(Q·Kᵀ/√d + mask)·V}, the one place an
 * engine's fused (MX) attention kernel replaces the reference computation.
 *
 * <p>Everything around it (the Q/K/V and output projections) stays in {@link BertSelfAttention};
 * {@link #attend} sees per-head tensors, {@link #attendMerged} the projections as they come.
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

  /**
   * Computes attention on the projections before the head split, returning the merged context: the
   * heads are the consecutive {@code headSize} slices of the last axis. The default splits the
   * heads (a transpose), calls {@link #attend} and merges them back (a transpose and a copy); a
   * core that reads this layout directly overrides it and saves those copies.
   *
   * @param query {@code [batch, seq, heads·headSize]}
   * @param key {@code [batch, seq, heads·headSize]}
   * @param value {@code [batch, seq, heads·headSize]}
   * @param maskBias additive mask {@code [batch, 1, 1, seq]}
   * @param heads the number of heads
   * @return the context {@code [batch, seq, heads·headSize]}
   */
  default NDArray attendMerged(
      NDArray query, NDArray key, NDArray value, NDArray maskBias, int heads) {
    Shape s = query.getShape();
    long headSize = s.get(2) / heads;
    NDArray context =
        attend(
            split(query, heads, headSize),
            split(key, heads, headSize),
            split(value, heads, headSize),
            maskBias);
    return context.transpose(0, 2, 1, 3).reshape(s.get(0), s.get(1), s.get(2));
  }

  /**
   * Computes attention for several sequences whose real tokens are packed into consecutive rows (no
   * padding), each sequence attending to its own rows only. The default has no such route and
   * returns null; the caller then spreads the rows to the padded layout and calls {@link
   * #attendMerged} with the padding mask.
   *
   * @param query {@code [tokens, heads·headSize]}
   * @param key {@code [tokens, heads·headSize]}
   * @param value {@code [tokens, heads·headSize]}
   * @param starts each sequence's first row
   * @param lengths each sequence's row count (at least 1)
   * @param heads the number of heads
   * @return the context {@code [tokens, heads·headSize]}, or null where this core cannot compute it
   */
  default NDArray attendPacked(
      NDArray query, NDArray key, NDArray value, int[] starts, int[] lengths, int heads) {
    return null;
  }

  private static NDArray split(NDArray x, int heads, long headSize) {
    Shape s = x.getShape();
    return x.reshape(s.get(0), s.get(1), heads, headSize).transpose(0, 2, 1, 3);
  }
}

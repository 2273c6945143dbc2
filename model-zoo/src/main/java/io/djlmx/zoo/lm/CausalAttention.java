package io.djlmx.zoo.lm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * The attention core of a decoder layer: {@code softmax(Q·Kᵀ/√d + causal mask)·V} over per-head
 * tensors, where the keys may include cached past positions. The one place an engine's fused (MX)
 * attention replaces the reference computation.
 */
@FunctionalInterface
public interface CausalAttention {

  /**
   * Computes causal attention for every head.
   *
   * @param query {@code [batch, heads, newLength, headSize]}: the new positions
   * @param key {@code [batch, heads, pastLength + newLength, headSize]}: cached then new keys
   * @param value the values, shaped as {@code key}
   * @param pastLength how many leading key positions come from the cache; query {@code i} sits at
   *     position {@code pastLength + i} and sees keys {@code 0..pastLength + i}
   * @return the context {@code [batch, heads, newLength, headSize]}
   */
  NDArray attend(NDArray query, NDArray key, NDArray value, int pastLength);

  /**
   * Returns the additive mask {@code [1, 1, newLength, pastLength + newLength]} that hides key
   * {@code j} from query {@code i} when {@code j > pastLength + i} (a large negative bias there, 0
   * elsewhere).
   *
   * @param manager the manager of the mask
   * @param newLength the query length
   * @param pastLength the cached key length
   * @return the mask, FLOAT32
   */
  static NDArray causalMask(NDManager manager, int newLength, int pastLength) {
    int keys = pastLength + newLength;
    float[] bias = new float[newLength * keys];
    for (int i = 0; i < newLength; i++) {
      for (int j = pastLength + i + 1; j < keys; j++) {
        bias[i * keys + j] = -1e9f;
      }
    }
    return manager.create(bias, new Shape(1, 1, newLength, keys));
  }
}

package io.djlmx.attention;

/** The order of the four axes of a Q, K, V or output tensor handed to attention. */
public enum TensorLayout {
  /** [batch, heads, sequence, head dim]: what DJL's attention block computes with. */
  BHSD,
  /**
   * [batch, sequence, heads, head dim]: a projection output (B, S, E) reshaped without a transpose.
   */
  BSHD
}

package io.djlmx.zoo.lm;

import ai.djl.ndarray.NDArray;
import io.djlmx.attention.AttentionConfig;
import io.djlmx.attention.djl.MxAttention;
import java.util.Objects;

/**
 * Causal attention through the engine's fused MX attention ({@link MxAttention}: INT8 Q·Kᵀ with
 * smoothed K, online softmax). A prompt (no cache) uses the kernel's causal flag; one new token
 * attends to every cached key unmasked; several new tokens after a cache get an explicit mask,
 * because the kernel's causal flag is aligned top-left.
 */
public final class MxCausalAttention implements CausalAttention {

  private final AttentionConfig config;

  /** Creates the core with the default MX attention configuration. */
  public MxCausalAttention() {
    this(AttentionConfig.defaults());
  }

  /**
   * Creates the core with a given MX attention configuration (its layout must be BHSD).
   *
   * @param config the configuration
   */
  public MxCausalAttention(AttentionConfig config) {
    this.config = Objects.requireNonNull(config, "config");
  }

  /** {@inheritDoc} */
  @Override
  public NDArray attend(NDArray query, NDArray key, NDArray value, int pastLength) {
    int newLength = (int) query.getShape().get(2);
    if (pastLength == 0) {
      return MxAttention.attention(query, key, value, null, true, null, config);
    }
    if (newLength == 1) {
      return MxAttention.attention(query, key, value, null, false, null, config);
    }
    try (NDArray mask = CausalAttention.causalMask(query.getManager(), newLength, pastLength)) {
      return MxAttention.attention(query, key, value, mask, false, null, config);
    }
  }
}

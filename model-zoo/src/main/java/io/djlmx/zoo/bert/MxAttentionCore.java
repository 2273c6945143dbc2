package io.djlmx.zoo.bert;

import ai.djl.ndarray.NDArray;
import io.djlmx.attention.AttentionConfig;
import io.djlmx.attention.djl.MxAttention;
import java.util.Objects;

/**
 * The attention core that runs MX attention ({@link MxAttention}: INT8 Q·Kᵀ with smoothed K, online
 * softmax) in place of {@link SoftmaxAttentionCore}; install it with {@link
 * BertEncoder#setAttentionCore}.
 */
public final class MxAttentionCore implements AttentionCore {

  private final AttentionConfig config;

  /** Creates the core with the default MX attention configuration. */
  public MxAttentionCore() {
    this(AttentionConfig.defaults());
  }

  /**
   * Creates the core with a given MX attention configuration (its layout must be BHSD).
   *
   * @param config the configuration
   */
  public MxAttentionCore(AttentionConfig config) {
    this.config = Objects.requireNonNull(config, "config");
  }

  /** {@inheritDoc} */
  @Override
  public NDArray attend(NDArray query, NDArray key, NDArray value, NDArray maskBias) {
    return MxAttention.attention(query, key, value, maskBias, false, null, config);
  }
}

package io.djlmx.zoo.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.djlmx.attention.AttentionConfig;
import io.djlmx.attention.TensorLayout;
import io.djlmx.attention.djl.MxAttention;
import java.util.Objects;

/**
 * The attention core that runs MX attention ({@link MxAttention}: INT8 Q·Kᵀ with smoothed K, online
 * softmax) in place of {@link SoftmaxAttentionCore}; install it with {@link
 * BertEncoder#setAttentionCore}.
 */
public final class MxAttentionCore implements AttentionCore {

  private final AttentionConfig config;
  private final AttentionConfig merged;

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
    this.merged = config.toBuilder().optLayout(TensorLayout.BSHD).build();
  }

  /** {@inheritDoc} */
  @Override
  public NDArray attend(NDArray query, NDArray key, NDArray value, NDArray maskBias) {
    return MxAttention.attention(query, key, value, maskBias, false, null, config);
  }

  /**
   * Reads the projections as {@code [batch, seq, heads, headSize]} (a view: no transpose, no copy)
   * and writes the context in that layout, which is the merged {@code [batch, seq, hidden]}.
   *
   * <p>{@inheritDoc}
   */
  @Override
  public NDArray attendMerged(
      NDArray query, NDArray key, NDArray value, NDArray maskBias, int heads) {
    Shape s = query.getShape();
    long headSize = s.get(2) / heads;
    NDArray out =
        MxAttention.attention(
            query.reshape(s.get(0), s.get(1), heads, headSize),
            key.reshape(s.get(0), s.get(1), heads, headSize),
            value.reshape(s.get(0), s.get(1), heads, headSize),
            maskBias,
            false,
            null,
            merged);
    return out.reshape(s);
  }
}

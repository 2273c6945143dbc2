package io.djlmx.attention.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.nn.transformer.ScaledDotProductAttentionBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import io.djlmx.attention.AttentionConfig;
import io.djlmx.attention.TensorLayout;
import java.lang.reflect.Field;

/**
 * A drop-in for DJL's {@link ScaledDotProductAttentionBlock} whose attention core runs {@link
 * MxAttention}.
 *
 * <p>Same builder, children (names, order, version) and inputs: 1 input (self-attention), 2 (plus
 * mask), 3 (key, query, value) or 4 (plus mask); a mask of rank other than 4 is reshaped to (B, 1,
 * T, F) and turned from 1/0 into 0/-100000 offsets, a rank-4 mask is added as is. So parameters
 * saved from DJL's block load into this one. The projections stay DJL {@link Linear} blocks (the MX
 * engine accelerates them separately). The projected (B, S, E) arrays are read as [B, S, H, D]
 * without a transpose, and the result is written as (B, T, E) directly. While training, the
 * attention dropout needs the probabilities, so the block computes DJL's original matMul/softmax
 * path instead.
 */
public final class MxScaledDotProductAttentionBlock extends AbstractBlock {

  private static final byte VERSION = 1;
  private static final float MASK_OFFSET = -100000f;

  private final int embeddingSize;
  private final int headCount;
  private final AttentionConfig config;
  private final Linear keyProjection;
  private final Linear queryProjection;
  private final Linear valueProjection;
  private final Linear resultProjection;
  private final Block attentionProbsDropout;

  private MxScaledDotProductAttentionBlock(Builder builder) {
    super(VERSION);
    this.embeddingSize = builder.embeddingSize;
    this.headCount = builder.headCount;
    this.config = builder.config.toBuilder().optLayout(TensorLayout.BSHD).build();
    this.keyProjection = addChildBlock("keyProjection", projection(embeddingSize));
    this.queryProjection = addChildBlock("queryProjection", projection(embeddingSize));
    this.valueProjection = addChildBlock("valueProjection", projection(embeddingSize));
    this.resultProjection = addChildBlock("resultProjection", projection(embeddingSize));
    this.attentionProbsDropout =
        addChildBlock(
            "probabilityDropout",
            Dropout.builder().optRate(builder.attentionProbsDropoutProb).build());
  }

  /** Adopts the children (and so the parameters) of an existing DJL block. */
  private MxScaledDotProductAttentionBlock(
      ScaledDotProductAttentionBlock original, AttentionConfig config) {
    super(VERSION);
    this.embeddingSize = readInt(original, "embeddingSize");
    this.headCount = readInt(original, "headCount");
    this.config = config.toBuilder().optLayout(TensorLayout.BSHD).build();
    this.keyProjection = addChildBlock("keyProjection", original.getKeyProjection());
    this.queryProjection = addChildBlock("queryProjection", original.getQueryProjection());
    this.valueProjection = addChildBlock("valueProjection", original.getValueProjection());
    this.resultProjection = addChildBlock("resultProjection", original.getResultProjection());
    Block dropout = null;
    for (var child : original.getChildren()) {
      if (child.getKey().endsWith("probabilityDropout")) {
        dropout = child.getValue();
      }
    }
    if (dropout == null) {
      throw new IllegalStateException("DJL attention block has no probabilityDropout child");
    }
    this.attentionProbsDropout = addChildBlock("probabilityDropout", dropout);
    if (original.isInitialized()) {
      this.inputShapes = original.getInputShapes();
      this.outputDataTypes = original.getOutputDataTypes();
    }
  }

  /**
   * Returns an MX block sharing {@code original}'s projections, dropout and parameters (and its
   * initialization state).
   *
   * @param original DJL's block
   * @param config the MX attention configuration, null for the defaults
   * @return the MX block
   * @throws IllegalStateException when DJL's private sizes cannot be read
   */
  public static MxScaledDotProductAttentionBlock from(
      ScaledDotProductAttentionBlock original, AttentionConfig config) {
    return new MxScaledDotProductAttentionBlock(
        original, config == null ? AttentionConfig.defaults() : config);
  }

  private static int readInt(ScaledDotProductAttentionBlock block, String name) {
    try {
      Field f = ScaledDotProductAttentionBlock.class.getDeclaredField(name);
      f.setAccessible(true);
      return f.getInt(block);
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new IllegalStateException(
          "Cannot read ScaledDotProductAttentionBlock." + name + " (DJL version change?)", e);
    }
  }

  private static Linear projection(int units) {
    return Linear.builder().setUnits(units).optBias(true).build();
  }

  /**
   * Returns the key projection.
   *
   * @return the key projection
   */
  public Linear getKeyProjection() {
    return keyProjection;
  }

  /**
   * Returns the query projection.
   *
   * @return the query projection
   */
  public Linear getQueryProjection() {
    return queryProjection;
  }

  /**
   * Returns the value projection.
   *
   * @return the value projection
   */
  public Linear getValueProjection() {
    return valueProjection;
  }

  /**
   * Returns the result projection.
   *
   * @return the result projection
   */
  public Linear getResultProjection() {
    return resultProjection;
  }

  /**
   * Returns the MX attention configuration.
   *
   * @return the configuration (layout BSHD)
   */
  public AttentionConfig getConfig() {
    return config;
  }

  /** {@inheritDoc} */
  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    if (inputShapes.length == 1 || inputShapes.length == 2) {
      return new Shape[] {inputShapes[0]};
    } else if (inputShapes.length == 3 || inputShapes.length == 4) {
      return new Shape[] {inputShapes[1]};
    }
    throw new IllegalArgumentException(
        "Invalid number of input shapes: " + inputShapes.length + ", must be 1-4.");
  }

  /** {@inheritDoc} */
  @Override
  public void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
    Shape projectionShape = new Shape(-1L, embeddingSize);
    for (Block projection : children.values()) {
      projection.initialize(manager, DataType.FLOAT32, projectionShape);
    }
  }

  /** {@inheritDoc} */
  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    long b = inputs.head().getShape().get(0);
    long n = headCount;
    long e = embeddingSize;
    long h = e / n;
    NDArray keyIn;
    NDArray queryIn;
    NDArray valueIn;
    long from;
    long to;
    if (inputs.size() < 3) {
      keyIn = inputs.head();
      queryIn = keyIn;
      valueIn = keyIn;
      from = keyIn.getShape().get(1);
      to = from;
    } else {
      keyIn = inputs.get(0);
      queryIn = inputs.get(1);
      valueIn = inputs.get(2);
      from = keyIn.getShape().get(1);
      to = queryIn.getShape().get(1);
    }
    NDArray mask = inputs.size() == 2 || inputs.size() == 4 ? inputs.get(inputs.size() - 1) : null;
    NDArray keys = keyProjection.forward(ps, new NDList(keyIn), training, params).head();
    NDArray queries = queryProjection.forward(ps, new NDList(queryIn), training, params).head();
    NDArray values = valueProjection.forward(ps, new NDList(valueIn), training, params).head();
    NDArray maskOffset = null;
    if (mask != null) {
      if (mask.getShape().dimension() != 4) {
        // 1 = keep, 0 = drop  ->  0 / -100000, as DJL's block does.
        NDArray expanded = mask.reshape(b, 1, to, from).toType(DataType.FLOAT32, false);
        maskOffset = expanded.neg().add(1f).mul(MASK_OFFSET);
      } else {
        maskOffset = mask;
      }
    }
    NDArray result;
    if (training) {
      result = attentionWithOps(ps, keys, queries, values, maskOffset, b, from, to, n, h);
    } else {
      NDArray attended =
          MxAttention.attention(
              queries.reshape(b, to, n, h),
              keys.reshape(b, from, n, h),
              values.reshape(b, from, n, h),
              maskOffset,
              false,
              null,
              config);
      result = attended.reshape(b, to, e);
    }
    return resultProjection.forward(ps, new NDList(result), training);
  }

  /** DJL's matMul/softmax path, kept for training where the dropout needs the probabilities. */
  private NDArray attentionWithOps(
      ParameterStore ps,
      NDArray keys,
      NDArray queries,
      NDArray values,
      NDArray maskOffset,
      long b,
      long from,
      long to,
      long n,
      long h) {
    NDArray kh = keys.reshape(b, from, n, h).transpose(0, 2, 1, 3);
    NDArray qh = queries.reshape(b, to, n, h).transpose(0, 2, 1, 3);
    NDArray vh = values.reshape(b, from, n, h).transpose(0, 2, 1, 3);
    NDArray scores = qh.matMul(kh.transpose(0, 1, 3, 2)).mul(1f / (float) Math.sqrt(h));
    if (maskOffset != null) {
      scores = scores.add(maskOffset);
    }
    NDArray probs =
        attentionProbsDropout.forward(ps, new NDList(scores.softmax(3)), true).singletonOrThrow();
    return probs.matMul(vh).transpose(0, 2, 1, 3).reshape(b, to, n * h);
  }

  /**
   * Returns a builder with DJL's defaults (dropout 0.1) and the default MX configuration.
   *
   * @return a builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /** Builds {@link MxScaledDotProductAttentionBlock}s; mirrors DJL's builder. */
  public static final class Builder {
    private int embeddingSize;
    private int headCount;
    private float attentionProbsDropoutProb = 0.1f;
    private AttentionConfig config = AttentionConfig.defaults();

    private Builder() {}

    /**
     * Sets the embedding size (required).
     *
     * @param embeddingSize the embedding size
     * @return this builder
     */
    public Builder setEmbeddingSize(int embeddingSize) {
      this.embeddingSize = embeddingSize;
      return this;
    }

    /**
     * Sets the number of heads (required); it must divide the embedding size.
     *
     * @param headCount the number of heads
     * @return this builder
     */
    public Builder setHeadCount(int headCount) {
      this.headCount = headCount;
      return this;
    }

    /**
     * Sets the dropout on the attention probabilities, used while training (default 0.1).
     *
     * @param attentionProbsDropoutProb the dropout rate
     * @return this builder
     */
    public Builder optAttentionProbsDropoutProb(float attentionProbsDropoutProb) {
      this.attentionProbsDropoutProb = attentionProbsDropoutProb;
      return this;
    }

    /**
     * Sets the MX attention configuration (its layout is always BSHD here).
     *
     * @param config the configuration
     * @return this builder
     */
    public Builder optConfig(AttentionConfig config) {
      this.config = java.util.Objects.requireNonNull(config, "config");
      return this;
    }

    /**
     * Builds the block.
     *
     * @return the block
     * @throws IllegalStateException when a size is missing or the heads do not divide the embedding
     *     size
     */
    public MxScaledDotProductAttentionBlock build() {
      if (embeddingSize < 1) {
        throw new IllegalStateException("Embedding size not initialized.");
      }
      if (headCount < 1) {
        throw new IllegalStateException("Head count not initialized.");
      }
      if (embeddingSize % headCount != 0) {
        throw new IllegalStateException(
            "Embedding size ("
                + embeddingSize
                + ") is not divisible by head count ("
                + headCount
                + ")");
      }
      return new MxScaledDotProductAttentionBlock(this);
    }
  }
}

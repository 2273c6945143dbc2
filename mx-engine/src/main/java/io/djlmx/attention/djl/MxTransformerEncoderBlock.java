package io.djlmx.attention.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.transformer.ScaledDotProductAttentionBlock;
import ai.djl.nn.transformer.TransformerEncoderBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.util.PairList;
import io.djlmx.attention.AttentionConfig;
import java.lang.reflect.Field;

/**
 * A {@link TransformerEncoderBlock} whose self-attention is {@link
 * MxScaledDotProductAttentionBlock}, built from an existing one.
 *
 * <p>Why a subclass: DJL's encoder holds its attention in a private field typed {@code
 * ScaledDotProductAttentionBlock}, a final class, so the attention cannot be swapped inside it;
 * parents such as {@code BertBlock} hold encoders in fields typed {@code TransformerEncoderBlock},
 * which this class satisfies. It adopts the original's children (same names and order, so the same
 * parameters and file format) and repeats its forward pass: attention, dropout, residual, norm,
 * pointwise feed-forward, dropout, residual (with the block input, as DJL does), norm.
 */
public final class MxTransformerEncoderBlock extends TransformerEncoderBlock {

  private final Block selfAttention;
  private final Block attentionNorm;
  private final Block feedForward;
  private final Block outputNorm;
  private final Block selfAttentionDropout;
  private final Block fullyConnectedDropout;

  private MxTransformerEncoderBlock(TransformerEncoderBlock original, AttentionConfig config) {
    // Placeholder children of size 1 (no parameters are allocated before initialize); replaced
    // below by the original's.
    super(1, 1, 1, 0f, list -> list);
    children.clear();
    Block attention = null;
    Block attNorm = null;
    Block ff = null;
    Block outNorm = null;
    for (Pair<String, Block> child : original.getChildren()) {
      String key = child.getKey();
      Block block = child.getValue();
      if (block instanceof ScaledDotProductAttentionBlock djl) {
        block = MxScaledDotProductAttentionBlock.from(djl, config);
        attention = block;
      } else if (key.endsWith("attentionNorm")) {
        attNorm = block;
      } else if (key.endsWith("outputBlock")) {
        ff = block;
      } else if (key.endsWith("outputNorm")) {
        outNorm = block;
      }
      children.add(key, block);
    }
    if (attention == null || attNorm == null || ff == null || outNorm == null) {
      throw new IllegalStateException(
          "Unexpected TransformerEncoderBlock children " + original.getChildren().keys());
    }
    this.selfAttention = attention;
    this.attentionNorm = attNorm;
    this.feedForward = ff;
    this.outputNorm = outNorm;
    this.selfAttentionDropout = readBlock(original, "selfAttentionDropout");
    this.fullyConnectedDropout = readBlock(original, "fullyConnectedDropout");
    if (original.isInitialized()) {
      this.inputShapes = original.getInputShapes();
      this.outputDataTypes = original.getOutputDataTypes();
    }
  }

  /**
   * Returns an encoder sharing {@code original}'s children and parameters, with MX attention.
   *
   * @param original DJL's encoder block
   * @param config the MX attention configuration, null for the defaults
   * @return the MX encoder
   * @throws IllegalStateException when DJL's block does not have the expected structure
   */
  public static MxTransformerEncoderBlock from(
      TransformerEncoderBlock original, AttentionConfig config) {
    return new MxTransformerEncoderBlock(
        original, config == null ? AttentionConfig.defaults() : config);
  }

  private static Block readBlock(TransformerEncoderBlock block, String name) {
    try {
      Field f = TransformerEncoderBlock.class.getDeclaredField(name);
      f.setAccessible(true);
      return (Block) f.get(block);
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new IllegalStateException(
          "Cannot read TransformerEncoderBlock." + name + " (DJL version change?)", e);
    }
  }

  /**
   * Returns the MX self-attention block.
   *
   * @return the attention block
   */
  public Block getSelfAttention() {
    return selfAttention;
  }

  /** {@inheritDoc} */
  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    return inputShapes;
  }

  /** {@inheritDoc} */
  @Override
  public void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
    selfAttention.initialize(manager, dataType, inputShapes);
    attentionNorm.initialize(manager, dataType, inputShapes);
    feedForward.initialize(manager, dataType, inputShapes);
    outputNorm.initialize(manager, dataType, inputShapes);
  }

  /** {@inheritDoc} */
  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    NDArray embedding = inputs.head();
    NDList attended = selfAttention.forward(ps, inputs, training);
    NDList dropped = selfAttentionDropout.forward(ps, attended, training);
    NDArray withResidual = dropped.singletonOrThrow().add(embedding);
    NDList normalized = attentionNorm.forward(ps, new NDList(withResidual), training);
    NDList fed = feedForward.forward(ps, normalized, training);
    NDList fedDropped = fullyConnectedDropout.forward(ps, fed, training);
    NDList residual = new NDList(fedDropped.singletonOrThrow().add(embedding));
    return outputNorm.forward(ps, residual, training);
  }
}

package io.djlmx.zoo.lm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import io.djlmx.zoo.bert.ActivationQuantizer;
import java.util.Objects;

/**
 * Multi-head causal self-attention with a key/value cache: one fused Q/K/V projection and an output
 * projection ({@link Linear}, so an engine's {@code linear} applies), the head split, the {@link
 * CausalAttention} core and the head merge.
 *
 * <p>Inputs: {@code x [batch, newLength, width]}, optionally followed by the cached keys and values
 * {@code [batch, heads, pastLength, headSize]}. Outputs: the projected context {@code [batch,
 * newLength, width]}, then the keys and values of every position so far {@code [batch, heads,
 * pastLength + newLength, headSize]} (the next step's cache).
 */
public final class CausalSelfAttention extends AbstractBlock {

  private final TinyLmConfig config;
  private final Linear qkv;
  private final Linear output;
  private final ActivationQuantizer activations;
  private CausalAttention core;

  /**
   * Creates the attention of one layer.
   *
   * @param config the model's shape
   * @param core the attention core
   * @param activations the rounding of projection inputs (emulation on engines without MX)
   */
  public CausalSelfAttention(
      TinyLmConfig config, CausalAttention core, ActivationQuantizer activations) {
    this.config = config;
    this.core = Objects.requireNonNull(core, "core");
    this.activations = Objects.requireNonNull(activations, "activations");
    qkv = addChildBlock("qkv", Linear.builder().setUnits(3L * config.width()).build());
    output = addChildBlock("output", Linear.builder().setUnits(config.width()).build());
  }

  /**
   * Replaces the attention core, e.g. with the engine's fused MX attention.
   *
   * @param core the new core
   */
  public void setAttentionCore(CausalAttention core) {
    this.core = Objects.requireNonNull(core, "core");
  }

  /**
   * Returns the attention core.
   *
   * @return the core in use
   */
  public CausalAttention getAttentionCore() {
    return core;
  }

  /** {@inheritDoc} */
  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    NDArray x = inputs.get(0);
    Shape s = x.getShape();
    long batch = s.get(0);
    long length = s.get(1);
    NDList parts =
        qkv.forward(ps, new NDList(activations.apply(x)), training).singletonOrThrow().split(3, 2);
    NDArray q = splitHeads(parts.get(0), batch, length);
    NDArray k = splitHeads(parts.get(1), batch, length);
    NDArray v = splitHeads(parts.get(2), batch, length);
    int pastLength = 0;
    if (inputs.size() == 3) {
      pastLength = (int) inputs.get(1).getShape().get(2);
      k = inputs.get(1).concat(k, 2);
      v = inputs.get(2).concat(v, 2);
    } else if (inputs.size() != 1) {
      throw new IllegalArgumentException(
          "Attention takes x, or x with cached keys and values; got " + inputs.size() + " arrays");
    }
    NDArray context = core.attend(q, k, v, pastLength);
    NDArray merged = context.transpose(0, 2, 1, 3).reshape(batch, length, config.width());
    NDArray out =
        output.forward(ps, new NDList(activations.apply(merged)), training).singletonOrThrow();
    return new NDList(out, k, v);
  }

  private NDArray splitHeads(NDArray x, long batch, long length) {
    return x.reshape(batch, length, config.heads(), config.headSize()).transpose(0, 2, 1, 3);
  }

  /** {@inheritDoc} */
  @Override
  protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
    qkv.initialize(manager, dataType, inputShapes[0]);
    output.initialize(manager, dataType, inputShapes[0]);
  }

  /** {@inheritDoc} */
  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    Shape x = inputShapes[0];
    long past = inputShapes.length == 3 ? inputShapes[1].get(2) : 0;
    Shape kv = new Shape(x.get(0), config.heads(), past + x.get(1), config.headSize());
    return new Shape[] {x, kv, kv};
  }
}

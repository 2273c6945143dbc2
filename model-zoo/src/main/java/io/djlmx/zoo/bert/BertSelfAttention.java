package io.djlmx.zoo.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.Map;

/**
 * Multi-head self-attention: Q/K/V projections ({@link Linear}, so an engine's {@code linear}
 * applies), the head split, the {@link AttentionCore}, the head merge and the output projection.
 */
public final class BertSelfAttention extends AbstractBlock {

  private final BertConfig config;
  private final Linear query;
  private final Linear key;
  private final Linear value;
  private final Linear output;
  private final ActivationQuantizer activations;
  private AttentionCore core;

  /**
   * Creates the attention of one layer.
   *
   * @param config the encoder's shape
   * @param core the attention core
   * @param activations the rounding of projection inputs
   */
  public BertSelfAttention(BertConfig config, AttentionCore core, ActivationQuantizer activations) {
    this.config = config;
    this.core = core;
    this.activations = activations;
    int h = config.hiddenSize();
    query = addChildBlock("query", Linear.builder().setUnits(h).build());
    key = addChildBlock("key", Linear.builder().setUnits(h).build());
    value = addChildBlock("value", Linear.builder().setUnits(h).build());
    output = addChildBlock("output", Linear.builder().setUnits(h).build());
  }

  /**
   * Returns the attention core.
   *
   * @return the core in use
   */
  public AttentionCore getAttentionCore() {
    return core;
  }

  /**
   * Replaces the attention core, e.g. with an engine's fused MX attention.
   *
   * @param core the new core
   */
  public void setAttentionCore(AttentionCore core) {
    this.core = java.util.Objects.requireNonNull(core, "core");
  }

  void collectParameters(String prefix, Map<String, Parameter> out) {
    BertEncoder.collectLinear(prefix + "self.query.", query, out);
    BertEncoder.collectLinear(prefix + "self.key.", key, out);
    BertEncoder.collectLinear(prefix + "self.value.", value, out);
    BertEncoder.collectLinear(prefix + "output.dense.", output, out);
  }

  /**
   * Runs self-attention.
   *
   * @param ps the parameter store
   * @param inputs {@code hidden [batch, seq, hidden]} and {@code maskBias [batch, 1, 1, seq]}
   * @param training whether training
   * @param params unused
   * @return the projected attention output {@code [batch, seq, hidden]}
   */
  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    NDArray x = inputs.get(0);
    NDArray maskBias = inputs.get(1);
    NDArray xq = activations.apply(x);
    NDArray q = project(ps, query, xq, training);
    NDArray k = project(ps, key, xq, training);
    NDArray v = project(ps, value, xq, training);
    NDArray merged = core.attendMerged(q, k, v, maskBias, config.numHeads());
    return output.forward(ps, new NDList(activations.apply(merged)), training);
  }

  /**
   * Runs self-attention for inference on the packed real tokens of a padded batch: the projections
   * on the packed rows, the attention core on them spread to the padded layout.
   *
   * @param ps the parameter store
   * @param x the packed hidden states {@code [tokens, hidden]}
   * @param maskBias the additive mask {@code [batch, 1, 1, seq]}
   * @param packing where the packed rows sit in the padded batch
   * @return the projected attention output, packed {@code [tokens, hidden]}
   */
  NDArray forwardPacked(ParameterStore ps, NDArray x, NDArray maskBias, TokenPacking packing) {
    NDArray xq = activations.apply(x);
    NDArray q = project(ps, query, xq, false);
    NDArray k = project(ps, key, xq, false);
    NDArray v = project(ps, value, xq, false);
    // each sequence's attention on its own packed rows where the core can (no padding to attend)
    NDArray merged =
        core.attendPacked(q, k, v, packing.starts(), packing.lengths(), config.numHeads());
    if (merged == null) {
      merged =
          packing.pack(
              core.attendMerged(
                  packing.spread(q),
                  packing.spread(k),
                  packing.spread(v),
                  maskBias,
                  config.numHeads()));
    }
    return project(ps, output, activations.apply(merged), false);
  }

  private static NDArray project(ParameterStore ps, Linear l, NDArray x, boolean training) {
    return l.forward(ps, new NDList(x), training).singletonOrThrow();
  }

  /** {@inheritDoc} */
  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    return new Shape[] {inputShapes[0]};
  }
}

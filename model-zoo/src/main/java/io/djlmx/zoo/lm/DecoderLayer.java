package io.djlmx.zoo.lm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import io.djlmx.zoo.bert.ActivationQuantizer;
import io.djlmx.zoo.bert.BertLayerNorm;

/**
 * One pre-LN decoder layer: {@code x + attention(LN(x))}, then {@code x + MLP(LN(x))} with a GELU
 * MLP of two {@link Linear} layers. Inputs and outputs follow {@link CausalSelfAttention}: {@code
 * x} (and the cache) in, {@code x} and the updated cache out.
 */
public final class DecoderLayer extends AbstractBlock {

  private final BertLayerNorm attentionNorm;
  private final CausalSelfAttention attention;
  private final BertLayerNorm mlpNorm;
  private final Linear mlpIn;
  private final Linear mlpOut;
  private final ActivationQuantizer activations;
  private final TinyLmConfig config;

  /**
   * Creates a layer.
   *
   * @param config the model's shape
   * @param core the attention core
   * @param activations the rounding of projection inputs (emulation on engines without MX)
   */
  public DecoderLayer(TinyLmConfig config, CausalAttention core, ActivationQuantizer activations) {
    this.config = config;
    this.activations = activations;
    attentionNorm = addChildBlock("ln1", new BertLayerNorm(config.width(), config.layerNormEps()));
    attention = addChildBlock("attention", new CausalSelfAttention(config, core, activations));
    mlpNorm = addChildBlock("ln2", new BertLayerNorm(config.width(), config.layerNormEps()));
    mlpIn = addChildBlock("mlpIn", Linear.builder().setUnits(config.mlpWidth()).build());
    mlpOut = addChildBlock("mlpOut", Linear.builder().setUnits(config.width()).build());
  }

  /**
   * Returns the layer's self-attention.
   *
   * @return the attention block
   */
  public CausalSelfAttention getAttention() {
    return attention;
  }

  /** {@inheritDoc} */
  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    NDArray x = inputs.get(0);
    NDList attnIn = new NDList(inputs);
    attnIn.set(0, attentionNorm.forward(ps, new NDList(x), training).singletonOrThrow());
    NDList attn = attention.forward(ps, attnIn, training);
    x = x.add(attn.get(0));
    NDArray h = mlpNorm.forward(ps, new NDList(x), training).singletonOrThrow();
    h = mlpIn.forward(ps, new NDList(activations.apply(h)), training).singletonOrThrow();
    h = Activation.gelu(h);
    h = mlpOut.forward(ps, new NDList(activations.apply(h)), training).singletonOrThrow();
    return new NDList(x.add(h), attn.get(1), attn.get(2));
  }

  /** {@inheritDoc} */
  @Override
  protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
    Shape x = inputShapes[0];
    attentionNorm.initialize(manager, dataType, x);
    attention.initialize(manager, dataType, x);
    mlpNorm.initialize(manager, dataType, x);
    mlpIn.initialize(manager, dataType, x);
    mlpOut.initialize(manager, dataType, new Shape(x.get(0), x.get(1), config.mlpWidth()));
  }

  /** {@inheritDoc} */
  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    return attention.getOutputShapes(inputShapes);
  }
}

package io.djlmx.zoo.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import io.djlmx.engine.MxFusedOps;
import java.util.Map;

/**
 * One post-norm BERT layer: self-attention, residual, layer norm, GELU feed-forward, residual,
 * layer norm.
 */
public final class BertLayer extends AbstractBlock {

  private final BertSelfAttention attention;
  private final BertLayerNorm attentionNorm;
  private final Linear intermediate;
  private final Linear output;
  private final BertLayerNorm outputNorm;
  private final ActivationQuantizer activations;

  /**
   * Creates one layer.
   *
   * @param config the encoder's shape
   * @param core the attention core
   * @param activations the rounding of projection inputs
   */
  public BertLayer(BertConfig config, AttentionCore core, ActivationQuantizer activations) {
    this.activations = activations;
    attention = addChildBlock("attention", new BertSelfAttention(config, core, activations));
    attentionNorm =
        addChildBlock(
            "attentionNorm", new BertLayerNorm(config.hiddenSize(), config.layerNormEps()));
    intermediate =
        addChildBlock("intermediate", Linear.builder().setUnits(config.intermediateSize()).build());
    output = addChildBlock("output", Linear.builder().setUnits(config.hiddenSize()).build());
    outputNorm =
        addChildBlock("outputNorm", new BertLayerNorm(config.hiddenSize(), config.layerNormEps()));
  }

  /**
   * Returns this layer's self-attention block.
   *
   * @return the attention block
   */
  public BertSelfAttention getAttention() {
    return attention;
  }

  void collectParameters(String prefix, Map<String, Parameter> out) {
    attention.collectParameters(prefix + "attention.", out);
    BertEncoder.collectNorm(prefix + "attention.output.LayerNorm.", attentionNorm, out);
    BertEncoder.collectLinear(prefix + "intermediate.dense.", intermediate, out);
    BertEncoder.collectLinear(prefix + "output.dense.", output, out);
    BertEncoder.collectNorm(prefix + "output.LayerNorm.", outputNorm, out);
  }

  /**
   * Runs the layer.
   *
   * @param ps the parameter store
   * @param inputs {@code hidden [batch, seq, hidden]} and {@code maskBias [batch, 1, 1, seq]}
   * @param training whether training
   * @param params unused
   * @return the new hidden states
   */
  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    NDArray x = inputs.get(0);
    NDArray a = attention.forward(ps, inputs, training).singletonOrThrow();
    return new NDList(feedForward(ps, attentionNorm.forwardResidual(ps, a, x, training), training));
  }

  /**
   * Runs the layer for inference on the packed real tokens of a padded batch: attention sees them
   * spread to the padded layout, everything else works on the packed rows only.
   *
   * @param ps the parameter store
   * @param x the packed hidden states {@code [tokens, hidden]}
   * @param maskBias the additive mask {@code [batch, 1, 1, seq]}
   * @param packing where the packed rows sit in the padded batch
   * @return the new packed hidden states
   */
  NDArray forwardPacked(ParameterStore ps, NDArray x, NDArray maskBias, TokenPacking packing) {
    NDArray a = attention.forwardPacked(ps, x, maskBias, packing);
    return feedForward(ps, attentionNorm.forwardResidual(ps, a, x, false), false);
  }

  private NDArray feedForward(ParameterStore ps, NDArray h, boolean training) {
    NDArray hq = activations.apply(h);
    NDArray f;
    if (training) {
      f = Activation.gelu(intermediate.forward(ps, new NDList(hq), true).singletonOrThrow());
    } else {
      // the same Linear + GELU, with the GELU in the linear kernel where the engine has one
      f =
          MxFusedOps.linearGelu(
              hq,
              ps.getValue(intermediate.getParameters().get("weight"), hq.getDevice(), false),
              ps.getValue(intermediate.getParameters().get("bias"), hq.getDevice(), false));
    }
    NDArray o = output.forward(ps, new NDList(activations.apply(f)), training).singletonOrThrow();
    return outputNorm.forwardResidual(ps, o, h, training);
  }

  /** {@inheritDoc} */
  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    return new Shape[] {inputShapes[0]};
  }
}

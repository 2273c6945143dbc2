package io.djlmx.zoo.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import io.djlmx.engine.MxFusedOps;

/** Layer normalization over the last axis with a fixed width, its weights set by the importer. */
public final class BertLayerNorm extends AbstractBlock {

  private final Shape normalizedShape;
  private final float eps;
  private final Parameter gamma;
  private final Parameter beta;

  /**
   * Creates a layer normalization.
   *
   * @param width the size of the last axis
   * @param eps the epsilon added to the variance
   */
  public BertLayerNorm(int width, float eps) {
    this.normalizedShape = new Shape(width);
    this.eps = eps;
    gamma =
        addParameter(Parameter.builder().setName("weight").setType(Parameter.Type.GAMMA).build());
    beta = addParameter(Parameter.builder().setName("bias").setType(Parameter.Type.BETA).build());
  }

  /** {@inheritDoc} */
  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    NDArray x = inputs.singletonOrThrow();
    return LayerNorm.layerNorm(
        x,
        normalizedShape,
        ps.getValue(gamma, x.getDevice(), training),
        ps.getValue(beta, x.getDevice(), training),
        eps);
  }

  /**
   * Returns the normalized {@code x + residual} (a post-norm layer's residual add and norm), fused
   * into one pass by the MX engine on CPU arrays ({@link MxFusedOps#addLayerNorm}); the same as
   * {@code forward(x.addi(residual))} on any engine. {@code x} is consumed (overwritten).
   *
   * @param ps the parameter store
   * @param x the sublayer output {@code [..., width]}
   * @param residual the sublayer input, the shape of {@code x}
   * @param training whether training
   * @return the normalized sum
   */
  public NDArray forwardResidual(ParameterStore ps, NDArray x, NDArray residual, boolean training) {
    if (training) {
      return forward(ps, new NDList(x.addi(residual)), true).singletonOrThrow();
    }
    return MxFusedOps.addLayerNorm(
        x,
        residual,
        ps.getValue(gamma, x.getDevice(), false),
        ps.getValue(beta, x.getDevice(), false),
        eps);
  }

  /** {@inheritDoc} */
  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    return new Shape[] {inputShapes[0]};
  }

  @Override
  public void prepare(Shape[] inputShapes) {
    gamma.setShape(normalizedShape);
    beta.setShape(normalizedShape);
  }
}

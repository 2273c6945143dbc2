package io.djlmx.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractSymbolBlock;
import ai.djl.nn.ParameterList;
import ai.djl.nn.SymbolBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * A TorchScript module on the MX engine: runs inside libtorch, where {@code linear} cannot be
 * intercepted, so its weights are MX-emulated in place at load (see {@link MxModel}).
 *
 * <p>MX inputs are unwrapped before the module runs and its outputs wrapped on the first input's MX
 * manager.
 */
public final class MxSymbolBlock extends AbstractSymbolBlock {

  private final SymbolBlock pytorch;

  /**
   * Wraps a PyTorch symbol block.
   *
   * @param pytorch the PyTorch block
   */
  public MxSymbolBlock(SymbolBlock pytorch) {
    this.pytorch = pytorch;
  }

  /**
   * Returns the PyTorch block this block runs.
   *
   * @return the PyTorch block
   */
  public SymbolBlock getPyTorchBlock() {
    return pytorch;
  }

  /** {@inheritDoc} */
  @Override
  protected NDList forwardInternal(
      ParameterStore parameterStore,
      NDList inputs,
      boolean training,
      PairList<String, Object> params) {
    NDList out = pytorch.forward(parameterStore, MxNDArray.unwrap(inputs), training, params);
    for (NDArray a : inputs) {
      if (a instanceof MxNDArray mx) {
        return mx.wrap(out);
      }
    }
    return out;
  }

  /** {@inheritDoc} */
  @Override
  public ParameterList getDirectParameters() {
    return pytorch.getDirectParameters();
  }

  /** {@inheritDoc} */
  @Override
  public PairList<String, Shape> describeInput() {
    return pytorch.describeInput();
  }

  /** {@inheritDoc} */
  @Override
  public PairList<String, Shape> describeOutput() {
    return pytorch.describeOutput();
  }

  /** {@inheritDoc} */
  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    return pytorch.getOutputShapes(inputShapes);
  }

  /** {@inheritDoc} */
  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes, DataType[] dataTypes) {
    return pytorch.getOutputShapes(inputShapes, dataTypes);
  }
}

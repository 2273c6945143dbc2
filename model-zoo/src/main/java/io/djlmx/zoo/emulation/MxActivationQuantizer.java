package io.djlmx.zoo.emulation;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.djlmx.format.MxFormat;
import io.djlmx.zoo.bert.ActivationQuantizer;

/**
 * Rounds activations to an MX format in blocks of 32 along the last axis (FLOOR scale, elements to
 * nearest-even, saturating) with array ops, returning the decoded FP32 values: what a weight +
 * activation MX kernel computes with. Used where the engine's {@code linear} does not quantize
 * activations itself (PyTorch), e.g. for accuracy measurement.
 */
public final class MxActivationQuantizer implements ActivationQuantizer {

  private final MxFormat format;

  /**
   * Creates a quantizer.
   *
   * @param format the activation format
   */
  public MxActivationQuantizer(MxFormat format) {
    this.format = format;
  }

  /**
   * Returns the activation format.
   *
   * @return the format
   */
  public MxFormat getFormat() {
    return format;
  }

  /** {@inheritDoc} */
  @Override
  public NDArray apply(NDArray x) {
    Shape shape = x.getShape();
    long k = shape.get(shape.dimension() - 1);
    if (k % MxFormat.DEFAULT_BLOCK_SIZE != 0) {
      throw new IllegalArgumentException(
          "Activation width " + k + " is not a multiple of the MX block size 32");
    }
    NDArray blocks = x.reshape(-1, k / MxFormat.DEFAULT_BLOCK_SIZE, MxFormat.DEFAULT_BLOCK_SIZE);
    NDArray maxAbs = blocks.abs().max(new int[] {2}, true);
    NDArray exp = floorLog2(maxAbs).sub(format.emaxElem()).clip(-127, 127);
    NDArray scale = pow2(exp);
    NDArray v = blocks.div(scale);
    NDArray q;
    if (format == MxFormat.MXINT8) {
      q = v.mul(64f).round().clip(-127, 127).div(64f);
    } else {
      int mantissaBits = format.mantissaBits();
      int emin = 1 - format.bias();
      NDArray a = v.abs();
      NDArray e = floorLog2(a).maximum(emin);
      NDArray quantum = pow2(e.sub(mantissaBits));
      q = a.div(quantum).round().mul(quantum).minimum(format.maxNormal()).mul(v.sign());
    }
    return q.mul(scale).reshape(shape);
  }

  /** floor(log2(a)) exactly: log2 in FP32 can round up just below a power of two. */
  private static NDArray floorLog2(NDArray a) {
    NDArray e = a.log2().floor().maximum(-160f);
    return e.sub(pow2(e).gt(a).toType(DataType.FLOAT32, false));
  }

  private static NDArray pow2(NDArray e) {
    return e.getManager().full(e.getShape(), 2f).pow(e);
  }
}

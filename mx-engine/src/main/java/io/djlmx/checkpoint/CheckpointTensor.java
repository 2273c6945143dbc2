package io.djlmx.checkpoint;

import io.djlmx.format.MxTensor;
import java.util.Arrays;

/**
 * One named tensor of a {@link ModelCheckpoint}: either FP32 values or a packed {@link MxTensor}.
 *
 * @param name the parameter name, as the model names it
 * @param shape the logical shape
 * @param fp32 the FP32 values (row-major), or null for an MX tensor
 * @param mx the packed tensor, or null for an FP32 tensor; owned by the checkpoint
 */
public record CheckpointTensor(String name, long[] shape, float[] fp32, MxTensor mx) {

  /** Checks that exactly one of the two forms is given and that it matches the shape. */
  public CheckpointTensor {
    if ((fp32 == null) == (mx == null)) {
      throw new IllegalArgumentException("tensor " + name + " needs FP32 values or an MX tensor");
    }
    long n = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException(
            "tensor " + name + " has a negative dimension: " + Arrays.toString(shape));
      }
      n = Math.multiplyExact(n, d);
    }
    if (fp32 != null && fp32.length != n) {
      throw new IllegalArgumentException(
          "tensor " + name + " has " + fp32.length + " values for shape " + Arrays.toString(shape));
    }
    if (mx != null && !Arrays.equals(mx.shape(), shape)) {
      throw new IllegalArgumentException(
          "tensor "
              + name
              + ": MX shape "
              + Arrays.toString(mx.shape())
              + " differs from "
              + Arrays.toString(shape));
    }
  }

  /**
   * Returns whether the tensor is stored in an MX format.
   *
   * @return true for an MX tensor
   */
  public boolean isMx() {
    return mx != null;
  }

  /**
   * Returns the number of elements.
   *
   * @return the product of the shape
   */
  public long elementCount() {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  /**
   * Returns the bytes the tensor takes in memory: packed codes and scales, or 4 per FP32 value.
   *
   * @return the size in bytes
   */
  public long byteSize() {
    return mx != null ? mx.byteSize() : 4L * fp32.length;
  }

  /**
   * Returns the values as FP32: the stored values, or the MX tensor decoded (exactly the values the
   * MX kernels compute with).
   *
   * @return a new or the stored array; do not modify it
   */
  public float[] values() {
    return mx != null ? mx.dequantize() : fp32;
  }

  /** {@inheritDoc} */
  @Override
  public boolean equals(Object o) {
    return this == o;
  }

  /** {@inheritDoc} */
  @Override
  public int hashCode() {
    return System.identityHashCode(this);
  }

  /** {@inheritDoc} */
  @Override
  public String toString() {
    return name + " " + Arrays.toString(shape) + " " + (mx != null ? mx.format().name() : "FP32");
  }
}

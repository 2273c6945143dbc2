package io.djlmx.zoo.onnx;

import java.util.Arrays;

/**
 * An FP32 tensor with a name, row-major, as read from a model file.
 *
 * @param name the parameter name
 * @param shape the shape
 * @param data the values, row-major, {@code product(shape)} of them
 */
public record NamedTensor(String name, long[] shape, float[] data) {

  /**
   * Creates a tensor, checking that the data length matches the shape.
   *
   * @param name the parameter name
   * @param shape the shape
   * @param data the values
   */
  public NamedTensor {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    if (n != data.length) {
      throw new IllegalArgumentException(
          "Tensor "
              + name
              + ": shape "
              + Arrays.toString(shape)
              + " needs "
              + n
              + " values, got "
              + data.length);
    }
  }

  /**
   * Returns a 2-D tensor's transpose under a new name: {@code [in, out]} becomes {@code [out, in]}.
   *
   * @param newName the name of the result
   * @return the transposed tensor
   */
  public NamedTensor transpose2d(String newName) {
    if (shape.length != 2) {
      throw new IllegalArgumentException(
          "Tensor " + name + " is not 2-D: shape " + Arrays.toString(shape));
    }
    int rows = (int) shape[0];
    int cols = (int) shape[1];
    float[] t = new float[data.length];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        t[c * rows + r] = data[r * cols + c];
      }
    }
    return new NamedTensor(newName, new long[] {cols, rows}, t);
  }

  /**
   * Returns this tensor under a new name.
   *
   * @param newName the new name
   * @return a tensor sharing this one's data
   */
  public NamedTensor rename(String newName) {
    return new NamedTensor(newName, shape, data);
  }
}

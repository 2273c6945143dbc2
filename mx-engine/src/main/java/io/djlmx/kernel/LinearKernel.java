package io.djlmx.kernel;

import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.format.ScaleMode;
import java.lang.foreign.MemorySegment;

/** Computes an MX linear layer {@code y = x·Wᵀ + b} with the weight in an MX format. */
public interface LinearKernel {

  /**
   * Packs a weight for this kernel; done once per parameter, not per call.
   *
   * @param weight the weight {@code [n, k]} (rank 2, or any rank whose last axis is {@code k}),
   *     blocked along {@code k}; it is only read, and may be closed afterwards
   * @return the prepared weight, owned by the caller
   * @throws IllegalArgumentException when the weight cannot be used by this kernel
   * @throws IllegalStateException when the weight is closed
   */
  PreparedWeight prepare(MxTensor weight);

  /**
   * Computes {@code y[m, n] = x[m, k]·Wᵀ (+ bias[n])}.
   *
   * <p>{@code x}, {@code bias} and {@code y} are FP32, row-major, in native byte order (they may be
   * PyTorch's memory). With {@code activation == null} the weight alone is quantized (weight-only
   * mode); otherwise each row of {@code x} is quantized per block of 32 along {@code k} in {@code
   * activation} with {@code activationScale} and the product is the spec's block dot product,
   * {@code X(A)·X(B)·Σ P_i(A)·P_i(B)}, accumulated in FP32.
   *
   * @param x the input, {@code m·k} floats
   * @param m the number of input rows, {@code >= 1}
   * @param w the prepared weight {@code [n, k]}
   * @param bias the bias, {@code n} floats, or {@code null}
   * @param y the output, {@code m·n} floats; must not overlap {@code x} or {@code bias}
   * @param activation the activation format, or {@code null} for weight-only
   * @param activationScale the activation scale rule; {@code null} means {@link ScaleMode#FLOOR}
   * @throws IllegalArgumentException when a size does not match, naming the parameter, expected and
   *     actual size, or when {@code w} is not from this kernel
   * @throws IllegalStateException when {@code w} is closed
   */
  void linear(
      MemorySegment x,
      long m,
      PreparedWeight w,
      MemorySegment bias,
      MemorySegment y,
      MxFormat activation,
      ScaleMode activationScale);
}

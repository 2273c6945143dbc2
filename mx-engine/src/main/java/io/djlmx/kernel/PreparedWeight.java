package io.djlmx.kernel;

import io.djlmx.format.MxFormat;
import java.lang.foreign.MemorySegment;

/**
 * An MX weight matrix {@code [rows, cols]} held in the layout a {@link LinearKernel} reads fastest.
 *
 * <p>It owns its memory independently of the {@link io.djlmx.format.MxTensor} it was prepared from;
 * close it to free that memory. Using it after {@link #close()} throws {@link
 * IllegalStateException}.
 */
public interface PreparedWeight extends AutoCloseable {

  /**
   * Returns the element format of the weight.
   *
   * @return the format
   */
  MxFormat format();

  /**
   * Returns the number of weight rows: the output features {@code n}.
   *
   * @return the rows
   */
  long rows();

  /**
   * Returns the number of weight columns: the input features {@code k}, the reduction axis.
   *
   * @return the columns
   */
  long cols();

  /**
   * Returns the bytes of memory this weight holds (codes, scales, padding and bookkeeping).
   *
   * @return the size in bytes
   */
  long byteSize();

  /**
   * Returns whether {@link #dequantizeInto(MemorySegment)} is supported, so that a caller may drop
   * its FP32 copy of the weight.
   *
   * @return true if the values can be read back
   */
  default boolean canDequantize() {
    return false;
  }

  /**
   * Writes the weight's values, dequantized (exactly the MX values: element code times block
   * scale), as FP32 in native byte order, row-major {@code [rows, cols]}, into host memory.
   *
   * @param f32Out at least {@code rows() * cols() * 4} bytes
   * @throws UnsupportedOperationException if {@link #canDequantize()} is false
   * @throws IllegalArgumentException if {@code f32Out} is too small
   * @throws IllegalStateException if the weight is closed
   */
  default void dequantizeInto(MemorySegment f32Out) {
    throw new UnsupportedOperationException(
        getClass().getSimpleName() + " cannot write its " + format() + " values back to FP32");
  }

  /** Frees the memory; later use throws {@link IllegalStateException}. Closing twice is allowed. */
  @Override
  void close();
}

package io.djlmx.kernel;

import io.djlmx.format.MxFormat;

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

  /** Frees the memory; later use throws {@link IllegalStateException}. Closing twice is allowed. */
  @Override
  void close();
}

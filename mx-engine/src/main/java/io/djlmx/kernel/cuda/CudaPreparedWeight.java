package io.djlmx.kernel.cuda;

import io.djlmx.format.MxFormat;
import io.djlmx.kernel.PreparedWeight;

/** A weight prepared by {@link CudaLinearKernel}: the MX matrix resident in device memory. */
public final class CudaPreparedWeight implements PreparedWeight {

  private final CudaMxMatrix matrix;

  CudaPreparedWeight(CudaMxMatrix matrix) {
    this.matrix = matrix;
  }

  /**
   * Returns the device-resident MX matrix.
   *
   * @return the matrix
   */
  public CudaMxMatrix matrix() {
    return matrix;
  }

  /** {@inheritDoc} */
  @Override
  public MxFormat format() {
    return matrix.format();
  }

  /** {@inheritDoc} */
  @Override
  public long rows() {
    return matrix.rows();
  }

  /** {@inheritDoc} */
  @Override
  public long cols() {
    return matrix.cols();
  }

  /** {@inheritDoc} */
  @Override
  public long byteSize() {
    return matrix.byteSize();
  }

  /** {@inheritDoc} */
  @Override
  public void close() {
    matrix.close();
  }
}

package io.djlmx.kernel.cuda;

import jcuda.driver.CUresult;

/**
 * A device allocation that did not fit: says how many bytes were asked for and how many were free.
 */
public final class CudaOutOfMemoryException extends CudaException {

  private static final long serialVersionUID = 1L;

  private final long requestedBytes;
  private final long freeBytes;

  /**
   * Creates the exception.
   *
   * @param requestedBytes bytes asked for
   * @param freeBytes bytes free on the device at the time
   * @param totalBytes bytes the device has
   * @param device the device's name
   */
  public CudaOutOfMemoryException(
      long requestedBytes, long freeBytes, long totalBytes, String device) {
    super(
        "CUDA allocation of "
            + requestedBytes
            + " bytes failed on "
            + device
            + ": "
            + freeBytes
            + " bytes free of "
            + totalBytes,
        CUresult.CUDA_ERROR_OUT_OF_MEMORY,
        true);
    this.requestedBytes = requestedBytes;
    this.freeBytes = freeBytes;
  }

  /**
   * Returns the bytes that were asked for.
   *
   * @return requested bytes
   */
  public long requestedBytes() {
    return requestedBytes;
  }

  /**
   * Returns the bytes that were free when the allocation failed.
   *
   * @return free bytes
   */
  public long freeBytes() {
    return freeBytes;
  }
}

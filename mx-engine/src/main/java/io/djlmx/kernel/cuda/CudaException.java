package io.djlmx.kernel.cuda;

import jcuda.driver.CUresult;

/** A failed CUDA driver call, naming the call and the driver's error. */
public class CudaException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final int errorCode;

  /**
   * Creates an exception for a failed driver call.
   *
   * @param call what was called (and on what)
   * @param errorCode the {@code CUresult} code
   */
  public CudaException(String call, int errorCode) {
    super(call + " failed: " + CUresult.stringFor(errorCode) + " (" + errorCode + ")");
    this.errorCode = errorCode;
  }

  /**
   * Creates an exception with a complete message.
   *
   * @param message the message
   * @param errorCode the {@code CUresult} code
   * @param unused distinguishes this constructor
   */
  protected CudaException(String message, int errorCode, boolean unused) {
    super(message);
    this.errorCode = errorCode;
  }

  /**
   * Returns the driver's error code ({@code CUresult}).
   *
   * @return the error code
   */
  public int errorCode() {
    return errorCode;
  }
}

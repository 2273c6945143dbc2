package io.djlmx.examples.cli;

/** A failure caused by the user's input, reported as its message alone (exit code 1). */
public final class UserException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what is wrong and what to do about it
   */
  public UserException(String message) {
    super(message);
  }

  /**
   * Creates the exception with a cause.
   *
   * @param message what is wrong and what to do about it
   * @param cause the underlying failure
   */
  public UserException(String message, Throwable cause) {
    super(message, cause);
  }
}

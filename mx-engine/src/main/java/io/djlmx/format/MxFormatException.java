package io.djlmx.format;

import java.io.IOException;

/**
 * Thrown when bytes that should hold a serialized {@link MxTensor} do not: wrong magic, unknown
 * version or format, a truncated stream, a checksum mismatch. The message names the field and what
 * was expected versus found.
 */
public class MxFormatException extends IOException {

  private static final long serialVersionUID = 1L;

  /**
   * Creates an exception with a message.
   *
   * @param message what is wrong, naming the field
   */
  public MxFormatException(String message) {
    super(message);
  }
}

package io.djlmx.examples.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;

/** Helpers shared by the commands that read and write raw little-endian FP32 files. */
final class RawFloats {

  private RawFloats() {}

  /**
   * Parses a shape such as {@code 4,4096} or {@code 4x4096}; null means a vector of {@code
   * elements} values.
   */
  static long[] parseShape(String text, long elements, Path file) throws IOException {
    if (text == null) {
      return new long[] {elements};
    }
    String[] parts = text.trim().split("[,x]");
    long[] shape = new long[parts.length];
    long n = 1;
    for (int i = 0; i < parts.length; i++) {
      try {
        shape[i] = Long.parseLong(parts[i].trim());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "--shape '" + text + "': '" + parts[i] + "' is not a dimension (use e.g. 4,4096)");
      }
      if (shape[i] < 0) {
        throw new IllegalArgumentException("--shape '" + text + "': negative dimension");
      }
      n = Math.multiplyExact(n, shape[i]);
    }
    if (n != elements) {
      throw new IllegalArgumentException(
          "--shape "
              + Arrays.toString(shape)
              + " holds "
              + n
              + " values but "
              + file
              + " holds "
              + elements
              + " FP32 values");
    }
    return shape;
  }
}

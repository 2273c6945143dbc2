package io.djlmx.examples.cli;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * Copies what a benchmark prints to {@code System.out} (it still reaches the terminal) so the
 * printed table can be charted afterwards.
 */
final class TableCapture implements AutoCloseable {

  private final PrintStream original = System.out;
  private final ByteArrayOutputStream copy = new ByteArrayOutputStream();

  /** Starts copying {@code System.out}. */
  TableCapture() {
    OutputStream tee =
        new OutputStream() {
          @Override
          public void write(int b) {
            original.write(b);
            copy.write(b);
          }

          @Override
          public void write(byte[] b, int off, int len) {
            original.write(b, off, len);
            copy.write(b, off, len);
          }

          @Override
          public void flush() {
            original.flush();
          }
        };
    System.setOut(new PrintStream(tee, true, StandardCharsets.UTF_8));
  }

  /**
   * Returns what was printed so far.
   *
   * @return the text
   */
  String text() {
    System.out.flush();
    return copy.toString(StandardCharsets.UTF_8);
  }

  /** Restores {@code System.out}. */
  @Override
  public void close() {
    System.out.flush();
    System.setOut(original);
  }
}

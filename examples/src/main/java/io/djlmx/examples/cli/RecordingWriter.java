package io.djlmx.examples.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;

/** The command line's output writer: prints as usual and keeps a copy for charting. */
final class RecordingWriter extends PrintWriter {

  private final StringWriter copy = new StringWriter();

  RecordingWriter(PrintWriter target) {
    super(new Tee(target), true);
  }

  /**
   * Returns everything printed so far.
   *
   * @return the text
   */
  String text() {
    flush();
    Tee tee = (Tee) out;
    return tee.copy.toString();
  }

  private static final class Tee extends Writer {
    private final PrintWriter target;
    private final StringWriter copy = new StringWriter();

    Tee(PrintWriter target) {
      this.target = target;
    }

    @Override
    public void write(char[] buf, int off, int len) {
      target.write(buf, off, len);
      copy.write(buf, off, len);
    }

    @Override
    public void flush() {
      target.flush();
    }

    @Override
    public void close() {
      target.flush();
    }
  }
}

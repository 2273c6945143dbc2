package io.djlmx.format;

import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;

/** Reads a file of MX reference vectors, one {@link ReferenceVector} per line, gzip or plain. */
public final class ReferenceVectorFile {

  private ReferenceVectorFile() {}

  /**
   * Reads every vector of a file; a gzip file is recognised by its magic bytes, not its name. Blank
   * lines are skipped.
   *
   * @param file the file
   * @return the vectors in file order
   * @throws IOException when the file cannot be read
   * @throws IllegalArgumentException naming the file and line when a line is malformed
   */
  public static List<ReferenceVector> read(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      return read(in, file.toString());
    }
  }

  /**
   * Reads every vector of a stream, gzip or plain.
   *
   * @param in the stream, not closed here
   * @param name what to call the stream in messages
   * @return the vectors in order
   * @throws IOException when the stream cannot be read
   * @throws IllegalArgumentException naming the source and line when a line is malformed
   */
  public static List<ReferenceVector> read(InputStream in, String name) throws IOException {
    BufferedReader reader = openLines(in);
    List<ReferenceVector> out = new ArrayList<>();
    String line;
    long number = 0;
    while ((line = reader.readLine()) != null) {
      number++;
      if (line.isBlank()) {
        continue;
      }
      try {
        out.add(ReferenceVector.parse(line, number));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(name + ": " + e.getMessage(), e);
      }
    }
    return out;
  }

  /**
   * Wraps a stream of reference vectors, gzip or plain (recognised by the gzip magic bytes), as
   * UTF-8 lines, for callers that check line by line.
   *
   * @param in the stream; closing the reader closes it
   * @return a reader of the stream's lines
   * @throws IOException when the stream cannot be read
   */
  public static BufferedReader openLines(InputStream in) throws IOException {
    BufferedInputStream buffered = new BufferedInputStream(in);
    buffered.mark(2);
    int b0 = buffered.read();
    int b1 = buffered.read();
    buffered.reset();
    InputStream body = (b0 == 0x1F && b1 == 0x8B) ? new GZIPInputStream(buffered) : buffered;
    return new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8));
  }
}

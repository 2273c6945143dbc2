package io.djlmx.checkpoint;

import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * File handling shared by the checkpoint formats (this package's model checkpoints and the zoo's
 * encoder checkpoints): atomic writes and reads that survive corrupt length fields.
 */
public final class CheckpointFiles {

  private CheckpointFiles() {}

  /** Writes a checkpoint's bytes to a stream. */
  @FunctionalInterface
  public interface StreamWriter {

    /**
     * Writes the bytes.
     *
     * @param out the stream, not closed by the writer
     * @throws IOException on write failure
     */
    void write(OutputStream out) throws IOException;
  }

  /**
   * Writes a file atomically: to a temporary file in the same folder, then renamed over the target,
   * so that a reader never sees half a checkpoint.
   *
   * @param file the target file
   * @param writer writes the content
   * @throws IOException on write failure (the temporary file is removed)
   */
  public static void writeAtomically(Path file, StreamWriter writer) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
    try {
      try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
        writer.write(os);
      }
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /**
   * Reads an int byte count, then that many bytes.
   *
   * @param is the stream
   * @param source the file, for messages
   * @param name the tensor the bytes belong to, for messages
   * @return the bytes
   * @throws IOException on a negative or absurd count ("Corrupt MX checkpoint ...") or end of data
   */
  public static byte[] readBytes(DataInputStream is, String source, String name)
      throws IOException {
    return readBytes(is, source, name, 0);
  }

  /**
   * Like {@link #readBytes(DataInputStream, String, String)}, with a size bound as for {@link
   * #readBounded(DataInputStream, int, long)}.
   *
   * @param is the stream
   * @param source the file, for messages
   * @param name the tensor the bytes belong to, for messages
   * @param sizeBound bytes known to be available at most (0 when unknown)
   * @return the bytes
   * @throws IOException on a negative or absurd count ("Corrupt MX checkpoint ...") or end of data
   */
  public static byte[] readBytes(DataInputStream is, String source, String name, long sizeBound)
      throws IOException {
    int len = is.readInt();
    if (len < 0 || len > Integer.MAX_VALUE - 16) {
      throw new IOException(
          "Corrupt MX checkpoint " + source + ": byte count " + len + " of " + name);
    }
    return readBounded(is, len, sizeBound);
  }

  /**
   * Reads exactly {@code len} bytes, growing the buffer only as bytes arrive: a corrupt length (a
   * checksum at the end of the file is verified only after reading) then fails as truncated instead
   * of first allocating up to 2 GB.
   *
   * @param is the stream
   * @param len the byte count
   * @return the bytes
   * @throws EOFException when the data ends first
   * @throws IOException on read failure
   */
  public static byte[] readBounded(DataInputStream is, int len) throws IOException {
    return readBounded(is, len, 0);
  }

  /**
   * Like {@link #readBounded(DataInputStream, int)}, but allocates the final array at once when
   * {@code len} fits in {@code sizeBound}, a bound the caller already knows holds (the file's
   * size).
   *
   * @param is the stream
   * @param len the byte count
   * @param sizeBound bytes known to be available at most (0 when unknown)
   * @return the bytes
   * @throws EOFException when the data ends first
   * @throws IOException on read failure
   */
  public static byte[] readBounded(DataInputStream is, int len, long sizeBound) throws IOException {
    if (len <= Math.max(1 << 20, sizeBound)) {
      byte[] b = new byte[len];
      is.readFully(b);
      return b;
    }
    ByteArrayOutputStream bos = new ByteArrayOutputStream(1 << 20);
    byte[] buf = new byte[1 << 16];
    int left = len;
    while (left > 0) {
      int got = is.read(buf, 0, Math.min(buf.length, left));
      if (got < 0) {
        throw new EOFException("expected " + len + " bytes, got " + (len - left));
      }
      bos.write(buf, 0, got);
      left -= got;
    }
    return bos.toByteArray();
  }
}

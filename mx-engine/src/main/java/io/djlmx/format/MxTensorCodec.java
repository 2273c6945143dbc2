package io.djlmx.format;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.zip.CRC32C;

/**
 * The byte serialization of an {@link MxTensor}, version 1 (documented in {@code docs/format.md}).
 * All integers are little-endian.
 *
 * <pre>
 * offset  size    field
 * 0       4       magic "MXT\0" (4D 58 54 00)
 * 4       2       version (1)
 * 6       1       format id: 1 E4M3, 2 E5M2, 3 E3M2, 4 E2M3, 5 E2M1, 6 INT8
 * 7       1       scale mode id: 0 FLOOR, 1 RCEIL
 * 8       4       block size (>= 1)
 * 12      4       rank (1..32)
 * 16      8*rank  dimensions (each >= 0)
 * ..      8       code byte count (rows * codeBytesPerRow, checked)
 * ..      8       scale byte count (rows * blocksPerRow, checked)
 * ..      4       CRC32C of the header bytes above
 * ..      n       codes (canonical layout)
 * ..      m       scales (E8M0 bytes)
 * ..      4       CRC32C of codes then scales
 * </pre>
 */
final class MxTensorCodec {

  static final byte[] MAGIC = {'M', 'X', 'T', 0};
  static final int VERSION = 1;
  static final int MAX_RANK = 32;
  private static final int CHUNK = 1 << 16;

  /** Payloads above this many bytes are staged on the heap before the tensor is allocated. */
  static final long STAGE_ABOVE = 16L << 20;

  private MxTensorCodec() {}

  static int formatId(MxFormat f) {
    return switch (f) {
      case MXFP8_E4M3 -> 1;
      case MXFP8_E5M2 -> 2;
      case MXFP6_E3M2 -> 3;
      case MXFP6_E2M3 -> 4;
      case MXFP4_E2M1 -> 5;
      case MXINT8 -> 6;
    };
  }

  static MxFormat formatOf(int id) throws MxFormatException {
    for (MxFormat f : MxFormat.values()) {
      if (formatId(f) == id) {
        return f;
      }
    }
    throw new MxFormatException("MX tensor field 'format': expected an id in 1..6, got " + id);
  }

  static void write(MxTensor t, OutputStream out) throws IOException {
    long[] shape = t.shape();
    ByteBuffer h = ByteBuffer.allocate(16 + 8 * shape.length + 16).order(ByteOrder.LITTLE_ENDIAN);
    h.put(MAGIC);
    h.putShort((short) VERSION);
    h.put((byte) formatId(t.format()));
    h.put((byte) t.scaleMode().ordinal());
    h.putInt(t.blockSize());
    h.putInt(shape.length);
    for (long d : shape) {
      h.putLong(d);
    }
    MemorySegment codes = t.codes();
    MemorySegment scales = t.scales();
    h.putLong(codes.byteSize());
    h.putLong(scales.byteSize());
    byte[] header = h.array();
    CRC32C crc = new CRC32C();
    crc.update(header);
    out.write(header);
    out.write(le32((int) crc.getValue()));
    crc.reset();
    byte[] buf = new byte[CHUNK];
    for (MemorySegment seg : new MemorySegment[] {codes, scales}) {
      for (long off = 0; off < seg.byteSize(); off += CHUNK) {
        int n = (int) Math.min(CHUNK, seg.byteSize() - off);
        MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, off, buf, 0, n);
        crc.update(buf, 0, n);
        out.write(buf, 0, n);
      }
    }
    out.write(le32((int) crc.getValue()));
  }

  static MxTensor read(InputStream in) throws IOException {
    DataInputStream din = new DataInputStream(in);
    CRC32C crc = new CRC32C();
    byte[] fixed = readFully(din, 16, "header", crc);
    ByteBuffer h = ByteBuffer.wrap(fixed).order(ByteOrder.LITTLE_ENDIAN);
    byte[] magic = new byte[4];
    h.get(magic);
    if (!Arrays.equals(magic, MAGIC)) {
      throw new MxFormatException(
          "Not a serialized MX tensor: field 'magic' expected "
              + HexFormat.ofDelimiter(" ").formatHex(MAGIC)
              + ", got "
              + HexFormat.ofDelimiter(" ").formatHex(magic));
    }
    int version = h.getShort() & 0xFFFF;
    if (version != VERSION) {
      throw new MxFormatException(
          "MX tensor field 'version': expected " + VERSION + ", got " + version);
    }
    int formatId = h.get() & 0xFF;
    int modeId = h.get() & 0xFF;
    int blockSize = h.getInt();
    int rank = h.getInt();
    if (rank < 1 || rank > MAX_RANK) {
      throw new MxFormatException(
          "MX tensor field 'rank': expected 1.."
              + MAX_RANK
              + ", got "
              + Integer.toUnsignedString(rank));
    }
    ByteBuffer rest =
        ByteBuffer.wrap(readFully(din, 8 * rank + 16, "header", crc))
            .order(ByteOrder.LITTLE_ENDIAN);
    long[] shape = new long[rank];
    for (int i = 0; i < rank; i++) {
      shape[i] = rest.getLong();
    }
    long codeBytes = rest.getLong();
    long scaleBytes = rest.getLong();
    int headerCrc =
        ByteBuffer.wrap(readFully(din, 4, "header checksum", null))
            .order(ByteOrder.LITTLE_ENDIAN)
            .getInt();
    if (headerCrc != (int) crc.getValue()) {
      throw new MxFormatException(
          String.format(
              "MX tensor field 'header checksum': expected CRC32C %08x of the header, got %08x"
                  + " (header is corrupt)",
              (int) crc.getValue(), headerCrc));
    }
    // The header is intact: now its values may be trusted enough to check them one by one.
    MxFormat format = formatOf(formatId);
    if (modeId >= ScaleMode.values().length) {
      throw new MxFormatException(
          "MX tensor field 'scale mode': expected 0 (FLOOR) or 1 (RCEIL), got " + modeId);
    }
    ScaleMode mode = ScaleMode.values()[modeId];
    if (blockSize < 1) {
      throw new MxFormatException("MX tensor field 'block size': expected >= 1, got " + blockSize);
    }
    for (int i = 0; i < rank; i++) {
      if (shape[i] < 0) {
        throw new MxFormatException(
            "MX tensor field 'shape': dimension "
                + i
                + " is negative in "
                + Arrays.toString(shape));
      }
    }
    // Check the sizes the shape implies against the header before allocating anything, so a
    // corrupt or hostile header cannot make the reader reserve memory the stream does not hold.
    long[] counts = expectedCounts(shape, format, blockSize);
    checkCount("code byte count", counts[0], codeBytes, shape);
    checkCount("scale byte count", counts[1], scaleBytes, shape);
    crc.reset();
    java.util.List<byte[]> stagedCodes = null;
    java.util.List<byte[]> stagedScales = null;
    if (codeBytes + scaleBytes > STAGE_ABOVE) {
      // Large payload: read it to the heap in chunks first, so that memory grows only with bytes
      // that actually arrive (a truncated stream fails before the tensor is allocated).
      stagedCodes = readStaged(din, codeBytes, "codes");
      stagedScales = readStaged(din, scaleBytes, "scales");
    }
    MxTensor t;
    try {
      t = MxTensor.allocate(shape, format, mode, blockSize);
    } catch (IllegalArgumentException | ArithmeticException e) {
      throw new MxFormatException(
          "MX tensor field 'shape' " + Arrays.toString(shape) + " is unusable: " + e.getMessage());
    }
    try {
      if (stagedCodes == null) {
        readInto(din, t.codes(), "codes", crc);
        readInto(din, t.scales(), "scales", crc);
      } else {
        copyStaged(stagedCodes, t.codes(), crc);
        copyStaged(stagedScales, t.scales(), crc);
      }
      int payloadCrc =
          ByteBuffer.wrap(readFully(din, 4, "payload checksum", null))
              .order(ByteOrder.LITTLE_ENDIAN)
              .getInt();
      if (payloadCrc != (int) crc.getValue()) {
        throw new MxFormatException(
            String.format(
                "MX tensor field 'payload checksum': expected CRC32C %08x of codes and scales, got"
                    + " %08x (data is corrupt)",
                (int) crc.getValue(), payloadCrc));
      }
      return t;
    } catch (IOException | RuntimeException e) {
      t.close();
      throw e;
    }
  }

  /**
   * Returns the code and scale byte counts of a tensor of this shape, format and block size, or
   * throws naming the field when the shape cannot be a tensor.
   */
  private static long[] expectedCounts(long[] shape, MxFormat format, int blockSize)
      throws MxFormatException {
    try {
      long rows = 1;
      for (int i = 0; i < shape.length - 1; i++) {
        rows = Math.multiplyExact(rows, shape[i]);
      }
      long cols = shape[shape.length - 1];
      long blocksPerRow = (cols + blockSize - 1) / blockSize;
      long padded = Math.multiplyExact(blocksPerRow, (long) blockSize);
      if (padded > Integer.MAX_VALUE - 64) {
        throw new MxFormatException(
            "MX tensor field 'shape' "
                + Arrays.toString(shape)
                + " is unusable: a row of "
                + padded
                + " padded elements is too large");
      }
      return new long[] {
        Math.multiplyExact(rows, format.packedBytes(padded)), Math.multiplyExact(rows, blocksPerRow)
      };
    } catch (ArithmeticException e) {
      throw new MxFormatException(
          "MX tensor field 'shape' " + Arrays.toString(shape) + " is unusable: size overflows");
    }
  }

  /** Reads {@code n} bytes into 1 MiB heap chunks, failing as truncated when they do not come. */
  private static java.util.List<byte[]> readStaged(DataInputStream in, long n, String field)
      throws IOException {
    java.util.List<byte[]> chunks = new java.util.ArrayList<>();
    long done = 0;
    while (done < n) {
      int len = (int) Math.min(1 << 20, n - done);
      byte[] chunk = new byte[len];
      int got = in.readNBytes(chunk, 0, len);
      if (got != len) {
        throw new MxFormatException(
            "MX tensor is truncated in field '"
                + field
                + "': expected "
                + n
                + " bytes, got "
                + (done + got));
      }
      chunks.add(chunk);
      done += len;
    }
    return chunks;
  }

  private static void copyStaged(java.util.List<byte[]> chunks, MemorySegment seg, CRC32C crc) {
    long off = 0;
    for (byte[] c : chunks) {
      crc.update(c);
      MemorySegment.copy(c, 0, seg, ValueLayout.JAVA_BYTE, off, c.length);
      off += c.length;
    }
  }

  private static void checkCount(String field, long expected, long got, long[] shape)
      throws MxFormatException {
    if (expected != got) {
      throw new MxFormatException(
          "MX tensor field '"
              + field
              + "': expected "
              + expected
              + " for shape "
              + Arrays.toString(shape)
              + ", got "
              + got);
    }
  }

  private static byte[] readFully(DataInputStream in, int n, String field, CRC32C crc)
      throws IOException {
    byte[] b = new byte[n];
    int got = in.readNBytes(b, 0, n);
    if (got != n) {
      throw new MxFormatException(
          "MX tensor is truncated in field '"
              + field
              + "': expected "
              + n
              + " more bytes, got "
              + got);
    }
    if (crc != null) {
      crc.update(b);
    }
    return b;
  }

  private static void readInto(DataInputStream in, MemorySegment seg, String field, CRC32C crc)
      throws IOException {
    byte[] buf = new byte[CHUNK];
    for (long off = 0; off < seg.byteSize(); off += CHUNK) {
      int n = (int) Math.min(CHUNK, seg.byteSize() - off);
      int got = in.readNBytes(buf, 0, n);
      if (got != n) {
        throw new MxFormatException(
            "MX tensor is truncated in field '"
                + field
                + "': expected "
                + seg.byteSize()
                + " bytes, got "
                + (off + got));
      }
      crc.update(buf, 0, n);
      MemorySegment.copy(buf, 0, seg, ValueLayout.JAVA_BYTE, off, n);
    }
  }

  private static byte[] le32(int v) {
    return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
  }
}

package io.djlmx.checkpoint;

import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.format.ScaleMode;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UTFDataFormatException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.CheckedInputStream;
import java.util.zip.CheckedOutputStream;

/**
 * An MX checkpoint of a whole model ({@code .mxckpt}): named tensors, each FP32 or packed in an MX
 * format, with text metadata saying where they came from and how to rebuild the model.
 *
 * <p>Layout (big-endian, as {@link DataOutputStream} writes it):
 *
 * <pre>
 * magic      8 bytes  "DJLMXCK2"
 * metadata   int count, then count times: key UTF, value UTF
 * tensors    int count, then count times:
 *              name UTF, kind byte (0 = FP32, 1 = MX), rank int, shape long[rank],
 *              FP32: product(shape) floats, little-endian
 *              MX:   format UTF, scale rule UTF, block size int,
 *                    int + E8M0 scales [rows, blocksPerRow], int + packed codes
 *                    (the canonical layout of {@link MxTensor}, blocked along the last axis)
 * checksum   long: CRC-32 of every byte before it
 * </pre>
 *
 * <p>The MX tensors live off-heap: {@link #close()} frees them.
 */
public final class ModelCheckpoint implements AutoCloseable {

  /**
   * Metadata key: what the checkpoint was converted from, {@link #SOURCE_PARAMS} or {@link
   * #SOURCE_TORCHSCRIPT}.
   */
  public static final String SOURCE = "source";

  /** Source value: a DJL block model ({@code .params}). */
  public static final String SOURCE_PARAMS = "djl-params";

  /** Source value: a TorchScript module ({@code .pt}). */
  public static final String SOURCE_TORCHSCRIPT = "torchscript";

  /** Metadata key: the {@code ai.djl.nn.BlockFactory} class that builds the block. */
  public static final String BLOCK_FACTORY = "blockFactory";

  /**
   * Metadata key: the block's input shapes, {@code ;}-separated, dimensions {@code ,}-separated.
   */
  public static final String INPUT_SHAPES = "inputShapes";

  /** Metadata key: the MX format of the packed weights. */
  public static final String WEIGHTS = "weights";

  /** Metadata key: the shared-scale rule of the packed weights ({@code floor} or {@code rceil}). */
  public static final String SCALE = "scale";

  /** Metadata key: the model file the checkpoint was converted from. */
  public static final String CONVERTED_FROM = "convertedFrom";

  /** Prefix of metadata keys holding the block factory's arguments. */
  public static final String ARGUMENT_PREFIX = "argument.";

  private static final byte[] MAGIC = "DJLMXCK2".getBytes(StandardCharsets.US_ASCII);

  /** The zoo's encoder checkpoints before they became model checkpoints. */
  private static final byte[] OLD_MAGIC = "DJLMXCK1".getBytes(StandardCharsets.US_ASCII);

  private static final byte KIND_FP32 = 0;
  private static final byte KIND_MX = 1;
  private static final int MAX_COUNT = 1_000_000;

  private final Map<String, String> metadata;
  private final Map<String, CheckpointTensor> tensors;
  private boolean closed;

  /**
   * Creates a checkpoint; it takes ownership of the MX tensors (closed with it).
   *
   * @param metadata the metadata, in order
   * @param tensors the tensors, in order, names unique
   * @throws IllegalArgumentException on a duplicate tensor name
   */
  public ModelCheckpoint(Map<String, String> metadata, Iterable<CheckpointTensor> tensors) {
    this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    Map<String, CheckpointTensor> map = new LinkedHashMap<>();
    for (CheckpointTensor t : tensors) {
      if (map.put(t.name(), t) != null) {
        throw new IllegalArgumentException("duplicate tensor name " + t.name());
      }
    }
    this.tensors = Collections.unmodifiableMap(map);
  }

  /**
   * Returns the metadata.
   *
   * @return key to value, in file order
   */
  public Map<String, String> metadata() {
    return metadata;
  }

  /**
   * Returns one metadata value.
   *
   * @param key the key
   * @return the value, or null
   */
  public String get(String key) {
    return metadata.get(key);
  }

  /**
   * Returns the tensors by name.
   *
   * @return name to tensor, in file order
   */
  public Map<String, CheckpointTensor> tensors() {
    return tensors;
  }

  /**
   * Returns the MX format of the packed weights, from the metadata.
   *
   * @return the format, or null when the checkpoint holds no MX tensor
   */
  public MxFormat weightFormat() {
    String w = metadata.get(WEIGHTS);
    return w == null || w.equals("FP32") ? null : MxFormat.valueOf(w);
  }

  /**
   * Returns the shared-scale rule of the packed weights, from the metadata.
   *
   * @return the rule (FLOOR when not recorded)
   */
  public ScaleMode scaleMode() {
    String s = metadata.get(SCALE);
    return s == null ? ScaleMode.FLOOR : ScaleMode.parse(s);
  }

  /**
   * Writes the checkpoint atomically (to a temporary file in the same folder, then renamed).
   *
   * @param file the target file
   * @throws IOException on write failure
   */
  public void write(Path file) throws IOException {
    CheckpointFiles.writeAtomically(file, this::write);
  }

  /**
   * Writes the checkpoint to a stream.
   *
   * @param out the stream, not closed here
   * @throws IOException on write failure
   */
  public void write(OutputStream out) throws IOException {
    checkOpen();
    CRC32 crc = new CRC32();
    DataOutputStream os = new DataOutputStream(new CheckedOutputStream(out, crc));
    os.write(MAGIC);
    os.writeInt(metadata.size());
    for (Map.Entry<String, String> e : metadata.entrySet()) {
      os.writeUTF(e.getKey());
      os.writeUTF(e.getValue());
    }
    os.writeInt(tensors.size());
    for (CheckpointTensor t : tensors.values()) {
      os.writeUTF(t.name());
      os.writeByte(t.isMx() ? KIND_MX : KIND_FP32);
      os.writeInt(t.shape().length);
      for (long d : t.shape()) {
        os.writeLong(d);
      }
      if (t.isMx()) {
        MxTensor m = t.mx();
        os.writeUTF(m.format().name());
        os.writeUTF(m.scaleMode().name());
        os.writeInt(m.blockSize());
        writeSegment(os, m.scales());
        writeSegment(os, m.codes());
      } else {
        ByteBuffer bb = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : t.fp32()) {
          if (!bb.hasRemaining()) {
            os.write(bb.array(), 0, bb.position());
            bb.clear();
          }
          bb.putFloat(v);
        }
        os.write(bb.array(), 0, bb.position());
      }
    }
    os.flush();
    new DataOutputStream(out).writeLong(crc.getValue());
    out.flush();
  }

  private static void writeSegment(DataOutputStream os, MemorySegment seg) throws IOException {
    os.writeInt(Math.toIntExact(seg.byteSize()));
    byte[] buf = new byte[1 << 16];
    for (long off = 0; off < seg.byteSize(); off += buf.length) {
      int n = (int) Math.min(buf.length, seg.byteSize() - off);
      MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, off, buf, 0, n);
      os.write(buf, 0, n);
    }
  }

  /**
   * Returns whether {@code file} starts with this format's magic bytes.
   *
   * @param file the file
   * @return true for a model checkpoint
   * @throws IOException when the file cannot be read
   */
  public static boolean isModelCheckpoint(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      return Arrays.equals(in.readNBytes(MAGIC.length), MAGIC);
    }
  }

  /**
   * Reads only the metadata at the head of a checkpoint file (no tensors, no checksum: for telling
   * which checkpoint a file is before reading it whole).
   *
   * @param file the file
   * @return the metadata, or null when the file is not a model checkpoint or its head is unreadable
   * @throws IOException when the file cannot be read
   */
  public static Map<String, String> readMetadata(Path file) throws IOException {
    try (DataInputStream is =
        new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16))) {
      byte[] magic = new byte[MAGIC.length];
      is.readFully(magic);
      if (!Arrays.equals(magic, MAGIC)) {
        return null;
      }
      int count = is.readInt();
      if (count < 0 || count > MAX_COUNT) {
        return null;
      }
      Map<String, String> metadata = new LinkedHashMap<>();
      for (int i = 0; i < count; i++) {
        metadata.put(is.readUTF(), is.readUTF());
      }
      return metadata;
    } catch (EOFException | UTFDataFormatException e) {
      return null;
    }
  }

  /**
   * Reads a checkpoint file, verifying its checksum.
   *
   * @param file the file
   * @return the checkpoint; the caller closes it
   * @throws IOException naming the file when it is missing, truncated, corrupt or not a checkpoint
   */
  public static ModelCheckpoint read(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null, "MX checkpoint not found");
    }
    long size = Files.size(file);
    try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 20)) {
      return read(in, file.toString(), size);
    }
  }

  /**
   * Reads a checkpoint from a stream, verifying its checksum.
   *
   * @param in the stream, not closed here
   * @param source a name for error messages
   * @return the checkpoint; the caller closes it
   * @throws IOException when the data is truncated, corrupt or not a checkpoint
   */
  public static ModelCheckpoint read(InputStream in, String source) throws IOException {
    return read(in, source, 0);
  }

  /**
   * Reads from a stream of a known size: arrays up to that size are read straight into arrays of
   * their final length (a corrupt length beyond it is read in chunks, so it fails at the end of the
   * stream instead of allocating what the file cannot hold).
   */
  private static ModelCheckpoint read(InputStream in, String source, long sizeBound)
      throws IOException {
    CRC32 crc = new CRC32();
    DataInputStream is = new DataInputStream(new CheckedInputStream(in, crc));
    Map<String, CheckpointTensor> read = new LinkedHashMap<>();
    try {
      byte[] magic = new byte[MAGIC.length];
      is.readFully(magic);
      if (Arrays.equals(magic, OLD_MAGIC)) {
        throw new IOException(
            "MX checkpoint "
                + source
                + " is in the format of an older djl-mx (DJLMXCK1): convert it again (the zoo"
                + " does so by itself)");
      }
      if (!Arrays.equals(magic, MAGIC)) {
        throw new IOException(
            "Not an MX model checkpoint (bad magic, expected DJLMXCK2): " + source);
      }
      int metaCount = readCount(is, source, "metadata count");
      Map<String, String> metadata = new LinkedHashMap<>();
      for (int i = 0; i < metaCount; i++) {
        metadata.put(is.readUTF(), is.readUTF());
      }
      int count = readCount(is, source, "tensor count");
      for (int i = 0; i < count; i++) {
        CheckpointTensor t = readTensor(is, source, sizeBound);
        if (read.put(t.name(), t) != null) {
          throw corrupt(source, "tensor " + t.name() + " appears twice");
        }
      }
      long expected = crc.getValue();
      long stored = new DataInputStream(in).readLong();
      if (stored != expected) {
        throw new IOException(
            "MX checkpoint "
                + source
                + " is corrupt: checksum mismatch (stored "
                + Long.toHexString(stored)
                + ", computed "
                + Long.toHexString(expected)
                + ")");
      }
      return new ModelCheckpoint(metadata, read.values());
    } catch (UTFDataFormatException e) {
      closeAll(read);
      throw corrupt(source, "bad text, " + e.getMessage());
    } catch (EOFException e) {
      closeAll(read);
      throw new IOException("MX checkpoint " + source + " is truncated", e);
    } catch (IOException | RuntimeException e) {
      closeAll(read);
      throw e;
    }
  }

  private static CheckpointTensor readTensor(DataInputStream is, String source, long sizeBound)
      throws IOException {
    String name = is.readUTF();
    byte kind = is.readByte();
    int rank = is.readInt();
    if (rank < 0 || rank > 8 || (kind == KIND_MX && rank < 1)) {
      throw corrupt(source, "rank " + rank + " of " + name);
    }
    long[] shape = new long[rank];
    long n = 1;
    for (int d = 0; d < rank; d++) {
      shape[d] = is.readLong();
      if (shape[d] < 0 || (shape[d] > 0 && n > (Integer.MAX_VALUE / 4) / shape[d])) {
        throw corrupt(source, "shape " + Arrays.toString(shape) + " of " + name);
      }
      n *= shape[d];
    }
    if (kind == KIND_FP32) {
      byte[] raw = CheckpointFiles.readBounded(is, (int) n * Float.BYTES, sizeBound);
      float[] data = new float[(int) n];
      ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(data);
      return new CheckpointTensor(name, shape, data, null);
    }
    if (kind != KIND_MX) {
      throw corrupt(source, "tensor " + name + " has kind " + kind);
    }
    MxFormat format;
    ScaleMode scale;
    String f = is.readUTF();
    String s = is.readUTF();
    try {
      format = MxFormat.valueOf(f);
      scale = ScaleMode.valueOf(s);
    } catch (IllegalArgumentException e) {
      throw corrupt(source, "tensor " + name + " names an unknown format or scale " + f + "/" + s);
    }
    int block = is.readInt();
    if (block < 1 || block > 1 << 16) {
      throw corrupt(source, "block size " + block + " of " + name);
    }
    byte[] scales = CheckpointFiles.readBytes(is, source, name, sizeBound);
    byte[] codes = CheckpointFiles.readBytes(is, source, name, sizeBound);
    MxTensor t;
    try {
      t = MxTensor.allocate(shape, format, scale, block);
    } catch (IllegalArgumentException | ArithmeticException e) {
      throw corrupt(source, "tensor " + name + ": " + e.getMessage());
    }
    if (t.scales().byteSize() != scales.length || t.codes().byteSize() != codes.length) {
      t.close();
      throw corrupt(
          source,
          "tensor "
              + name
              + " ("
              + format
              + " "
              + Arrays.toString(shape)
              + ") has "
              + codes.length
              + " code bytes and "
              + scales.length
              + " scales: sizes do not match its shape");
    }
    MemorySegment.copy(MemorySegment.ofArray(scales), 0, t.scales(), 0, scales.length);
    MemorySegment.copy(MemorySegment.ofArray(codes), 0, t.codes(), 0, codes.length);
    return new CheckpointTensor(name, shape, null, t);
  }

  private static int readCount(DataInputStream is, String source, String what) throws IOException {
    int count = is.readInt();
    if (count < 0 || count > MAX_COUNT) {
      throw corrupt(source, what + " " + count);
    }
    return count;
  }

  private static IOException corrupt(String source, String what) {
    return new IOException("Corrupt MX checkpoint " + source + ": " + what);
  }

  private static void closeAll(Map<String, CheckpointTensor> tensors) {
    for (CheckpointTensor t : tensors.values()) {
      if (t.mx() != null) {
        t.mx().close();
      }
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("MX checkpoint is closed");
    }
  }

  /** Frees the MX tensors. */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      closeAll(tensors);
    }
  }
}

package io.djlmx.zoo.checkpoint;

import ai.djl.util.Progress;
import io.djlmx.checkpoint.CheckpointFiles;
import io.djlmx.format.MxFormat;
import io.djlmx.format.ScaleMode;
import io.djlmx.zoo.bert.BertConfig;
import io.djlmx.zoo.bert.BertWeights;
import io.djlmx.zoo.onnx.NamedTensor;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.CheckedInputStream;
import java.util.zip.CheckedOutputStream;

/**
 * A BERT encoder checkpoint with its linear weights in an MX format ({@code .mxckpt}).
 *
 * <p>Layout (big-endian, as {@link DataOutputStream} writes it):
 *
 * <pre>
 * magic      8 bytes  "DJLMXCK1"
 * config     8 ints + 1 float: vocab, hidden, layers, heads, intermediate, maxPositions,
 *            typeVocab, (reserved 0), layerNormEps
 * weights    UTF string: the MX format name of the linear weights, or "FP32"
 * count      int: number of tensors
 * tensors    count times:
 *              name UTF, kind byte (0 = FP32, 1 = MX), rank int, shape long[rank],
 *              FP32: product(shape) floats, little-endian
 *              MX:   format UTF, block size int, scale count int + E8M0 bytes,
 *                    code byte count int + packed codes (layout of {@link MxWeight})
 * checksum   long: CRC-32 of every byte before it
 * </pre>
 *
 * <p>Linear weights ({@code encoder.layer.N.*.weight}) are stored in MX unless the checkpoint is
 * FP32; embeddings, biases and layer norms stay FP32.
 */
public final class MxCheckpoint {

  private static final byte[] MAGIC =
      "DJLMXCK1".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  private static final byte KIND_FP32 = 0;
  private static final byte KIND_MX = 1;

  private final BertConfig config;
  private final MxFormat format;
  private final Map<String, NamedTensor> fp32;
  private final Map<String, MxWeight> mx;

  private MxCheckpoint(
      BertConfig config, MxFormat format, Map<String, NamedTensor> fp32, Map<String, MxWeight> mx) {
    this.config = config;
    this.format = format;
    this.fp32 = fp32;
    this.mx = mx;
  }

  /**
   * Quantizes FP32 weights into a checkpoint with the spec's FLOOR scale rule.
   *
   * @param weights the FP32 weights
   * @param format the format of the linear weights, or null to keep them FP32
   * @param progress reports one step per tensor, or null
   * @return the checkpoint
   */
  public static MxCheckpoint quantize(BertWeights weights, MxFormat format, Progress progress) {
    return quantize(weights, format, ScaleMode.FLOOR, progress);
  }

  /**
   * Quantizes FP32 weights into a checkpoint.
   *
   * @param weights the FP32 weights
   * @param format the format of the linear weights, or null to keep them FP32
   * @param scale the shared-scale rule of the linear weights
   * @param progress reports one step per tensor, or null
   * @return the checkpoint
   */
  public static MxCheckpoint quantize(
      BertWeights weights, MxFormat format, ScaleMode scale, Progress progress) {
    Map<String, NamedTensor> fp32 = new LinkedHashMap<>();
    Map<String, MxWeight> mx = new LinkedHashMap<>();
    if (progress != null) {
      progress.reset(
          "Converting to " + (format == null ? "FP32" : format), weights.tensors().size());
    }
    for (NamedTensor t : weights.tensors().values()) {
      if (format != null && BertWeights.isLinearWeight(t.name())) {
        mx.put(t.name(), MxWeight.quantize(t, format, scale));
      } else {
        fp32.put(t.name(), t);
      }
      if (progress != null) {
        progress.increment(1);
      }
    }
    if (progress != null) {
      progress.end();
    }
    return new MxCheckpoint(weights.config(), format, fp32, mx);
  }

  /**
   * Returns the encoder's shape.
   *
   * @return the configuration
   */
  public BertConfig config() {
    return config;
  }

  /**
   * Returns the format of the linear weights.
   *
   * @return the format, or null for an FP32 checkpoint
   */
  public MxFormat format() {
    return format;
  }

  /**
   * Returns the MX-quantized weights by name.
   *
   * @return the packed linear weights
   */
  public Map<String, MxWeight> mxWeights() {
    return java.util.Collections.unmodifiableMap(mx);
  }

  /**
   * Returns the tensors kept in FP32 (embeddings, biases, norms; every tensor of an FP32
   * checkpoint) by Hugging Face name.
   *
   * @return an unmodifiable map
   */
  public Map<String, NamedTensor> fp32Tensors() {
    return java.util.Collections.unmodifiableMap(fp32);
  }

  /**
   * Returns every weight as FP32, MX weights decoded to the values the MX kernels use.
   *
   * @return the weights
   */
  public BertWeights toBertWeights() {
    Map<String, NamedTensor> all = new LinkedHashMap<>(fp32);
    for (MxWeight w : mx.values()) {
      all.put(w.name(), w.dequantize());
    }
    return new BertWeights(config, all);
  }

  /**
   * Writes the checkpoint atomically (to a temporary file, then renamed).
   *
   * @param file the target file
   * @throws IOException on write failure
   */
  public void write(Path file) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
    try {
      try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
        write(os);
      }
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /**
   * Writes the checkpoint to a stream.
   *
   * @param out the stream, not closed here
   * @throws IOException on write failure
   */
  public void write(OutputStream out) throws IOException {
    CRC32 crc = new CRC32();
    DataOutputStream os = new DataOutputStream(new CheckedOutputStream(out, crc));
    os.write(MAGIC);
    os.writeInt(config.vocabSize());
    os.writeInt(config.hiddenSize());
    os.writeInt(config.numLayers());
    os.writeInt(config.numHeads());
    os.writeInt(config.intermediateSize());
    os.writeInt(config.maxPositions());
    os.writeInt(config.typeVocabSize());
    os.writeInt(0);
    os.writeFloat(config.layerNormEps());
    os.writeUTF(format == null ? "FP32" : format.name());
    os.writeInt(fp32.size() + mx.size());
    for (NamedTensor t : fp32.values()) {
      writeHeader(os, t.name(), KIND_FP32, t.shape());
      ByteBuffer bb =
          ByteBuffer.allocate(t.data().length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
      bb.asFloatBuffer().put(t.data());
      os.write(bb.array());
    }
    for (MxWeight w : mx.values()) {
      writeHeader(os, w.name(), KIND_MX, new long[] {w.rows(), w.cols()});
      os.writeUTF(w.format().name());
      os.writeInt(MxWeight.BLOCK);
      os.writeInt(w.scales().length);
      os.write(w.scales());
      os.writeInt(w.codes().length);
      os.write(w.codes());
    }
    os.flush();
    new DataOutputStream(out).writeLong(crc.getValue());
    out.flush();
  }

  private static void writeHeader(DataOutputStream os, String name, byte kind, long[] shape)
      throws IOException {
    os.writeUTF(name);
    os.writeByte(kind);
    os.writeInt(shape.length);
    for (long d : shape) {
      os.writeLong(d);
    }
  }

  /**
   * Reads a checkpoint file, verifying its checksum.
   *
   * @param file the file
   * @return the checkpoint
   * @throws IOException naming the file when it is missing, truncated, corrupt or not a checkpoint
   */
  public static MxCheckpoint read(Path file) throws IOException {
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
   * @return the checkpoint
   * @throws IOException when the data is truncated, corrupt or not a checkpoint
   */
  public static MxCheckpoint read(InputStream in, String source) throws IOException {
    return read(in, source, 1 << 20);
  }

  /**
   * Reads a checkpoint from a stream of a known size: arrays up to that size are read straight into
   * arrays of their final length (a corrupt length beyond it is read in chunks, so it fails at the
   * end of the stream instead of allocating what the file cannot hold).
   */
  private static MxCheckpoint read(InputStream in, String source, long sizeBound)
      throws IOException {
    CRC32 crc = new CRC32();
    DataInputStream is = new DataInputStream(new CheckedInputStream(in, crc));
    try {
      byte[] magic = new byte[MAGIC.length];
      is.readFully(magic);
      if (!Arrays.equals(magic, MAGIC)) {
        throw new IOException("Not an MX checkpoint (bad magic): " + source);
      }
      int[] c = new int[8];
      for (int i = 0; i < c.length; i++) {
        c[i] = is.readInt();
      }
      float eps = is.readFloat();
      BertConfig config;
      try {
        config = new BertConfig(c[0], c[1], c[2], c[3], c[4], c[5], c[6], eps);
      } catch (IllegalArgumentException e) {
        throw new IOException("Corrupt MX checkpoint " + source + ": " + e.getMessage(), e);
      }
      String fmt = is.readUTF();
      MxFormat format = fmt.equals("FP32") ? null : parseFormat(fmt, source);
      int count = is.readInt();
      if (count < 0 || count > 100_000) {
        throw new IOException("Corrupt MX checkpoint " + source + ": tensor count " + count);
      }
      Map<String, NamedTensor> fp32 = new LinkedHashMap<>();
      Map<String, MxWeight> mx = new LinkedHashMap<>();
      for (int i = 0; i < count; i++) {
        String name = is.readUTF();
        byte kind = is.readByte();
        int rank = is.readInt();
        if (rank < 0 || rank > 8) {
          throw new IOException(
              "Corrupt MX checkpoint " + source + ": rank " + rank + " of " + name);
        }
        long[] shape = new long[rank];
        long n = 1;
        for (int d = 0; d < rank; d++) {
          shape[d] = is.readLong();
          n = shape[d] < 0 ? -1 : multiplyOrMax(n, shape[d]);
          if (n < 0 || n > Integer.MAX_VALUE / 4) {
            throw new IOException(
                "Corrupt MX checkpoint "
                    + source
                    + ": shape "
                    + Arrays.toString(shape)
                    + " of "
                    + name);
          }
        }
        if (kind == KIND_FP32) {
          byte[] raw = CheckpointFiles.readBounded(is, (int) n * Float.BYTES, sizeBound);
          float[] data = new float[(int) n];
          ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(data);
          try {
            fp32.put(name, new NamedTensor(name, shape, data));
          } catch (IllegalArgumentException e) {
            throw new IOException("Corrupt MX checkpoint " + source + ": " + e.getMessage(), e);
          }
        } else if (kind == KIND_MX && rank == 2) {
          MxFormat wf = parseFormat(is.readUTF(), source);
          int block = is.readInt();
          if (block != MxWeight.BLOCK) {
            throw new IOException(
                "MX checkpoint "
                    + source
                    + ": block size "
                    + block
                    + " of "
                    + name
                    + " unsupported");
          }
          byte[] scales = readBytes(is, source, name, sizeBound);
          byte[] codes = readBytes(is, source, name, sizeBound);
          try {
            mx.put(name, new MxWeight(name, wf, (int) shape[0], (int) shape[1], codes, scales));
          } catch (IllegalArgumentException e) {
            throw new IOException("Corrupt MX checkpoint " + source + ": " + e.getMessage(), e);
          }
        } else {
          throw new IOException(
              "Corrupt MX checkpoint " + source + ": tensor " + name + " has kind " + kind);
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
      MxCheckpoint ckpt = new MxCheckpoint(config, format, fp32, mx);
      try {
        ckpt.toBertWeightsShapesCheck();
      } catch (IllegalArgumentException e) {
        throw new IOException("Incomplete MX checkpoint " + source + ": " + e.getMessage(), e);
      }
      return ckpt;
    } catch (java.io.UTFDataFormatException e) {
      throw new IOException("Corrupt MX checkpoint " + source + ": bad name, " + e.getMessage(), e);
    } catch (EOFException e) {
      throw new IOException("MX checkpoint " + source + " is truncated", e);
    }
  }

  private void toBertWeightsShapesCheck() {
    // 5 embedding tensors and 16 per layer: check the count before listing the names, so that a
    // corrupt layer count cannot make the check itself build billions of names.
    long needed = 5 + 16L * config.numLayers();
    if (needed > fp32.size() + mx.size()) {
      throw new IllegalArgumentException(
          "the config needs "
              + needed
              + " tensors for "
              + config.numLayers()
              + " layers, the file holds "
              + (fp32.size() + mx.size()));
    }
    for (Map.Entry<String, long[]> e : BertWeights.expectedShapes(config).entrySet()) {
      String name = e.getKey();
      long[] shape;
      if (fp32.containsKey(name)) {
        shape = fp32.get(name).shape();
      } else if (mx.containsKey(name)) {
        shape = new long[] {mx.get(name).rows(), mx.get(name).cols()};
      } else {
        throw new IllegalArgumentException("parameter '" + name + "' is missing");
      }
      // A config that disagrees with the tensors would only fail later, deep in the encoder.
      if (!Arrays.equals(shape, e.getValue())) {
        throw new IllegalArgumentException(
            "parameter '"
                + name
                + "' has shape "
                + Arrays.toString(shape)
                + " but the config needs "
                + Arrays.toString(e.getValue()));
      }
    }
  }

  private static byte[] readBytes(DataInputStream is, String source, String name, long sizeBound)
      throws IOException {
    int len = is.readInt();
    if (len < 0 || len > Integer.MAX_VALUE - 16) {
      throw new IOException(
          "Corrupt MX checkpoint " + source + ": byte count " + len + " of " + name);
    }
    return CheckpointFiles.readBounded(is, len, sizeBound);
  }

  private static long multiplyOrMax(long a, long b) {
    try {
      return Math.multiplyExact(a, b);
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE;
    }
  }

  private static MxFormat parseFormat(String name, String source) throws IOException {
    try {
      return MxFormat.valueOf(name);
    } catch (IllegalArgumentException e) {
      throw new IOException("MX checkpoint " + source + " names an unknown format: " + name, e);
    }
  }
}

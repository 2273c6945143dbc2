package io.djlmx.format;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;

/**
 * A tensor packed in an MX format, held off-heap: element codes and E8M0 block scales in the
 * canonical layout of {@code mx-format.md}.
 *
 * <p>Layout. The tensor is blocked along its <em>last</em> axis. It is seen as {@link #rows()} (the
 * product of all other dimensions) by {@link #cols()} (the last dimension). Each row has {@link
 * #blocksPerRow()} {@code = ceil(cols / blockSize)} blocks; a ragged last block is padded with
 * zeros (codes of 0.0). Row {@code r}'s codes start at byte {@code r * codeBytesPerRow()} where
 * {@code codeBytesPerRow = format.packedBytes(blocksPerRow * blockSize)}; within a row, element
 * {@code j} takes bits {@code [bits*j, bits*j+bits)} of a little-endian bit stream (so E2M1 puts
 * element {@code 2i} in the low nibble, FP6 packs four elements in three bytes). Scales are one
 * biased E8M0 byte per block, row-major {@code [rows, blocksPerRow]}; {@link E8M0#NAN} marks a
 * block that held NaN or an infinity (its codes are zero, it decodes to NaN).
 *
 * <p>The memory belongs to a shared {@link Arena}: any thread may read it; {@link #close()} frees
 * it, after which every accessor throws {@link IllegalStateException}.
 */
public final class MxTensor implements AutoCloseable {

  private static final long CODE_ALIGNMENT = 64;
  private static final int MAX_ROW_ELEMENTS = Integer.MAX_VALUE - 64;

  private final MxFormat format;
  private final ScaleMode scaleMode;
  private final long[] shape;
  private final int blockSize;
  private final long rows;
  private final long cols;
  private final long blocksPerRow;
  private final long codeBytesPerRow;
  private final Arena arena;
  private final MemorySegment codes;
  private final MemorySegment scales;
  private volatile boolean closed;

  private MxTensor(long[] shape, MxFormat format, ScaleMode scaleMode, int blockSize) {
    this.format = Objects.requireNonNull(format, "format");
    this.scaleMode = Objects.requireNonNull(scaleMode, "scaleMode");
    this.shape = checkShape(shape);
    if (blockSize < 1) {
      throw new IllegalArgumentException("blockSize must be >= 1, got " + blockSize);
    }
    this.blockSize = blockSize;
    this.cols = this.shape[this.shape.length - 1];
    long r = 1;
    for (int i = 0; i < this.shape.length - 1; i++) {
      r = Math.multiplyExact(r, this.shape[i]);
    }
    this.rows = r;
    this.blocksPerRow = (cols + blockSize - 1) / blockSize;
    if (blocksPerRow * blockSize > MAX_ROW_ELEMENTS) {
      throw new IllegalArgumentException(
          "Last dimension "
              + cols
              + " of shape "
              + Arrays.toString(this.shape)
              + " is too large (at most "
              + MAX_ROW_ELEMENTS
              + " elements per row)");
    }
    this.codeBytesPerRow = format.packedBytes(blocksPerRow * blockSize);
    this.arena = Arena.ofShared();
    try {
      this.codes = arena.allocate(Math.multiplyExact(rows, codeBytesPerRow), CODE_ALIGNMENT);
      this.scales = arena.allocate(Math.multiplyExact(rows, blocksPerRow), CODE_ALIGNMENT);
    } catch (RuntimeException | OutOfMemoryError e) {
      arena.close();
      throw e;
    }
  }

  /**
   * Allocates a tensor whose codes and scales are all zero bytes, for a caller that fills {@link
   * #codes()} and {@link #scales()} itself (a loader, a GPU download).
   *
   * @param shape the logical shape, rank >= 1, every dimension >= 0
   * @param format the element type
   * @param scaleMode the scale rule the content was made with (recorded, e.g. for serialization)
   * @param blockSize the block size along the last axis, >= 1
   * @return a new zero-filled tensor; the caller closes it
   */
  public static MxTensor allocate(
      long[] shape, MxFormat format, ScaleMode scaleMode, int blockSize) {
    return new MxTensor(shape, format, scaleMode, blockSize);
  }

  /**
   * Quantizes row-major FP32 data with blocks of 32 along the last axis and the FLOOR scale.
   *
   * @param data the values, {@code product(shape)} of them
   * @param shape the shape, rank >= 1
   * @param format the element type
   * @return the packed tensor; the caller closes it
   * @throws IllegalArgumentException when the data length does not match the shape
   */
  public static MxTensor quantize(float[] data, long[] shape, MxFormat format) {
    Objects.requireNonNull(data, "data");
    return quantize(
        MemorySegment.ofArray(data), shape, format, ScaleMode.FLOOR, MxFormat.DEFAULT_BLOCK_SIZE);
  }

  /**
   * Quantizes row-major FP32 data (native byte order) blocked along the last axis.
   *
   * @param f32 the values, exactly {@code 4 * product(shape)} bytes; heap or native
   * @param shape the shape, rank >= 1
   * @param format the element type
   * @param mode the scale rule
   * @param blockSize the block size, >= 1 (32 in OCP MX v1.0)
   * @return the packed tensor; the caller closes it
   * @throws IllegalArgumentException when the segment size does not match the shape, or an argument
   *     is invalid
   */
  public static MxTensor quantize(
      MemorySegment f32, long[] shape, MxFormat format, ScaleMode mode, int blockSize) {
    Objects.requireNonNull(f32, "f32");
    MxTensor t = new MxTensor(shape, format, mode, blockSize);
    try {
      t.checkFloatSegment(f32, "f32 input");
      RowCodec.quantize(f32, t);
      return t;
    } catch (RuntimeException e) {
      t.close();
      throw e;
    }
  }

  /**
   * Returns the element type.
   *
   * @return the format
   */
  public MxFormat format() {
    return format;
  }

  /**
   * Returns the scale rule the tensor was quantized with.
   *
   * @return the scale mode
   */
  public ScaleMode scaleMode() {
    return scaleMode;
  }

  /**
   * Returns a copy of the logical shape.
   *
   * @return the shape
   */
  public long[] shape() {
    return shape.clone();
  }

  /**
   * Returns the block size along the last axis.
   *
   * @return elements per block
   */
  public int blockSize() {
    return blockSize;
  }

  /**
   * Returns the number of rows: the product of every dimension but the last.
   *
   * @return the row count
   */
  public long rows() {
    return rows;
  }

  /**
   * Returns the number of columns: the last dimension.
   *
   * @return the column count
   */
  public long cols() {
    return cols;
  }

  /**
   * Returns the number of elements, {@code rows * cols}.
   *
   * @return the element count
   */
  public long elementCount() {
    return rows * cols;
  }

  /**
   * Returns the number of blocks of each row, {@code ceil(cols / blockSize)}.
   *
   * @return blocks per row
   */
  public long blocksPerRow() {
    return blocksPerRow;
  }

  /**
   * Returns the bytes of codes of each row, {@code format.packedBytes(blocksPerRow * blockSize)}.
   *
   * @return the row stride of {@link #codes()}
   */
  public long codeBytesPerRow() {
    return codeBytesPerRow;
  }

  /**
   * Returns the packed codes, {@code rows * codeBytesPerRow} bytes, 64-byte aligned. Writes go to
   * the tensor.
   *
   * @return the code segment
   * @throws IllegalStateException when closed
   */
  public MemorySegment codes() {
    checkOpen();
    return codes;
  }

  /**
   * Returns the biased E8M0 scales, {@code rows * blocksPerRow} bytes, row-major. Writes go to the
   * tensor.
   *
   * @return the scale segment
   * @throws IllegalStateException when closed
   */
  public MemorySegment scales() {
    checkOpen();
    return scales;
  }

  /**
   * Returns the bytes the packed form takes: codes plus scales.
   *
   * @return the byte size
   */
  public long byteSize() {
    return codes.byteSize() + scales.byteSize();
  }

  /**
   * Dequantizes into a new FP32 array, row-major in the logical shape.
   *
   * @return the values
   * @throws IllegalStateException when closed, or too large for one Java array
   */
  public float[] dequantize() {
    checkOpen();
    long n = elementCount();
    if (n > Integer.MAX_VALUE - 8) {
      throw new IllegalStateException(
          "Tensor of shape " + Arrays.toString(shape) + " has too many elements for a float[]");
    }
    float[] out = new float[(int) n];
    RowCodec.dequantize(this, MemorySegment.ofArray(out));
    return out;
  }

  /**
   * Dequantizes into FP32 memory (native byte order), row-major in the logical shape.
   *
   * @param f32Out exactly {@code 4 * elementCount()} bytes, heap or native
   * @throws IllegalArgumentException when the size does not match
   * @throws IllegalStateException when closed
   */
  public void dequantizeInto(MemorySegment f32Out) {
    checkOpen();
    Objects.requireNonNull(f32Out, "f32Out");
    checkFloatSegment(f32Out, "f32 output");
    if (f32Out.isReadOnly()) {
      throw new IllegalArgumentException("f32 output segment is read-only");
    }
    RowCodec.dequantize(this, f32Out);
  }

  /**
   * Writes the tensor in the stable byte serialization of {@code docs/format.md} (magic, version,
   * format, scale mode, block size, shape, codes, scales, CRC32C checksums; little-endian).
   *
   * @param out the stream, not closed here
   * @throws IOException when writing fails
   * @throws IllegalStateException when closed
   */
  public void writeTo(OutputStream out) throws IOException {
    checkOpen();
    MxTensorCodec.write(this, Objects.requireNonNull(out, "out"));
  }

  /**
   * Reads a tensor written by {@link #writeTo(OutputStream)}.
   *
   * @param in the stream, positioned at the tensor; not closed here
   * @return the tensor; the caller closes it
   * @throws MxFormatException when the bytes are not a valid serialized tensor (the message names
   *     the field, the expected and the found value): wrong magic, unknown version, format or scale
   *     mode, bad shape, truncation, checksum mismatch
   * @throws IOException when reading fails
   */
  public static MxTensor readFrom(InputStream in) throws IOException {
    return MxTensorCodec.read(Objects.requireNonNull(in, "in"));
  }

  /** Frees the off-heap memory; closing twice is allowed. */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    arena.close();
  }

  /**
   * Returns whether {@link #close()} was called.
   *
   * @return true when closed
   */
  public boolean isClosed() {
    return closed;
  }

  /** {@inheritDoc} */
  @Override
  public String toString() {
    return "MxTensor["
        + format
        + ", shape="
        + Arrays.toString(shape)
        + ", block="
        + blockSize
        + ", scale="
        + scaleMode
        + (closed ? ", closed]" : "]");
  }

  /** The code segment without the open check, for the codecs' inner loops. */
  MemorySegment codesUnchecked() {
    return codes;
  }

  /** The scale segment without the open check, for the codecs' inner loops. */
  MemorySegment scalesUnchecked() {
    return scales;
  }

  void checkOpen() {
    if (closed) {
      throw new IllegalStateException("MxTensor is closed: " + this);
    }
  }

  private void checkFloatSegment(MemorySegment seg, String what) {
    long expected = Math.multiplyExact(elementCount(), (long) Float.BYTES);
    if (seg.byteSize() != expected) {
      throw new IllegalArgumentException(
          what
              + " has "
              + seg.byteSize()
              + " bytes; shape "
              + Arrays.toString(shape)
              + " needs "
              + expected
              + " ("
              + elementCount()
              + " floats)");
    }
  }

  private static long[] checkShape(long[] shape) {
    Objects.requireNonNull(shape, "shape");
    if (shape.length == 0) {
      throw new IllegalArgumentException(
          "shape must have rank >= 1 (blocks run along the last axis)");
    }
    for (int i = 0; i < shape.length; i++) {
      if (shape[i] < 0) {
        throw new IllegalArgumentException(
            "shape " + Arrays.toString(shape) + " has a negative dimension at axis " + i);
      }
    }
    return shape.clone();
  }

  /** Moves rows between FP32 memory and the packed form, one row at a time. */
  static final class RowCodec {

    private RowCodec() {}

    /** Below this many elements a tensor is coded on the calling thread alone (tests lower it). */
    static volatile long parallelThreshold = 1 << 20;

    /** Work on rows {@code [r0, r1)}. */
    interface RowRange {
      void run(long r0, long r1);
    }

    /**
     * Runs {@code work} over all rows: on the calling thread for small tensors or when the FP32
     * memory is confined to this thread, else in chunks on the common fork-join pool (rows are
     * disjoint in the packed form, so chunks never write the same bytes).
     */
    static void forRowChunks(MxTensor t, MemorySegment f32, RowRange work) {
      int threads = ForkJoinPool.getCommonPoolParallelism() + 1;
      if (t.rows < 2 || t.rows * t.cols < parallelThreshold || threads < 2 || !shared(f32)) {
        work.run(0, t.rows);
        return;
      }
      int chunks = (int) Math.min(t.rows, 4L * threads);
      IntStream.range(0, chunks)
          .parallel()
          .forEach(c -> work.run(t.rows * c / chunks, t.rows * (c + 1) / chunks));
    }

    /** Whether other threads may touch the segment (heap, global, auto or shared arenas). */
    private static boolean shared(MemorySegment seg) {
      return !seg.isNative() || seg.isAccessibleBy(new Thread(() -> {}));
    }

    static void quantize(MemorySegment src, MxTensor t) {
      if (t.rows == 0 || t.cols == 0) {
        return; // nothing to do; avoids scratch rows sized by a large block size
      }
      if (t.blockSize == VectorBlockCodec.BLOCK && VectorBlockCodec.isSupported()) {
        forRowChunks(t, src, (r0, r1) -> VectorBlockCodec.quantizeRows(src, t, r0, r1));
        return;
      }
      quantizeScalar(src, t);
    }

    static void quantizeScalar(MemorySegment src, MxTensor t) {
      int padded = Math.toIntExact(t.blocksPerRow * t.blockSize);
      int blocks = (int) t.blocksPerRow;
      int cols = (int) t.cols;
      float[] row = new float[padded];
      int[] codes = new int[padded];
      for (long r = 0; r < t.rows; r++) {
        MemorySegment.copy(
            src, ValueLayout.JAVA_FLOAT_UNALIGNED, r * cols * Float.BYTES, row, 0, cols);
        ScalarBlockCodec.quantizeRow(
            row,
            blocks,
            t.blockSize,
            t.format,
            t.scaleMode,
            codes,
            t.codes,
            r * t.codeBytesPerRow,
            t.scales,
            r * t.blocksPerRow);
      }
    }

    static void dequantize(MxTensor t, MemorySegment dst) {
      if (t.rows == 0 || t.cols == 0) {
        return; // nothing to do; avoids scratch rows sized by a large block size
      }
      if (t.blockSize == VectorBlockCodec.BLOCK && VectorBlockCodec.isSupported()) {
        forRowChunks(t, dst, (r0, r1) -> VectorBlockCodec.dequantizeRows(t, dst, r0, r1));
        return;
      }
      dequantizeScalar(t, dst);
    }

    static void dequantizeScalar(MxTensor t, MemorySegment dst) {
      int padded = Math.toIntExact(t.blocksPerRow * t.blockSize);
      int blocks = (int) t.blocksPerRow;
      int cols = (int) t.cols;
      float[] table = t.format.decodeTable();
      float[] row = new float[padded];
      int[] codes = new int[padded];
      for (long r = 0; r < t.rows; r++) {
        ScalarBlockCodec.dequantizeRow(
            t.codes,
            r * t.codeBytesPerRow,
            t.scales,
            r * t.blocksPerRow,
            blocks,
            t.blockSize,
            t.format,
            table,
            codes,
            row);
        MemorySegment.copy(
            row, 0, dst, ValueLayout.JAVA_FLOAT_UNALIGNED, r * cols * Float.BYTES, cols);
      }
    }
  }
}

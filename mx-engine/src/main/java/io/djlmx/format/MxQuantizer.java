package io.djlmx.format;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Objects;

/**
 * Quantizes FP32, BF16 or FP16 data of any rank to MX along any axis, and back.
 *
 * <p>An {@link MxTensor} is always blocked along its last axis. Quantizing along axis {@code k}
 * therefore yields a tensor whose shape is the input shape with axis {@code k} moved to the end,
 * the other axes keeping their order ({@link #packedShape(long[])}): for a weight {@code [in, out]}
 * quantized along axis 0 the packed tensor is {@code [out, in]}, each row one output channel
 * blocked along {@code in}. {@link #dequantize(MxTensor)} moves the axis back. With the default
 * axis ({@code -1}, the last) nothing moves and no copy is made for FP32 input.
 *
 * <pre>{@code
 * MxQuantizer q = MxQuantizer.builder().setFormat(MxFormat.MXFP6_E2M3).optAxis(0).build();
 * try (MxTensor t = q.quantize(weights, new long[] {768, 3072})) {   // packed [3072, 768]
 *   float[] back = q.dequantize(t);                                  // [768, 3072] again
 * }
 * }</pre>
 */
public final class MxQuantizer {

  private final MxFormat format;
  private final ScaleMode scaleMode;
  private final int blockSize;
  private final int axis;

  private MxQuantizer(Builder b) {
    this.format = b.format;
    this.scaleMode = b.scaleMode;
    this.blockSize = b.blockSize;
    this.axis = b.axis;
  }

  /**
   * Returns a new builder.
   *
   * @return the builder
   */
  public static Builder builder() {
    return new Builder();
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
   * Returns the scale rule.
   *
   * @return the scale mode
   */
  public ScaleMode scaleMode() {
    return scaleMode;
  }

  /**
   * Returns the block size.
   *
   * @return elements per block
   */
  public int blockSize() {
    return blockSize;
  }

  /**
   * Returns the blocking axis as configured (negative counts from the end).
   *
   * @return the axis
   */
  public int axis() {
    return axis;
  }

  /**
   * Returns the shape of the packed tensor for an input shape: the blocking axis moved last.
   *
   * @param shape the input shape
   * @return the packed shape
   * @throws IllegalArgumentException when the axis does not exist in {@code shape}
   */
  public long[] packedShape(long[] shape) {
    int k = resolveAxis(shape.length);
    long[] out = new long[shape.length];
    int o = 0;
    for (int i = 0; i < shape.length; i++) {
      if (i != k) {
        out[o++] = shape[i];
      }
    }
    out[shape.length - 1] = shape[k];
    return out;
  }

  /**
   * Returns the input shape that a packed shape came from: the last axis moved back to the blocking
   * axis.
   *
   * @param packedShape the packed tensor's shape
   * @return the original shape
   */
  public long[] originalShape(long[] packedShape) {
    int k = resolveAxis(packedShape.length);
    long[] out = new long[packedShape.length];
    int p = 0;
    for (int i = 0; i < out.length; i++) {
      out[i] = i == k ? packedShape[packedShape.length - 1] : packedShape[p++];
    }
    return out;
  }

  /**
   * Quantizes row-major FP32 data.
   *
   * @param data the values, {@code product(shape)} of them
   * @param shape the shape
   * @return the packed tensor, shaped {@link #packedShape(long[])}; the caller closes it
   */
  public MxTensor quantize(float[] data, long[] shape) {
    Objects.requireNonNull(data, "data");
    return quantize(MemorySegment.ofArray(data), SourceType.FP32, shape);
  }

  /**
   * Quantizes row-major data of the given type (native byte order).
   *
   * @param data exactly {@code type.bytes() * product(shape)} bytes, heap or native
   * @param type the element type of {@code data}
   * @param shape the shape
   * @return the packed tensor, shaped {@link #packedShape(long[])}; the caller closes it
   * @throws IllegalArgumentException when the size does not match the shape, or the axis does not
   *     exist
   */
  public MxTensor quantize(MemorySegment data, SourceType type, long[] shape) {
    Objects.requireNonNull(data, "data");
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(shape, "shape");
    int k = resolveAxis(shape.length);
    long n = elements(shape);
    long expected = Math.multiplyExact(n, (long) type.bytes());
    if (data.byteSize() != expected) {
      throw new IllegalArgumentException(
          type
              + " input has "
              + data.byteSize()
              + " bytes; shape "
              + Arrays.toString(shape)
              + " needs "
              + expected);
    }
    if (k == shape.length - 1 && type == SourceType.FP32) {
      return MxTensor.quantize(data, shape, format, scaleMode, blockSize);
    }
    long[] packed = packedShape(shape);
    try (Arena arena = Arena.ofShared()) {
      MemorySegment f32 = arena.allocate(n * Float.BYTES, 64);
      long outer = 1;
      for (int i = 0; i < k; i++) {
        outer *= shape[i];
      }
      long len = shape[k];
      long inner = 1;
      for (int i = k + 1; i < shape.length; i++) {
        inner *= shape[i];
      }
      // Reads run sequentially through the source; writes land in packed row (o, i), column j.
      long src = 0;
      for (long o = 0; o < outer; o++) {
        for (long j = 0; j < len; j++) {
          for (long i = 0; i < inner; i++) {
            f32.setAtIndex(
                ValueLayout.JAVA_FLOAT, (o * inner + i) * len + j, type.get(data, src++));
          }
        }
      }
      return MxTensor.quantize(f32, packed, format, scaleMode, blockSize);
    }
  }

  /**
   * Dequantizes a tensor made by this quantizer back to FP32 in the original layout.
   *
   * @param t the packed tensor
   * @return the values, row-major in {@link #originalShape(long[])}
   */
  public float[] dequantize(MxTensor t) {
    long n = t.elementCount();
    if (n > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(
          "Tensor of shape " + Arrays.toString(t.shape()) + " has too many elements for a float[]");
    }
    float[] out = new float[(int) n];
    dequantizeInto(t, MemorySegment.ofArray(out));
    return out;
  }

  /**
   * Dequantizes a tensor made by this quantizer into FP32 memory in the original layout.
   *
   * @param t the packed tensor
   * @param f32Out exactly {@code 4 * t.elementCount()} bytes
   */
  public void dequantizeInto(MxTensor t, MemorySegment f32Out) {
    Objects.requireNonNull(t, "t");
    long[] packed = t.shape();
    int k = resolveAxis(packed.length);
    if (k == packed.length - 1) {
      t.dequantizeInto(f32Out);
      return;
    }
    long[] shape = originalShape(packed);
    long n = t.elementCount();
    if (f32Out.byteSize() != n * Float.BYTES) {
      throw new IllegalArgumentException(
          "f32 output has "
              + f32Out.byteSize()
              + " bytes; shape "
              + Arrays.toString(shape)
              + " needs "
              + n * Float.BYTES);
    }
    try (Arena arena = Arena.ofShared()) {
      MemorySegment tmp = arena.allocate(n * Float.BYTES, 64);
      t.dequantizeInto(tmp);
      long outer = 1;
      for (int i = 0; i < k; i++) {
        outer *= shape[i];
      }
      long len = shape[k];
      long inner = n == 0 ? 0 : n / (outer * len);
      long dst = 0;
      for (long o = 0; o < outer; o++) {
        for (long j = 0; j < len; j++) {
          for (long i = 0; i < inner; i++) {
            f32Out.setAtIndex(
                ValueLayout.JAVA_FLOAT_UNALIGNED,
                dst++,
                tmp.getAtIndex(ValueLayout.JAVA_FLOAT, (o * inner + i) * len + j));
          }
        }
      }
    }
  }

  private int resolveAxis(int rank) {
    int k = axis < 0 ? axis + rank : axis;
    if (rank < 1 || k < 0 || k >= rank) {
      throw new IllegalArgumentException(
          "Axis " + axis + " does not exist in a tensor of rank " + rank);
    }
    return k;
  }

  private static long elements(long[] shape) {
    long n = 1;
    for (int i = 0; i < shape.length; i++) {
      if (shape[i] < 0) {
        throw new IllegalArgumentException(
            "shape " + Arrays.toString(shape) + " has a negative dimension at axis " + i);
      }
      n = Math.multiplyExact(n, shape[i]);
    }
    return n;
  }

  /** Builds an {@link MxQuantizer}: the format is required, the rest optional. */
  public static final class Builder {
    private MxFormat format;
    private ScaleMode scaleMode = ScaleMode.FLOOR;
    private int blockSize = MxFormat.DEFAULT_BLOCK_SIZE;
    private int axis = -1;

    private Builder() {}

    /**
     * Sets the element type (required).
     *
     * @param format the format
     * @return this builder
     */
    public Builder setFormat(MxFormat format) {
      this.format = Objects.requireNonNull(format, "format");
      return this;
    }

    /**
     * Sets the scale rule; {@link ScaleMode#FLOOR} (the spec's) by default.
     *
     * @param scaleMode the scale mode
     * @return this builder
     */
    public Builder optScaleMode(ScaleMode scaleMode) {
      this.scaleMode = Objects.requireNonNull(scaleMode, "scaleMode");
      return this;
    }

    /**
     * Sets the block size; 32 by default.
     *
     * @param blockSize elements per block, >= 1
     * @return this builder
     */
    public Builder optBlockSize(int blockSize) {
      if (blockSize < 1) {
        throw new IllegalArgumentException("blockSize must be >= 1, got " + blockSize);
      }
      this.blockSize = blockSize;
      return this;
    }

    /**
     * Sets the axis the blocks run along; {@code -1} (the last) by default, negative values count
     * from the end.
     *
     * @param axis the axis
     * @return this builder
     */
    public Builder optAxis(int axis) {
      this.axis = axis;
      return this;
    }

    /**
     * Builds the quantizer.
     *
     * @return the quantizer
     * @throws IllegalStateException when no format was set
     */
    public MxQuantizer build() {
      if (format == null) {
        throw new IllegalStateException("MxQuantizer needs a format: call setFormat");
      }
      return new MxQuantizer(this);
    }
  }
}

package io.djlmx.zoo.checkpoint;

import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.format.ScaleMode;
import io.djlmx.zoo.onnx.NamedTensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * A weight matrix {@code [rows, cols]} in an MX format, blocked along {@code cols} in blocks of 32,
 * in the project's canonical layout: codes packed row by row ({@code codeBytesPerRow} bytes each;
 * 8-bit one per byte, E2M1 two per byte low nibble first, FP6 four in three bytes little-endian),
 * scales one E8M0 byte per block, row-major {@code [rows, blocksPerRow]}.
 *
 * @param name the parameter name
 * @param format the element format
 * @param rows the number of rows (output features)
 * @param cols the number of columns (input features, the reduction axis)
 * @param codes the packed element codes
 * @param scales the E8M0 block scales
 * @param scaleMode the shared-scale rule the scales were chosen by
 */
public record MxWeight(
    String name,
    MxFormat format,
    int rows,
    int cols,
    byte[] codes,
    byte[] scales,
    ScaleMode scaleMode) {

  /** The MX block size. */
  public static final int BLOCK = MxFormat.DEFAULT_BLOCK_SIZE;

  /** Checks the array sizes match the shape. */
  public MxWeight {
    java.util.Objects.requireNonNull(scaleMode, "scaleMode");
    int bpr = blocksPerRow(cols);
    if (scales.length != (long) rows * bpr
        || codes.length != (long) rows * format.packedBytes((long) bpr * BLOCK)) {
      throw new IllegalArgumentException(
          "MX weight "
              + name
              + " ("
              + format
              + " ["
              + rows
              + ", "
              + cols
              + "]) has "
              + codes.length
              + " code bytes and "
              + scales.length
              + " scales: sizes do not match its shape");
    }
  }

  private static int blocksPerRow(int cols) {
    return (cols + BLOCK - 1) / BLOCK;
  }

  /**
   * Quantizes a 2-D FP32 tensor with the spec's FLOOR scale rule.
   *
   * @param t the tensor {@code [rows, cols]}, finite
   * @param format the element type
   * @return the packed weight
   * @throws IllegalArgumentException if the tensor is not 2-D or holds NaN or infinity
   */
  public static MxWeight quantize(NamedTensor t, MxFormat format) {
    return quantize(t, format, ScaleMode.FLOOR);
  }

  /**
   * Quantizes a 2-D FP32 weight with the format core ({@link MxTensor}).
   *
   * @param t the weight {@code [rows, cols]}
   * @param format the element format
   * @param scale the shared-scale rule (FLOOR: the spec; RCEIL: no block maximum clips)
   * @return the quantized weight
   * @throws IllegalArgumentException if the weight holds NaN or infinity (naming the block)
   */
  public static MxWeight quantize(NamedTensor t, MxFormat format, ScaleMode scale) {
    if (t.shape().length != 2) {
      throw new IllegalArgumentException(
          "MX weight " + t.name() + " must be 2-D, shape " + Arrays.toString(t.shape()));
    }
    int rows = (int) t.shape()[0];
    int cols = (int) t.shape()[1];
    float[] data = t.data();
    for (int i = 0; i < data.length; i++) {
      if (!Float.isFinite(data[i])) {
        // the format core would give the block a NaN scale; a weight must never be NaN
        throw new IllegalArgumentException(
            "MX weight "
                + t.name()
                + " holds "
                + data[i]
                + " in row "
                + i / cols
                + ", block "
                + (i % cols) / BLOCK);
      }
    }
    try (MxTensor q =
        MxTensor.quantize(MemorySegment.ofArray(data), t.shape(), format, scale, BLOCK)) {
      return new MxWeight(
          t.name(),
          format,
          rows,
          cols,
          q.codes().toArray(ValueLayout.JAVA_BYTE),
          q.scales().toArray(ValueLayout.JAVA_BYTE),
          scale);
    }
  }

  /**
   * Copies a packed 2-D tensor (blocks of {@link #BLOCK}) into a weight.
   *
   * @param name the parameter name
   * @param t the tensor {@code [rows, cols]}, still owned by the caller
   * @return the weight
   * @throws IllegalArgumentException if the tensor is not 2-D in blocks of {@link #BLOCK}
   */
  public static MxWeight of(String name, MxTensor t) {
    if (t.shape().length != 2 || t.blockSize() != BLOCK) {
      throw new IllegalArgumentException(
          "MX weight "
              + name
              + " must be 2-D in blocks of "
              + BLOCK
              + ", is "
              + Arrays.toString(t.shape())
              + " in blocks of "
              + t.blockSize());
    }
    return new MxWeight(
        name,
        t.format(),
        Math.toIntExact(t.rows()),
        Math.toIntExact(t.cols()),
        t.codes().toArray(ValueLayout.JAVA_BYTE),
        t.scales().toArray(ValueLayout.JAVA_BYTE),
        t.scaleMode());
  }

  /**
   * Returns the packed values as an off-heap {@link MxTensor} (codes and scales copied as they are,
   * nothing decoded); the caller closes it.
   *
   * @return a new tensor {@code [rows, cols]}, blocks of {@link #BLOCK}
   */
  public MxTensor toTensor() {
    MxTensor q = MxTensor.allocate(new long[] {rows, cols}, format, scaleMode, BLOCK);
    MemorySegment.copy(MemorySegment.ofArray(codes), 0, q.codes(), 0, codes.length);
    MemorySegment.copy(MemorySegment.ofArray(scales), 0, q.scales(), 0, scales.length);
    return q;
  }

  /**
   * Decodes to FP32 (exactly the values the MX kernels compute with).
   *
   * @return the weight {@code [rows, cols]}
   */
  public NamedTensor dequantize() {
    try (MxTensor q = toTensor()) {
      return new NamedTensor(name, new long[] {rows, cols}, q.dequantize());
    }
  }
}

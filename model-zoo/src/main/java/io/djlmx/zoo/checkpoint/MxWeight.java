package io.djlmx.zoo.checkpoint;

import io.djlmx.format.MxFormat;
import io.djlmx.zoo.onnx.NamedTensor;
import java.util.Arrays;

/**
 * A weight matrix {@code [rows, cols]} in an MX format, blocked along {@code cols} in blocks of 32,
 * in the project's canonical layout: codes packed row by row ({@code codeBytesPerRow} bytes each;
 * 8-bit one per byte, E2M1 two per byte low nibble first, FP6 four in three bytes little-endian),
 * scales one E8M0 byte per block, row-major {@code [rows, blocksPerRow]}. Scales follow the spec's
 * FLOOR rule.
 *
 * @param name the parameter name
 * @param format the element format
 * @param rows the number of rows (output features)
 * @param cols the number of columns (input features, the reduction axis)
 * @param codes the packed element codes
 * @param scales the E8M0 block scales
 */
public record MxWeight(
    String name, MxFormat format, int rows, int cols, byte[] codes, byte[] scales) {

  /** The MX block size. */
  public static final int BLOCK = MxFormat.DEFAULT_BLOCK_SIZE;

  /** Checks the array sizes match the shape. */
  public MxWeight {
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
   * Quantizes a 2-D FP32 weight.
   *
   * @param t the weight {@code [rows, cols]}
   * @param format the element format
   * @return the quantized weight
   * @throws IllegalArgumentException if the weight holds NaN or infinity (naming the block)
   */
  public static MxWeight quantize(NamedTensor t, MxFormat format) {
    if (t.shape().length != 2) {
      throw new IllegalArgumentException(
          "MX weight " + t.name() + " must be 2-D, shape " + Arrays.toString(t.shape()));
    }
    int rows = (int) t.shape()[0];
    int cols = (int) t.shape()[1];
    int bpr = blocksPerRow(cols);
    int rowBytes = (int) format.packedBytes((long) bpr * BLOCK);
    byte[] codes = new byte[rows * rowBytes];
    byte[] scales = new byte[rows * bpr];
    int[] block = new int[BLOCK];
    float[] data = t.data();
    for (int r = 0; r < rows; r++) {
      for (int b = 0; b < bpr; b++) {
        int start = b * BLOCK;
        int end = Math.min(cols, start + BLOCK);
        float maxAbs = 0;
        for (int c = start; c < end; c++) {
          float v = data[r * cols + c];
          if (!Float.isFinite(v)) {
            throw new IllegalArgumentException(
                "MX weight " + t.name() + " holds " + v + " in row " + r + ", block " + b);
          }
          maxAbs = Math.max(maxAbs, Math.abs(v));
        }
        int exp = sharedExponent(maxAbs, format);
        scales[r * bpr + b] = (byte) (exp + 127);
        Arrays.fill(block, 0);
        for (int c = start; c < end; c++) {
          block[c - start] = format.encode((float) Math.scalb((double) data[r * cols + c], -exp));
        }
        pack(block, format, codes, r * rowBytes + (int) format.packedBytes(start));
      }
    }
    return new MxWeight(t.name(), format, rows, cols, codes, scales);
  }

  /**
   * Returns the spec's FLOOR shared exponent of a block: {@code floor(log2(maxAbs)) - emax_elem},
   * clamped to [-127, 127]; an all-zero block gets the exponent of the smallest normal.
   *
   * @param maxAbs the block's largest magnitude (finite)
   * @param format the element format
   * @return the unbiased exponent
   */
  static int sharedExponent(float maxAbs, MxFormat format) {
    int e = maxAbs == 0 ? Float.MIN_EXPONENT : Math.getExponent(maxAbs);
    if (e < Float.MIN_EXPONENT) { // subnormal input
      e = Math.getExponent((double) maxAbs);
    }
    return Math.max(-127, Math.min(127, e - format.emaxElem()));
  }

  private static void pack(int[] block, MxFormat format, byte[] out, int offset) {
    switch (format.bits()) {
      case 8 -> {
        for (int i = 0; i < BLOCK; i++) {
          out[offset + i] = (byte) block[i];
        }
      }
      case 4 -> {
        for (int i = 0; i < BLOCK; i += 2) {
          out[offset + i / 2] = (byte) ((block[i] & 0xF) | ((block[i + 1] & 0xF) << 4));
        }
      }
      case 6 -> {
        for (int i = 0, o = offset; i < BLOCK; i += 4, o += 3) {
          int g =
              (block[i] & 0x3F)
                  | (block[i + 1] & 0x3F) << 6
                  | (block[i + 2] & 0x3F) << 12
                  | (block[i + 3] & 0x3F) << 18;
          out[o] = (byte) g;
          out[o + 1] = (byte) (g >>> 8);
          out[o + 2] = (byte) (g >>> 16);
        }
      }
      default -> throw new IllegalArgumentException("Unsupported element width " + format);
    }
  }

  /**
   * Returns the code of element {@code c} of row {@code r}.
   *
   * @param r the row
   * @param c the column
   * @return the element code
   */
  public int code(int r, int c) {
    int rowBytes = (int) format.packedBytes((long) blocksPerRow(cols) * BLOCK);
    int base = r * rowBytes;
    return switch (format.bits()) {
      case 8 -> codes[base + c] & 0xFF;
      case 4 -> (codes[base + c / 2] >>> ((c & 1) * 4)) & 0xF;
      case 6 -> {
        int o = base + (c / 4) * 3;
        int g = (codes[o] & 0xFF) | (codes[o + 1] & 0xFF) << 8 | (codes[o + 2] & 0xFF) << 16;
        yield (g >>> ((c & 3) * 6)) & 0x3F;
      }
      default -> throw new IllegalStateException("Unsupported element width " + format);
    };
  }

  /**
   * Decodes to FP32 (exactly the values the MX kernels compute with).
   *
   * @return the weight {@code [rows, cols]}
   */
  public NamedTensor dequantize() {
    float[] table = format.decodeTable();
    int bpr = blocksPerRow(cols);
    float[] out = new float[rows * cols];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        int s = scales[r * bpr + c / BLOCK] & 0xFF;
        float scale = s == 0xFF ? Float.NaN : (float) Math.scalb(1.0, s - 127);
        out[r * cols + c] = table[code(r, c)] * scale;
      }
    }
    return new NamedTensor(name, new long[] {rows, cols}, out);
  }
}

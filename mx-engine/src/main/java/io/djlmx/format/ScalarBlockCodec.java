package io.djlmx.format;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The reference (scalar) block quantizer: one row of FP32 values to packed codes and E8M0 scales
 * and back, exactly as {@code mx-format.md} says. The Vector API paths must match it bit for bit.
 */
final class ScalarBlockCodec {

  private ScalarBlockCodec() {}

  /**
   * Quantizes one row. {@code row} holds {@code blocks * blockSize} values (a ragged tail already
   * zero-padded); {@code codes} is scratch of the same length.
   */
  static void quantizeRow(
      float[] row,
      int blocks,
      int blockSize,
      MxFormat format,
      ScaleMode mode,
      int[] codes,
      MemorySegment codeOut,
      long codeOffset,
      MemorySegment scaleOut,
      long scaleOffset) {
    for (int b = 0; b < blocks; b++) {
      int start = b * blockSize;
      int scale = quantizeBlock(row, start, blockSize, format, mode, codes);
      scaleOut.set(ValueLayout.JAVA_BYTE, scaleOffset + b, (byte) scale);
    }
    CodePacking.pack(codes, blocks * blockSize, format.bits(), codeOut, codeOffset);
  }

  /**
   * Quantizes {@code values[start, start+n)} into {@code codes[start, start+n)} and returns the
   * block's biased scale byte. A block holding NaN or an infinity gets {@link E8M0#NAN} and zero
   * codes.
   */
  static int quantizeBlock(
      float[] values, int start, int n, MxFormat format, ScaleMode mode, int[] codes) {
    float max = 0f;
    boolean nonFinite = false;
    for (int i = start; i < start + n; i++) {
      float a = Math.abs(values[i]);
      if (!Float.isFinite(a)) {
        nonFinite = true;
      } else if (a > max) {
        max = a;
      }
    }
    if (nonFinite) {
      for (int i = start; i < start + n; i++) {
        codes[i] = 0;
      }
      return E8M0.NAN;
    }
    int exp = E8M0.sharedExponent(max, format, mode);
    for (int i = start; i < start + n; i++) {
      // Division by a power of two: exact unless the quotient is below FP32's normal range, where
      // every element type rounds to zero anyway.
      codes[i] = format.encode(Math.scalb(values[i], -exp));
    }
    return E8M0.toBiased(exp);
  }

  /** Dequantizes one row of {@code blocks * blockSize} values into {@code out}. */
  static void dequantizeRow(
      MemorySegment codeIn,
      long codeOffset,
      MemorySegment scaleIn,
      long scaleOffset,
      int blocks,
      int blockSize,
      MxFormat format,
      float[] decodeTable,
      int[] codes,
      float[] out) {
    int n = blocks * blockSize;
    CodePacking.unpack(codeIn, codeOffset, format.bits(), codes, n);
    for (int b = 0; b < blocks; b++) {
      float scale = E8M0.toFloat(scaleIn.get(ValueLayout.JAVA_BYTE, scaleOffset + b) & 0xFF);
      int start = b * blockSize;
      for (int i = start; i < start + blockSize; i++) {
        out[i] = decodeTable[codes[i]] * scale;
      }
    }
  }
}

package io.djlmx.kernel.cuda;

import io.djlmx.format.MxFormat;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Decides whether every element of an MX matrix times its E8M0 scale is exactly a BF16 value, the
 * condition under which the split-BF16 tensor-core kernel ({@code mx_gemm_tc.cu}) computes what an
 * FP32 GEMM of the decoded weight would.
 *
 * <p>Every element has at most 4 significant bits (MXINT8: 7), within BF16's 8, and BF16 has FP32's
 * exponent range, so only the ends of the scale range matter. The smallest nonzero element is the
 * format's smallest step (E4M3 2^-9, E5M2 2^-16, E3M2 2^-4, E2M3 2^-3, E2M1 2^-1, MXINT8 2^-6);
 * times the scale it must be a normal BF16 (at least 2^-126). Exactness alone would allow down to
 * BF16's smallest subnormal 2^-133, but the tensor cores' handling of subnormal operands and
 * products is not specified, so such weights (values under about 1e-38) stay on the FP32 SIMT
 * kernel. The format's largest value (below 2^(emax+1)) times the scale must stay a finite BF16 (it
 * does when the scale is at most 2^(127-emax); a FLOOR or RCEIL scale of finite data always is).
 * MXFP8 E5M2 Inf codes also break it (Inf times a zero piece of the split activation is NaN, where
 * FP32 gives Inf). NaN scales (0xFF) and E4M3 NaN codes are allowed: they give NaN on either path.
 */
final class Bf16Exactness {

  private Bf16Exactness() {}

  /**
   * Returns the smallest biased E8M0 scale byte whose every nonzero element value is a normal BF16.
   *
   * @param f the element format
   * @return the smallest exact scale byte
   */
  static int minScaleByte(MxFormat f) {
    int stepExp =
        switch (f) {
          case MXFP8_E4M3 -> -9;
          case MXFP8_E5M2 -> -16;
          case MXFP6_E3M2 -> -4;
          case MXFP6_E2M3 -> -3;
          case MXFP4_E2M1 -> -1;
          case MXINT8 -> -6;
        };
    // step * 2^(b - 127) >= 2^-126  <=>  b >= 1 - stepExp
    return 1 - stepExp;
  }

  /**
   * Returns the largest biased E8M0 scale byte (below the NaN byte) whose every element value is a
   * finite BF16 value.
   *
   * @param f the element format
   * @return the largest exact scale byte
   */
  static int maxScaleByte(MxFormat f) {
    return 254 - f.emaxElem();
  }

  /**
   * Whether every scale byte is NaN (0xFF) or within [{@link #minScaleByte}, {@link
   * #maxScaleByte}]: then the matrix is BF16-exact, except for MXFP8 E5M2 Inf codes.
   *
   * @param f the element format
   * @param scales the E8M0 scale bytes
   * @return whether all scales are in the exact range
   */
  static boolean scalesInRange(MxFormat f, MemorySegment scales) {
    int lo = minScaleByte(f);
    int hi = maxScaleByte(f);
    long n = scales.byteSize();
    for (long i = 0; i < n; i++) {
      int b = scales.get(ValueLayout.JAVA_BYTE, i) & 0xFF;
      if (b != 0xFF && (b < lo || b > hi)) {
        return false;
      }
    }
    return true;
  }

  /**
   * Checks a matrix in the canonical layout. A block whose scale is outside the exact range still
   * passes when all its elements are zero (an all-zero block gets the smallest scale).
   *
   * @param f the element format
   * @param rows rows
   * @param cols columns (blocked by 32)
   * @param codes the packed codes
   * @param scales the E8M0 scale bytes
   * @return whether the split-BF16 kernel is exact for it
   */
  static boolean holds(
      MxFormat f, long rows, long cols, MemorySegment codes, MemorySegment scales) {
    int lo = minScaleByte(f);
    int hi = maxScaleByte(f);
    long bpr = (cols + 31) / 32;
    long blockBytes = f.packedBytes(32);
    long cbpr = bpr * blockBytes;
    for (long r = 0; r < rows; r++) {
      for (long b = 0; b < bpr; b++) {
        int s = scales.get(ValueLayout.JAVA_BYTE, r * bpr + b) & 0xFF;
        if (s != 0xFF && (s < lo || s > hi) && !allZero(f, codes, r * cbpr + b * blockBytes)) {
          return false;
        }
      }
    }
    if (f == MxFormat.MXFP8_E5M2) {
      long c = codes.byteSize();
      for (long i = 0; i < c; i++) {
        if ((codes.get(ValueLayout.JAVA_BYTE, i) & 0x7C) == 0x7C) { // exponent all ones: Inf or NaN
          return false;
        }
      }
    }
    return true;
  }

  /** Whether the 32 elements of the block whose codes start at offset are all (signed) zeros. */
  private static boolean allZero(MxFormat f, MemorySegment codes, long offset) {
    int signBit = f == MxFormat.MXINT8 ? 0 : 1 << (f.bits() - 1);
    for (int i = 0; i < 32; i++) {
      int code =
          switch (f.bits()) {
            case 8 -> codes.get(ValueLayout.JAVA_BYTE, offset + i) & 0xFF;
            case 4 -> (codes.get(ValueLayout.JAVA_BYTE, offset + i / 2) >> (4 * (i % 2))) & 0xF;
            default -> {
              long g = offset + (i / 4) * 3L;
              int bits =
                  (codes.get(ValueLayout.JAVA_BYTE, g) & 0xFF)
                      | (codes.get(ValueLayout.JAVA_BYTE, g + 1) & 0xFF) << 8
                      | (codes.get(ValueLayout.JAVA_BYTE, g + 2) & 0xFF) << 16;
              yield (bits >> (6 * (i % 4))) & 0x3F;
            }
          };
      if ((code & ~signBit) != 0) {
        return false;
      }
    }
    return true;
  }
}

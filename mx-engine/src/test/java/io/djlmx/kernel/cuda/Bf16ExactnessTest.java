package io.djlmx.kernel.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.djlmx.format.MxFormat;
import io.djlmx.format.ScaleMode;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The host-side exactness rule of the split-BF16 tensor-core kernel, checked exhaustively (no GPU
 * needed): every code of every format times every scale in the allowed range is a normal BF16 (or
 * zero, or NaN for the NaN scale), and the range is tight at both ends.
 */
class Bf16ExactnessTest {

  /** Whether v is zero or a normal, finite BF16 value. */
  private static boolean normalBf16(double v) {
    float f = (float) v;
    if (f != v || Float.isInfinite(f)) {
      return false; // not even an FP32 value, or overflow
    }
    int bits = Float.floatToRawIntBits(f);
    return v == 0 || ((bits & 0xFFFF) == 0 && Math.abs(f) >= Float.MIN_NORMAL);
  }

  private static double value(MxFormat f, int code, int scaleByte) {
    double v = f == MxFormat.MXINT8 ? (byte) code / 64.0 : f.decode(code);
    return v * Math.scalb(1.0, scaleByte - 127);
  }

  private static boolean allCodesExact(MxFormat f, int scaleByte) {
    for (int code = 0; code < (1 << f.bits()); code++) {
      if (f == MxFormat.MXINT8 && code == 0x80) {
        continue; // never produced
      }
      double v = value(f, code, scaleByte);
      if (Double.isNaN(v) || Double.isInfinite(v)) {
        continue; // E4M3 NaN, E5M2 Inf/NaN codes: ruled on separately
      }
      if (!normalBf16(v)) {
        return false;
      }
    }
    return true;
  }

  @ParameterizedTest
  @EnumSource(MxFormat.class)
  void everyCodeTimesEveryAllowedScaleIsANormalBf16(MxFormat f) {
    int lo = Bf16Exactness.minScaleByte(f);
    int hi = Bf16Exactness.maxScaleByte(f);
    for (int s = lo; s <= hi; s++) {
      assertTrue(allCodesExact(f, s), f + " scale byte " + s);
    }
    assertFalse(allCodesExact(f, lo - 1), f + ": the lower end is tight");
    assertFalse(allCodesExact(f, hi + 1), f + ": the upper end is tight");
  }

  @ParameterizedTest
  @EnumSource(MxFormat.class)
  void allZeroBlocksOfTinyScalePassNonzeroOnesDoNot(MxFormat f) {
    int rows = 3;
    int cols = 70;
    float[] x = HostMx.random(new Random(f.ordinal()), rows * cols, 1f);
    Arrays.fill(x, cols, cols + 32, 0f); // row 1, block 0: all zero, gets the smallest scale
    HostMx q = HostMx.quantize(x, rows, cols, f, ScaleMode.FLOOR);
    MemorySegment codes = MemorySegment.ofArray(q.codes);
    MemorySegment scales = MemorySegment.ofArray(q.scales);
    assertTrue(Bf16Exactness.holds(f, rows, cols, codes, scales), f + " with a zero block");
    int zeroBlockScale = q.scales[q.bpr] & 0xFF;
    q.scales[0] = (byte) zeroBlockScale; // a nonzero block at the same scale
    boolean tiny = zeroBlockScale < Bf16Exactness.minScaleByte(f);
    assertEquals(!tiny, Bf16Exactness.holds(f, rows, cols, codes, scales), f + " tiny nonzero");
    q.scales[0] = (byte) 0xFF; // NaN block: NaN on either path
    assertTrue(Bf16Exactness.holds(f, rows, cols, codes, scales), f + " NaN block");
  }

  @org.junit.jupiter.api.Test
  void e5m2InfinityCodeIsNotExact() {
    HostMx q =
        HostMx.quantize(
            HostMx.random(new Random(1), 64, 1f), 1, 64, MxFormat.MXFP8_E5M2, ScaleMode.FLOOR);
    MemorySegment scales = MemorySegment.ofArray(q.scales);
    assertTrue(
        Bf16Exactness.holds(MxFormat.MXFP8_E5M2, 1, 64, MemorySegment.ofArray(q.codes), scales));
    q.codes[40] = (byte) 0x7C; // +Inf
    assertFalse(
        Bf16Exactness.holds(MxFormat.MXFP8_E5M2, 1, 64, MemorySegment.ofArray(q.codes), scales));
  }
}

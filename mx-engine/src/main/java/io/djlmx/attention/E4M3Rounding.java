package io.djlmx.attention;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Rounds FP32 values onto the FP8 E4M3 grid (nearest, ties to even; saturating at ±448; NaN stays
 * NaN) without leaving FP32, so that products of rounded values stay exact FP32 arithmetic. The
 * vector form of the same bit trick lives inline in {@link CpuSageAttention}'s softmax loop.
 */
final class E4M3Rounding {

  /** Largest finite E4M3 magnitude. */
  static final float MAX = 448f;

  /** Smallest normal E4M3 magnitude, 2^-6; below it the grid step is 2^-9. */
  static final float MIN_NORMAL = 0x1p-6f;

  /** Adding then subtracting 1.5·2^14 rounds a magnitude below 2^13 to a multiple of 2^-9. */
  static final float SUBNORMAL_MAGIC = 24576f;

  /** FP32 has 23 mantissa bits, E4M3 keeps 3: the low 20 are rounded away. */
  static final int DROPPED_BITS = 20;

  private E4M3Rounding() {}

  /**
   * Rounds one value to E4M3.
   *
   * @param x the value, already divided by its scale
   * @return the nearest E4M3 value as FP32
   */
  static float round(float x) {
    if (Float.isNaN(x)) {
      return x;
    }
    float a = Math.abs(x);
    float r;
    if (a < MIN_NORMAL) {
      r = (a + SUBNORMAL_MAGIC) - SUBNORMAL_MAGIC;
    } else {
      int bits = Float.floatToRawIntBits(a);
      bits =
          (bits + ((1 << (DROPPED_BITS - 1)) - 1) + ((bits >>> DROPPED_BITS) & 1))
              & (-1 << DROPPED_BITS);
      r = Float.intBitsToFloat(bits);
    }
    return Math.copySign(Math.min(r, MAX), x);
  }

  /**
   * Rounds every lane to E4M3, as {@link #round(float)} does.
   *
   * @param x the values, already divided by their scale
   * @return the nearest E4M3 values as FP32
   */
  static FloatVector round(FloatVector x) {
    FloatVector a = x.abs();
    var bits = a.reinterpretAsInts();
    FloatVector normal =
        bits.add(bits.lanewise(VectorOperators.LSHR, DROPPED_BITS).and(1))
            .add((1 << (DROPPED_BITS - 1)) - 1)
            .and(-1 << DROPPED_BITS)
            .reinterpretAsFloats();
    FloatVector sub = a.add(SUBNORMAL_MAGIC).sub(SUBNORMAL_MAGIC);
    FloatVector r = normal.blend(sub, a.compare(VectorOperators.LT, MIN_NORMAL)).min(MAX);
    return r.reinterpretAsInts().or(x.reinterpretAsInts().and(0x80000000)).reinterpretAsFloats();
  }
}

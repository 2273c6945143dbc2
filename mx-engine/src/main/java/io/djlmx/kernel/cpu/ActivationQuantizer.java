package io.djlmx.kernel.cpu;

import io.djlmx.format.E8M0;
import io.djlmx.format.MxFormat;
import io.djlmx.format.ScaleMode;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Quantizes activation rows in place, per block of 32 along {@code k}, and replaces each value by
 * its dequantized MX value {@code X·P_i}. Since {@code X} is a power of two, multiplying these by
 * the weight's {@code X·P_i} gives the spec's block dot product term for term; only the FP32
 * summation order differs.
 *
 * <p>Vectorised: a block is two 16-lane vectors; each element is scaled by {@code 2^-e}, rounded to
 * the element grid of its binade (half to even, by adding and subtracting {@code 2^23} after
 * dividing by the grid step), clamped to the largest normal and scaled back. That is the value
 * {@link MxFormat#encode} then {@link MxFormat#decode} give, bit for bit (the tests compare with
 * {@code MxTensor}); the scalar encode/decode took 4–13 ns per element, as long as the product
 * itself at small batch.
 */
final class ActivationQuantizer {

  private static final int BLOCK = MxFormat.DEFAULT_BLOCK_SIZE;

  /**
   * Adding and subtracting this rounds a float in {@code [0, 2^22)} to an integer, half to even.
   */
  private static final float ROUND = 0x1p23f;

  /** The same for signed values in {@code (-2^22, 2^22)}. */
  private static final float ROUND_SIGNED = 0x1.8p23f;

  private ActivationQuantizer() {}

  /**
   * Quantizes elements {@code [0, k)} of {@code rows} rows of {@code x} (row stride {@code
   * stride}); a block holding NaN or an infinity becomes NaN (the NaN scale).
   *
   * @param x the rows; elements {@code [k, stride)} of each row must be zero
   * @param stride the row stride, a multiple of 32 and at least {@code k}
   * @param rowFrom the first row
   * @param rowTo one past the last row
   * @param k the valid elements per row
   * @param format the activation format
   * @param mode the scale rule
   */
  static void quantize(
      float[] x, int stride, int rowFrom, int rowTo, int k, MxFormat format, ScaleMode mode) {
    boolean int8 = format == MxFormat.MXINT8;
    int mant = format.mantissaBits();
    int emin = 1 - format.bias();
    float maxNormal = format.maxNormal();
    int blocks = (k + BLOCK - 1) / BLOCK;
    for (int r = rowFrom; r < rowTo; r++) {
      for (int b = 0; b < blocks; b++) {
        int o = r * stride + b * BLOCK;
        FloatVector v0 = FloatVector.fromArray(Vec.F, x, o);
        FloatVector v1 = FloatVector.fromArray(Vec.F, x, o + 16);
        float max = v0.abs().max(v1.abs()).reduceLanes(VectorOperators.MAX);
        if (Float.isNaN(max) || Float.isInfinite(max)) {
          for (int i = o, end = r * stride + Math.min(k, b * BLOCK + BLOCK); i < end; i++) {
            x[i] = Float.NaN;
          }
          continue;
        }
        int e = E8M0.sharedExponent(max, format, mode);
        float down = Math.scalb(1f, -e);
        float up = Math.scalb(1f, e);
        if (int8) {
          int8(v0.mul(down), up).intoArray(x, o);
          int8(v1.mul(down), up).intoArray(x, o + 16);
        } else {
          fp(v0.mul(down), mant, emin, maxNormal, up).intoArray(x, o);
          fp(v1.mul(down), mant, emin, maxNormal, up).intoArray(x, o + 16);
        }
      }
    }
  }

  /** MXINT8: {@code clamp(rint(v · 64), ±127) / 64}, times {@code up}; zero is +0. */
  private static FloatVector int8(FloatVector v, float up) {
    return v.mul(64f).add(ROUND_SIGNED).sub(ROUND_SIGNED).max(-127f).min(127f).mul(up / 64f);
  }

  /**
   * An FP element type with {@code mant} mantissa bits and smallest normal exponent {@code emin}:
   * {@code |v|} rounded to the multiples of {@code 2^(max(exponent, emin) - mant)}, clamped to
   * {@code maxNormal}, with the sign of {@code v}, times {@code up}.
   */
  private static FloatVector fp(FloatVector v, int mant, int emin, float maxNormal, float up) {
    IntVector bits = v.reinterpretAsInts();
    IntVector sign = bits.and(0x80000000);
    FloatVector a = bits.and(0x7FFFFFFF).reinterpretAsFloats();
    // Exponent of |v| (float subnormals read as -127), at least emin; the grid step is
    // 2^(ex - mant), and its inverse is a normal float for every MX element type.
    IntVector ex = bits.lanewise(VectorOperators.LSHR, 23).and(0xFF).sub(127).max(emin);
    FloatVector step = ex.sub(mant - 127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
    FloatVector inv =
        ex.neg().add(mant + 127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
    return a.mul(inv)
        .add(ROUND)
        .sub(ROUND)
        .mul(step)
        .min(maxNormal)
        .reinterpretAsInts()
        .or(sign)
        .reinterpretAsFloats()
        .mul(up);
  }
}

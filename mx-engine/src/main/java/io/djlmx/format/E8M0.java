package io.djlmx.format;

/**
 * The E8M0 shared block scale of the MX formats: an unsigned 8-bit power-of-two exponent with bias
 * 127, so byte {@code b} means {@code 2^(b-127)}; byte {@code 0xFF} is NaN and there is no zero.
 *
 * <p>The exponent of a block is chosen from the largest magnitude in the block by {@link
 * #sharedExponent(float, MxFormat, ScaleMode)}. Blocks whose largest magnitude is NaN or infinite
 * are the caller's business: they get the {@link #NAN} byte and decode to NaN.
 */
public final class E8M0 {

  /** The biased byte that marks a NaN scale: every element of such a block decodes to NaN. */
  public static final int NAN = 0xFF;

  /** The exponent bias of E8M0. */
  public static final int BIAS = 127;

  /** The smallest unbiased exponent a scale can hold ({@code 2^-127}, byte 0). */
  public static final int MIN_EXPONENT = -127;

  /** The largest unbiased exponent a scale can hold ({@code 2^127}, byte 254). */
  public static final int MAX_EXPONENT = 127;

  /** The largest magnitude an all-zero block is treated as having: {@code 2^-126}, per the spec. */
  private static final double ZERO_BLOCK_MAX = 0x1p-126;

  private E8M0() {}

  /**
   * Returns the unbiased shared exponent for a block whose largest magnitude is {@code maxAbs}.
   *
   * <ul>
   *   <li>{@link ScaleMode#FLOOR}: {@code floor(log2(maxAbs)) - emax_elem} (OCP MX v1.0); the block
   *       maximum may saturate.
   *   <li>{@link ScaleMode#RCEIL}: {@code ceil(log2(maxAbs / maxNormal))}, computed exactly, so the
   *       block maximum never exceeds the element's largest magnitude (unless clamped).
   * </ul>
   *
   * An all-zero block ({@code maxAbs == 0}) is treated as if its maximum were {@code 2^-126}, as
   * the spec says (its elements are zero whatever the scale). The result is clamped to {@code
   * [-127, 127]}.
   *
   * @param maxAbs the block's largest magnitude, finite and not negative
   * @param format the element type
   * @param mode the scale rule
   * @return the unbiased exponent in {@code [-127, 127]}
   * @throws IllegalArgumentException when {@code maxAbs} is NaN, infinite or negative
   */
  public static int sharedExponent(float maxAbs, MxFormat format, ScaleMode mode) {
    if (!(maxAbs >= 0) || Float.isInfinite(maxAbs)) {
      throw new IllegalArgumentException(
          "Block maximum must be finite and >= 0 (NaN/Inf blocks get the NaN scale), got "
              + maxAbs);
    }
    // In double every FP32 value, subnormals included, is normal: getExponent is exact floor(log2).
    double max = maxAbs == 0 ? ZERO_BLOCK_MAX : maxAbs;
    int exp;
    if (mode == ScaleMode.FLOOR) {
      exp = Math.getExponent(max) - format.emaxElem();
    } else {
      double maxNormal = format.maxNormal();
      // max / maxNormal lies in (2^(d-1), 2^(d+1)) with d the exponent difference: the ceiling of
      // its log2 is d or d + 1, decided by one exact comparison (scalb of a double is exact here).
      int d = Math.getExponent(max) - Math.getExponent(maxNormal);
      exp = max <= Math.scalb(maxNormal, d) ? d : d + 1;
    }
    return Math.max(MIN_EXPONENT, Math.min(MAX_EXPONENT, exp));
  }

  /**
   * Returns the biased byte of an unbiased exponent.
   *
   * @param unbiasedExp the exponent, in {@code [-127, 127]}
   * @return the byte value {@code unbiasedExp + 127}, in {@code [0, 254]}
   * @throws IllegalArgumentException when the exponent is out of range
   */
  public static int toBiased(int unbiasedExp) {
    if (unbiasedExp < MIN_EXPONENT || unbiasedExp > MAX_EXPONENT) {
      throw new IllegalArgumentException(
          "E8M0 exponent must be in [-127, 127], got " + unbiasedExp);
    }
    return unbiasedExp + BIAS;
  }

  /**
   * Returns the value of a biased scale byte: {@code 2^(biased-127)} (byte 0 is {@code 2^-127}, an
   * FP32 subnormal), or NaN for {@link #NAN}.
   *
   * @param biased the byte, in {@code [0, 255]} (a Java {@code byte} must be masked with 0xFF)
   * @return the scale value
   * @throws IllegalArgumentException when {@code biased} is out of range
   */
  public static float toFloat(int biased) {
    if (biased < 0 || biased > NAN) {
      throw new IllegalArgumentException("E8M0 byte must be in [0, 255], got " + biased);
    }
    if (biased == NAN) {
      return Float.NaN;
    }
    return Math.scalb(1f, biased - BIAS);
  }
}

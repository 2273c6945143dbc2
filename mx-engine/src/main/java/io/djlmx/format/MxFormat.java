package io.djlmx.format;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The six MX element types of OCP Microscaling Formats v1.0, each used in blocks that share one
 * E8M0 scale.
 *
 * <p>{@link #decode(int)} and {@link #encode(float)} convert between an element code and its value
 * <em>before</em> the block scale is applied. Encoding rounds to nearest with ties to even,
 * saturates finite values beyond the largest magnitude (keeping the sign) and keeps subnormals.
 */
public enum MxFormat {
  /** MXFP8 with E4M3 elements: bias 7, largest 448, NaN is S.1111.111, no infinities. */
  MXFP8_E4M3("fp8_e4m3", 8, 4, 3, 7, 8, 448f),
  /** MXFP8 with E5M2 elements: bias 15, largest 57344, IEEE infinities and NaNs. */
  MXFP8_E5M2("fp8_e5m2", 8, 5, 2, 15, 15, 57344f),
  /** MXFP6 with E3M2 elements: bias 3, largest 28, no special values. */
  MXFP6_E3M2("fp6_e3m2", 6, 3, 2, 3, 4, 28f),
  /** MXFP6 with E2M3 elements: bias 1, largest 7.5, no special values. */
  MXFP6_E2M3("fp6_e2m3", 6, 2, 3, 1, 2, 7.5f),
  /** MXFP4 with E2M1 elements: bias 1, values 0, 0.5, 1, 1.5, 2, 3, 4, 6. */
  MXFP4_E2M1("fp4_e2m1", 4, 2, 1, 1, 2, 6f),
  /**
   * MXINT8: two's-complement 8-bit integers with an implicit scale of 2^-6, so the largest value is
   * 127/64. Code -128 is never produced (as in microxcaling); it decodes to -2.
   */
  MXINT8("int8", 8, 0, 0, 0, 0, 127f / 64f);

  /** The block size of OCP MX v1.0. */
  public static final int DEFAULT_BLOCK_SIZE = 32;

  private final String elementName;
  private final int bits;
  private final int exponentBits;
  private final int mantissaBits;
  private final int bias;
  private final int emaxElem;
  private final float maxNormal;
  private final float[] decodeTable;

  MxFormat(
      String elementName,
      int bits,
      int exponentBits,
      int mantissaBits,
      int bias,
      int emaxElem,
      float maxNormal) {
    this.elementName = elementName;
    this.bits = bits;
    this.exponentBits = exponentBits;
    this.mantissaBits = mantissaBits;
    this.bias = bias;
    this.emaxElem = emaxElem;
    this.maxNormal = maxNormal;
    this.decodeTable = new float[1 << bits];
    for (int c = 0; c < decodeTable.length; c++) {
      decodeTable[c] = computeDecode(c);
    }
  }

  /**
   * Returns the element type's short name, as the reference vectors spell it ({@code fp8_e4m3},
   * {@code fp6_e2m3}, {@code int8}...).
   *
   * @return the element name
   */
  public String elementName() {
    return elementName;
  }

  /**
   * Returns the bits one element code takes (8, 6 or 4).
   *
   * @return bits per element code
   */
  public int bits() {
    return bits;
  }

  /**
   * Returns the storage cost per element including the shared 8-bit scale of a block of 32: 8.25,
   * 6.25 or 4.25.
   *
   * @return bits per element, scale included
   */
  public double bitsPerElement() {
    return bits + 8.0 / DEFAULT_BLOCK_SIZE;
  }

  /**
   * Returns the number of exponent bits of a floating-point element (0 for MXINT8).
   *
   * @return exponent bits
   */
  public int exponentBits() {
    return exponentBits;
  }

  /**
   * Returns the number of mantissa bits of a floating-point element (0 for MXINT8).
   *
   * @return mantissa bits
   */
  public int mantissaBits() {
    return mantissaBits;
  }

  /**
   * Returns the exponent bias of a floating-point element (0 for MXINT8).
   *
   * @return the exponent bias
   */
  public int bias() {
    return bias;
  }

  /**
   * Returns {@code emax_elem}, the exponent of the element's largest normal power of two; the FLOOR
   * scale rule subtracts it.
   *
   * @return emax of the element type
   */
  public int emaxElem() {
    return emaxElem;
  }

  /**
   * Returns the element's largest finite magnitude.
   *
   * @return the largest magnitude
   */
  public float maxNormal() {
    return maxNormal;
  }

  /**
   * Returns whether this is the integer format MXINT8.
   *
   * @return true for MXINT8
   */
  public boolean isInteger() {
    return this == MXINT8;
  }

  /**
   * Returns the number of distinct codes, {@code 2^bits}.
   *
   * @return the code count
   */
  public int codeCount() {
    return decodeTable.length;
  }

  /**
   * Returns the bytes that {@code elements} packed codes take in the canonical layout (4-bit codes
   * two per byte, 6-bit codes four per three bytes).
   *
   * @param elements the element count, a multiple of the block size for rows of whole blocks
   * @return the packed byte count
   */
  public long packedBytes(long elements) {
    return (elements * bits + 7) / 8;
  }

  /**
   * Decodes an element code to its value before scaling.
   *
   * @param code the code, in {@code [0, 2^bits)}
   * @return its value (NaN or infinite only for the FP8 types' special codes)
   * @throws IllegalArgumentException when the code is out of range
   */
  public float decode(int code) {
    if (code < 0 || code >= decodeTable.length) {
      throw new IllegalArgumentException(
          "Code "
              + code
              + " is out of range for "
              + this
              + " (0.."
              + (decodeTable.length - 1)
              + ")");
    }
    return decodeTable[code];
  }

  /**
   * Returns a copy of the table of every code's value, indexed by code.
   *
   * @return the decode table
   */
  public float[] decodeTable() {
    return decodeTable.clone();
  }

  /**
   * Encodes a value (already divided by the block scale) to the nearest element code, ties to even,
   * saturating beyond the largest magnitude. NaN maps to the NaN code where the type has one (E4M3,
   * E5M2) and to code 0 otherwise; the block-level quantizer marks such blocks with the NaN scale.
   * Infinities saturate, except in E5M2 where they keep their code.
   *
   * @param v the value
   * @return the element code
   */
  public int encode(float v) {
    int signBit = bits - 1;
    if (this == MXINT8) {
      if (Float.isNaN(v)) {
        return 0;
      }
      double q = Math.rint((double) v * 64.0);
      q = Math.max(-127, Math.min(127, q));
      return ((int) q) & 0xFF;
    }
    int sign = (Float.floatToRawIntBits(v) >>> 31) << signBit;
    if (Float.isNaN(v)) {
      if (this == MXFP8_E4M3) {
        return 0x7F;
      } else if (this == MXFP8_E5M2) {
        return 0x7E;
      }
      return 0;
    }
    double a = Math.abs((double) v);
    if (Double.isInfinite(a) && this == MXFP8_E5M2) {
      return sign | 0x7C;
    }
    int maxCode = encodeMagnitudeUnchecked(maxNormal);
    if (a >= maxNormal) {
      return sign | maxCode;
    }
    int emin = 1 - bias;
    int e = a == 0 ? emin : Math.max(Math.getExponent(a), emin);
    double quantum = Math.scalb(1.0, e - mantissaBits);
    long q = (long) Math.rint(a / quantum);
    int implicit = 1 << mantissaBits;
    int magnitude;
    if (e == emin && q < implicit) {
      magnitude = (int) q; // subnormal (or zero): exponent field 0
    } else {
      if (q >= 2L * implicit) {
        e += 1;
        q >>= 1;
      }
      int expField = e + bias;
      magnitude = (expField << mantissaBits) | (int) (q - implicit);
      if (magnitude > maxCode) {
        magnitude = maxCode;
      }
    }
    return sign | magnitude;
  }

  private int encodeMagnitudeUnchecked(float max) {
    int e = Math.getExponent(max);
    long q = (long) (max / Math.scalb(1.0, e - mantissaBits));
    return ((e + bias) << mantissaBits) | (int) (q - (1 << mantissaBits));
  }

  private float computeDecode(int code) {
    if (exponentBits == 0) { // MXINT8
      return (byte) code / 64f;
    }
    int signBit = bits - 1;
    boolean negative = ((code >>> signBit) & 1) != 0;
    int expField = (code >>> mantissaBits) & ((1 << exponentBits) - 1);
    int mant = code & ((1 << mantissaBits) - 1);
    float magnitude;
    if (elementName.equals("fp8_e4m3") && expField == 15 && mant == 7) {
      magnitude = Float.NaN;
    } else if (elementName.equals("fp8_e5m2") && expField == 31) {
      magnitude = mant == 0 ? Float.POSITIVE_INFINITY : Float.NaN;
    } else if (expField == 0) {
      magnitude = (float) Math.scalb((double) mant, 1 - bias - mantissaBits);
    } else {
      magnitude =
          (float) Math.scalb((double) ((1 << mantissaBits) | mant), expField - bias - mantissaBits);
    }
    return negative ? -magnitude : magnitude;
  }

  /**
   * Parses a format name case-insensitively: the enum name ({@code MXFP6_E2M3}), or the element
   * name ({@code fp6_e2m3}); {@code MXFP8}, {@code MXFP6} and {@code MXFP4} alone mean E4M3, E2M3
   * and E2M1.
   *
   * @param name the name
   * @return the format
   * @throws IllegalArgumentException naming the valid formats when {@code name} is unknown
   */
  public static MxFormat parse(String name) {
    if (name != null) {
      String n = name.trim().toUpperCase(Locale.ROOT).replace('-', '_');
      switch (n) {
        case "MXFP8":
          return MXFP8_E4M3;
        case "MXFP6":
          return MXFP6_E2M3;
        case "MXFP4":
          return MXFP4_E2M1;
        default:
          break;
      }
      for (MxFormat f : values()) {
        if (f.name().equals(n) || f.elementName.equalsIgnoreCase(n)) {
          return f;
        }
      }
    }
    throw new IllegalArgumentException(
        "Unknown MX format '"
            + name
            + "'; valid formats: "
            + Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", ")));
  }
}

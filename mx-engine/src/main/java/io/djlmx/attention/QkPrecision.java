package io.djlmx.attention;

import java.util.Arrays;
import java.util.Locale;

/** How Q and K are quantized before S = Q·Kᵀ is computed with FP32 accumulation. */
public enum QkPrecision {
  /**
   * Symmetric INT8 with one FP32 scale per block of tokens (all channels of 32 query tokens, or of
   * one 64-key tile); the integer products are summed exactly in FP32 and scaled once per block.
   */
  INT8,
  /**
   * MXFP8 E4M3: one power-of-two (E8M0) scale per 32-channel block of each token, elements rounded
   * to E4M3 (nearest-even, saturating at 448).
   */
  MXFP8_E4M3,
  /** No quantization: FP32 Q and K (for ablations; P and V still follow the configuration). */
  FP32;

  /**
   * Parses a precision name, case-insensitively ({@code int8}, {@code mxfp8_e4m3}, {@code fp32}).
   *
   * @param name the name
   * @return the precision
   * @throws IllegalArgumentException naming the valid values when {@code name} is unknown
   */
  public static QkPrecision parse(String name) {
    for (QkPrecision p : values()) {
      if (p.name().equalsIgnoreCase(name.trim())) {
        return p;
      }
    }
    throw new IllegalArgumentException(
        "Unknown Q·Kᵀ precision '"
            + name
            + "', valid: "
            + Arrays.toString(values()).toLowerCase(Locale.ROOT));
  }
}

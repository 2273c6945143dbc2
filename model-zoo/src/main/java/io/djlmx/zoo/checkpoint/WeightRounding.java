package io.djlmx.zoo.checkpoint;

import java.util.Arrays;
import java.util.Locale;

/** How a checkpoint's MX codes were chosen (zoo option {@code mx.zoo.rounding}). */
public enum WeightRounding {
  /** Each weight rounded to nearest in its block's scale, independently. */
  RTN,
  /**
   * Calibrated, error-compensating rounding ({@link io.djlmx.format.CalibratedMxQuantizer}): the
   * codes that keep each projection's output close on calibration text.
   */
  GPTQ;

  /**
   * Returns the lower-case name used in options, metadata and file names.
   *
   * @return {@code rtn} or {@code gptq}
   */
  public String key() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * Parses an option value case-insensitively.
   *
   * @param value {@code rtn} or {@code gptq}
   * @return the rounding
   * @throws IllegalArgumentException naming the valid values
   */
  public static WeightRounding parse(String value) {
    for (WeightRounding r : values()) {
      if (r.name().equalsIgnoreCase(value == null ? "" : value.trim())) {
        return r;
      }
    }
    throw new IllegalArgumentException(
        "Invalid mx.zoo.rounding '"
            + value
            + "': use one of "
            + Arrays.stream(values()).map(WeightRounding::key).toList());
  }
}

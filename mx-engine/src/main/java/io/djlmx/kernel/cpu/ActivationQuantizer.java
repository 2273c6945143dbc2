package io.djlmx.kernel.cpu;

import io.djlmx.format.E8M0;
import io.djlmx.format.MxFormat;
import io.djlmx.format.ScaleMode;

/**
 * Quantizes activation rows in place, per block of 32 along {@code k}, and replaces each value by
 * its dequantized MX value {@code X·P_i}. Since {@code X} is a power of two, multiplying these by
 * the weight's {@code X·P_i} gives the spec's block dot product term for term; only the FP32
 * summation order differs.
 */
final class ActivationQuantizer {

  private ActivationQuantizer() {}

  /**
   * Quantizes elements {@code [0, k)} of {@code rows} rows of {@code x} (row stride {@code
   * stride}); a block holding NaN or an infinity becomes NaN (the NaN scale).
   *
   * @param x the rows
   * @param stride the row stride
   * @param rowFrom the first row
   * @param rowTo one past the last row
   * @param k the valid elements per row
   * @param format the activation format
   * @param mode the scale rule
   */
  static void quantize(
      float[] x, int stride, int rowFrom, int rowTo, int k, MxFormat format, ScaleMode mode) {
    int block = MxFormat.DEFAULT_BLOCK_SIZE;
    for (int r = rowFrom; r < rowTo; r++) {
      int base = r * stride;
      for (int b0 = 0; b0 < k; b0 += block) {
        int end = Math.min(k, b0 + block);
        float max = 0f;
        for (int i = b0; i < end; i++) {
          max = Math.max(max, Math.abs(x[base + i]));
        }
        if (Float.isNaN(max) || Float.isInfinite(max)) {
          for (int i = b0; i < end; i++) {
            x[base + i] = Float.NaN;
          }
          continue;
        }
        int e = E8M0.sharedExponent(max, format, mode);
        for (int i = b0; i < end; i++) {
          int code = format.encode(Math.scalb(x[base + i], -e));
          x[base + i] = Math.scalb(format.decode(code), e);
        }
      }
    }
  }
}

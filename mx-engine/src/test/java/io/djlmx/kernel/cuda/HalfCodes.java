package io.djlmx.kernel.cuda;

/**
 * Host-side 16-bit input codes for {@link CudaAttention.InputType#BFLOAT16} and {@code FLOAT16}.
 */
final class HalfCodes {

  private HalfCodes() {}

  /**
   * Returns the codes of x: BF16 rounded to nearest even (NaN stays NaN), or IEEE FP16.
   *
   * @param x the values
   * @param type BFLOAT16 or FLOAT16
   * @return one code per value
   */
  static short[] of(float[] x, CudaAttention.InputType type) {
    short[] h = new short[x.length];
    for (int i = 0; i < x.length; i++) {
      if (type == CudaAttention.InputType.FLOAT16) {
        h[i] = Float.floatToFloat16(x[i]);
      } else if (Float.isNaN(x[i])) {
        h[i] = (short) 0x7FC0;
      } else {
        int bits = Float.floatToRawIntBits(x[i]);
        h[i] = (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
      }
    }
    return h;
  }

  /**
   * Returns the FP32 values the codes stand for (exact).
   *
   * @param h the codes
   * @param type BFLOAT16 or FLOAT16
   * @return one value per code
   */
  static float[] widen(short[] h, CudaAttention.InputType type) {
    float[] x = new float[h.length];
    for (int i = 0; i < h.length; i++) {
      x[i] =
          type == CudaAttention.InputType.FLOAT16
              ? Float.float16ToFloat(h[i])
              : Float.intBitsToFloat((h[i] & 0xFFFF) << 16);
    }
    return x;
  }
}

package io.djlmx.engine;

import java.util.Locale;

/**
 * The weight memory of a model on the MX engine: what its {@code linear} weights take in MX form
 * against what they take in FP32.
 *
 * @param quantized the number of weights held in MX form
 * @param excluded the number of {@code linear} weights kept in FP32 by {@code mx.exclude}
 * @param mxBytes the bytes of the MX weights (codes, scales and kernel layout)
 * @param fp32Bytes the bytes the same weights take in FP32
 * @param emulated true when the weights are MX-emulated in place (TorchScript): the model still
 *     holds them in FP32 and {@code mxBytes} is what they would take packed
 */
public record MxMemoryReport(
    int quantized, int excluded, long mxBytes, long fp32Bytes, boolean emulated) {

  /**
   * Returns FP32 bytes over MX bytes.
   *
   * @return the compression ratio, or 0 when nothing is quantized
   */
  public double ratio() {
    return mxBytes == 0 ? 0 : (double) fp32Bytes / mxBytes;
  }

  /** {@inheritDoc} */
  @Override
  public String toString() {
    return String.format(
        Locale.ROOT,
        "%d linear weights in MX%s (%d kept FP32): %.2f MB MX vs %.2f MB FP32 (%.2fx)",
        quantized,
        emulated ? " emulation" : "",
        excluded,
        mxBytes / 1e6,
        fp32Bytes / 1e6,
        ratio());
  }
}

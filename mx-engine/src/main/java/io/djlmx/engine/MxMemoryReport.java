package io.djlmx.engine;

import java.util.Locale;

/**
 * The weight memory of a model on the MX engine: what its {@code linear} weights take in MX form
 * against what they take in FP32, and what they really hold now.
 *
 * <p>By default ({@code mx.keepFp32=false}) a weight packed for an MX kernel frees its FP32
 * storage, so {@link #fp32HeldBytes()} is 0 once the model is loaded; it counts FP32 copies still
 * resident: {@code mx.keepFp32=true}, weights read back as ordinary arrays since, emulation copies,
 * and TorchScript emulation (which keeps every weight in FP32).
 *
 * @param quantized the number of weights held in MX form
 * @param excluded the number of {@code linear} weights kept in FP32 by {@code mx.exclude}
 * @param mxBytes the bytes of the MX weights (codes, scales and kernel layout)
 * @param fp32Bytes the bytes the same weights take in FP32
 * @param emulated true when the weights are MX-emulated in place (TorchScript): the model still
 *     holds them in FP32 and {@code mxBytes} is what they would take packed
 * @param fp32HeldBytes the FP32 bytes the quantized weights still hold beside their MX form
 */
public record MxMemoryReport(
    int quantized,
    int excluded,
    long mxBytes,
    long fp32Bytes,
    boolean emulated,
    long fp32HeldBytes) {

  /**
   * Creates a report where every quantized weight still holds its FP32 copy when {@code emulated},
   * none otherwise.
   *
   * @param quantized the number of weights held in MX form
   * @param excluded the number of {@code linear} weights kept in FP32
   * @param mxBytes the bytes of the MX weights
   * @param fp32Bytes the bytes the same weights take in FP32
   * @param emulated true for in-place MX emulation
   */
  public MxMemoryReport(
      int quantized, int excluded, long mxBytes, long fp32Bytes, boolean emulated) {
    this(quantized, excluded, mxBytes, fp32Bytes, emulated, emulated ? fp32Bytes : 0);
  }

  /**
   * Returns the bytes the quantized weights really hold: their MX form, plus any FP32 copy still
   * resident (for emulation, only the FP32 weights PyTorch runs on).
   *
   * @return the resident bytes
   */
  public long residentBytes() {
    return emulated ? fp32HeldBytes : mxBytes + fp32HeldBytes;
  }

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
        "%d linear weights in MX%s (%d kept FP32): %.2f MB MX vs %.2f MB FP32 (%.2fx);"
            + " resident %.2f MB (%.2f MB FP32 held)",
        quantized,
        emulated ? " emulation" : "",
        excluded,
        mxBytes / 1e6,
        fp32Bytes / 1e6,
        ratio(),
        residentBytes() / 1e6,
        fp32HeldBytes / 1e6);
  }
}

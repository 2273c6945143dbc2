package io.djlmx.kernel.cuda;

import io.djlmx.format.MxFormat;
import io.djlmx.format.ScaleMode;
import java.util.Random;

/**
 * A plain host MX quantizer in the canonical layout (codes per row, ragged block zero-padded, one
 * E8M0 byte per block), built only on {@link MxFormat#encode(float)}, for checking the GPU kernels.
 */
final class HostMx {

  final MxFormat format;
  final int rows;
  final int cols;
  final int bpr;
  final int cbpr;
  final byte[] codes;
  final byte[] scales;

  private HostMx(MxFormat format, int rows, int cols) {
    this.format = format;
    this.rows = rows;
    this.cols = cols;
    this.bpr = (cols + 31) / 32;
    this.cbpr = (int) format.packedBytes(bpr * 32L);
    this.codes = new byte[rows * cbpr];
    this.scales = new byte[rows * bpr];
  }

  /**
   * Shared exponent (unbiased) of a finite block max, as the MX spec (FLOOR) or RCEIL defines it.
   */
  static int sharedExponent(float amax, MxFormat f, ScaleMode mode) {
    if (amax == 0f) {
      return Math.max(-126 - f.emaxElem(), -127);
    }
    int e = Math.getExponent((double) amax) - f.emaxElem();
    if (mode == ScaleMode.RCEIL && e >= -127 && amax / Math.scalb(1.0, e) > f.maxNormal()) {
      e++;
    }
    return Math.min(Math.max(e, -127), 127);
  }

  static HostMx quantize(float[] x, int rows, int cols, MxFormat f, ScaleMode mode) {
    HostMx q = new HostMx(f, rows, cols);
    int[] block = new int[32];
    for (int r = 0; r < rows; r++) {
      for (int b = 0; b < q.bpr; b++) {
        float amax = 0f;
        boolean bad = false;
        for (int i = 0; i < 32; i++) {
          int k = b * 32 + i;
          if (k < cols) {
            float v = x[r * cols + k];
            bad |= !Float.isFinite(v);
            amax = Math.max(amax, Math.abs(v));
          }
        }
        int biased;
        if (bad) {
          biased = 0xFF;
          java.util.Arrays.fill(block, 0);
        } else {
          int e = sharedExponent(amax, f, mode);
          biased = e + 127;
          for (int i = 0; i < 32; i++) {
            int k = b * 32 + i;
            float v = k < cols ? x[r * cols + k] : 0f;
            block[i] = f.encode((float) (v / Math.scalb(1.0, e)));
          }
        }
        q.scales[r * q.bpr + b] = (byte) biased;
        for (int i = 0; i < 32; i++) {
          q.putCode(r, b * 32 + i, block[i]);
        }
      }
    }
    return q;
  }

  private void putCode(int r, int i, int code) {
    int base = r * cbpr;
    switch (format.bits()) {
      case 8 -> codes[base + i] = (byte) code;
      case 4 -> {
        int p = base + i / 2;
        codes[p] = (byte) ((codes[p] & (i % 2 == 0 ? 0xF0 : 0x0F)) | (code << (4 * (i % 2))));
      }
      default -> {
        int g = base + (i / 4) * 3;
        int bits = (codes[g] & 0xFF) | (codes[g + 1] & 0xFF) << 8 | (codes[g + 2] & 0xFF) << 16;
        int sh = 6 * (i % 4);
        bits = (bits & ~(0x3F << sh)) | (code << sh);
        codes[g] = (byte) bits;
        codes[g + 1] = (byte) (bits >> 8);
        codes[g + 2] = (byte) (bits >> 16);
      }
    }
  }

  int code(int r, int i) {
    int base = r * cbpr;
    return switch (format.bits()) {
      case 8 -> codes[base + i] & 0xFF;
      case 4 -> ((codes[base + i / 2] & 0xFF) >> (4 * (i % 2))) & 0xF;
      default -> {
        int g = base + (i / 4) * 3;
        int bits = (codes[g] & 0xFF) | (codes[g + 1] & 0xFF) << 8 | (codes[g + 2] & 0xFF) << 16;
        yield (bits >> (6 * (i % 4))) & 0x3F;
      }
    };
  }

  /** The exact value of element (r, k): decoded code times the block scale. */
  double value(int r, int k) {
    int s = scales[r * bpr + k / 32] & 0xFF;
    if (s == 0xFF) {
      return Double.NaN;
    }
    double v = format.decode(code(r, k));
    if (format == MxFormat.MXINT8) {
      v = (byte) code(r, k) / 64.0;
    }
    return v * Math.scalb(1.0, s - 127);
  }

  double[] values() {
    double[] out = new double[rows * cols];
    for (int r = 0; r < rows; r++) {
      for (int k = 0; k < cols; k++) {
        out[r * cols + k] = value(r, k);
      }
    }
    return out;
  }

  /** Random values with a per-row spread of magnitudes, never all zero. */
  static float[] random(Random rnd, int n, float scale) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      double g = rnd.nextGaussian();
      v[i] = (float) (scale * (g == 0 ? 1e-3 : g) * Math.exp(0.5 * rnd.nextGaussian()));
    }
    return v;
  }
}

package io.djlmx.format;

/**
 * Improves a row's MX codes, with its block scales fixed, by coordinate descent on the damped
 * output error {@code (w − ŵ)ᵀ·(H + λI)·(w − ŵ)}: each weight in turn may move to the next
 * representable value above or below its current one, and moves that lower the error are taken,
 * pass after pass, until a pass moves nothing or the pass limit is reached.
 *
 * <p>Why: the error feedback of {@link CalibratedMxQuantizer} rounds each weight once, greedily, in
 * walk order; weights rounded early never see the errors of those rounded later. A descent over the
 * finished row revisits them: the error on the statistics can only fall, and each move costs one
 * column of {@code H}. The damping {@code λ} (the quantizer's) keeps the moves close to the weights
 * themselves, which is what lets the fit carry over to inputs outside the calibration set.
 *
 * <p>Not thread safe: one instance per thread (it holds scratch arrays).
 */
final class CodeRefiner {

  private final MxFormat format;
  private final int blockSize;
  private final int k;
  private final double[] h;
  private final double lambda;
  // every finite value of the format in ascending order, a code for each, and each code's index
  private final float[] values;
  private final int[] codeOf;
  private final int[] indexOf;
  private final double[] d;
  private final double[] g;
  private final double[] q;

  /**
   * Creates a refiner for rows of one weight.
   *
   * @param format the element type
   * @param blockSize elements per block
   * @param k the row length
   * @param h the full symmetric Gram matrix {@code [k, k]}, row-major (both triangles filled)
   * @param lambda the absolute damping added to its diagonal
   */
  CodeRefiner(MxFormat format, int blockSize, int k, double[] h, double lambda) {
    this.format = format;
    this.blockSize = blockSize;
    this.k = k;
    this.h = h;
    this.lambda = lambda;
    float[] table = format.decodeTable();
    int n = 0;
    float[] v = new float[table.length];
    int[] c = new int[table.length];
    for (int code = 0; code < table.length; code++) {
      float x = table[code];
      // -0 duplicates +0; MXINT8's code -128 is never produced by the encoder
      boolean skip =
          !Float.isFinite(x)
              || (x == 0 && Float.floatToRawIntBits(x) != 0)
              || (format == MxFormat.MXINT8 && code == 0x80);
      if (!skip) {
        v[n] = x;
        c[n++] = code;
      }
    }
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    java.util.Arrays.sort(order, (a, b) -> Float.compare(v[a], v[b]));
    values = new float[n];
    codeOf = new int[n];
    indexOf = new int[table.length];
    java.util.Arrays.fill(indexOf, -1);
    for (int i = 0; i < n; i++) {
      values[i] = v[order[i]];
      codeOf[i] = c[order[i]];
      indexOf[codeOf[i]] = i;
    }
    for (int code = 0; code < table.length; code++) {
      if (indexOf[code] < 0 && table[code] == 0) {
        indexOf[code] = java.util.Arrays.binarySearch(values, 0f);
      }
    }
    d = new double[k];
    g = new double[k];
    q = new double[k];
  }

  /**
   * Refines one row in place.
   *
   * @param w the row's weights, {@code k} values from {@code offset}
   * @param offset where the row starts in {@code w}
   * @param codes the row's codes (padded length), updated in place
   * @param scales the row's biased E8M0 scales
   * @param maxPasses the most passes over the row
   */
  void refine(float[] w, int offset, int[] codes, int[] scales, int maxPasses) {
    for (int c = 0; c < k; c++) {
      q[c] = (double) format.decode(codes[c]) * E8M0.toFloat(scales[c / blockSize]);
      d[c] = w[offset + c] - q[c];
    }
    for (int i = 0; i < k; i++) {
      int ri = i * k;
      double s = lambda * d[i];
      for (int j = 0; j < k; j++) {
        s += h[ri + j] * d[j];
      }
      g[i] = s;
    }
    for (int pass = 0; pass < maxPasses; pass++) {
      int moves = 0;
      for (int c = 0; c < k; c++) {
        int idx = indexOf[codes[c]];
        if (idx < 0) {
          continue; // a NaN code: its block is not a number, leave it
        }
        double scale = E8M0.toFloat(scales[c / blockSize]);
        double hcc = h[c * k + c] + lambda;
        double best = 0;
        int bestIdx = idx;
        for (int step = -1; step <= 1; step += 2) {
          int j = idx + step;
          if (j < 0 || j >= values.length) {
            continue;
          }
          double delta = values[j] * scale - q[c];
          double change = delta * (delta * hcc - 2 * g[c]);
          // a relative margin, so rounding noise in g never makes two values trade places forever
          if (change < best - 1e-12 * Math.abs(delta * g[c])) {
            best = change;
            bestIdx = j;
          }
        }
        if (bestIdx != idx) {
          double delta = values[bestIdx] * scale - q[c];
          codes[c] = codeOf[bestIdx];
          q[c] += delta;
          d[c] -= delta;
          int rc = c * k;
          for (int j = 0; j < k; j++) {
            g[j] -= delta * h[rc + j];
          }
          g[c] -= delta * lambda;
          moves++;
        }
      }
      if (moves == 0) {
        break;
      }
    }
  }
}

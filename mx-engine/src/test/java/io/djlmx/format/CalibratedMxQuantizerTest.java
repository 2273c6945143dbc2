package io.djlmx.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Calibrated (error-feedback) MX rounding against round-to-nearest and an FP64 reference. */
class CalibratedMxQuantizerTest {

  private static final int[][] SHAPES = { // {n, k}
    {1, 40}, {3, 96}, {17, 100}, {3, 40}, {17, 96}, {1, 100}
  };

  @Test
  void aMultipleOfTheIdentityOrAnyDiagonalGramIsRoundToNearestBitForBit() {
    Random rnd = new Random(11);
    for (MxFormat f : MxFormat.values()) {
      for (ScaleMode mode : ScaleMode.values()) {
        for (int[] s : SHAPES) {
          int n = s[0];
          int k = s[1];
          float[] w = randomWeights(rnd, n, k);
          double[] gram = new double[k * k];
          boolean diagonal = rnd.nextBoolean();
          for (int i = 0; i < k; i++) {
            gram[i * k + i] = diagonal ? 0.1 + rnd.nextDouble() * 10 : 3.5;
          }
          try (MxTensor got = calibrated(w, n, k, gram, f, mode);
              MxTensor rtn = roundToNearest(w, n, k, f, mode)) {
            String what = f + " " + mode + " [" + n + ", " + k + "]";
            assertArrayEquals(bytes(rtn.codes()), bytes(got.codes()), what);
            assertArrayEquals(bytes(rtn.scales()), bytes(got.scales()), what);
            assertEquals(mode, got.scaleMode());
          }
        }
      }
    }
  }

  @Test
  void onCorrelatedInputsTheOutputErrorIsBelowRoundToNearestAndEveryCodeIsValid() {
    Random rnd = new Random(23);
    for (int[] s : SHAPES) {
      int n = s[0];
      int k = s[1];
      int m = 4 * k;
      float[] x = correlatedInputs(rnd, m, k);
      float[] w = randomWeights(rnd, n, k);
      double[] gram = gram(x, m, k);
      for (MxFormat f : MxFormat.values()) {
        for (ScaleMode mode : ScaleMode.values()) {
          try (MxTensor got = calibrated(w, n, k, gram, f, mode);
              MxTensor rtn = roundToNearest(w, n, k, f, mode)) {
            String what = f + " " + mode + " [" + n + ", " + k + "]";
            assertValid(got, what);
            double eCal = outputError(x, m, k, w, got.dequantize(), n);
            double eRtn = outputError(x, m, k, w, rtn.dequantize(), n);
            assertTrue(eCal < eRtn, what + ": calibrated error " + eCal + " vs RTN " + eRtn);
          }
        }
      }
    }
  }

  @Test
  void refinementLowersTheDampedErrorOfEveryRowAndKeepsScalesAndValidCodes() {
    Random rnd = new Random(41);
    double damping = 0.1;
    for (int[] s : SHAPES) {
      int n = s[0];
      int k = s[1];
      int m = 4 * k;
      float[] x = correlatedInputs(rnd, m, k);
      float[] w = randomWeights(rnd, n, k);
      double[] gram = gram(x, m, k);
      double lambda = damping * meanDiagonal(gram, k);
      for (MxFormat f : MxFormat.values()) {
        for (ScaleMode mode : ScaleMode.values()) {
          CalibratedMxQuantizer.Builder b =
              CalibratedMxQuantizer.builder().setFormat(f).optScaleMode(mode).optDamping(damping);
          try (MxTensor plain = b.build().quantize("w", w, n, k, gram);
              MxTensor refined = b.optRefinePasses(8).build().quantize("w", w, n, k, gram)) {
            String what = f + " " + mode + " [" + n + ", " + k + "]";
            assertValid(refined, what);
            // the descent moves codes only: every block keeps its scale
            assertArrayEquals(bytes(plain.scales()), bytes(refined.scales()), what);
            float[] p = plain.dequantize();
            float[] r = refined.dequantize();
            double sumPlain = 0;
            double sumRefined = 0;
            for (int row = 0; row < n; row++) {
              double ePlain = dampedError(gram, k, lambda, w, p, row);
              double eRefined = dampedError(gram, k, lambda, w, r, row);
              assertTrue(
                  eRefined <= ePlain * (1 + 1e-9),
                  what + " row " + row + ": refined " + eRefined + " vs " + ePlain);
              sumPlain += ePlain;
              sumRefined += eRefined;
            }
            assertTrue(sumRefined < sumPlain, what + ": " + sumRefined + " vs " + sumPlain);
          }
        }
      }
    }
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> CalibratedMxQuantizer.builder().optRefinePasses(-1));
    assertTrue(e.getMessage().contains("refine passes"), e.getMessage());
  }

  @Test
  void refinementOfADiagonalGramIsStillRoundToNearest() {
    Random rnd = new Random(43);
    for (MxFormat f : MxFormat.values()) {
      for (ScaleMode mode : ScaleMode.values()) {
        int n = 17;
        int k = 100;
        float[] w = randomWeights(rnd, n, k);
        double[] gram = new double[k * k];
        for (int i = 0; i < k; i++) {
          gram[i * k + i] = 0.1 + rnd.nextDouble() * 10;
        }
        try (MxTensor got =
                CalibratedMxQuantizer.builder()
                    .setFormat(f)
                    .optScaleMode(mode)
                    .optRefinePasses(8)
                    .build()
                    .quantize("w", w, n, k, gram);
            MxTensor rtn = roundToNearest(w, n, k, f, mode)) {
          assertArrayEquals(bytes(rtn.codes()), bytes(got.codes()), f + " " + mode);
        }
      }
    }
  }

  @Test
  void matchesAnFp64ReferenceThatInvertsTheRemainingGramAtEveryStep() {
    Random rnd = new Random(5);
    int n = 5;
    int block = 4;
    for (int k : new int[] {7, 12}) {
      int m = 3 * k;
      float[] x = correlatedInputs(rnd, m, k);
      double[] gram = gram(x, m, k);
      for (MxFormat f : MxFormat.values()) {
        float[] w = randomWeights(rnd, n, k);
        CalibratedMxQuantizer q =
            CalibratedMxQuantizer.builder()
                .setFormat(f)
                .optBlockSize(block)
                .optScaleMode(ScaleMode.RCEIL)
                .optActivationOrder(false)
                .build();
        try (MxTensor got = q.quantize("w", w, n, k, gram)) {
          double[] ref = referenceQuantize(w, n, k, gram, f, ScaleMode.RCEIL, block, 0.01);
          float[] deq = got.dequantize();
          for (int i = 0; i < ref.length; i++) {
            assertEquals(ref[i], deq[i], 0.0, f + " k=" + k + " element " + i);
          }
        }
      }
    }
  }

  @Test
  void activationOrderIsTheNaturalWalkOfTheBlockPermutedProblem() {
    Random rnd = new Random(31);
    int n = 5;
    int block = 4;
    int blocks = 4;
    int k = block * blocks;
    float[] x = correlatedInputs(rnd, 3 * k, k);
    double[] gram = gram(x, 3 * k, k);
    float[] w = randomWeights(rnd, n, k);
    // the order activation order walks: blocks by their largest diagonal entry, descending
    Integer[] order = {0, 1, 2, 3};
    double[] energy = new double[blocks];
    for (int b = 0; b < blocks; b++) {
      for (int c = b * block; c < (b + 1) * block; c++) {
        energy[b] = Math.max(energy[b], gram[c * k + c]);
      }
    }
    java.util.Arrays.sort(order, (p, q) -> Double.compare(energy[q], energy[p]));
    int[] perm = new int[k];
    for (int i = 0; i < blocks; i++) {
      for (int j = 0; j < block; j++) {
        perm[i * block + j] = order[i] * block + j;
      }
    }
    float[] wp = new float[n * k];
    double[] gp = new double[k * k];
    for (int r = 0; r < n; r++) {
      for (int c = 0; c < k; c++) {
        wp[r * k + c] = w[r * k + perm[c]];
      }
    }
    for (int i = 0; i < k; i++) {
      for (int j = 0; j < k; j++) {
        gp[i * k + j] = gram[perm[i] * k + perm[j]];
      }
    }
    for (MxFormat f : MxFormat.values()) {
      CalibratedMxQuantizer.Builder b =
          CalibratedMxQuantizer.builder().setFormat(f).optBlockSize(block);
      try (MxTensor ordered = b.optActivationOrder(true).build().quantize("w", w, n, k, gram);
          MxTensor natural = b.optActivationOrder(false).build().quantize("w", wp, n, k, gp)) {
        float[] a = ordered.dequantize();
        float[] z = natural.dequantize();
        for (int r = 0; r < n; r++) {
          for (int c = 0; c < k; c++) {
            assertEquals(z[r * k + c], a[r * k + perm[c]], 0f, f + " row " + r + " col " + perm[c]);
          }
        }
      }
    }
  }

  @Test
  void deadInputsAndRaggedBlocksWork() {
    Random rnd = new Random(8);
    int n = 6;
    int k = 45;
    int m = 200;
    float[] x = correlatedInputs(rnd, m, k);
    for (int r = 0; r < m; r++) {
      x[r * k + 3] = 0;
      x[r * k + 40] = 0;
    }
    float[] w = randomWeights(rnd, n, k);
    double[] gram = gram(x, m, k);
    for (MxFormat f : MxFormat.values()) {
      CalibratedMxQuantizer q = CalibratedMxQuantizer.builder().setFormat(f).build();
      try (MxTensor got = q.quantize("w", w, n, k, gram);
          MxTensor again = q.quantize("w", w, n, k, gram);
          MxTensor rtn = MxTensor.quantize(w, new long[] {n, k}, f)) {
        assertValid(got, f.name());
        assertArrayEquals(bytes(got.codes()), bytes(again.codes()), "deterministic");
        double eCal = outputError(x, m, k, w, got.dequantize(), n);
        double eRtn = outputError(x, m, k, w, rtn.dequantize(), n);
        assertTrue(eCal < eRtn, f + ": " + eCal + " vs " + eRtn);
      }
    }
  }

  @Test
  void badInputIsRejectedWithItsLocation() {
    CalibratedMxQuantizer q =
        CalibratedMxQuantizer.builder().setFormat(MxFormat.MXFP8_E4M3).build();
    double[] eye = new double[4];
    eye[0] = 1;
    eye[3] = 1;
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> q.quantize("fc.weight", new float[] {1, Float.NaN, 2, 3}, 2, 2, eye));
    assertTrue(e.getMessage().contains("fc.weight") && e.getMessage().contains("row 0, column 1"));
    double[] bad = {1, 0, Double.POSITIVE_INFINITY, 1};
    e =
        assertThrows(
            IllegalArgumentException.class,
            () -> q.quantize("fc.weight", new float[] {1, 1, 2, 3}, 2, 2, bad));
    assertTrue(
        e.getMessage().contains("Gram matrix of fc.weight") && e.getMessage().contains("[1, 0]"));
    double[] indefinite = {1, 1000, 1000, 1};
    e =
        assertThrows(
            IllegalArgumentException.class,
            () -> q.quantize("fc.weight", new float[] {1, 1, 2, 3}, 2, 2, indefinite));
    assertTrue(e.getMessage().contains("not positive definite"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> q.quantize("w", new float[3], 2, 2, eye));
    assertThrows(
        IllegalArgumentException.class, () -> q.quantize("w", new float[4], 2, 2, new double[3]));
    assertThrows(
        IllegalArgumentException.class,
        () -> CalibratedMxQuantizer.builder().setFormat(MxFormat.MXINT8).optDamping(-1));
    assertThrows(IllegalStateException.class, () -> CalibratedMxQuantizer.builder().build());
    // a mildly indefinite matrix is rescued by more damping
    double[] slightly = {1, 1.001, 1.001, 1};
    try (MxTensor t = q.quantize("w", new float[] {1, 2, 3, 4}, 2, 2, slightly)) {
      assertNotEquals(E8M0.NAN, t.scales().get(ValueLayout.JAVA_BYTE, 0) & 0xFF);
    }
  }

  // ---------------------------------------------------------------- helpers

  private static MxTensor calibrated(
      float[] w, int n, int k, double[] gram, MxFormat f, ScaleMode mode) {
    return CalibratedMxQuantizer.builder()
        .setFormat(f)
        .optScaleMode(mode)
        .build()
        .quantize("w", w, n, k, gram);
  }

  private static double meanDiagonal(double[] gram, int k) {
    double sum = 0;
    for (int i = 0; i < k; i++) {
      sum += gram[i * k + i];
    }
    return sum / k;
  }

  /** {@code dᵀ·(H + λI)·d} of one row, {@code d = w − ŵ}, in FP64. */
  private static double dampedError(
      double[] gram, int k, double lambda, float[] w, float[] wq, int row) {
    double[] d = new double[k];
    for (int c = 0; c < k; c++) {
      d[c] = (double) w[row * k + c] - wq[row * k + c];
    }
    double sum = 0;
    for (int i = 0; i < k; i++) {
      double hd = lambda * d[i];
      for (int j = 0; j < k; j++) {
        hd += gram[Math.max(i, j) * k + Math.min(i, j)] * d[j];
      }
      sum += d[i] * hd;
    }
    return sum;
  }

  private static MxTensor roundToNearest(float[] w, int n, int k, MxFormat f, ScaleMode mode) {
    return MxTensor.quantize(MemorySegment.ofArray(w), new long[] {n, k}, f, mode, 32);
  }

  /**
   * The textbook form of the same algorithm, in FP64 with no factorization tricks: after each
   * column is rounded, the inverse of the damped Gram matrix restricted to the columns still free
   * is formed by Gauss-Jordan elimination, and the error is spread with its column. Returns the
   * dequantized result.
   */
  static double[] referenceQuantize(
      float[] weight,
      int n,
      int k,
      double[] gram,
      MxFormat f,
      ScaleMode mode,
      int block,
      double relDamp) {
    double mean = 0;
    for (int i = 0; i < k; i++) {
      mean += gram[i * k + i];
    }
    double lambda = relDamp * mean / k;
    double[] out = new double[n * k];
    for (int r = 0; r < n; r++) {
      double[] w = new double[k];
      for (int c = 0; c < k; c++) {
        w[c] = weight[r * k + c];
      }
      int exp = 0;
      for (int c = 0; c < k; c++) {
        if (c % block == 0) {
          double max = 0;
          for (int j = c; j < Math.min(k, c + block); j++) {
            max = Math.max(max, Math.abs(w[j]));
          }
          exp = E8M0.sharedExponent((float) max, f, mode);
        }
        double q = Math.scalb((double) f.decode(f.encode(Math.scalb((float) w[c], -exp))), exp);
        out[r * k + c] = q;
        // free columns c..k-1: inverse of the damped Gram on them
        int size = k - c;
        double[][] a = new double[size][size];
        for (int i = 0; i < size; i++) {
          for (int j = 0; j < size; j++) {
            a[i][j] = gram[(c + i) * k + (c + j)] + (i == j ? lambda : 0);
          }
        }
        double[][] inv = invert(a);
        double e = (w[c] - q) / inv[0][0];
        for (int j = 1; j < size; j++) {
          w[c + j] -= e * inv[j][0];
        }
      }
    }
    return out;
  }

  private static double[][] invert(double[][] a) {
    int s = a.length;
    double[][] m = new double[s][2 * s];
    for (int i = 0; i < s; i++) {
      System.arraycopy(a[i], 0, m[i], 0, s);
      m[i][s + i] = 1;
    }
    for (int p = 0; p < s; p++) {
      int best = p;
      for (int i = p + 1; i < s; i++) {
        if (Math.abs(m[i][p]) > Math.abs(m[best][p])) {
          best = i;
        }
      }
      double[] t = m[p];
      m[p] = m[best];
      m[best] = t;
      double d = m[p][p];
      for (int j = 0; j < 2 * s; j++) {
        m[p][j] /= d;
      }
      for (int i = 0; i < s; i++) {
        if (i != p && m[i][p] != 0) {
          double c = m[i][p];
          for (int j = 0; j < 2 * s; j++) {
            m[i][j] -= c * m[p][j];
          }
        }
      }
    }
    double[][] inv = new double[s][s];
    for (int i = 0; i < s; i++) {
      System.arraycopy(m[i], s, inv[i], 0, s);
    }
    return inv;
  }

  /** Every scale finite, every code re-encodes to itself, padding codes zero. */
  static void assertValid(MxTensor t, String what) {
    MxFormat f = t.format();
    int rows = (int) t.rows();
    int cols = (int) t.cols();
    int blocks = (int) t.blocksPerRow();
    int padded = blocks * t.blockSize();
    int[] codes = new int[padded];
    for (int r = 0; r < rows; r++) {
      CodePacking.unpack(t.codes(), r * t.codeBytesPerRow(), f.bits(), codes, padded);
      for (int b = 0; b < blocks; b++) {
        int s = t.scales().get(ValueLayout.JAVA_BYTE, (long) r * blocks + b) & 0xFF;
        assertNotEquals(E8M0.NAN, s, what + " NaN scale at row " + r + " block " + b);
      }
      for (int c = 0; c < padded; c++) {
        float v = f.decode(codes[c]);
        assertTrue(Float.isFinite(v), what + " non-finite code " + codes[c]);
        if (c >= cols) {
          assertEquals(0, codes[c], what + " padding");
        } else if (v != 0) {
          assertEquals(codes[c], f.encode(v), what + " code " + codes[c] + " does not round-trip");
        }
      }
    }
  }

  static float[] randomWeights(Random rnd, int n, int k) {
    float[] w = new float[n * k];
    for (int i = 0; i < w.length; i++) {
      // mostly Gaussian with a few outliers, as trained weights are
      double g = rnd.nextGaussian() * 0.05;
      w[i] = (float) (rnd.nextInt(50) == 0 ? g * 8 : g);
    }
    return w;
  }

  /** Inputs with strongly correlated features: a random mix of a few latent factors plus noise. */
  static float[] correlatedInputs(Random rnd, int m, int k) {
    int latent = Math.max(2, k / 6);
    double[] mix = new double[latent * k];
    for (int i = 0; i < mix.length; i++) {
      mix[i] = rnd.nextGaussian();
    }
    double[] channel = new double[k];
    for (int j = 0; j < k; j++) {
      channel[j] = Math.exp(rnd.nextGaussian()); // uneven input magnitudes
    }
    float[] x = new float[m * k];
    double[] z = new double[latent];
    for (int r = 0; r < m; r++) {
      for (int l = 0; l < latent; l++) {
        z[l] = rnd.nextGaussian();
      }
      for (int j = 0; j < k; j++) {
        double v = 0.2 * rnd.nextGaussian();
        for (int l = 0; l < latent; l++) {
          v += z[l] * mix[l * k + j];
        }
        x[r * k + j] = (float) (v * channel[j]);
      }
    }
    return x;
  }

  static double[] gram(float[] x, int m, int k) {
    double[] h = new double[k * k];
    for (int r = 0; r < m; r++) {
      for (int i = 0; i < k; i++) {
        double xi = x[r * k + i];
        for (int j = 0; j < k; j++) {
          h[i * k + j] += xi * x[r * k + j];
        }
      }
    }
    return h;
  }

  /** {@code ||X·Wᵀ − X·Ŵᵀ||_F} in FP64. */
  static double outputError(float[] x, int m, int k, float[] w, float[] wq, int n) {
    double sum = 0;
    for (int r = 0; r < m; r++) {
      for (int o = 0; o < n; o++) {
        double d = 0;
        for (int j = 0; j < k; j++) {
          d += (double) x[r * k + j] * ((double) w[o * k + j] - wq[o * k + j]);
        }
        sum += d * d;
      }
    }
    return Math.sqrt(sum);
  }

  private static byte[] bytes(MemorySegment s) {
    return s.toArray(ValueLayout.JAVA_BYTE);
  }
}

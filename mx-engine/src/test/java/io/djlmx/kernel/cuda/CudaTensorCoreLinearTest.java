package io.djlmx.kernel.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.djlmx.format.MxFormat;
import io.djlmx.format.ScaleMode;
import io.djlmx.kernel.cuda.CudaMxLinear.WeightOnlyPath;
import java.lang.foreign.MemorySegment;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The split-BF16 tensor-core kernel of weight-only MX linear (mx_gemm_tc.cu) against an FP64 host
 * reference: FP32 accuracy on random data and odd shapes for every format, bit-exact results where
 * FP32 is exact (which only a lossless split of x gives), the fallback to the SIMT kernel where
 * BF16 cannot hold the weight, and NaN blocks. Outputs are poisoned with NaN first. Skipped (not
 * failed) where no CUDA device is present.
 */
@ExtendWith(CudaDeviceCheck.class)
@Tag("gpu")
class CudaTensorCoreLinearTest {

  private static final int NAN_BITS = 0x7FC00000;

  /**
   * Largest error allowed with three pieces, relative to sum |x·w|: FP32 accumulation of the
   * 32-wide tile sums (two pieces, 16-17 bits of x, measure several times this; see docs/gpu.md).
   */
  private static final double TOL_SPLIT3 = 1e-6;

  /** (m, n, k): M = 1, 3, 17, 1000; K = 40, 100, 391 (384 + 7), not multiples of 32; N odd. */
  private static final int[][] SHAPES = {
    {1, 33, 40},
    {3, 65, 100},
    {17, 7, 391},
    {32, 64, 384},
    {100, 1, 1},
    {1000, 129, 96},
    {130, 257, 1536}
  };

  /** Variants of the pre-split kernel (mx_gemm_tcs.cu). */
  private static final int[] PRESPLIT = CudaMxLinear.PRESPLIT_VARIANTS;

  private static final boolean PRESPLIT_DEFAULT = CudaMxLinear.tensorCorePresplit;

  private static final int PRESPLIT_MIN_BLOCKS_DEFAULT = CudaMxLinear.presplitMinBlocks;

  /** Selects the register-prefetch kernel (mx_gemm_tc.cu) with these rows per CTA and K groups. */
  private static void useTiled(int tile, int kSplit) {
    CudaMxLinear.tensorCorePresplit = false;
    CudaMxLinear.tensorCoreRowTile = tile;
    CudaMxLinear.tensorCoreKSplit = kSplit;
  }

  /** Selects a pre-split kernel variant (rows per CTA x 100 + K groups x 10 + stages). */
  private static void usePresplit(int variant) {
    CudaMxLinear.tensorCorePresplit = true;
    CudaMxLinear.presplitMinBlocks = 0;
    CudaMxLinear.presplitVariant = variant;
  }

  @AfterEach
  void restore() {
    CudaMxLinear.tensorCorePieces = 3;
    CudaMxLinear.tensorCoreRowTile = 0;
    CudaMxLinear.tensorCoreKSplit = 2;
    CudaMxLinear.tensorCorePresplit = PRESPLIT_DEFAULT;
    CudaMxLinear.presplitVariant = 0;
    CudaMxLinear.presplitMinBlocks = PRESPLIT_MIN_BLOCKS_DEFAULT;
  }

  private static CudaMxMatrix upload(HostMx q) {
    return CudaMxMatrix.upload(
        q.format, q.rows, q.cols, MemorySegment.ofArray(q.codes), MemorySegment.ofArray(q.scales));
  }

  /**
   * Runs weight-only linear on the path the dispatch picks, through the public entry; returns y.
   */
  private static float[] runDispatched(float[] x, int m, CudaMxMatrix w, float[] bias) {
    int n = (int) w.rows();
    float[] y = new float[m * n];
    try (DeviceBuffer dx = DeviceBuffer.of(x);
        DeviceBuffer db = bias == null ? null : DeviceBuffer.of(bias);
        DeviceBuffer dy = DeviceBuffer.allocate(4L * m * n)) {
      dy.fill32(NAN_BITS);
      CudaMxLinear.weightOnly(dx, m, w, db, dy);
      dy.copyTo(y);
    }
    return y;
  }

  /** Runs weight-only linear on the given path; returns y. */
  private static float[] run(float[] x, int m, CudaMxMatrix w, float[] bias, WeightOnlyPath path) {
    int n = (int) w.rows();
    float[] y = new float[m * n];
    try (DeviceBuffer dx = DeviceBuffer.of(x);
        DeviceBuffer db = bias == null ? null : DeviceBuffer.of(bias);
        DeviceBuffer dy = DeviceBuffer.allocate(4L * m * n)) {
      dy.fill32(NAN_BITS);
      CudaMxLinear.weightOnly(dx, m, w, db, dy, path);
      dy.copyTo(y);
    }
    return y;
  }

  /** FP64 reference y (+ bias) and sum |x·w| (+ |bias|) of every output. */
  private record Reference(double[] y, double[] bound) {
    static Reference of(float[] x, double[] wv, float[] bias, int m, int n, int k) {
      double[] y = new double[m * n];
      double[] bound = new double[m * n];
      for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
          double ref = bias == null ? 0 : bias[j];
          double b = bias == null ? 0 : Math.abs(bias[j]);
          for (int kk = 0; kk < k; kk++) {
            double p = (double) x[i * k + kk] * wv[j * k + kk];
            ref += p;
            b += Math.abs(p);
          }
          y[i * n + j] = ref;
          bound[i * n + j] = b;
        }
      }
      return new Reference(y, bound);
    }

    /** Largest |got - y| / bound; a non-finite output is infinite error. */
    double maxRelError(float[] got) {
      double worst = 0;
      for (int i = 0; i < y.length; i++) {
        double e = Math.abs(got[i] - y[i]) / (bound[i] + 1e-300);
        if (!(e <= Double.MAX_VALUE)) {
          return Double.POSITIVE_INFINITY;
        }
        worst = Math.max(worst, e);
      }
      return worst;
    }
  }

  @ParameterizedTest
  @EnumSource(MxFormat.class)
  void threePiecesMatchFp64ReferenceToFp32Accuracy(MxFormat f) {
    Random rnd = new Random(31 + f.ordinal());
    for (int[] s : SHAPES) {
      int m = s[0];
      int n = s[1];
      int k = s[2];
      HostMx w = HostMx.quantize(HostMx.random(rnd, n * k, 0.05f), n, k, f, ScaleMode.FLOOR);
      float[] x = HostMx.random(rnd, m * k, 1f);
      float[] bias = (m % 2 == 1) ? HostMx.random(rnd, n, 0.1f) : null;
      Reference ref = Reference.of(x, w.values(), bias, m, n, k);
      try (CudaMxMatrix dw = upload(w)) {
        assertTrue(dw.bf16Exact(), f + " weight of ordinary scale is BF16-exact");
        double simt = ref.maxRelError(run(x, m, dw, bias, WeightOnlyPath.SIMT));
        double[] byPieces = new double[4];
        for (int pieces = 1; pieces <= 3; pieces++) {
          for (int tile : new int[] {32, 64}) {
            for (int ks = 1; ks <= (pieces == 3 ? 2 : 1); ks++) {
              CudaMxLinear.tensorCorePieces = pieces;
              useTiled(tile, ks);
              float[] y = run(x, m, dw, bias, WeightOnlyPath.TENSOR_CORE);
              double e = ref.maxRelError(y);
              byPieces[pieces] = Math.max(byPieces[pieces], e);
            }
          }
        }
        double presplit = 0;
        for (int v : PRESPLIT) {
          usePresplit(v);
          double e = ref.maxRelError(run(x, m, dw, bias, WeightOnlyPath.TENSOR_CORE));
          presplit = Math.max(presplit, e);
        }
        // measured errors, for docs/gpu.md (the run scripts keep the test log)
        System.out.printf(
            Locale.ROOT,
            "TCERR %s m=%d n=%d k=%d simt=%.3g p1=%.3g p2=%.3g p3=%.3g presplit=%.3g%n",
            f,
            m,
            n,
            k,
            simt,
            byPieces[1],
            byPieces[2],
            byPieces[3],
            presplit);
        if (!(presplit <= TOL_SPLIT3)) {
          fail(
              String.format(
                  Locale.ROOT,
                  "%s m=%d n=%d k=%d: presplit tensor-core error %.3g over %.1g (SIMT FP32 %.3g)",
                  f,
                  m,
                  n,
                  k,
                  presplit,
                  TOL_SPLIT3,
                  simt));
        }
        if (!(byPieces[3] <= TOL_SPLIT3)) {
          fail(
              String.format(
                  Locale.ROOT,
                  "%s m=%d n=%d k=%d: 3-piece tensor-core error %.3g over %.1g (SIMT FP32 %.3g)",
                  f,
                  m,
                  n,
                  k,
                  byPieces[3],
                  TOL_SPLIT3,
                  simt));
        }
      }
    }
  }

  /**
   * A permutation weight with power-of-two values makes y[i, j] = x[i, perm(j)] · 2^e exactly in
   * FP32; x spans FP32's range (full 24-bit significands, ±3.3e38, 1e-30), so the result is bit for
   * bit only if the three pieces hold all of x and no piece overflows.
   */
  @Test
  void threePiecesAreBitExactWhereFp32IsExact() {
    Random rnd = new Random(3);
    int m = 67;
    int k = 391;
    int n = 301;
    int[] perm = new int[n];
    for (int j = 0; j < n; j++) {
      perm[j] = rnd.nextInt(k);
    }
    float[] x = new float[m * k];
    for (int i = 0; i < x.length; i++) {
      float v =
          Float.intBitsToFloat(0x3F800000 | rnd.nextInt(1 << 23)) * (rnd.nextBoolean() ? 1 : -1);
      x[i] =
          switch (i % 7) {
            case 0 -> v * 1.6e38f;
            case 1 -> v * 1e-30f;
            default -> v * (float) Math.scalb(1.0, rnd.nextInt(40) - 20);
          };
    }
    for (MxFormat f : MxFormat.values()) {
      float[] wf = new float[n * k];
      for (int j = 0; j < n; j++) {
        wf[j * k + perm[j]] = 0.25f;
      }
      HostMx w = HostMx.quantize(wf, n, k, f, ScaleMode.FLOOR);
      for (int j = 0; j < n; j++) {
        assertEquals(0.25, w.value(j, perm[j]), f + ": 0.25 is an exact MX value");
      }
      try (CudaMxMatrix dw = upload(w)) {
        for (int variant = 0; variant < 4 + PRESPLIT.length; variant++) {
          int tile;
          if (variant < 4) {
            tile = variant % 2 == 0 ? 32 : 64;
            useTiled(tile, 1 + variant / 2);
          } else {
            usePresplit(PRESPLIT[variant - 4]);
            tile = -PRESPLIT[variant - 4]; // negative: the pre-split kernel's variant
          }
          float[] y = run(x, m, dw, null, WeightOnlyPath.TENSOR_CORE);
          for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
              float want = x[i * k + perm[j]] * 0.25f;
              if (Float.floatToRawIntBits(y[i * n + j]) != Float.floatToRawIntBits(want)) {
                fail(
                    f
                        + " tile "
                        + tile
                        + ": y["
                        + i
                        + ","
                        + j
                        + "] = "
                        + y[i * n + j]
                        + ", want "
                        + want);
              }
            }
          }
        }
      }
    }
  }

  @Test
  void dispatchTakesTensorCoresFromThirtyTwoRowsOrSixtyFiveAtLongK() {
    HostMx w =
        HostMx.quantize(
            HostMx.random(new Random(2), 64 * 96, 0.05f),
            64,
            96,
            MxFormat.MXFP6_E2M3,
            ScaleMode.FLOOR);
    try (CudaMxMatrix dw = upload(w)) {
      assertEquals(WeightOnlyPath.GEMV, CudaMxLinear.weightOnlyPath(31, dw));
      assertEquals(WeightOnlyPath.TENSOR_CORE, CudaMxLinear.weightOnlyPath(32, dw));
      assertEquals(WeightOnlyPath.TENSOR_CORE, CudaMxLinear.weightOnlyPath(1000, dw));
    }
    HostMx longK =
        HostMx.quantize(
            HostMx.random(new Random(3), 8 * 1536, 0.05f),
            8,
            1536,
            MxFormat.MXFP6_E2M3,
            ScaleMode.FLOOR);
    try (CudaMxMatrix dw = upload(longK)) {
      assertEquals(WeightOnlyPath.GEMV, CudaMxLinear.weightOnlyPath(64, dw), "K 1536, 64 rows");
      assertEquals(WeightOnlyPath.TENSOR_CORE, CudaMxLinear.weightOnlyPath(65, dw));
    }
  }

  /** Long-K weight-only with 33-64 rows stays on the GEMV passes and matches the reference. */
  @Test
  void longKMidRowsOnGemvMatchReference() {
    Random rnd = new Random(12);
    int m = 48;
    int n = 37;
    int k = 1100;
    HostMx w =
        HostMx.quantize(
            HostMx.random(rnd, n * k, 0.05f), n, k, MxFormat.MXFP6_E2M3, ScaleMode.FLOOR);
    float[] x = HostMx.random(rnd, m * k, 1f);
    float[] bias = HostMx.random(rnd, n, 0.1f);
    try (CudaMxMatrix dw = upload(w)) {
      assertEquals(WeightOnlyPath.GEMV, CudaMxLinear.weightOnlyPath(m, dw));
      float[] y = runDispatched(x, m, dw, bias);
      double e = Reference.of(x, w.values(), bias, m, n, k).maxRelError(y);
      assertTrue(e <= 3e-5, "GEMV error " + e);
    }
  }

  /**
   * Weights whose values BF16 cannot hold as normals (tiny scales) or at all (a hand-set scale past
   * the format's largest exact one) go to the SIMT kernel and stay right; tiny but normal weights
   * stay on the tensor cores and stay right. Device-quantized matrices get the same decision.
   */
  @Test
  void scalesBeyondBf16FallBackToSimt() {
    Random rnd = new Random(9);
    int m = 48;
    int n = 37;
    int k = 100;
    float[] x = HostMx.random(rnd, m * k, 1f);
    // E4M3 / E5M2 weights near 2^-125: their small codes would be BF16 subnormals
    for (MxFormat f :
        new MxFormat[] {MxFormat.MXFP8_E4M3, MxFormat.MXFP8_E5M2, MxFormat.MXFP6_E2M3}) {
      float[] wf = HostMx.random(rnd, n * k, (float) Math.scalb(1.0, -125));
      checkPath(
          f + " tiny", x, m, HostMx.quantize(wf, n, k, f, ScaleMode.FLOOR), WeightOnlyPath.SIMT);
      try (DeviceBuffer dwf = DeviceBuffer.of(wf);
          CudaMxMatrix q = CudaMxMatrix.quantize(dwf, n, k, f, ScaleMode.FLOOR)) {
        assertFalse(q.bf16Exact(), f + " device-quantized tiny weight");
      }
    }
    // tiny but normal in BF16: tensor cores
    float[] small = HostMx.random(rnd, n * k, (float) Math.scalb(1.0, -100));
    checkPath(
        "E4M3 2^-100",
        x,
        m,
        HostMx.quantize(small, n, k, MxFormat.MXFP8_E4M3, ScaleMode.FLOOR),
        WeightOnlyPath.TENSOR_CORE);
    // E2M1 with every scale at 2^126 (byte 253 > 252): codes capped at magnitude 3 so values stay
    // finite
    HostMx big =
        HostMx.quantize(HostMx.random(rnd, n * k, 1f), n, k, MxFormat.MXFP4_E2M1, ScaleMode.FLOOR);
    java.util.Arrays.fill(big.scales, (byte) 253);
    for (int i = 0; i < big.codes.length; i++) {
      int lo = big.codes[i] & 0xF;
      int hi = (big.codes[i] >> 4) & 0xF;
      lo = (lo & 7) > 5 ? (lo & 8) | 5 : lo;
      hi = (hi & 7) > 5 ? (hi & 8) | 5 : hi;
      big.codes[i] = (byte) (lo | hi << 4);
    }
    float[] xs = HostMx.random(rnd, m * k, (float) Math.scalb(1.0, -120));
    checkPath("E2M1 scale 2^126", xs, m, big, WeightOnlyPath.SIMT);
  }

  private static void checkPath(String what, float[] x, int m, HostMx w, WeightOnlyPath want) {
    try (CudaMxMatrix dw = upload(w)) {
      assertEquals(want, CudaMxLinear.weightOnlyPath(m, dw), what);
      float[] y = runDispatched(x, m, dw, null);
      double e = Reference.of(x, w.values(), null, m, w.rows, w.cols).maxRelError(y);
      assertTrue(e <= TOL_SPLIT3, what + ": error " + e);
    }
  }

  /**
   * An infinite activation gives ±Inf (the sign of its weight) in every output of its row, and NaN
   * where that weight is zero, as FP32 does: the split must not turn Inf into Inf - Inf = NaN.
   */
  @Test
  void infiniteActivationGivesSignedInfinityAsInFp32() {
    Random rnd = new Random(6);
    int m = 40;
    int n = 70;
    int k = 100;
    HostMx w =
        HostMx.quantize(HostMx.random(rnd, n * k, 0.05f), n, k, MxFormat.MXINT8, ScaleMode.FLOOR);
    float[] x = HostMx.random(rnd, m * k, 1f);
    int row = 7;
    int col = 45;
    x[row * k + col] = Float.NEGATIVE_INFINITY;
    try (CudaMxMatrix dw = upload(w)) {
      for (int variant = 0; variant < 3 + PRESPLIT.length; variant++) {
        if (variant < 3) {
          useTiled(0, 1 + variant % 2);
        } else {
          usePresplit(PRESPLIT[variant - 3]);
        }
        WeightOnlyPath path = variant == 2 ? WeightOnlyPath.SIMT : WeightOnlyPath.TENSOR_CORE;
        float[] y = run(x, m, dw, null, path);
        for (int j = 0; j < n; j++) {
          double wv = w.value(j, col);
          float got = y[row * n + j];
          float want =
              wv > 0 ? Float.NEGATIVE_INFINITY : wv < 0 ? Float.POSITIVE_INFINITY : Float.NaN;
          assertEquals(want, got, path + " variant " + variant + " y[" + row + "," + j + "]");
          assertTrue(Float.isFinite(y[(row + 1) * n + j]), "other rows stay finite");
        }
      }
    }
  }

  /** A NaN scale (0xFF) makes exactly the outputs of its weight row NaN, as on the FP32 path. */
  @Test
  void nanBlockGivesNanOnlyInItsColumn() {
    Random rnd = new Random(4);
    int m = 70;
    int n = 65;
    int k = 200;
    HostMx w =
        HostMx.quantize(HostMx.random(rnd, n * k, 0.05f), n, k, MxFormat.MXINT8, ScaleMode.FLOOR);
    w.scales[5 * w.bpr + 2] = (byte) 0xFF;
    float[] x = HostMx.random(rnd, m * k, 1f);
    try (CudaMxMatrix dw = upload(w)) {
      assertTrue(dw.bf16Exact());
      for (int variant = 0; variant <= PRESPLIT.length; variant++) {
        if (variant == 0) {
          useTiled(0, 2);
        } else {
          usePresplit(PRESPLIT[variant - 1]);
        }
        float[] y = run(x, m, dw, null, WeightOnlyPath.TENSOR_CORE);
        for (int i = 0; i < m; i++) {
          for (int j = 0; j < n; j++) {
            assertEquals(
                j == 5,
                Float.isNaN(y[i * n + j]),
                "variant " + variant + " y[" + i + "," + j + "]");
          }
        }
      }
    }
  }
}

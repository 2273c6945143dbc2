package io.djlmx.kernel.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.djlmx.format.MxFormat;
import io.djlmx.format.ScaleMode;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every MX kernel of the CUDA backend against an FP64 host reference on fresh random data and odd
 * shapes, outputs poisoned with NaN first. Skipped (not failed) where no CUDA device is present.
 */
@ExtendWith(CudaDeviceCheck.class)
@Tag("gpu")
class CudaMxLinearTest {

  private static final int NAN_BITS = 0x7FC00000;

  /** FP32 accumulation: error relative to sum |x·w|. */
  private static final double TOL_FP32 = 3e-5;

  /** FP8 tensor cores accumulate each 32-slice at reduced precision before the FP32 total. */
  private static final double TOL_TENSOR = 1e-3;

  /** (m, n, k): M = 1, 3, 17, 1000; K not a multiple of 32 (and odd, so rows are unaligned). */
  private static final int[][] SHAPES = {
    {1, 1000, 1000},
    {1, 257, 4096},
    {2, 5, 31},
    {3, 100, 333},
    {5, 33, 64},
    {17, 65, 100},
    {40, 64, 31},
    {1000, 130, 96}
  };

  private static CudaMxMatrix upload(HostMx q) {
    return CudaMxMatrix.upload(
        q.format, q.rows, q.cols, MemorySegment.ofArray(q.codes), MemorySegment.ofArray(q.scales));
  }

  /** Runs the linear on the device and checks it against sum_k xv·wv in FP64. */
  private static void check(
      String what,
      float[] x,
      double[] xv,
      int m,
      HostMx w,
      float[] bias,
      MxFormat act,
      double tol) {
    int n = w.rows;
    int k = w.cols;
    double[] wv = w.values();
    float[] y = new float[m * n];
    try (CudaMxMatrix dw = upload(w);
        DeviceBuffer dx = DeviceBuffer.of(x);
        DeviceBuffer db = bias == null ? null : DeviceBuffer.of(bias);
        DeviceBuffer dy = DeviceBuffer.allocate(4L * m * n)) {
      dy.fill32(NAN_BITS);
      CudaMxLinear.linear(dx, m, dw, db, dy, act, ScaleMode.FLOOR);
      dy.copyTo(y);
    }
    assertMatchesReference(what, y, xv, wv, bias, m, n, k, tol);
  }

  /** Fails unless each y[i, j] is within tol * sum|x·w| of the FP64 sum of xv·wv (+ bias). */
  private static void assertMatchesReference(
      String what,
      float[] y,
      double[] xv,
      double[] wv,
      float[] bias,
      int m,
      int n,
      int k,
      double tol) {
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        double ref = bias == null ? 0 : bias[j];
        double bound = 0;
        for (int kk = 0; kk < k; kk++) {
          double p = xv[i * k + kk] * wv[j * k + kk];
          ref += p;
          bound += Math.abs(p);
        }
        float got = y[i * n + j];
        if (!(Math.abs(got - ref) <= tol * bound + 1e-30)) {
          fail(
              String.format(
                  "%s m=%d n=%d k=%d: y[%d,%d] = %s, FP64 reference %s (sum|xw| %s)",
                  what, m, n, k, i, j, got, ref, bound));
        }
      }
    }
  }

  @ParameterizedTest
  @EnumSource(MxFormat.class)
  void weightOnlyMatchesFp64Reference(MxFormat f) {
    Random rnd = new Random(17 + f.ordinal());
    for (int[] s : SHAPES) {
      int m = s[0];
      int n = s[1];
      int k = s[2];
      HostMx w = HostMx.quantize(HostMx.random(rnd, n * k, 0.05f), n, k, f, ScaleMode.FLOOR);
      float[] x = HostMx.random(rnd, m * k, 1f);
      double[] xv = new double[x.length];
      for (int i = 0; i < x.length; i++) {
        xv[i] = x[i];
      }
      float[] bias = (m % 2 == 1) ? HostMx.random(rnd, n, 0.1f) : null;
      check("weight-only " + f, x, xv, m, w, bias, null, TOL_FP32);
    }
  }

  @ParameterizedTest
  @EnumSource(MxFormat.class)
  void weightAndActivationMatchesSpecDot(MxFormat f) {
    Random rnd = new Random(101 + f.ordinal());
    for (int[] s : SHAPES) {
      int m = s[0];
      int n = s[1];
      int k = s[2];
      HostMx w = HostMx.quantize(HostMx.random(rnd, n * k, 0.05f), n, k, f, ScaleMode.FLOOR);
      float[] x = HostMx.random(rnd, m * k, 1f);
      double[] xv = HostMx.quantize(x, m, k, f, ScaleMode.FLOOR).values();
      boolean tensor =
          m >= CudaMxLinear.TENSOR_CORE_MIN_ROWS
              && (f == MxFormat.MXFP8_E4M3 || f == MxFormat.MXFP8_E5M2);
      check(
          "w+a " + f, x, xv, m, w, HostMx.random(rnd, n, 0.1f), f, tensor ? TOL_TENSOR : TOL_FP32);
    }
  }

  @Test
  void mixedFp8OnTensorCores() {
    Random rnd = new Random(5);
    int[][] shapes = {{16, 8, 32}, {129, 131, 1000}, {256, 384, 2048}};
    MxFormat[] fs = {MxFormat.MXFP8_E4M3, MxFormat.MXFP8_E5M2};
    for (int[] s : shapes) {
      for (MxFormat fa : fs) {
        for (MxFormat fw : fs) {
          int m = s[0];
          int n = s[1];
          int k = s[2];
          HostMx w = HostMx.quantize(HostMx.random(rnd, n * k, 0.05f), n, k, fw, ScaleMode.FLOOR);
          float[] x = HostMx.random(rnd, m * k, 1f);
          double[] xv = HostMx.quantize(x, m, k, fa, ScaleMode.FLOOR).values();
          check("mma " + fa + " x " + fw, x, xv, m, w, null, fa, TOL_TENSOR);
        }
      }
    }
  }

  @ParameterizedTest
  @EnumSource(CudaMxLinear.Mxfp8Kernel.class)
  void eachTensorCoreKernelMatchesReference(CudaMxLinear.Mxfp8Kernel kernel) {
    Random rnd = new Random(11 + kernel.ordinal());
    int[][] shapes = {{1, 1, 32}, {17, 9, 100}, {128, 128, 64}, {200, 300, 1000}, {384, 256, 4096}};
    MxFormat[] fs = {MxFormat.MXFP8_E4M3, MxFormat.MXFP8_E5M2};
    for (int[] s : shapes) {
      for (MxFormat fa : fs) {
        for (MxFormat fw : fs) {
          int m = s[0];
          int n = s[1];
          int k = s[2];
          HostMx w = HostMx.quantize(HostMx.random(rnd, n * k, 0.05f), n, k, fw, ScaleMode.FLOOR);
          float[] x = HostMx.random(rnd, m * k, 1f);
          HostMx xh = HostMx.quantize(x, m, k, fa, ScaleMode.FLOOR);
          double[] xv = xh.values();
          double[] wv = w.values();
          float[] y = new float[m * n];
          try (CudaMxMatrix dw = upload(w);
              DeviceBuffer dx = DeviceBuffer.of(x);
              CudaMxMatrix xq = CudaMxMatrix.quantize(dx, m, k, fa, ScaleMode.FLOOR, true, null);
              DeviceBuffer dy = DeviceBuffer.allocate(4L * m * n)) {
            dy.fill32(NAN_BITS);
            CudaMxLinear.mxfp8Gemm(xq, dw, null, dy, kernel);
            dy.copyTo(y);
          }
          assertMatchesReference(
              kernel + " " + fa + " x " + fw, y, xv, wv, null, m, n, k, TOL_TENSOR);
        }
      }
    }
  }

  /** The warp-specialised kernels and variants: kernel, variant (see {@link #runVariant}). */
  private static final Object[][] WS_VARIANTS = {
    {CudaMxLinear.Mxfp8Kernel.WGMMA_WS, CudaMxLinear.WS_4SLICE},
    {CudaMxLinear.Mxfp8Kernel.WGMMA_WS, CudaMxLinear.WS_8SLICE},
    {CudaMxLinear.Mxfp8Kernel.WGMMA_WS3, CudaMxLinear.WS3_ONE_PARTIAL},
    {CudaMxLinear.Mxfp8Kernel.WGMMA_WS3, CudaMxLinear.WS3_HALVES}
  };

  /** Runs one warp-specialised kernel variant with the grid capped at {@code ctaCap} CTAs. */
  private static void runVariant(
      Object[] variant,
      int ctaCap,
      CudaMxMatrix xq,
      CudaMxMatrix w,
      DeviceBuffer bias,
      DeviceBuffer y) {
    CudaMxLinear.Mxfp8Kernel kernel = (CudaMxLinear.Mxfp8Kernel) variant[0];
    try {
      CudaMxLinear.maxPersistentCtas = ctaCap;
      if (kernel == CudaMxLinear.Mxfp8Kernel.WGMMA_WS) {
        CudaMxLinear.wsVariant = (Integer) variant[1];
      } else {
        CudaMxLinear.ws3Variant = (Integer) variant[1];
      }
      CudaMxLinear.mxfp8Gemm(xq, w, bias, y, kernel);
    } finally {
      CudaMxLinear.maxPersistentCtas = 0;
      CudaMxLinear.wsVariant = CudaMxLinear.WS_8SLICE;
      CudaMxLinear.ws3Variant = CudaMxLinear.WS3_ONE_PARTIAL;
    }
  }

  /**
   * The persistent TMA kernels on shapes that stress their edges: M = 1, 3, 17 and M, N not
   * multiples of the 128- or 192-row tiles (odd N takes the scalar stores), K blocks not a multiple
   * of the stage's slices, K not a multiple of 32, more tiles than CTAs (the grid capped at 1, 2
   * and 3 CTAs so each walks several tiles), bias; every variant of both kernels.
   */
  @Test
  void warpSpecializedKernelEdgeCases() {
    Random rnd = new Random(23);
    int[][] shapes = { // m, n, k, CTA cap (0 = one per SM)
      {1, 1, 1, 0},
      {3, 130, 97, 0},
      {17, 64, 4100, 2},
      {129, 257, 160, 3},
      {255, 129, 33, 1},
      {193, 129, 300, 1},
      {300, 520, 1000, 3},
      {385, 33, 64, 2},
      {64, 1000, 4128, 0}
    };
    MxFormat[] fs = {MxFormat.MXFP8_E4M3, MxFormat.MXFP8_E5M2};
    for (Object[] variant : WS_VARIANTS) {
      for (int[] s : shapes) {
        int m = s[0];
        int n = s[1];
        int k = s[2];
        MxFormat fa = fs[rnd.nextInt(2)];
        MxFormat fw = fs[rnd.nextInt(2)];
        HostMx w = HostMx.quantize(HostMx.random(rnd, n * k, 0.05f), n, k, fw, ScaleMode.FLOOR);
        float[] x = HostMx.random(rnd, m * k, 1f);
        float[] bias = HostMx.random(rnd, n, 0.1f);
        double[] xv = HostMx.quantize(x, m, k, fa, ScaleMode.FLOOR).values();
        float[] y = new float[m * n];
        try (CudaMxMatrix dw = upload(w);
            DeviceBuffer dx = DeviceBuffer.of(x);
            DeviceBuffer db = DeviceBuffer.of(bias);
            CudaMxMatrix xq = CudaMxMatrix.quantize(dx, m, k, fa, ScaleMode.FLOOR, true, null);
            DeviceBuffer dy = DeviceBuffer.allocate(4L * m * n)) {
          dy.fill32(NAN_BITS);
          runVariant(variant, s[3], xq, dw, db, dy);
          dy.copyTo(y);
        }
        assertMatchesReference(
            variant[0] + " variant " + variant[1] + " " + fa + " x " + fw + " cap " + s[3],
            y,
            xv,
            w.values(),
            bias,
            m,
            n,
            k,
            TOL_TENSOR);
      }
    }
  }

  /**
   * Every warp-specialised variant computes the same slice partials (one {@code wgmma} per 32-wide
   * K slice, fresh FP32) and promotes them in the same order with the same scale products, so their
   * results agree bit for bit, whatever the tile shape, the partial width or the CTA count.
   */
  @Test
  void warpSpecializedVariantsAgreeBitForBit() {
    Random rnd = new Random(29);
    int[][] shapes = {{17, 300, 1000, 0}, {700, 260, 2050, 5}, {1024, 1024, 4096, 0}};
    for (int[] s : shapes) {
      int m = s[0];
      int n = s[1];
      int k = s[2];
      MxFormat fa = MxFormat.MXFP8_E4M3;
      MxFormat fw = rnd.nextBoolean() ? MxFormat.MXFP8_E4M3 : MxFormat.MXFP8_E5M2;
      HostMx w = HostMx.quantize(HostMx.random(rnd, n * k, 0.05f), n, k, fw, ScaleMode.FLOOR);
      float[] x = HostMx.random(rnd, m * k, 1f);
      float[] bias = HostMx.random(rnd, n, 0.1f);
      float[][] ys = new float[WS_VARIANTS.length][m * n];
      try (CudaMxMatrix dw = upload(w);
          DeviceBuffer dx = DeviceBuffer.of(x);
          DeviceBuffer db = DeviceBuffer.of(bias);
          CudaMxMatrix xq = CudaMxMatrix.quantize(dx, m, k, fa, ScaleMode.FLOOR, true, null);
          DeviceBuffer dy = DeviceBuffer.allocate(4L * m * n)) {
        for (int v = 0; v < WS_VARIANTS.length; v++) {
          dy.fill32(NAN_BITS);
          runVariant(WS_VARIANTS[v], s[3], xq, dw, db, dy);
          dy.copyTo(ys[v]);
        }
      }
      double[] xv = HostMx.quantize(x, m, k, fa, ScaleMode.FLOOR).values();
      assertMatchesReference(
          "WGMMA_WS 4-slice [" + m + ", " + n + ", " + k + "]",
          ys[0],
          xv,
          w.values(),
          bias,
          m,
          n,
          k,
          TOL_TENSOR);
      for (int v = 1; v < WS_VARIANTS.length; v++) {
        for (int i = 0; i < ys[0].length; i++) {
          if (Float.floatToRawIntBits(ys[v][i]) != Float.floatToRawIntBits(ys[0][i])) {
            fail(
                WS_VARIANTS[v][0]
                    + " variant "
                    + WS_VARIANTS[v][1]
                    + " ["
                    + m
                    + ", "
                    + n
                    + ", "
                    + k
                    + "] differs from WGMMA_WS 4-slice at ("
                    + i / n
                    + ", "
                    + i % n
                    + "): "
                    + ys[v][i]
                    + " vs "
                    + ys[0][i]);
          }
        }
      }
    }
  }

  @ParameterizedTest
  @EnumSource(MxFormat.class)
  void deviceQuantizationIsBitExact(MxFormat f) {
    Random rnd = new Random(7 + f.ordinal());
    for (ScaleMode mode : ScaleMode.values()) {
      for (int[] s : new int[][] {{3, 1000}, {17, 45}, {1, 31}, {64, 4096}}) {
        int rows = s[0];
        int cols = s[1];
        float[] x = HostMx.random(rnd, rows * cols, (float) Math.scalb(1.0, rnd.nextInt(40) - 20));
        x[0] = 0f; // a zero inside a block
        x[x.length - 1] = -x[x.length - 1] * 1e-30f; // a tiny value, subnormal after scaling
        if (rows > 1) {
          x[cols + 1] = Float.NaN; // a NaN block: scale 0xFF
        }
        HostMx ref = HostMx.quantize(x, rows, cols, f, mode);
        byte[] codes = new byte[ref.codes.length];
        byte[] scales = new byte[ref.scales.length];
        try (DeviceBuffer dx = DeviceBuffer.of(x);
            CudaMxMatrix q = CudaMxMatrix.quantize(dx, rows, cols, f, mode)) {
          q.download(MemorySegment.ofArray(codes), MemorySegment.ofArray(scales));
        }
        String what = f + " " + mode + " [" + rows + ", " + cols + "]";
        assertArrayEquals(ref.scales, scales, what + " scales");
        assertArrayEquals(ref.codes, codes, what + " codes");
      }
    }
  }

  @Test
  void allocationFailureNamesRequestedAndFreeBytes() {
    long huge = 1L << 50;
    CudaOutOfMemoryException e =
        assertThrows(CudaOutOfMemoryException.class, () -> DeviceBuffer.allocate(huge));
    assertEquals(huge, e.requestedBytes());
    assertTrue(e.freeBytes() > 0, "free bytes reported");
    assertTrue(e.getMessage().contains(Long.toString(huge)), e.getMessage());
    assertTrue(e.getMessage().contains("free"), e.getMessage());
  }

  @Test
  void closedBufferIsRejected() {
    DeviceBuffer b = DeviceBuffer.allocate(64);
    b.close();
    b.close(); // idempotent
    assertThrows(IllegalStateException.class, b::pointer);
    assertThrows(IllegalStateException.class, () -> b.copyFrom(new float[4]));
  }

  @Test
  void badShapesAreRejectedWithTheProblemNamed() {
    MemorySegment codes = MemorySegment.ofArray(new byte[10]);
    MemorySegment scales = MemorySegment.ofArray(new byte[1]);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> CudaMxMatrix.upload(MxFormat.MXFP4_E2M1, 1, 32, codes, scales));
    assertTrue(e.getMessage().contains("MXFP4_E2M1"), e.getMessage());
    HostMx w =
        HostMx.quantize(
            HostMx.random(new Random(1), 64, 1f), 2, 32, MxFormat.MXINT8, ScaleMode.FLOOR);
    try (CudaMxMatrix dw = upload(w);
        DeviceBuffer x = DeviceBuffer.allocate(4 * 16);
        DeviceBuffer y = DeviceBuffer.allocate(4 * 2)) {
      IllegalArgumentException e2 =
          assertThrows(
              IllegalArgumentException.class,
              () -> CudaMxLinear.linear(x, 1, dw, null, y, null, null));
      assertTrue(e2.getMessage().contains("x of 64 bytes"), e2.getMessage());
    }
  }
}

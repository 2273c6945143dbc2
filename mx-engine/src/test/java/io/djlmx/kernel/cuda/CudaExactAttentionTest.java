package io.djlmx.kernel.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.djlmx.attention.AccuracyMetrics;
import io.djlmx.attention.AttentionShape;
import io.djlmx.attention.TensorLayout;
import io.djlmx.kernel.cuda.CudaAttentionMaskLayoutTest.MaskKind;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link CudaExactAttention} against the FP64 reference: head dims 1 to 256 (each kernel variant,
 * odd dims, the shared-memory opt-in above 48 KiB; 8 and 16 query rows per warp), Sq ≠ Sk, S = 1,
 * lengths off the 32- and 64-query and 32-key tiles, causal with more or fewer queries than keys,
 * every mask kind; BSHD equal to BHSD bit for bit; fully masked rows exactly zero; a NaN reaching
 * its own row only; bad arguments named.
 */
@ExtendWith(CudaDeviceCheck.class)
@Tag("gpu")
class CudaExactAttentionTest {

  /**
   * FP32 arithmetic against FP64 (sums of at most a few thousand terms, expf to a few ulp); the MX
   * kernels' error is four orders of magnitude larger.
   */
  private static final double MAX_REL_L1 = 1e-5;

  /**
   * Block masks leave some causal rows whose every visible key carries the -10000 offset. FP32
   * holds score + mask there to 2⁻¹⁰ (its ulp at 10⁴), so those rows' weights are right to about
   * 1e-3, in any FP32 attention; measured 6.1e-5 relative L1 over the whole output.
   */
  private static final double MAX_REL_L1_LARGE_OFFSETS = 2e-4;

  private static final double MIN_COSINE = 0.9999999;

  /** One forward on device copies; mask values null for no mask. */
  private static float[] forward(
      AttentionShape shape,
      TensorLayout layout,
      float[] q,
      float[] k,
      float[] v,
      float[] mask,
      long[] maskShape,
      boolean causal,
      float scale) {
    return forward(shape, layout, q, k, v, mask, maskShape, causal, scale, 0);
  }

  /** As above with 8 or 16 query rows per warp, 0 for the default. */
  private static float[] forward(
      AttentionShape shape,
      TensorLayout layout,
      float[] q,
      float[] k,
      float[] v,
      float[] mask,
      long[] maskShape,
      boolean causal,
      float scale,
      int rows) {
    return CudaAttentionMaskLayoutTest.onDevice(
        shape,
        q,
        k,
        v,
        mask,
        maskShape,
        (dq, dk, dv, dout, m) ->
            CudaExactAttention.forward(dq, dk, dv, dout, shape, layout, m, causal, scale, rows));
  }

  private static float defaultScale(int d) {
    return (float) (1 / Math.sqrt(d));
  }

  @ParameterizedTest(name = "{0} B={1} H={2} Sq={3} Sk={4} D={5} causal={6}")
  @CsvSource({
    "NONE, 2, 3, 77, 77, 32, false",
    "NONE, 1, 2, 1, 130, 32, false",
    "NONE, 2, 2, 100, 37, 1, true",
    "NONE, 1, 3, 70, 300, 96, true",
    "NONE, 1, 2, 300, 70, 80, true",
    "NONE, 2, 1, 33, 33, 256, true",
    "NONE, 1, 2, 17, 200, 200, false",
    "PADDING, 3, 2, 77, 77, 32, false",
    "PADDING, 3, 2, 130, 200, 160, false",
    "PER_QUERY, 2, 2, 100, 257, 48, false",
    "PER_QUERY, 2, 2, 70, 70, 96, true",
    "PER_HEAD, 1, 3, 65, 130, 16, true",
    "SHARED, 1, 2, 1, 77, 224, false",
    "BLOCKS, 2, 2, 257, 300, 64, true",
    "BLOCKS, 1, 2, 130, 515, 128, false"
  })
  void matchesFp64Reference(String kind, int b, int h, int sq, int sk, int d, boolean causal) {
    AttentionShape shape = new AttentionShape(b, h, sq, sk, d);
    Random r = new Random(13L * sq + 7L * sk + d + kind.hashCode());
    float[] q = CudaAttentionTest.normal(r, (long) b * h * sq * d);
    float[] k = CudaAttentionTest.normal(r, (long) b * h * sk * d);
    float[] v = CudaAttentionTest.normal(r, (long) b * h * sk * d);
    MaskKind mk = kind.equals("NONE") ? null : MaskKind.valueOf(kind);
    long[] ms = mk == null ? null : CudaAttentionMaskLayoutTest.maskShape(mk, shape);
    float[] mask = mk == null ? null : CudaAttentionMaskLayoutTest.maskValues(mk, shape, r);
    double[] ref = CudaAttentionMaskLayoutTest.reference(shape, q, k, v, mask, ms, causal);
    // the default, then each kernel variant that takes this head dim (8 query rows per warp; 16 up
    // to head dim 128)
    for (int rows : d <= 128 ? new int[] {0, 8, 16} : new int[] {0, 8}) {
      float[] out =
          forward(shape, TensorLayout.BHSD, q, k, v, mask, ms, causal, defaultScale(d), rows);
      AccuracyMetrics m = AccuracyMetrics.of(out, ref);
      System.out.printf(
          Locale.ROOT,
          "ATTN-EXACT %s b=%d h=%d sq=%d sk=%d d=%d causal=%b rows=%d: cosine %.9f relL1 %.2e max"
              + " %.2e%n",
          kind,
          b,
          h,
          sq,
          sk,
          d,
          causal,
          rows,
          m.cosine(),
          m.relativeL1(),
          m.maxAbsError());
      String what = "rows per warp " + rows + ": " + m;
      assertTrue(m.cosine() >= MIN_COSINE, what);
      double maxRelL1 = mk == MaskKind.BLOCKS ? MAX_REL_L1_LARGE_OFFSETS : MAX_REL_L1;
      assertTrue(m.relativeL1() <= maxRelL1, what);
      for (int i = 0; i < out.length; i++) {
        assertTrue(Float.isFinite(out[i]), "element " + i + " is " + out[i]);
        if (ref[i] == 0.0 && rowIsZero(ref, i / d, d)) {
          assertEquals(0f, out[i], "fully masked row " + i / d + ", element " + i);
        }
      }
    }
  }

  private static boolean rowIsZero(double[] x, int row, int d) {
    for (int c = 0; c < d; c++) {
      if (x[row * d + c] != 0.0) {
        return false;
      }
    }
    return true;
  }

  /** The kernel reads every layout through strides: the same values give the same bits. */
  @ParameterizedTest(name = "D={0} masked={1} causal={2}")
  @CsvSource({"32, false, false", "96, true, true", "256, true, false", "7, false, true"})
  void bshdMatchesBhsdBitForBit(int d, boolean masked, boolean causal) {
    int b = 2;
    int h = 3;
    int s = 45;
    AttentionShape shape = new AttentionShape(b, h, s, s, d);
    Random r = new Random(d);
    float[] q = CudaAttentionTest.normal(r, (long) b * h * s * d);
    float[] k = CudaAttentionTest.normal(r, (long) b * h * s * d);
    float[] v = CudaAttentionTest.normal(r, (long) b * h * s * d);
    long[] ms = masked ? CudaAttentionMaskLayoutTest.maskShape(MaskKind.PADDING, shape) : null;
    float[] mask =
        masked ? CudaAttentionMaskLayoutTest.maskValues(MaskKind.PADDING, shape, r) : null;
    float[] bhsd = forward(shape, TensorLayout.BHSD, q, k, v, mask, ms, causal, 0.3f);
    float[] bshd =
        forward(
            shape,
            TensorLayout.BSHD,
            CudaAttentionMaskLayoutTest.swapHeadsAndSequence(q, b, h, s, d, false),
            CudaAttentionMaskLayoutTest.swapHeadsAndSequence(k, b, h, s, d, false),
            CudaAttentionMaskLayoutTest.swapHeadsAndSequence(v, b, h, s, d, false),
            mask,
            ms,
            causal,
            0.3f);
    assertArrayEquals(
        bhsd, CudaAttentionMaskLayoutTest.swapHeadsAndSequence(bshd, b, h, s, d, true));
  }

  /**
   * A NaN in one query row, and one in the mask, make their own rows NaN and nothing else, also
   * where every other key of the row is hidden (the NaN must not read as a fully masked row).
   */
  @Test
  void nanReachesItsRowOnly() {
    int b = 2;
    int h = 2;
    int sq = 40;
    int sk = 70;
    int d = 48;
    AttentionShape shape = new AttentionShape(b, h, sq, sk, d);
    Random r = new Random(3);
    float[] q = CudaAttentionTest.normal(r, (long) b * h * sq * d);
    float[] k = CudaAttentionTest.normal(r, (long) b * h * sk * d);
    float[] v = CudaAttentionTest.normal(r, (long) b * h * sk * d);
    q[((1 * h + 0) * sq + 5) * d + 7] = Float.NaN; // batch 1, head 0, query 5
    long[] ms = {b, 1, sq, sk};
    float[] mask = new float[b * sq * sk];
    mask[(0 * sq + 20) * sk + 50] = Float.NaN; // batch 0, query 20 (both heads)
    java.util.Arrays.fill(mask, (0 * sq + 30) * sk, (0 * sq + 31) * sk, Float.NEGATIVE_INFINITY);
    mask[(0 * sq + 30) * sk + 60] = Float.NaN; // batch 0, query 30: the only key not hidden
    java.util.Arrays.fill(mask, (1 * sq + 9) * sk, (1 * sq + 10) * sk, Float.NEGATIVE_INFINITY);
    float[] out = forward(shape, TensorLayout.BHSD, q, k, v, mask, ms, false, defaultScale(d));
    for (int bi = 0; bi < b; bi++) {
      for (int hi = 0; hi < h; hi++) {
        for (int i = 0; i < sq; i++) {
          boolean nan = (bi == 1 && hi == 0 && i == 5) || (bi == 0 && (i == 20 || i == 30));
          boolean zero = bi == 1 && i == 9;
          for (int c = 0; c < d; c++) {
            float x = out[((bi * h + hi) * sq + i) * d + c];
            String at = "b=" + bi + " h=" + hi + " q=" + i + " c=" + c + ": " + x;
            if (nan) {
              assertTrue(Float.isNaN(x), at);
            } else if (zero) {
              assertEquals(0f, x, at);
            } else {
              assertTrue(Float.isFinite(x), at);
            }
          }
        }
      }
    }
  }

  @Test
  void badArgumentsAreNamed() {
    AttentionShape s = new AttentionShape(2, 3, 5, 7, 32);
    try (DeviceBuffer q = DeviceBuffer.allocate(4L * 2 * 3 * 5 * 32);
        DeviceBuffer kv = DeviceBuffer.allocate(4L * 2 * 3 * 7 * 32);
        DeviceBuffer small = DeviceBuffer.allocate(4L * 2 * 3 * 6 * 32)) {
      assertRefused(
          "CUDA exact attention k",
          () ->
              CudaExactAttention.forward(q, small, kv, q, s, TensorLayout.BHSD, null, false, 0.2f));
      AttentionShape wide = new AttentionShape(1, 1, 1, 1, 257);
      assertRefused(
          "head dim 257 above 256",
          () ->
              CudaExactAttention.forward(q, kv, kv, q, wide, TensorLayout.BHSD, null, false, 0.2f));
      assertRefused(
          "scale must be finite",
          () ->
              CudaExactAttention.forward(
                  q, kv, kv, q, s, TensorLayout.BHSD, null, false, Float.NaN));
      CudaAttentionMask other =
          CudaAttentionMask.of(kv, new long[] {7}, new AttentionShape(2, 3, 6, 7, 32));
      assertRefused(
          "mask was described for",
          () -> CudaExactAttention.forward(q, kv, kv, q, s, TensorLayout.BSHD, other, false, 0.2f));
      assertRefused(
          "12 query rows per warp",
          () ->
              CudaExactAttention.forward(
                  q, kv, kv, q, s, TensorLayout.BHSD, null, false, 0.2f, 12));
    }
  }

  /**
   * Asserts that {@code call} is refused with an IllegalArgumentException naming {@code fragment}.
   */
  private static void assertRefused(String fragment, Executable call) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(e.getMessage().contains(fragment), e.getMessage());
  }
}

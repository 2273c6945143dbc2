package io.djlmx.kernel.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.djlmx.attention.AccuracyMetrics;
import io.djlmx.attention.AttentionShape;
import io.djlmx.attention.ReferenceAttention;
import io.djlmx.attention.TensorLayout;
import io.djlmx.attention.TensorView;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link CudaAttention} with additive masks ({@link CudaAttentionMask}: padding, per query, per
 * head, shared; -∞ and finite offsets, fully masked rows) and with BSHD tensors, on every fused
 * kernel, against the FP64 reference; BSHD must give the BHSD output bit for bit.
 */
@ExtendWith(CudaDeviceCheck.class)
@Tag("gpu")
class CudaAttentionMaskLayoutTest {

  private static final double MIN_COSINE = 0.999;
  private static final double TARGET_REL_L1 = 0.03;

  /** FP8 E4M3 P·V's measured error plus a margin (see CudaAttentionTest), not the target. */
  private static final double MAX_REL_L1_FP8_PV = 0.042;

  /** How a test mask varies over [B, H, Sq, Sk]. */
  enum MaskKind {
    /** [B, 1, 1, Sk]: each batch keeps a prefix of its keys (all, about half, one). */
    PADDING,
    /** [B, 1, Sq, Sk]: random offsets, about 10% -∞, and one fully masked row. */
    PER_QUERY,
    /** [B, H, Sq, Sk]: random finite offsets. */
    PER_HEAD,
    /** [Sq, Sk]: one mask for every batch and head, random offsets and some -∞. */
    SHARED,
    /**
     * [B, 1, Sq, Sk], one value per 64-query by 64-key block (0, -10000, -∞ or random): every tile
     * flat, so the pipelined kernels take the short path with per-tile offsets; the first query
     * block of batch 0 sees -∞ on its first two key tiles, and its second block is -∞ throughout.
     */
    BLOCKS
  }

  private static boolean runsHere(CudaAttention.Kernel kernel, int d) {
    return (!kernel.hopper() || CudaBackend.get().computeCapability() == 90)
        && (d == 128 || kernel.headDim64());
  }

  static long[] maskShape(MaskKind kind, AttentionShape s) {
    return switch (kind) {
      case PADDING -> new long[] {s.batch(), 1, 1, s.keyLength()};
      case PER_QUERY, BLOCKS -> new long[] {s.batch(), 1, s.queryLength(), s.keyLength()};
      case PER_HEAD -> new long[] {s.batch(), s.heads(), s.queryLength(), s.keyLength()};
      case SHARED -> new long[] {s.queryLength(), s.keyLength()};
    };
  }

  /** The mask's values, dense row-major in {@link #maskShape}. */
  static float[] maskValues(MaskKind kind, AttentionShape s, Random r) {
    long[] shape = maskShape(kind, s);
    float[] m = new float[Math.toIntExact(Arrays.stream(shape).reduce(1, (a, b) -> a * b))];
    int sk = s.keyLength();
    switch (kind) {
      case PADDING -> {
        for (int b = 0; b < s.batch(); b++) {
          int keep = b % 3 == 0 ? sk : b % 3 == 1 ? Math.max(1, sk / 2 + 3) : 1;
          // DJL's blocks use a large finite offset; -∞ must work as well
          float drop = b % 2 == 0 ? -10000f : Float.NEGATIVE_INFINITY;
          for (int j = keep; j < sk; j++) {
            m[b * sk + j] = drop;
          }
        }
      }
      case PER_QUERY, SHARED -> {
        for (int i = 0; i < m.length; i++) {
          m[i] = r.nextFloat() < 0.1f ? Float.NEGATIVE_INFINITY : (float) (1.5 * r.nextGaussian());
        }
        if (kind == MaskKind.PER_QUERY && s.queryLength() > 3) {
          Arrays.fill(m, 3 * sk, 4 * sk, Float.NEGATIVE_INFINITY); // batch 0, query 3
        }
      }
      case PER_HEAD -> {
        for (int i = 0; i < m.length; i++) {
          m[i] = (float) (2 * r.nextGaussian());
        }
      }
      case BLOCKS -> {
        int sq = s.queryLength();
        int qBlocks = (sq + 63) / 64;
        int kBlocks = (sk + 63) / 64;
        float[] values = new float[s.batch() * qBlocks * kBlocks];
        for (int i = 0; i < values.length; i++) {
          int pick = r.nextInt(4);
          values[i] =
              pick == 0
                  ? 0f
                  : pick == 1
                      ? -10000f
                      : pick == 2 ? Float.NEGATIVE_INFINITY : (float) (2 * r.nextGaussian());
        }
        for (int kb = 0; kb < kBlocks; kb++) {
          if (kb < 2) {
            values[kb] = Float.NEGATIVE_INFINITY; // batch 0, query block 0
          }
          if (qBlocks > 1) {
            values[kBlocks + kb] = Float.NEGATIVE_INFINITY; // batch 0, query block 1
          }
        }
        for (int b = 0; b < s.batch(); b++) {
          for (int i = 0; i < sq; i++) {
            for (int j = 0; j < sk; j++) {
              m[(b * sq + i) * sk + j] = values[(b * qBlocks + i / 64) * kBlocks + j / 64];
            }
          }
        }
      }
    }
    return m;
  }

  /** One forward in {@code layout} on device copies; mask values null for no mask. */
  static float[] forward(
      CudaAttention.Kernel kernel,
      boolean fp16PV,
      AttentionShape shape,
      TensorLayout layout,
      float[] q,
      float[] k,
      float[] v,
      float[] mask,
      long[] maskShape,
      boolean causal) {
    try (CudaAttention att = CudaAttention.create(shape, fp16PV, kernel)) {
      return onDevice(
          shape,
          q,
          k,
          v,
          mask,
          maskShape,
          (dq, dk, dv, dout, m) -> att.forward(dq, dk, dv, dout, layout, m, causal, null));
    }
  }

  /** An attention forward on device buffers: q, k, v, the output and the mask (or null). */
  interface DeviceForward {
    void run(
        DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer out, CudaAttentionMask mask);
  }

  /**
   * Runs {@code forward} on device copies of q, k, v and the mask (values null for none) and
   * returns the output, the size of q; every buffer is closed.
   */
  static float[] onDevice(
      AttentionShape shape,
      float[] q,
      float[] k,
      float[] v,
      float[] mask,
      long[] maskShape,
      DeviceForward forward) {
    float[] out = new float[q.length];
    try (DeviceBuffer dq = DeviceBuffer.of(q);
        DeviceBuffer dk = DeviceBuffer.of(k);
        DeviceBuffer dv = DeviceBuffer.of(v);
        DeviceBuffer dm = mask == null ? null : DeviceBuffer.of(mask);
        DeviceBuffer dout = DeviceBuffer.allocate(4L * q.length)) {
      CudaAttentionMask m = dm == null ? null : CudaAttentionMask.of(dm, maskShape, shape);
      forward.run(dq, dk, dv, dout, m);
      dout.copyTo(out);
    }
    return out;
  }

  static double[] reference(
      AttentionShape s,
      float[] q,
      float[] k,
      float[] v,
      float[] mask,
      long[] maskShape,
      boolean causal) {
    int b = s.batch();
    int h = s.heads();
    int d = s.headDim();
    return ReferenceAttention.compute(
        s,
        TensorView.of(MemorySegment.ofArray(q), TensorLayout.BHSD, b, h, s.queryLength(), d),
        TensorView.of(MemorySegment.ofArray(k), TensorLayout.BHSD, b, h, s.keyLength(), d),
        TensorView.of(MemorySegment.ofArray(v), TensorLayout.BHSD, b, h, s.keyLength(), d),
        mask == null ? null : TensorView.ofMask(MemorySegment.ofArray(mask), maskShape, s),
        causal,
        null);
  }

  /** [B, H, S, D] -> [B, S, H, D], or back with {@code toBhsd}. */
  static float[] swapHeadsAndSequence(float[] x, int b, int h, int s, int d, boolean toBhsd) {
    float[] y = new float[x.length];
    for (int bi = 0; bi < b; bi++) {
      for (int hi = 0; hi < h; hi++) {
        for (int si = 0; si < s; si++) {
          int bhsd = ((bi * h + hi) * s + si) * d;
          int bshd = ((bi * s + si) * h + hi) * d;
          if (toBhsd) {
            System.arraycopy(x, bshd, y, bhsd, d);
          } else {
            System.arraycopy(x, bhsd, y, bshd, d);
          }
        }
      }
    }
    return y;
  }

  /**
   * Odd lengths, S = 1, Sq != Sk, causal with a mask, D 64 and 128, every mask kind; each kernel
   * that runs the head dim.
   */
  static Stream<Arguments> maskedCases() {
    Object[][] cases = {
      {MaskKind.PADDING, 3, 2, 77, 77, 64, false},
      {MaskKind.PADDING, 3, 2, 130, 200, 128, false},
      {MaskKind.PADDING, 2, 2, 300, 300, 128, true},
      {MaskKind.PER_QUERY, 2, 2, 100, 257, 128, false},
      {MaskKind.PER_QUERY, 2, 2, 70, 70, 64, true},
      {MaskKind.PER_HEAD, 1, 3, 65, 130, 64, true},
      {MaskKind.PER_HEAD, 1, 2, 129, 64, 128, false},
      {MaskKind.SHARED, 1, 2, 1, 77, 128, false},
      {MaskKind.SHARED, 2, 2, 200, 1000, 64, false},
      {MaskKind.PADDING, 4, 2, 256, 700, 128, false},
      {MaskKind.BLOCKS, 2, 2, 300, 1000, 128, false},
      {MaskKind.BLOCKS, 2, 2, 257, 257, 64, true},
      {MaskKind.BLOCKS, 1, 3, 130, 515, 128, true}
    };
    return Stream.of(CudaAttention.Kernel.values())
        .flatMap(
            kern ->
                Stream.of(cases)
                    .filter(c -> (int) c[5] == 128 || kern.headDim64())
                    .map(c -> Arguments.of(kern, c[0], c[1], c[2], c[3], c[4], c[5], c[6])));
  }

  @ParameterizedTest(name = "{0} {1} B={2} H={3} Sq={4} Sk={5} D={6} causal={7}")
  @MethodSource("maskedCases")
  void maskedMatchesFp64Reference(
      CudaAttention.Kernel kernel,
      MaskKind kind,
      int b,
      int h,
      int sq,
      int sk,
      int d,
      boolean causal) {
    Assumptions.assumeTrue(runsHere(kernel, d), () -> kernel + " does not run D=" + d + " here");
    AttentionShape shape = new AttentionShape(b, h, sq, sk, d);
    Random r = new Random(17L * sq + 5L * sk + d + kind.ordinal());
    float[] q = CudaAttentionTest.normal(r, (long) b * h * sq * d);
    float[] k = CudaAttentionTest.normal(r, (long) b * h * sk * d);
    float[] v = CudaAttentionTest.normal(r, (long) b * h * sk * d);
    long[] ms = maskShape(kind, shape);
    float[] mask = maskValues(kind, shape, r);
    double[] ref = reference(shape, q, k, v, mask, ms, causal);
    for (boolean fp16PV : kernel.fp16PV() ? new boolean[] {false, true} : new boolean[] {false}) {
      float[] out = forward(kernel, fp16PV, shape, TensorLayout.BHSD, q, k, v, mask, ms, causal);
      AccuracyMetrics m = AccuracyMetrics.of(out, ref);
      System.out.printf(
          Locale.ROOT,
          "ATTN-MASK %s %s %s b=%d h=%d sq=%d sk=%d d=%d causal=%b: cosine %.6f relL1 %.4f%n",
          fp16PV ? "pv16" : "pv8 ",
          kernel.name().toLowerCase(Locale.ROOT),
          kind,
          b,
          h,
          sq,
          sk,
          d,
          causal,
          m.cosine(),
          m.relativeL1());
      double maxL1 = fp16PV ? TARGET_REL_L1 : MAX_REL_L1_FP8_PV;
      assertTrue(m.cosine() >= MIN_COSINE, () -> kernel + " " + kind + ": " + m);
      assertTrue(m.relativeL1() <= maxL1, () -> kernel + " " + kind + ": " + m);
      // rows the reference zeroes (every key hidden) are exactly zero
      for (int row = 0; row < b * h * sq; row++) {
        boolean refZero = true;
        for (int c = 0; c < d && refZero; c++) {
          refZero = ref[row * d + c] == 0.0;
        }
        for (int c = 0; refZero && c < d; c++) {
          assertEquals(0f, out[row * d + c], "fully masked row " + row + " channel " + c);
        }
      }
    }
  }

  static Stream<Arguments> layoutCases() {
    return Stream.of(CudaAttention.Kernel.values())
        .flatMap(
            kern ->
                Stream.of(
                        Arguments.of(kern, 64, false, false),
                        Arguments.of(kern, 128, false, true),
                        Arguments.of(kern, 128, true, false),
                        Arguments.of(kern, 64, true, true))
                    .filter(a -> (int) a.get()[1] == 128 || kern.headDim64()));
  }

  @ParameterizedTest(name = "{0} D={1} masked={2} causal={3}")
  @MethodSource("layoutCases")
  void bshdMatchesBhsdBitForBit(
      CudaAttention.Kernel kernel, int d, boolean masked, boolean causal) {
    Assumptions.assumeTrue(runsHere(kernel, d), () -> kernel + " does not run D=" + d + " here");
    int b = 2;
    int h = 3;
    int sq = 130;
    int sk = 77;
    AttentionShape shape = new AttentionShape(b, h, sq, sk, d);
    Random r = new Random(1009L * d + (masked ? 1 : 0) + (causal ? 2 : 0));
    float[] q = CudaAttentionTest.normal(r, (long) b * h * sq * d);
    float[] k = CudaAttentionTest.normal(r, (long) b * h * sk * d);
    float[] v = CudaAttentionTest.normal(r, (long) b * h * sk * d);
    long[] ms = maskShape(MaskKind.PER_QUERY, shape);
    float[] mask = masked ? maskValues(MaskKind.PER_QUERY, shape, r) : null;
    float[] bhsd = forward(kernel, false, shape, TensorLayout.BHSD, q, k, v, mask, ms, causal);
    float[] bshd =
        forward(
            kernel,
            false,
            shape,
            TensorLayout.BSHD,
            swapHeadsAndSequence(q, b, h, sq, d, false),
            swapHeadsAndSequence(k, b, h, sk, d, false),
            swapHeadsAndSequence(v, b, h, sk, d, false),
            mask,
            ms,
            causal);
    float[] back = swapHeadsAndSequence(bshd, b, h, sq, d, true);
    for (int i = 0; i < bhsd.length; i++) {
      int at = i;
      assertEquals(
          Float.floatToRawIntBits(bhsd[i]),
          Float.floatToRawIntBits(back[i]),
          () -> "element " + at + ": BHSD " + bhsd[at] + ", BSHD " + back[at]);
    }
    AccuracyMetrics m = AccuracyMetrics.of(bhsd, reference(shape, q, k, v, mask, ms, causal));
    assertTrue(m.cosine() >= MIN_COSINE, m::toString);
  }

  /**
   * A NaN in the mask makes its own row NaN and nothing else: the flat-tile launches send its tile
   * to the per-element path, and no other tile, row, batch or head sees it.
   */
  @ParameterizedTest(name = "{0}")
  @org.junit.jupiter.params.provider.EnumSource(CudaAttention.Kernel.class)
  void nanInMaskPropagatesToItsRowOnly(CudaAttention.Kernel kernel) {
    int b = 2;
    int h = 2;
    int sq = 130;
    int sk = 300;
    int d = 128;
    Assumptions.assumeTrue(runsHere(kernel, d), () -> kernel + " does not run here");
    AttentionShape shape = new AttentionShape(b, h, sq, sk, d);
    Random r = new Random(77);
    float[] q = CudaAttentionTest.normal(r, (long) b * h * sq * d);
    float[] k = CudaAttentionTest.normal(r, (long) b * h * sk * d);
    float[] v = CudaAttentionTest.normal(r, (long) b * h * sk * d);
    long[] ms = {b, 1, sq, sk};
    float[] mask = new float[b * sq * sk];
    int nanRow = 70;
    mask[(sq + nanRow) * sk + 200] = Float.NaN; // batch 1, query 70, key 200
    float[] out = forward(kernel, false, shape, TensorLayout.BHSD, q, k, v, mask, ms, false);
    for (int bi = 0; bi < b; bi++) {
      for (int hi = 0; hi < h; hi++) {
        for (int i = 0; i < sq; i++) {
          boolean hit = bi == 1 && i == nanRow;
          for (int c = 0; c < d; c++) {
            float x = out[((bi * h + hi) * sq + i) * d + c];
            String at = "b=" + bi + " h=" + hi + " q=" + i + " c=" + c + ": " + x;
            assertTrue(hit ? Float.isNaN(x) : Float.isFinite(x), at);
          }
        }
      }
    }
  }

  @Test
  void maskShapeIsChecked() {
    AttentionShape s = new AttentionShape(2, 3, 5, 7, 64);
    try (DeviceBuffer buf = DeviceBuffer.allocate(4L * 2 * 3 * 5 * 7)) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> CudaAttentionMask.of(buf, new long[] {2, 1, 1, 6}, s));
      assertTrue(e.getMessage().contains("last axis must be the key length 7"), e.getMessage());
      e =
          assertThrows(
              IllegalArgumentException.class,
              () -> CudaAttentionMask.of(buf, new long[] {2, 2, 5, 7}, s));
      assertTrue(e.getMessage().contains("does not broadcast"), e.getMessage());
      e =
          assertThrows(
              IllegalArgumentException.class,
              () -> CudaAttentionMask.of(buf, new long[] {1, 2, 1, 1, 7}, s));
      assertTrue(e.getMessage().contains("rank 1 to 4"), e.getMessage());
      AttentionShape bigger = new AttentionShape(4, 3, 5, 7, 64);
      e =
          assertThrows(
              IllegalArgumentException.class,
              () -> CudaAttentionMask.of(buf, new long[] {4, 3, 5, 7}, bigger));
      assertTrue(e.getMessage().contains("needs 1680 bytes"), e.getMessage());
      CudaAttentionMask other = CudaAttentionMask.of(buf, new long[] {7}, s);
      AttentionShape s2 = new AttentionShape(2, 3, 5, 7, 128);
      try (CudaAttention att = CudaAttention.create(s2);
          DeviceBuffer x = DeviceBuffer.allocate(4L * 2 * 3 * 7 * 128)) {
        e =
            assertThrows(
                IllegalArgumentException.class,
                () -> att.forward(x, x, x, x, TensorLayout.BSHD, other, false, null));
        assertTrue(e.getMessage().contains("mask was described for"), e.getMessage());
        e =
            assertThrows(
                IllegalArgumentException.class,
                () -> att.forward(x, x, x, x, null, null, false, null));
        assertTrue(e.getMessage().contains("layout"), e.getMessage());
      }
    }
  }
}

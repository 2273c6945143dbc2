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
import java.util.Locale;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CUDA SageAttention kernel against FP64 {@link ReferenceAttention} on fresh random-normal
 * inputs: odd lengths (not multiples of the 64-token tile), S = 1, causal and not, head dims 64 and
 * 128. Skipped (not failed) where no CUDA device is present.
 */
@Tag("gpu")
class CudaAttentionTest {

  private static final double MIN_COSINE = 0.999;

  /** Issue 6's relative-L1 target; FP8 E4M3 P·V misses it on random-normal data (see below). */
  private static final double TARGET_REL_L1 = 0.03;

  /**
   * What FP8 E4M3 P·V reaches on random-normal inputs: 0.031–0.038 measured on an H100
   * (2026-11-27), the same range as the CPU kernel with {@code pvFp8} (0.033–0.038). The bound
   * asserted here is this measured FP8 error plus a margin, not the target.
   */
  private static final double MAX_REL_L1_FP8_PV = 0.042;

  private long liveBefore;

  @BeforeEach
  void requireDevice() {
    Assumptions.assumeTrue(
        CudaBackend.isAvailable(), () -> "no CUDA device: " + CudaBackend.unavailableReason());
    CudaBackend.get().setSynchronousChecks(true);
    liveBefore = DeviceBuffer.liveBuffers();
  }

  @AfterEach
  void noLeaks() {
    assertEquals(liveBefore, DeviceBuffer.liveBuffers(), "device buffers leaked");
  }

  private static float[] normal(Random r, long n) {
    float[] a = new float[Math.toIntExact(n)];
    for (int i = 0; i < a.length; i++) {
      a[i] = (float) r.nextGaussian();
    }
    return a;
  }

  private static AccuracyMetrics run(
      int b, int h, int sq, int sk, int d, boolean causal, Float scale, long seed, boolean fp16PV) {
    AttentionShape shape = new AttentionShape(b, h, sq, sk, d);
    Random r = new Random(seed);
    float[] q = normal(r, (long) b * h * sq * d);
    float[] k = normal(r, (long) b * h * sk * d);
    float[] v = normal(r, (long) b * h * sk * d);
    float[] out = CudaAttention.compute(shape, q, k, v, causal, scale, fp16PV);
    double[] ref =
        ReferenceAttention.compute(
            shape,
            TensorView.of(MemorySegment.ofArray(q), TensorLayout.BHSD, b, h, sq, d),
            TensorView.of(MemorySegment.ofArray(k), TensorLayout.BHSD, b, h, sk, d),
            TensorView.of(MemorySegment.ofArray(v), TensorLayout.BHSD, b, h, sk, d),
            null,
            causal,
            scale);
    AccuracyMetrics m = AccuracyMetrics.of(out, ref);
    System.out.printf(
        Locale.ROOT,
        "ATTN %s b=%d h=%d sq=%d sk=%d d=%d causal=%b scale=%s: cosine %.6f relL1 %.4f maxAbs %.4f%n",
        fp16PV ? "pv16" : "pv8 ",
        b,
        h,
        sq,
        sk,
        d,
        causal,
        scale,
        m.cosine(),
        m.relativeL1(),
        m.maxAbsError());
    return m;
  }

  /**
   * S = 1, odd lengths (not multiples of the 64-token tile), Sq != Sk, causal and not, D 64/128.
   */
  static Stream<Arguments> shapes() {
    return Stream.of(
        Arguments.of(1, 1, 1, 1, 64, false),
        Arguments.of(2, 3, 1, 1, 128, true),
        Arguments.of(1, 2, 1, 77, 64, false),
        Arguments.of(1, 2, 100, 100, 64, false),
        Arguments.of(1, 2, 100, 100, 64, true),
        Arguments.of(2, 2, 130, 130, 128, false),
        Arguments.of(2, 2, 130, 130, 128, true),
        Arguments.of(1, 3, 65, 257, 128, false),
        Arguments.of(1, 2, 1000, 1000, 64, true),
        Arguments.of(1, 2, 1000, 1000, 128, false));
  }

  @ParameterizedTest(name = "B={0} H={1} Sq={2} Sk={3} D={4} causal={5}")
  @MethodSource("shapes")
  void matchesFp64Reference(int b, int h, int sq, int sk, int d, boolean causal) {
    AccuracyMetrics m =
        run(b, h, sq, sk, d, causal, null, 31L * sq + 7L * d + (causal ? 1 : 0), false);
    assertTrue(m.cosine() >= MIN_COSINE, () -> "cosine " + m.cosine() + " < " + MIN_COSINE);
    assertTrue(
        m.relativeL1() <= MAX_REL_L1_FP8_PV,
        () -> "relative L1 " + m.relativeL1() + " > " + MAX_REL_L1_FP8_PV);
  }

  @ParameterizedTest(name = "FP16 P·V B={0} H={1} Sq={2} Sk={3} D={4} causal={5}")
  @MethodSource("shapes")
  void fp16PVMeetsTargets(int b, int h, int sq, int sk, int d, boolean causal) {
    AccuracyMetrics m =
        run(b, h, sq, sk, d, causal, null, 31L * sq + 7L * d + (causal ? 1 : 0), true);
    assertTrue(m.cosine() >= MIN_COSINE, () -> "cosine " + m.cosine() + " < " + MIN_COSINE);
    assertTrue(
        m.relativeL1() <= TARGET_REL_L1,
        () -> "relative L1 " + m.relativeL1() + " > " + TARGET_REL_L1);
  }

  @Test
  void customScale() {
    AccuracyMetrics m = run(1, 2, 70, 70, 128, false, 0.05f, 11, false);
    assertTrue(m.cosine() >= MIN_COSINE, () -> "cosine " + m.cosine());
    assertTrue(m.relativeL1() <= MAX_REL_L1_FP8_PV, () -> "relative L1 " + m.relativeL1());
    AccuracyMetrics m16 = run(1, 2, 70, 70, 128, false, 0.05f, 11, true);
    assertTrue(m16.cosine() >= MIN_COSINE, () -> "cosine " + m16.cosine());
    assertTrue(m16.relativeL1() <= TARGET_REL_L1, () -> "relative L1 " + m16.relativeL1());
  }

  @Test
  void rejectsBadInput() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> CudaAttention.create(new AttentionShape(1, 1, 8, 8, 96)));
    assertTrue(e.getMessage().contains("head dim"), e.getMessage());
    AttentionShape s = new AttentionShape(1, 1, 8, 8, 64);
    e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                CudaAttention.compute(
                    s, new float[512], new float[511], new float[512], false, 1f));
    assertTrue(e.getMessage().contains("k must hold 512"), e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                CudaAttention.compute(
                    s, new float[512], new float[512], new float[512], false, Float.NaN));
    assertTrue(e.getMessage().contains("scale"), e.getMessage());
  }
}

package io.djlmx.kernel.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.djlmx.attention.AccuracyMetrics;
import io.djlmx.attention.AttentionShape;
import io.djlmx.attention.ReferenceAttention;
import io.djlmx.attention.TensorLayout;
import io.djlmx.attention.TensorView;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The CUDA SageAttention kernel against FP64 {@link ReferenceAttention} on fresh random-normal
 * inputs: odd lengths (not multiples of the 64-token tile), S = 1, causal and not, head dims 64 and
 * 128. Skipped (not failed) where no CUDA device is present.
 */
@ExtendWith(CudaDeviceCheck.class)
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

  static float[] normal(Random r, long n) {
    float[] a = new float[Math.toIntExact(n)];
    for (int i = 0; i < a.length; i++) {
      a[i] = (float) r.nextGaussian();
    }
    return a;
  }

  private static AccuracyMetrics run(
      int b, int h, int sq, int sk, int d, boolean causal, Float scale, long seed, boolean fp16PV) {
    return run(b, h, sq, sk, d, causal, scale, seed, fp16PV, null, 0f, null);
  }

  /**
   * One random-normal case against the FP64 reference; {@code kOffset} adds a per-channel offset of
   * up to that size to K (where the smoothing matters); kernel and quantizer null for the defaults.
   */
  private static AccuracyMetrics run(
      int b,
      int h,
      int sq,
      int sk,
      int d,
      boolean causal,
      Float scale,
      long seed,
      boolean fp16PV,
      CudaAttention.Kernel kernel,
      float kOffset,
      CudaAttention.Quantizer quantizer) {
    AttentionShape shape = new AttentionShape(b, h, sq, sk, d);
    Random r = new Random(seed);
    float[] q = normal(r, (long) b * h * sq * d);
    float[] k = normal(r, (long) b * h * sk * d);
    float[] v = normal(r, (long) b * h * sk * d);
    addChannelOffset(r, k, d, kOffset);
    float[] out = CudaAttention.compute(shape, q, k, v, causal, scale, fp16PV, kernel, quantizer);
    AccuracyMetrics m = AccuracyMetrics.of(out, reference(shape, q, k, v, causal, scale));
    System.out.printf(
        Locale.ROOT,
        "ATTN %s %s%s b=%d h=%d sq=%d sk=%d d=%d causal=%b scale=%s kOffset=%s: cosine %.6f relL1"
            + " %.4f maxAbs %.4f%n",
        fp16PV ? "pv16" : "pv8 ",
        kernel == null ? "default" : kernel.name().toLowerCase(Locale.ROOT),
        quantizer == null ? "" : " " + quantizer.name().toLowerCase(Locale.ROOT),
        b,
        h,
        sq,
        sk,
        d,
        causal,
        scale,
        kOffset,
        m.cosine(),
        m.relativeL1(),
        m.maxAbsError());
    return m;
  }

  /** Adds a per-channel offset of up to {@code size} to every key (nothing for 0). */
  private static void addChannelOffset(Random r, float[] k, int d, float size) {
    if (size == 0f) {
      return;
    }
    float[] off = new float[d];
    for (int c = 0; c < d; c++) {
      off[c] = size * (2 * r.nextFloat() - 1);
    }
    for (int i = 0; i < k.length; i++) {
      k[i] += off[i % d];
    }
  }

  private static double[] reference(
      AttentionShape s, float[] q, float[] k, float[] v, boolean causal, Float scale) {
    int b = s.batch();
    int h = s.heads();
    int d = s.headDim();
    return ReferenceAttention.compute(
        s,
        TensorView.of(MemorySegment.ofArray(q), TensorLayout.BHSD, b, h, s.queryLength(), d),
        TensorView.of(MemorySegment.ofArray(k), TensorLayout.BHSD, b, h, s.keyLength(), d),
        TensorView.of(MemorySegment.ofArray(v), TensorLayout.BHSD, b, h, s.keyLength(), d),
        null,
        causal,
        scale);
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
        Arguments.of(1, 2, 1000, 1000, 128, false),
        // long key rows: where an accumulator with fewer bits than FP32 (the one-level FP8 P·V
        // kernels add every tile into O through the MMA) would drift
        Arguments.of(1, 1, 70, 4096, 128, false),
        Arguments.of(1, 1, 70, 4096, 64, false));
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

  /**
   * Every fused kernel by name (the default one is covered above) on the same cases; at head dim 64
   * the kernels that take it (the others refuse it, see {@link #kernelsWithoutHeadDim64RefuseIt}).
   */
  static Stream<Arguments> kernelsAndShapes() {
    return Stream.of(CudaAttention.Kernel.values())
        .flatMap(
            kern ->
                shapes()
                    .map(Arguments::get)
                    .filter(x -> (int) x[4] == 128 || kern.headDim64())
                    .map(x -> Arguments.of(kern, x[0], x[1], x[2], x[3], x[4], x[5])));
  }

  @ParameterizedTest
  @EnumSource(
      value = CudaAttention.Kernel.class,
      names = {"WGMMA_BULK"})
  void kernelsWithoutHeadDim64RefuseIt(CudaAttention.Kernel kernel) {
    Assumptions.assumeTrue(CudaBackend.get().computeCapability() == 90, "wgmma needs sm_90");
    AttentionShape s = new AttentionShape(1, 1, 8, 8, 64);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> CudaAttention.create(s, false, kernel));
    assertTrue(e.getMessage().contains("head dim 128 only"), e.getMessage());
    assertTrue(e.getMessage().contains(kernel.name()), e.getMessage());
  }

  @ParameterizedTest(name = "{0} B={1} H={2} Sq={3} Sk={4} D={5} causal={6}")
  @MethodSource("kernelsAndShapes")
  void eachKernelMatchesFp64Reference(
      CudaAttention.Kernel kernel, int b, int h, int sq, int sk, int d, boolean causal) {
    Assumptions.assumeTrue(
        !kernel.hopper() || CudaBackend.get().computeCapability() == 90, "wgmma needs sm_90");
    long seed = 31L * sq + 7L * d + (causal ? 1 : 0);
    AccuracyMetrics m = run(b, h, sq, sk, d, causal, null, seed, false, kernel, 0f, null);
    assertTrue(m.cosine() >= MIN_COSINE, () -> "cosine " + m.cosine() + " < " + MIN_COSINE);
    assertTrue(m.relativeL1() <= MAX_REL_L1_FP8_PV, () -> "relative L1 " + m.relativeL1());
    if (!kernel.fp16PV()) {
      return; // FP8 P·V only (wgmma_1wg_pipe128); refusing FP16 is tested below
    }
    AccuracyMetrics m16 = run(b, h, sq, sk, d, causal, null, seed, true, kernel, 0f, null);
    assertTrue(m16.cosine() >= MIN_COSINE, () -> "cosine " + m16.cosine());
    assertTrue(m16.relativeL1() <= TARGET_REL_L1, () -> "relative L1 " + m16.relativeL1());
  }

  /**
   * The 128-key kernel on what the shared shape list does not reach at head dim 128: a custom and a
   * negative scale (the general softmax path on every tile), key lengths that leave the last
   * 128-key tile half empty (192: a whole 64-key tile of padding) or end in its first half (70),
   * long causal runs with Sq = Sk and Sq != Sk (the diagonal tiles), a one-tile key length under a
   * longer query.
   */
  static Stream<Arguments> pipe128Cases() {
    return Stream.of(
        Arguments.of(1, 2, 70, 70, false, 0.05f),
        Arguments.of(1, 2, 200, 200, false, -0.06f),
        Arguments.of(1, 2, 200, 200, true, -0.06f),
        Arguments.of(1, 2, 192, 192, false, null),
        Arguments.of(2, 2, 1000, 1000, true, null),
        Arguments.of(1, 2, 300, 700, true, null),
        Arguments.of(1, 2, 700, 300, false, null),
        Arguments.of(1, 3, 129, 64, true, null));
  }

  @ParameterizedTest(name = "pipe128 B={0} H={1} Sq={2} Sk={3} causal={4} scale={5}")
  @MethodSource("pipe128Cases")
  void pipe128MatchesFp64Reference(int b, int h, int sq, int sk, boolean causal, Float scale) {
    Assumptions.assumeTrue(CudaBackend.get().computeCapability() == 90, "wgmma needs sm_90");
    AccuracyMetrics m =
        run(
            b,
            h,
            sq,
            sk,
            128,
            causal,
            scale,
            17L * sq + sk,
            false,
            CudaAttention.Kernel.WGMMA_1WG_PIPE128,
            0f,
            null);
    assertTrue(m.cosine() >= MIN_COSINE, () -> "cosine " + m.cosine() + " < " + MIN_COSINE);
    assertTrue(m.relativeL1() <= MAX_REL_L1_FP8_PV, () -> "relative L1 " + m.relativeL1());
  }

  @Test
  void pipe128RefusesFp16PV() {
    Assumptions.assumeTrue(CudaBackend.get().computeCapability() == 90, "wgmma needs sm_90");
    AttentionShape s = new AttentionShape(1, 1, 8, 8, 128);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> CudaAttention.create(s, true, CudaAttention.Kernel.WGMMA_1WG_PIPE128));
    assertTrue(e.getMessage().contains("FP8 P·V only"), e.getMessage());
  }

  /** A large per-channel K offset (±20 on unit-normal K): the token-mean smoothing removes it. */
  @ParameterizedTest(name = "K offset, causal={0}")
  @ValueSource(booleans = {false, true})
  void largeKOffset(boolean causal) {
    AccuracyMetrics m = run(1, 2, 300, 300, 128, causal, null, 5, false, null, 20f, null);
    assertTrue(m.cosine() >= MIN_COSINE, () -> "cosine " + m.cosine());
    assertTrue(m.relativeL1() <= MAX_REL_L1_FP8_PV, () -> "relative L1 " + m.relativeL1());
    AccuracyMetrics m16 = run(1, 2, 300, 300, 64, causal, null, 6, true, null, 20f, null);
    assertTrue(m16.cosine() >= MIN_COSINE, () -> "cosine " + m16.cosine());
    assertTrue(m16.relativeL1() <= TARGET_REL_L1, () -> "relative L1 " + m16.relativeL1());
  }

  /**
   * The K mean and V scales split over many 128-key chunks per head (2100 keys: 17 chunks, the last
   * one ragged) under a large per-channel K offset (±60), where a wrong mean would wreck Q·Kᵀ; both
   * quantization paths, head dims 64 and 128, both P·V precisions.
   */
  @ParameterizedTest(name = "{0}, D={1}")
  @MethodSource("quantizersAndHeadDims")
  void manyChunkStatisticsWithLargeKOffset(CudaAttention.Quantizer quantizer, int d) {
    AccuracyMetrics m = run(2, 2, 150, 2100, d, false, null, 41, false, null, 60f, quantizer);
    assertTrue(m.cosine() >= MIN_COSINE, () -> "cosine " + m.cosine());
    assertTrue(m.relativeL1() <= MAX_REL_L1_FP8_PV, () -> "relative L1 " + m.relativeL1());
    AccuracyMetrics m16 = run(1, 2, 129, 2100, d, true, null, 42, true, null, 60f, quantizer);
    assertTrue(m16.cosine() >= MIN_COSINE, () -> "cosine " + m16.cosine());
    assertTrue(m16.relativeL1() <= TARGET_REL_L1, () -> "relative L1 " + m16.relativeL1());
  }

  static Stream<Arguments> quantizersAndHeadDims() {
    return Stream.of(CudaAttention.Quantizer.values())
        .flatMap(qz -> Stream.of(Arguments.of(qz, 64), Arguments.of(qz, 128)));
  }

  /**
   * One instance, three forwards on different inputs (different K offsets): the per-head tickets of
   * the fused statistics pass return to 0 after each call, so every call gets its own K mean; each
   * quantization path.
   */
  @ParameterizedTest(name = "{0}")
  @EnumSource(CudaAttention.Quantizer.class)
  void reusedInstanceRecomputesStatistics(CudaAttention.Quantizer quantizer) {
    AttentionShape shape = new AttentionShape(1, 3, 70, 700, 128);
    long n = 3L * 700 * 128;
    try (CudaAttention att = CudaAttention.create(shape, false, null, quantizer);
        DeviceBuffer out = DeviceBuffer.allocate(4L * 3 * 70 * 128)) {
      for (int call = 0; call < 3; call++) {
        Random r = new Random(100 + call);
        float[] q = normal(r, 3L * 70 * 128);
        float[] k = normal(r, n);
        float[] v = normal(r, n);
        addChannelOffset(r, k, 128, 30f * (call + 1));
        float[] got = new float[q.length];
        try (DeviceBuffer dq = DeviceBuffer.of(q);
            DeviceBuffer dk = DeviceBuffer.of(k);
            DeviceBuffer dv = DeviceBuffer.of(v)) {
          att.forward(dq, dk, dv, out, false, null);
          out.copyTo(got);
        }
        AccuracyMetrics m = AccuracyMetrics.of(got, reference(shape, q, k, v, false, null));
        int c = call;
        assertTrue(m.cosine() >= MIN_COSINE, () -> "call " + c + ": cosine " + m.cosine());
        assertTrue(
            m.relativeL1() <= MAX_REL_L1_FP8_PV, () -> "call " + c + ": rel. L1 " + m.relativeL1());
      }
    }
  }

  /**
   * The benchmark's timed build of the pipe128 kernel computes the same output bit for bit and
   * records positive phase, prologue and epilogue cycles and the loop's step count for every CTA.
   */
  @Test
  void timedPipe128BuildMatchesKernel() {
    Assumptions.assumeTrue(CudaBackend.get().computeCapability() == 90, "wgmma needs sm_90");
    AttentionShape shape = new AttentionShape(1, 2, 130, 600, 128);
    Random r = new Random(71);
    float[] q = normal(r, 2L * 130 * 128);
    float[] k = normal(r, 2L * 600 * 128);
    float[] v = normal(r, 2L * 600 * 128);
    int ctas = 4 * 2; // 130 queries padded to 256: four 64-query CTAs per head
    float[] plain = new float[q.length];
    float[] timed = new float[q.length];
    try (CudaAttention att =
            CudaAttention.create(shape, false, CudaAttention.Kernel.WGMMA_1WG_PIPE128);
        DeviceBuffer dq = DeviceBuffer.of(q);
        DeviceBuffer dk = DeviceBuffer.of(k);
        DeviceBuffer dv = DeviceBuffer.of(v);
        DeviceBuffer out = DeviceBuffer.allocate(4L * q.length);
        DeviceBuffer timing = DeviceBuffer.allocate(8L * CudaAttention.TIMING_LONGS * ctas);
        Arena arena = Arena.ofConfined()) {
      assertEquals(ctas, att.hopperCtas());
      att.quantize(dq, dk, dv, null);
      att.attend(out, false);
      out.copyTo(plain);
      att.attend(out, false, 0, timing);
      out.copyTo(timed);
      MemorySegment host = arena.allocate(8L * CudaAttention.TIMING_LONGS * ctas, 8);
      timing.copyTo(host);
      for (int c = 0; c < ctas; c++) {
        // 600 keys padded to 640: five 128-key tiles, four loop steps after the first
        long at = (long) CudaAttention.TIMING_LONGS * c;
        assertEquals(4, host.getAtIndex(ValueLayout.JAVA_LONG, at + 7), "steps of CTA " + c);
        for (int i : new int[] {0, 1, 2, 3, 4, 5, 6, 8, 9}) {
          long cycles = host.getAtIndex(ValueLayout.JAVA_LONG, at + i);
          assertTrue(cycles > 0, "CTA " + c + " phase " + i + ": " + cycles + " cycles");
        }
      }
    }
    for (int i = 0; i < plain.length; i++) {
      assertEquals(Float.floatToIntBits(plain[i]), Float.floatToIntBits(timed[i]), "element " + i);
    }
  }

  /** A negative scale takes the kernels' general path (no integer row max). */
  @Test
  void negativeScale() {
    AccuracyMetrics m = run(1, 2, 200, 200, 128, false, -0.06f, 13, false);
    assertTrue(m.cosine() >= MIN_COSINE, () -> "cosine " + m.cosine());
    assertTrue(m.relativeL1() <= MAX_REL_L1_FP8_PV, () -> "relative L1 " + m.relativeL1());
    AccuracyMetrics m16 = run(1, 2, 200, 200, 128, true, -0.06f, 13, true);
    assertTrue(m16.cosine() >= MIN_COSINE, () -> "cosine " + m16.cosine());
    assertTrue(m16.relativeL1() <= TARGET_REL_L1, () -> "relative L1 " + m16.relativeL1());
  }

  /**
   * A NaN in one head's K makes that head's whole output NaN (its K mean and tile scales are NaN)
   * and leaves the other head finite and accurate; the call returns (no hang). Both kernels.
   */
  @ParameterizedTest(name = "NaN in K, kernel {0}")
  @EnumSource(CudaAttention.Kernel.class)
  void nanInKPropagates(CudaAttention.Kernel kernel) {
    Assumptions.assumeTrue(
        !kernel.hopper() || CudaBackend.get().computeCapability() == 90, "wgmma needs sm_90");
    int h = 2;
    int s = 150;
    int d = kernel.hopper() ? 128 : 64;
    AttentionShape shape = new AttentionShape(1, h, s, s, d);
    Random r = new Random(17);
    float[] q = normal(r, (long) h * s * d);
    float[] k = normal(r, (long) h * s * d);
    float[] v = normal(r, (long) h * s * d);
    k[77 * d + 5] = Float.NaN; // head 0, key 77, channel 5
    for (boolean fp16PV : kernel.fp16PV() ? new boolean[] {false, true} : new boolean[] {false}) {
      float[] out = CudaAttention.compute(shape, q, k, v, true, null, fp16PV, kernel, null);
      int perHead = s * d;
      for (int i = 0; i < perHead; i++) {
        int at = i;
        assertTrue(Float.isNaN(out[i]), () -> "head 0 element " + at + " is " + out[at]);
      }
      float[] q1 = java.util.Arrays.copyOfRange(q, perHead, 2 * perHead);
      float[] k1 = java.util.Arrays.copyOfRange(k, perHead, 2 * perHead);
      float[] v1 = java.util.Arrays.copyOfRange(v, perHead, 2 * perHead);
      AttentionShape one = new AttentionShape(1, 1, s, s, d);
      double[] ref =
          ReferenceAttention.compute(
              one,
              TensorView.of(MemorySegment.ofArray(q1), TensorLayout.BHSD, 1, 1, s, d),
              TensorView.of(MemorySegment.ofArray(k1), TensorLayout.BHSD, 1, 1, s, d),
              TensorView.of(MemorySegment.ofArray(v1), TensorLayout.BHSD, 1, 1, s, d),
              null,
              true,
              null);
      AccuracyMetrics m =
          AccuracyMetrics.of(java.util.Arrays.copyOfRange(out, perHead, 2 * perHead), ref);
      assertTrue(m.cosine() >= MIN_COSINE, () -> "head 1 cosine " + m.cosine());
    }
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

  /** One forward on device copies of the three inputs (float[] or short[] codes). */
  private static float[] forward(
      AttentionShape shape,
      CudaAttention.InputType type,
      MemorySegment q,
      MemorySegment k,
      MemorySegment v,
      boolean causal,
      boolean fp16PV) {
    long nq = (long) shape.batch() * shape.heads() * shape.queryLength() * shape.headDim();
    float[] out = new float[Math.toIntExact(nq)];
    try (CudaAttention att = CudaAttention.create(shape, fp16PV, null, null, type);
        DeviceBuffer dq = DeviceBuffer.allocate(q.byteSize());
        DeviceBuffer dk = DeviceBuffer.allocate(k.byteSize());
        DeviceBuffer dv = DeviceBuffer.allocate(v.byteSize());
        DeviceBuffer dout = DeviceBuffer.allocate(4L * nq)) {
      assertEquals(type, att.inputType());
      dq.copyFrom(q);
      dk.copyFrom(k);
      dv.copyFrom(v);
      att.forward(dq, dk, dv, dout, causal, null);
      dout.copyTo(out);
    }
    return out;
  }

  static Stream<Arguments> halfInputCases() {
    Stream.Builder<Arguments> b = Stream.builder();
    for (CudaAttention.InputType t :
        new CudaAttention.InputType[] {
          CudaAttention.InputType.BFLOAT16, CudaAttention.InputType.FLOAT16
        }) {
      b.add(Arguments.of(t, 1, 3, 70, 130, 128, false, false, false));
      b.add(Arguments.of(t, 2, 2, 200, 333, 128, true, false, false));
      b.add(Arguments.of(t, 1, 2, 129, 129, 128, false, true, false));
      b.add(Arguments.of(t, 1, 2, 17, 150, 128, true, false, true));
      b.add(Arguments.of(t, 1, 3, 1, 77, 64, false, false, false));
      b.add(Arguments.of(t, 2, 2, 100, 100, 64, true, true, false));
    }
    return b.build();
  }

  /**
   * BF16 and FP16 inputs give, bit for bit, the output of FP32 inputs holding the same values (the
   * quantization widens each input exactly before any arithmetic), on odd lengths, causal and not,
   * both P·V precisions, a ±3 per-channel K offset, head dims 128 (the Hopper kernels on sm_90) and
   * 64 (the mma kernel), and a NaN in K (the same NaN rows); the output also meets the FP64
   * reference.
   */
  @ParameterizedTest(name = "{0} B={1} H={2} Sq={3} Sk={4} D={5} causal={6} fp16PV={7} NaN={8}")
  @MethodSource("halfInputCases")
  void halfInputsMatchFp32InputsBitForBit(
      CudaAttention.InputType type,
      int b,
      int h,
      int sq,
      int sk,
      int d,
      boolean causal,
      boolean fp16PV,
      boolean nanInK) {
    AttentionShape shape = new AttentionShape(b, h, sq, sk, d);
    Random r = new Random(1000L * sq + sk + d + type.ordinal());
    float[] q0 = normal(r, (long) b * h * sq * d);
    float[] k0 = normal(r, (long) b * h * sk * d);
    float[] v0 = normal(r, (long) b * h * sk * d);
    addChannelOffset(r, k0, d, 3f);
    if (nanInK) {
      k0[5 * d + 3] = Float.NaN; // (batch 0, head 0, key 5, channel 3)
    }
    short[] qh = HalfCodes.of(q0, type);
    short[] kh = HalfCodes.of(k0, type);
    short[] vh = HalfCodes.of(v0, type);
    float[] q = HalfCodes.widen(qh, type);
    float[] k = HalfCodes.widen(kh, type);
    float[] v = HalfCodes.widen(vh, type);
    float[] fromHalf =
        forward(
            shape,
            type,
            MemorySegment.ofArray(qh),
            MemorySegment.ofArray(kh),
            MemorySegment.ofArray(vh),
            causal,
            fp16PV);
    float[] fromFp32 =
        forward(
            shape,
            CudaAttention.InputType.FLOAT32,
            MemorySegment.ofArray(q),
            MemorySegment.ofArray(k),
            MemorySegment.ofArray(v),
            causal,
            fp16PV);
    assertArrayEquals(fromFp32, fromHalf, "outputs of " + type + " and FP32 inputs");
    int perHead = sq * d;
    if (nanInK) {
      for (int i = 0; i < perHead; i++) {
        int at = i;
        assertTrue(Float.isNaN(fromHalf[i]), () -> "head 0 element " + at + " is " + fromHalf[at]);
      }
    }
    // the heads without a NaN against the FP64 reference on the same values
    int first = nanInK ? perHead : 0;
    AttentionShape rest = new AttentionShape(1, b * h - first / perHead, sq, sk, d);
    double[] ref =
        reference(
            rest,
            java.util.Arrays.copyOfRange(q, first, q.length),
            java.util.Arrays.copyOfRange(k, first / sq * sk, k.length),
            java.util.Arrays.copyOfRange(v, first / sq * sk, v.length),
            causal,
            null);
    AccuracyMetrics m =
        AccuracyMetrics.of(java.util.Arrays.copyOfRange(fromHalf, first, fromHalf.length), ref);
    assertTrue(m.cosine() >= MIN_COSINE, () -> "cosine " + m.cosine());
    double maxRel = fp16PV ? TARGET_REL_L1 : MAX_REL_L1_FP8_PV;
    assertTrue(m.relativeL1() <= maxRel, () -> "relative L1 " + m.relativeL1());
  }

  @Test
  void rejectsBadHalfInput() {
    AttentionShape s = new AttentionShape(1, 2, 70, 70, 64);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                CudaAttention.create(
                    s,
                    false,
                    CudaAttention.Kernel.MMA,
                    CudaAttention.Quantizer.FOUR_LAUNCH,
                    CudaAttention.InputType.BFLOAT16));
    assertTrue(e.getMessage().contains("fused quantization"), e.getMessage());
    assertThrows(
        IllegalArgumentException.class,
        () -> CudaAttention.create(s, false, null, null, null),
        "null input type");
    // a property that picks the four launches for FP32 does not stop a BF16 instance (it takes the
    // fused ones)
    String before = System.getProperty("mx.cuda.attentionQuantizer");
    System.setProperty("mx.cuda.attentionQuantizer", "four_launch");
    try (CudaAttention att = CudaAttention.create(s, false, CudaAttention.InputType.BFLOAT16)) {
      assertEquals(CudaAttention.InputType.BFLOAT16, att.inputType());
    } finally {
      if (before == null) {
        System.clearProperty("mx.cuda.attentionQuantizer");
      } else {
        System.setProperty("mx.cuda.attentionQuantizer", before);
      }
    }
    // a BF16 buffer is 2 bytes per element: one element short is refused, naming the tensor
    long n = 2L * 70 * 64;
    try (CudaAttention att = CudaAttention.create(s, false, CudaAttention.InputType.BFLOAT16);
        DeviceBuffer q = DeviceBuffer.allocate(2 * n);
        DeviceBuffer k = DeviceBuffer.allocate(2 * n - 2);
        DeviceBuffer v = DeviceBuffer.allocate(2 * n);
        DeviceBuffer out = DeviceBuffer.allocate(4 * n)) {
      e =
          assertThrows(
              IllegalArgumentException.class, () -> att.forward(q, k, v, out, false, null));
      assertTrue(e.getMessage().contains("k needs " + 2 * n + " bytes"), e.getMessage());
    }
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

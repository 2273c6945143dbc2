package io.djlmx.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.djlmx.format.MxFormat;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CpuAttentionTest {

  private static final AttentionConfig INT8 = AttentionConfig.builder().optPvFp8(true).build();
  private static final AttentionConfig INT8_RAW =
      AttentionConfig.builder().optSmoothK(false).optPvFp8(true).build();
  private static final AttentionConfig MXFP8 =
      AttentionConfig.builder().optQkPrecision(QkPrecision.MXFP8_E4M3).optPvFp8(true).build();
  private static final AttentionConfig MXFP8_RAW =
      AttentionConfig.builder()
          .optQkPrecision(QkPrecision.MXFP8_E4M3)
          .optSmoothK(false)
          .optPvFp8(true)
          .build();
  private static final AttentionConfig FP32 =
      AttentionConfig.builder().optQkPrecision(QkPrecision.FP32).optPvFp8(false).build();
  private static final AttentionConfig SMOOTH_V =
      AttentionConfig.builder().optSmoothV(true).optPvFp8(true).build();

  private static final AttentionConfig INT8_PV32 =
      AttentionConfig.builder().optPvFp8(false).build();

  /** Issue 6 targets: cosine >= 0.999, relative L1 <= 0.03 (met with FP32 P·V, see below). */
  private static void assertMeets(AccuracyMetrics m, String what) {
    assertTrue(m.meetsTargets(), what + ": " + m);
  }

  /**
   * Bound for FP8 P·V: rounding P and V to 3 mantissa bits costs ~2.4% rms each per element on flat
   * random-normal attention, so relative L1 lands at 0.03-0.055 (docs/ACCURACY-attention.md).
   */
  private static void assertFp8Pv(AccuracyMetrics m, String what) {
    assertTrue(m.cosine() >= 0.998 && m.relativeL1() <= 0.06, what + ": " + m);
  }

  @Test
  void randomNormalMeetsTargetsForEveryVariant() {
    AttentionCase c = new AttentionCase(2, 3, 77, 100, 64, 1);
    double[] ref = c.reference();
    for (AttentionConfig cfg : new AttentionConfig[] {INT8, INT8_RAW, MXFP8, MXFP8_RAW, SMOOTH_V}) {
      assertFp8Pv(AccuracyMetrics.of(c.run(cfg), ref), cfg.toString());
    }
    assertMeets(AccuracyMetrics.of(c.run(INT8_PV32), ref), "int8 Q·Kᵀ, FP32 P·V");
    AccuracyMetrics exact = AccuracyMetrics.of(c.run(FP32), ref);
    assertTrue(exact.cosine() > 0.999999 && exact.relativeL1() < 1e-5, exact.toString());
  }

  @Test
  void headDim128() {
    AttentionCase c = new AttentionCase(1, 2, 130, 70, 128, 2);
    assertFp8Pv(c.measure(INT8), "int8");
    assertFp8Pv(c.measure(MXFP8), "mxfp8");
    assertMeets(c.measure(INT8_PV32), "int8, FP32 P·V");
  }

  @Test
  void headDims32And96() {
    assertMeets(new AttentionCase(2, 3, 70, 90, 32, 20).measure(INT8_PV32), "d=32");
    assertFp8Pv(new AttentionCase(1, 2, 70, 90, 96, 21).causal().measure(MXFP8), "d=96");
    assertTrue(CpuAttention.isFastPath(32) && !CpuAttention.isFastPath(48));
  }

  @Test
  void smoothingRescuesLargeKeyOffset() {
    AttentionCase c = new AttentionCase(1, 2, 96, 256, 64, 3).withKeyOffset(20f, 4);
    double[] ref = c.reference();
    AttentionConfig raw32 = INT8_PV32.toBuilder().optSmoothK(false).build();
    AccuracyMetrics smooth = AccuracyMetrics.of(c.run(INT8_PV32), ref);
    AccuracyMetrics raw = AccuracyMetrics.of(c.run(raw32), ref);
    assertMeets(smooth, "int8 smoothed");
    assertFp8Pv(AccuracyMetrics.of(c.run(INT8), ref), "int8 smoothed, FP8 P·V");
    assertTrue(raw.relativeL1() > 2 * smooth.relativeL1(), "raw " + raw + " smooth " + smooth);
  }

  /**
   * Short key lengths (a sentence at batch 1) take the narrow key tile: one tile holds every key in
   * either width, so the results must be the wide tile's bit for bit, for every variant, with and
   * without masks (padding rows of -inf and random per-row masks) and causal.
   */
  @Test
  void narrowKeyTileMatchesWideTileBitForBit() {
    int narrow = CpuSageAttention.NARROW_KEY_TILE;
    AttentionConfig[] cfgs = {INT8, MXFP8_RAW, FP32, SMOOTH_V};
    Random r = new Random(40);
    long seed = 41;
    for (int sk : new int[] {1, 7, 15, narrow}) {
      for (int d : new int[] {32, 64}) {
        int sq = sk == 1 ? 1 : sk + (int) (seed % 3) - 1; // Sq = Sk, Sk ± 1 as well
        sq = Math.max(1, sq);
        float[] m = new float[2 * sq * sk];
        for (int i = 0; i < m.length; i++) {
          m[i] = r.nextFloat() < 0.2f ? Float.NEGATIVE_INFINITY : (float) r.nextGaussian();
        }
        AttentionCase[] cases = {
          new AttentionCase(2, 3, sq, sk, d, seed++),
          new AttentionCase(2, 3, sq, sk, d, seed++).withMask(new long[] {2, 1, sq, sk}, m),
          new AttentionCase(2, 3, sq, sk, d, seed++).withKeyOffset(4f, seed++).causal()
        };
        for (AttentionCase c : cases) {
          for (AttentionConfig cfg : cfgs) {
            float[] wide = c.runWithTile(cfg, CpuSageAttention.KEY_TILE);
            float[] thin = c.runWithTile(cfg, narrow);
            assertTrue(
                Arrays.equals(wide, thin),
                "sk=" + sk + " sq=" + sq + " d=" + d + " " + cfg + " mask=" + (c.mask != null));
            // and what compute picks by itself for this length is the narrow tile's result
            assertTrue(Arrays.equals(thin, c.run(cfg)), "default width, sk=" + sk);
          }
        }
        assertMeets(
            new AttentionCase(1, 4, sq, sk, d, seed++).measure(INT8_PV32), "narrow sk=" + sk);
      }
    }
    AttentionCase tooLong = new AttentionCase(1, 1, 2, narrow + 1, 32, 3);
    assertThrows(IllegalArgumentException.class, () -> tooLong.runWithTile(INT8, narrow));
  }

  @Test
  void paddingMaskBroadcastOverHeadsAndQueries() {
    int b = 2;
    int sk = 90;
    float[] m = new float[b * sk];
    for (int j = 60; j < sk; j++) {
      m[j] = -10000f; // batch 0: last 30 keys are padding
    }
    for (int j = 45; j < sk; j++) {
      m[sk + j] = Float.NEGATIVE_INFINITY; // batch 1: -inf padding
    }
    AttentionCase c = new AttentionCase(b, 3, sk, sk, 64, 5).withMask(new long[] {b, 1, 1, sk}, m);
    assertMeets(c.measure(INT8_PV32), "int8 masked");
    assertFp8Pv(c.measure(INT8), "int8 masked, FP8 P·V");
    assertFp8Pv(c.measure(MXFP8), "mxfp8 masked");
  }

  @Test
  void fullMaskPerQueryRow() {
    int b = 2;
    int sq = 33;
    int sk = 65;
    Random r = new Random(6);
    float[] m = new float[b * sq * sk];
    for (int i = 0; i < m.length; i++) {
      m[i] = r.nextFloat() < 0.3f ? -1e9f : (float) r.nextGaussian();
    }
    AttentionCase c = new AttentionCase(b, 2, sq, sk, 64, 7).withMask(new long[] {b, 1, sq, sk}, m);
    assertMeets(c.measure(INT8_PV32), "int8 [B,1,Sq,Sk] mask");
    assertFp8Pv(c.measure(INT8), "int8 [B,1,Sq,Sk] mask, FP8 P·V");
  }

  @Test
  void causalSquareAndRagged() {
    assertMeets(new AttentionCase(1, 2, 130, 130, 64, 8).causal().measure(INT8_PV32), "causal");
    assertFp8Pv(new AttentionCase(1, 2, 130, 130, 64, 8).causal().measure(INT8), "causal fp8");
    assertFp8Pv(new AttentionCase(1, 2, 200, 70, 128, 9).causal().measure(MXFP8), "Sq > Sk");
    assertFp8Pv(new AttentionCase(1, 1, 1, 1, 64, 10).causal().measure(INT8), "S=1 causal");
  }

  @Test
  void singleTokenAndSingleQuery() {
    AttentionCase one = new AttentionCase(3, 2, 1, 1, 64, 11);
    float[] out = one.run(INT8);
    // With one key the output is that key's value, up to the FP8 rounding of V.
    for (int i = 0; i < out.length; i++) {
      assertEquals(one.v[i], out[i], Math.abs(one.v[i]) * 0.07 + 1e-6, "index " + i);
    }
    assertMeets(new AttentionCase(2, 3, 1, 333, 64, 12).measure(INT8_PV32), "decode step");
    assertFp8Pv(new AttentionCase(2, 3, 1, 333, 64, 12).measure(INT8), "decode step fp8");
  }

  @Test
  void fullyMaskedRowGivesZeros() {
    int sk = 40;
    float[] m = new float[2 * sk];
    Arrays.fill(m, 0, sk, Float.NEGATIVE_INFINITY); // query 0 sees nothing
    AttentionCase c = new AttentionCase(1, 1, 2, sk, 64, 13).withMask(new long[] {2, sk}, m);
    float[] out = c.run(INT8);
    for (int i = 0; i < 64; i++) {
      assertEquals(0f, out[i]);
    }
    for (int i = 64; i < 128; i++) {
      assertTrue(Float.isFinite(out[i]) && out[i] != 0f);
    }
    float[] exact =
        new AttentionCase(1, 1, 2, sk, 48, 13).withMask(new long[] {2, sk}, m).run(INT8);
    for (int i = 0; i < 48; i++) {
      assertEquals(0f, exact[i]);
    }
  }

  @Test
  void nanPropagatesAndStaysLocal() {
    AttentionCase c = new AttentionCase(2, 2, 100, 80, 64, 14);
    c.q[5 * 64 + 3] = Float.NaN; // batch 0, head 0, query 5
    float[] out = c.run(INT8);
    assertTrue(Float.isNaN(out[5 * 64]));
    int otherHead = 100 * 64; // batch 0, head 1: untouched
    for (int i = otherHead; i < out.length; i++) {
      assertFalse(Float.isNaN(out[i]), "index " + i);
    }
    AttentionCase cv = new AttentionCase(1, 1, 70, 70, 64, 15);
    cv.v[10 * 64] = Float.NaN;
    for (AttentionConfig cfg : new AttentionConfig[] {INT8, MXFP8, FP32}) {
      float[] o = cv.run(cfg);
      assertTrue(Float.isNaN(o[0]), cfg.toString());
    }
    AttentionCase ck = new AttentionCase(1, 1, 70, 70, 64, 16);
    ck.k[3] = Float.POSITIVE_INFINITY;
    assertTrue(Float.isNaN(ck.run(INT8)[0]) || Float.isFinite(ck.run(INT8)[0]));
  }

  @Test
  void otherHeadDimsFallBackToExact() {
    for (int d : new int[] {1, 48, 80}) {
      AttentionCase c = new AttentionCase(1, 2, 19, 23, d, 17 + d).causal();
      AccuracyMetrics m = c.measure(INT8);
      assertTrue(m.cosine() > 0.999999 && m.relativeL1() < 1e-5, d + ": " + m);
    }
  }

  @Test
  void bshdLayoutMatchesBhsd() {
    int b = 2;
    int h = 3;
    int s = 70;
    int d = 64;
    AttentionCase c = new AttentionCase(b, h, s, s, d, 18);
    float[] expected = c.run(INT8);
    float[][] bshd = new float[3][];
    float[][] src = {c.q, c.k, c.v};
    for (int t = 0; t < 3; t++) {
      bshd[t] = new float[src[t].length];
      for (int bb = 0; bb < b; bb++) {
        for (int hh = 0; hh < h; hh++) {
          for (int ss = 0; ss < s; ss++) {
            System.arraycopy(
                src[t], ((bb * h + hh) * s + ss) * d, bshd[t], ((bb * s + ss) * h + hh) * d, d);
          }
        }
      }
    }
    float[] out = new float[expected.length];
    TensorView[] views = new TensorView[4];
    float[][] all = {bshd[0], bshd[1], bshd[2], out};
    for (int t = 0; t < 4; t++) {
      views[t] = TensorView.of(MemorySegment.ofArray(all[t]), TensorLayout.BSHD, b, h, s, d);
    }
    CpuAttention.compute(c.shape, views[0], views[1], views[2], views[3], null, false, null, INT8);
    for (int bb = 0; bb < b; bb++) {
      for (int hh = 0; hh < h; hh++) {
        for (int ss = 0; ss < s; ss++) {
          for (int dd = 0; dd < d; dd++) {
            assertEquals(
                expected[((bb * h + hh) * s + ss) * d + dd],
                out[((bb * s + ss) * h + hh) * d + dd],
                1e-5f, // reduceLanes may sum in another order once compiled
                "");
          }
        }
      }
    }
  }

  @Test
  void e4m3RoundingMatchesFormatCodec() {
    Random r = new Random(19);
    for (int i = 0; i < 200_000; i++) {
      float x =
          switch (i % 3) {
            case 0 -> (float) (r.nextGaussian() * 100);
            case 1 -> (float) (r.nextGaussian() * 0.01);
            default -> Float.intBitsToFloat(r.nextInt());
          };
      if (!Float.isFinite(x)) {
        continue;
      }
      float expected = MxFormat.MXFP8_E4M3.decode(MxFormat.MXFP8_E4M3.encode(x));
      assertEquals(expected, E4M3Rounding.round(x), 0f, "x = " + x);
      float[] lanes = new float[CpuSageAttention.F.length()];
      Arrays.fill(lanes, x);
      float vec =
          E4M3Rounding.round(
                  jdk.incubator.vector.FloatVector.fromArray(CpuSageAttention.F, lanes, 0))
              .lane(0);
      assertEquals(expected, vec, 0f, "vector, x = " + x);
    }
    assertTrue(Float.isNaN(E4M3Rounding.round(Float.NaN)));
  }

  @Test
  void badInputsAreNamed() {
    AttentionShape s = new AttentionShape(1, 1, 4, 4, 64);
    TensorView small =
        TensorView.of(MemorySegment.ofArray(new float[256]), TensorLayout.BHSD, 1, 1, 4, 64);
    TensorView tooSmall = new TensorView(MemorySegment.ofArray(new float[100]), 256, 256, 64);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> CpuAttention.compute(s, small, tooSmall, small, small, null, false, null, INT8));
    assertTrue(e.getMessage().contains("key"), e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class,
            () -> TensorView.ofMask(MemorySegment.ofArray(new float[12]), new long[] {3, 4}, s));
    assertTrue(e.getMessage().contains("broadcast"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new AttentionShape(1, 0, 4, 4, 64));
    assertThrows(
        IllegalArgumentException.class,
        () -> CpuAttention.compute(s, small, small, small, small, null, false, Float.NaN, INT8));
  }
}

package io.djlmx.attention;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The accuracy floor of any FP8 E4M3 P·V on random-normal inputs: attention in FP64 where only P
 * (fixed scale 448 against the exact row max) and V (one scale per channel, amax / 448) are rounded
 * to E4M3, nothing else. Issue 6 asks for relative L1 ≤ 0.03; this floor is above it on these
 * inputs, so no FP8 P·V kernel can meet that target there, and the CPU kernel's FP8 P·V sits within
 * a few percent of the floor.
 */
class Fp8PvErrorFloorTest {

  /** Issue 6's relative-L1 target. */
  private static final double TARGET_REL_L1 = 0.03;

  @ParameterizedTest(name = "B=1 H=4 S={0} D={1}")
  @CsvSource({"512, 64, 1", "256, 128, 2"})
  void fp8PvFloorIsAboveTheL1Target(int s, int d, long seed) {
    AttentionCase c = new AttentionCase(1, 4, s, s, d, seed);
    double[] ref = c.reference();
    AccuracyMetrics pOnly = AccuracyMetrics.of(floor(c, true, false), ref);
    AccuracyMetrics vOnly = AccuracyMetrics.of(floor(c, false, true), ref);
    AccuracyMetrics both = AccuracyMetrics.of(floor(c, true, true), ref);
    AccuracyMetrics kernel = c.measure(AttentionConfig.builder().optPvFp8(true).build());
    System.out.printf(
        "FP8 P·V floor S=%d D=%d: P only L1 %.4f, V only %.4f, both %.4f (cosine %.6f);"
            + " CPU kernel (INT8 Q·Kᵀ, FP8 P·V) %.4f (cosine %.6f)%n",
        s,
        d,
        pOnly.relativeL1(),
        vOnly.relativeL1(),
        both.relativeL1(),
        both.cosine(),
        kernel.relativeL1(),
        kernel.cosine());
    // each rounding alone costs about 2 % relative L1; together they are past the target
    assertTrue(pOnly.relativeL1() > 0.015 && vOnly.relativeL1() > 0.015, "each rounding alone");
    assertTrue(both.relativeL1() > TARGET_REL_L1, () -> "floor " + both.relativeL1());
    // the kernel's INT8 scores, online softmax and FP32 accumulation add little to it
    assertTrue(
        kernel.relativeL1() >= both.relativeL1() * 0.95
            && kernel.relativeL1() <= both.relativeL1() * 1.10,
        () -> "kernel " + kernel.relativeL1() + " vs floor " + both.relativeL1());
  }

  /**
   * Exact attention in FP64 except that P·448 (P against the row's exact max) and V / (its
   * channel's amax / 448) are rounded to E4M3 where asked; the row sum is that of the P used, as
   * the GPU kernels' tensor-core sums are.
   */
  private static float[] floor(AttentionCase c, boolean roundP, boolean roundV) {
    AttentionShape sh = c.shape;
    int heads = sh.batch() * sh.heads();
    int sq = sh.queryLength();
    int sk = sh.keyLength();
    int d = sh.headDim();
    double scale = 1 / Math.sqrt(d);
    float[] out = new float[c.q.length];
    double[] vr = new double[sk * d];
    double[] p = new double[sk];
    for (int bh = 0; bh < heads; bh++) {
      int kv = bh * sk * d;
      for (int ch = 0; ch < d; ch++) {
        double amax = 0;
        for (int j = 0; j < sk; j++) {
          amax = Math.max(amax, Math.abs(c.v[kv + j * d + ch]));
        }
        double vs = amax / E4M3Rounding.MAX;
        for (int j = 0; j < sk; j++) {
          float x = c.v[kv + j * d + ch];
          vr[j * d + ch] = roundV ? E4M3Rounding.round((float) (x / vs)) * vs : x;
        }
      }
      for (int i = 0; i < sq; i++) {
        int qi = (bh * sq + i) * d;
        double m = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < sk; j++) {
          double acc = 0;
          for (int ch = 0; ch < d; ch++) {
            acc += (double) c.q[qi + ch] * c.k[kv + j * d + ch];
          }
          p[j] = acc * scale;
          m = Math.max(m, p[j]);
        }
        double l = 0;
        for (int j = 0; j < sk; j++) {
          double e = Math.exp(p[j] - m) * E4M3Rounding.MAX;
          p[j] = roundP ? E4M3Rounding.round((float) e) : e;
          l += p[j];
        }
        for (int ch = 0; ch < d; ch++) {
          double o = 0;
          for (int j = 0; j < sk; j++) {
            o += p[j] * vr[j * d + ch];
          }
          out[qi + ch] = (float) (o / l);
        }
      }
    }
    return out;
  }
}

package io.djlmx.attention;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * FP64 attention, the yardstick for accuracy tests and reports: softmax(scale·Q·Kᵀ + mask)·V with
 * every product and sum in double precision and the same conventions as {@link CpuAttention}
 * (top-left causal, fully masked rows give zeros). Slow by design.
 */
public final class ReferenceAttention {

  private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;

  private ReferenceAttention() {}

  /**
   * Computes attention in FP64.
   *
   * @param shape sizes
   * @param q queries
   * @param k keys
   * @param v values
   * @param mask additive mask view, or null
   * @param causal whether key j is hidden from query i when j &gt; i
   * @param scale softmax scale, null for 1/√D
   * @return the output, contiguous [B, H, Sq, D]
   */
  public static double[] compute(
      AttentionShape shape,
      TensorView q,
      TensorView k,
      TensorView v,
      TensorView mask,
      boolean causal,
      Float scale) {
    int sq = shape.queryLength();
    int sk = shape.keyLength();
    int d = shape.headDim();
    double sc = scale == null ? 1.0 / Math.sqrt(d) : scale;
    double[] out = new double[shape.batch() * shape.heads() * sq * d];
    double[] s = new double[sk];
    MemorySegment qs = q.data();
    MemorySegment ks = k.data();
    MemorySegment vs = v.data();
    for (int b = 0; b < shape.batch(); b++) {
      for (int h = 0; h < shape.heads(); h++) {
        for (int i = 0; i < sq; i++) {
          long qo = q.offset(b, h, i);
          int visible = causal ? Math.min(sk, i + 1) : sk;
          double max = Double.NEGATIVE_INFINITY;
          boolean nan = false;
          for (int j = 0; j < visible; j++) {
            long ko = k.offset(b, h, j);
            double dot = 0;
            for (int c = 0; c < d; c++) {
              dot += (double) qs.getAtIndex(FLOAT, qo + c) * ks.getAtIndex(FLOAT, ko + c);
            }
            double x = dot * sc;
            if (mask != null) {
              x += mask.data().getAtIndex(FLOAT, mask.offset(b, h, i) + j);
            }
            s[j] = x;
            nan |= Double.isNaN(x);
            max = Math.max(max, x);
          }
          int oo = ((b * shape.heads() + h) * sq + i) * d;
          if (max == Double.NEGATIVE_INFINITY && !nan) {
            continue;
          }
          double sum = 0;
          for (int j = 0; j < visible; j++) {
            double p = Math.exp(s[j] - max);
            sum += p;
            long vo = v.offset(b, h, j);
            for (int c = 0; c < d; c++) {
              out[oo + c] += p * vs.getAtIndex(FLOAT, vo + c);
            }
          }
          for (int c = 0; c < d; c++) {
            out[oo + c] /= sum;
          }
        }
      }
    }
    return out;
  }
}

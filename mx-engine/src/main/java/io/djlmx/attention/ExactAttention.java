package io.djlmx.attention;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Plain FP32 attention, row by row: the fallback for head dimensions the low-bit kernel does not
 * take. Same semantics as {@link CpuSageAttention} (top-left causal, a row with every score -∞
 * yields zeros, NaN propagates).
 */
final class ExactAttention {

  private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;

  private ExactAttention() {}

  /**
   * Computes attention into {@code out}.
   *
   * @param shape sizes
   * @param q queries
   * @param k keys
   * @param v values
   * @param out output
   * @param mask additive mask view, or null
   * @param causal whether key j is hidden from query i when j &gt; i
   * @param scale the softmax scale
   * @param parallelism threads, 0 for the common pool
   */
  static void compute(
      AttentionShape shape,
      TensorView q,
      TensorView k,
      TensorView v,
      TensorView out,
      TensorView mask,
      boolean causal,
      float scale,
      int parallelism) {
    int sq = shape.queryLength();
    int sk = shape.keyLength();
    int d = shape.headDim();
    int heads = shape.heads();
    Parallel.forEach(
        shape.batch() * heads,
        parallelism,
        bh -> {
          int b = bh / heads;
          int h = bh % heads;
          float[] s = new float[sk];
          float[] acc = new float[d];
          MemorySegment qs = q.data();
          MemorySegment ks = k.data();
          MemorySegment vs = v.data();
          MemorySegment os = out.data();
          for (int i = 0; i < sq; i++) {
            long qo = q.offset(b, h, i);
            int visible = causal ? Math.min(sk, i + 1) : sk;
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < visible; j++) {
              long ko = k.offset(b, h, j);
              float dot = 0f;
              for (int c = 0; c < d; c++) {
                dot += qs.getAtIndex(FLOAT, qo + c) * ks.getAtIndex(FLOAT, ko + c);
              }
              float x = dot * scale;
              if (mask != null) {
                x += mask.data().getAtIndex(FLOAT, mask.offset(b, h, i) + j);
              }
              s[j] = x;
              max = Math.max(max, x);
            }
            long oo = out.offset(b, h, i);
            if (max == Float.NEGATIVE_INFINITY) {
              for (int c = 0; c < d; c++) {
                os.setAtIndex(FLOAT, oo + c, 0f);
              }
              continue;
            }
            java.util.Arrays.fill(acc, 0f);
            float sum = 0f;
            for (int j = 0; j < visible; j++) {
              float p = (float) Math.exp(s[j] - max);
              sum += p;
              long vo = v.offset(b, h, j);
              for (int c = 0; c < d; c++) {
                acc[c] += p * vs.getAtIndex(FLOAT, vo + c);
              }
            }
            for (int c = 0; c < d; c++) {
              os.setAtIndex(FLOAT, oo + c, acc[c] / sum);
            }
          }
        });
  }
}

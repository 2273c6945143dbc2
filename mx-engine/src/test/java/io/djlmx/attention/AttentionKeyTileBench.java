package io.djlmx.attention;

import java.lang.foreign.MemorySegment;
import java.util.Locale;
import java.util.Random;

/**
 * Time per call of the CPU attention kernel with the wide and the narrow key tile on MiniLM's
 * batch-1 shape (12 heads, head dim 32, a padding mask), alternating in one JVM so that both see
 * the same machine load. Best of 15 rounds of 2,000 calls each.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -cp <test classpath>
 * io.djlmx.attention.AttentionKeyTileBench [seq ...]} (default 9 15 28).
 */
public final class AttentionKeyTileBench {

  private AttentionKeyTileBench() {}

  /**
   * Prints the timings.
   *
   * @param args sequence lengths (each at most {@link CpuSageAttention#NARROW_KEY_TILE})
   */
  public static void main(String[] args) {
    String[] lengths = args.length > 0 ? args : new String[] {"9", "15", "28"};
    for (String a : lengths) {
      int s = Integer.parseInt(a);
      AttentionShape shape = new AttentionShape(1, 12, s, s, 32);
      Random r = new Random(1);
      float[] q = AttentionCase.gaussian(r, s * 12 * 32);
      float[] k = AttentionCase.gaussian(r, q.length);
      float[] v = AttentionCase.gaussian(r, q.length);
      float[] o = new float[q.length];
      TensorView qv = view(q, s);
      TensorView kv = view(k, s);
      TensorView vv = view(v, s);
      TensorView ov = view(o, s);
      TensorView mv =
          TensorView.ofMask(MemorySegment.ofArray(new float[s]), new long[] {1, 1, 1, s}, shape);
      AttentionConfig cfg =
          AttentionConfig.defaults().toBuilder().optLayout(TensorLayout.BSHD).build();
      int[] widths = {CpuSageAttention.KEY_TILE, CpuSageAttention.NARROW_KEY_TILE};
      double[] best = {Double.MAX_VALUE, Double.MAX_VALUE};
      float scale = (float) (1 / Math.sqrt(32));
      for (int round = 0; round < 15; round++) {
        for (int w = 0; w < 2; w++) {
          long t0 = System.nanoTime();
          for (int i = 0; i < 2000; i++) {
            CpuSageAttention.compute(shape, qv, kv, vv, ov, mv, false, scale, cfg, widths[w]);
          }
          best[w] = Math.min(best[w], (System.nanoTime() - t0) / 2000.0 / 1e3);
        }
      }
      System.out.printf(
          Locale.ROOT,
          "seq %d: wide tile (%d keys) %.1f us, narrow tile (%d keys) %.1f us, %.2fx%n",
          s,
          widths[0],
          best[0],
          widths[1],
          best[1],
          best[0] / best[1]);
    }
  }

  private static TensorView view(float[] a, int s) {
    return TensorView.of(MemorySegment.ofArray(a), TensorLayout.BSHD, 1, 12, s, 32);
  }
}

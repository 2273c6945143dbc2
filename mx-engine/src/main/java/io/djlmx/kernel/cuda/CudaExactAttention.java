package io.djlmx.kernel.cuda;

import io.djlmx.attention.AttentionShape;
import io.djlmx.attention.TensorLayout;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Exact FP32 attention in one launch ({@code mx_exact_attention_d*} in mx_exact_attention.cu), for
 * the head dims the MX attention kernel ({@link CudaAttention}) has no variant for: {@code
 * softmax(scale·Q·Kᵀ + mask)·V} with an online softmax, so no score matrix reaches device memory.
 * Q, K, V and the output lie in either layout, as they are; the mask and the causal rule are those
 * of {@link CudaAttention}, and so are the edge cases: a row whose every key is hidden gives zeros,
 * a NaN score makes its own row NaN and no other.
 */
public final class CudaExactAttention {

  /** Largest head dim it takes (eight columns per lane of a warp). */
  public static final int MAX_HEAD_DIM = 256;

  private static final int QUERY_ROWS = 32;
  private static final int KEY_TILE = 32;
  private static final int DEFAULT_SHARED_LIMIT = 48 * 1024;
  private static final Set<String> SHARED_MEMORY_RAISED = ConcurrentHashMap.newKeySet();

  private CudaExactAttention() {}

  /**
   * Computes the attention on the device; the launch is checked.
   *
   * @param q queries, FP32, [B, H, Sq, D] or [B, Sq, H, D]
   * @param k keys, FP32, [B, H, Sk, D] or [B, Sk, H, D]
   * @param v values, laid out as k
   * @param out output, FP32, laid out as q
   * @param shape the attention sizes; head dim 1 to {@link #MAX_HEAD_DIM}
   * @param layout the order of the four axes of q, k, v and out
   * @param mask an additive mask for this shape, or null
   * @param causal whether key j is hidden from query i when j &gt; i (with a mask: both apply)
   * @param scale the softmax scale; must be finite
   * @throws IllegalArgumentException naming the buffer, head dim, layout, mask or scale that does
   *     not fit
   */
  public static void forward(
      DeviceBuffer q,
      DeviceBuffer k,
      DeviceBuffer v,
      DeviceBuffer out,
      AttentionShape shape,
      TensorLayout layout,
      CudaAttentionMask mask,
      boolean causal,
      float scale) {
    int d = shape.headDim();
    if (d > MAX_HEAD_DIM) {
      throw new IllegalArgumentException(
          "CUDA exact attention: head dim " + d + " above " + MAX_HEAD_DIM + " for " + shape);
    }
    if (layout == null) {
      throw new IllegalArgumentException("CUDA exact attention: the layout must not be null");
    }
    if (!Float.isFinite(scale)) {
      throw new IllegalArgumentException(
          "CUDA exact attention: scale must be finite, got " + scale);
    }
    if (mask != null) {
      mask.requireShape(shape, "CUDA exact attention");
    }
    if (shape.batch() > 65535 || shape.heads() > 65535) {
      throw new IllegalArgumentException(
          "CUDA exact attention: batch or heads above 65535 for the kernel's grid: " + shape);
    }
    int sq = shape.queryLength();
    int sk = shape.keyLength();
    long perRow = (long) shape.batch() * shape.heads() * d * Float.BYTES;
    CudaOps.requireBytes("CUDA exact attention q", q, perRow * sq);
    CudaOps.requireBytes("CUDA exact attention k", k, perRow * sk);
    CudaOps.requireBytes("CUDA exact attention v", v, perRow * sk);
    CudaOps.requireBytes("CUDA exact attention out", out, perRow * sq);
    int lanes = (d + 31) / 32;
    String name = "mx_exact_attention_d" + lanes;
    int smem = sharedBytes(d);
    CudaBackend b = CudaBackend.get();
    // raised once per variant, to what its widest head dim needs
    if (smem > DEFAULT_SHARED_LIMIT && SHARED_MEMORY_RAISED.add(name)) {
      b.allowDynamicSharedMemory(name, sharedBytes(32 * lanes));
    }
    KernelArgs a =
        new KernelArgs()
            .ptr(out)
            .ptr(q)
            .ptr(k)
            .ptr(v)
            .ptr(mask == null ? null : mask.buffer())
            .i32(sq)
            .i32(sk)
            .i32(d)
            .i32(causal ? 1 : 0);
    CudaAttention.strided(a, shape, sq, layout); // q
    CudaAttention.strided(a, shape, sk, layout); // k
    CudaAttention.strided(a, shape, sk, layout); // v
    CudaAttention.strided(a, shape, sq, layout); // out
    if (mask == null) {
      a.i64(0).i64(0).i64(0).i64(0);
    } else {
      a.i64(mask.batchStride()).i64(mask.headStride()).i64(mask.queryStride()).i64(1);
    }
    b.launch(
        name,
        new int[] {(sq + QUERY_ROWS - 1) / QUERY_ROWS, shape.heads(), shape.batch()},
        new int[] {128, 1, 1},
        smem,
        a.f32(scale).build());
  }

  /**
   * A K tile (rows padded to 4 mod 32 floats), the CTA's Q rows (padded to a multiple of 4), the
   * tile's weights for every query row, a V tile.
   */
  private static int sharedBytes(int d) {
    int kStride = (d + 31) / 32 * 32 + 4;
    int qRow = (d + 3) / 4 * 4;
    return Float.BYTES
        * (KEY_TILE * kStride + QUERY_ROWS * qRow + QUERY_ROWS * KEY_TILE + KEY_TILE * d);
  }
}

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

  private static final int KEY_TILE = 32;

  /** Head dims up to which the kernel takes 16 query rows per warp by default (8 above). */
  private static final int WIDE_ROWS_MAX_HEAD_DIM = 128;

  /** Waves of 16-row CTAs below which, past one, 8 rows per warp run faster (measured). */
  private static final double SHORT_SECOND_WAVE = 1.4;

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
    forward(q, k, v, out, shape, layout, mask, causal, scale, 0);
  }

  /**
   * As the public {@code forward} with {@code rowsPerWarp} query rows per warp: 8, 16 (head dims up
   * to {@value #WIDE_ROWS_MAX_HEAD_DIM}) or 0 for the default (the benchmark compares the two).
   */
  static void forward(
      DeviceBuffer q,
      DeviceBuffer k,
      DeviceBuffer v,
      DeviceBuffer out,
      AttentionShape shape,
      TensorLayout layout,
      CudaAttentionMask mask,
      boolean causal,
      float scale,
      int rowsPerWarp) {
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
    int rows = rowsPerWarp == 0 ? rowsPerWarp(shape) : rowsPerWarp;
    if (rows != 8 && (rows != 16 || d > WIDE_ROWS_MAX_HEAD_DIM)) {
      throw new IllegalArgumentException(
          "CUDA exact attention: " + rows + " query rows per warp at head dim " + d);
    }
    String name = kernel(d, rows);
    int smem = prepare(name, d, rows);
    CudaBackend b = CudaBackend.get();
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
        new int[] {(sq + 4 * rows - 1) / (4 * rows), shape.heads(), shape.batch()},
        new int[] {128, 1, 1},
        smem,
        a.f32(scale).build());
  }

  private static String kernel(int d, int rows) {
    return "mx_exact_attention_" + (rows == 16 ? "q16_" : "") + "d" + (d + 31) / 32;
  }

  /** The kernel's dynamic shared memory at head dim d, its limit raised where that needs it. */
  private static int prepare(String name, int d, int rows) {
    int smem = sharedBytes(d, rows);
    // raised once per variant, to what its widest head dim needs
    if (smem > DEFAULT_SHARED_LIMIT && SHARED_MEMORY_RAISED.add(name)) {
      CudaBackend.get().allowDynamicSharedMemory(name, sharedBytes((d + 31) / 32 * 32, rows));
    }
    return smem;
  }

  /**
   * The query rows per warp the kernel takes by default for a shape: 16 up to head dim {@value
   * #WIDE_ROWS_MAX_HEAD_DIM} (half the shared-memory reads per FMA: 1.02–1.17× on the H200), except
   * where its grid would run one full wave of CTAs and less than 40% of a second; 8 rows, CTAs of
   * half the work, then leave less of the second wave idle (1.17× at B=4, Sq=512, H=16, D=96, where
   * the 16-row grid is 1.29 waves; at 1.45 waves the two measured within 8% either way, at 1.94
   * waves 16 rows ran 1.16× faster). 8 above.
   *
   * @param shape the attention sizes
   * @return 8 or 16
   */
  static int rowsPerWarp(AttentionShape shape) {
    int d = shape.headDim();
    if (d > WIDE_ROWS_MAX_HEAD_DIM) {
      return 8;
    }
    String name = kernel(d, 16);
    CudaBackend b = CudaBackend.get();
    int perSm = b.activeBlocksPerMultiprocessor(name, 128, prepare(name, d, 16));
    long ctas = (shape.queryLength() + 63L) / 64 * shape.heads() * shape.batch();
    double waves = (double) ctas / Math.max(1, (long) perSm * b.multiprocessors());
    return waves > 1 && waves < SHORT_SECOND_WAVE ? 8 : 16;
  }

  /**
   * A K tile (rows padded to 4 mod 32 floats), the CTA's Q rows (4 warps of {@code rows}, padded to
   * a multiple of 4), the tile's weights for every query row, a V tile (rows padded to a multiple
   * of 32 floats).
   */
  private static int sharedBytes(int d, int rows) {
    int kStride = (d + 31) / 32 * 32 + 4;
    int qRow = (d + 3) / 4 * 4;
    int vStride = (d + 31) / 32 * 32;
    int queryRows = 4 * rows;
    return Float.BYTES
        * (KEY_TILE * kStride + queryRows * qRow + queryRows * KEY_TILE + KEY_TILE * vStride);
  }
}

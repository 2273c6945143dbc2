package io.djlmx.kernel.cuda;

/**
 * The fused encoder-layer kernels of {@code mx_fused.cu} on device buffers: the residual add and
 * layer norm of a post-norm layer in one pass, and softmax attention over every head of the
 * projections' merged layout in one launch (no head split or merge copies, no score matrix in
 * device memory). Each method checks its arguments and the buffers' sizes before launching; every
 * launch is checked by {@link CudaBackend}.
 */
public final class CudaFusedOps {

  /** Largest head size {@link #attention} takes (four columns per lane of a warp). */
  public static final int MAX_HEAD_SIZE = 128;

  /**
   * Sequences per launch of {@link #attentionPacked} (FU_SEQS in mx_fused.cu: their rows travel in
   * the launch parameters).
   */
  public static final int PACKED_SEQUENCES = 64;

  private static final int LN_ROWS_PER_BLOCK = 8;
  private static final int ATTENTION_QUERY_ROWS = 16;

  private CudaFusedOps() {}

  /**
   * {@code out[r, :] = layerNorm(x[r, :] + residual[r, :]) · gamma + beta} over rows of a dense
   * FP32 {@code [rows, cols]}, biased variance (as PyTorch). {@code out} may be {@code x} or {@code
   * residual}.
   *
   * @param out the output
   * @param x the input
   * @param residual the residual, the shape of {@code x}
   * @param gamma the scale {@code [cols]}, or null (1)
   * @param beta the shift {@code [cols]}, or null (0)
   * @param rows the row count
   * @param cols the row length
   * @param eps added to the variance
   */
  public static void addLayerNorm(
      DeviceBuffer out,
      DeviceBuffer x,
      DeviceBuffer residual,
      DeviceBuffer gamma,
      DeviceBuffer beta,
      long rows,
      long cols,
      float eps) {
    if (rows < 0 || cols < 0) {
      throw new IllegalArgumentException(
          "addLayerNorm: negative shape [" + rows + ", " + cols + "]");
    }
    if (rows == 0 || cols == 0) {
      return;
    }
    if (cols > Integer.MAX_VALUE
        || (rows + LN_ROWS_PER_BLOCK - 1) / LN_ROWS_PER_BLOCK > 0x7fffffffL) {
      throw new IllegalArgumentException(
          "addLayerNorm: [" + rows + ", " + cols + "] exceeds the kernel's grid or row length");
    }
    CudaOps.requireBytes("addLayerNorm x", x, 4 * rows * cols);
    CudaOps.requireBytes("addLayerNorm residual", residual, 4 * rows * cols);
    CudaOps.requireBytes("addLayerNorm output", out, 4 * rows * cols);
    if (gamma != null) {
      CudaOps.requireBytes("addLayerNorm gamma", gamma, 4 * cols);
    }
    if (beta != null) {
      CudaOps.requireBytes("addLayerNorm beta", beta, 4 * cols);
    }
    CudaBackend.get()
        .launch(
            "mx_fused_add_layernorm",
            new int[] {(int) ((rows + LN_ROWS_PER_BLOCK - 1) / LN_ROWS_PER_BLOCK), 1, 1},
            new int[] {32 * LN_ROWS_PER_BLOCK, 1, 1},
            0,
            new KernelArgs()
                .ptr(out)
                .ptr(x)
                .ptr(residual)
                .ptr(gamma)
                .ptr(beta)
                .i64(rows)
                .i32(cols)
                .f32(eps)
                .build());
  }

  /**
   * Softmax attention of a padded batch in the merged layout: for sequence {@code b} (rows {@code
   * [b·seq, b·seq + seq)} of each operand), head {@code h} (columns {@code [h·headSize, (h +
   * 1)·headSize)}) and query {@code i}: {@code out[i] = Σ_j softmax_j(q_i·k_j / div + mask[b, h, i,
   * j]) · v_j}. Rows are {@code heads·headSize} floats apart in every operand.
   *
   * @param out the context {@code [batch·seq, heads·headSize]}
   * @param q the queries, same layout
   * @param k the keys, same layout
   * @param v the values, same layout
   * @param mask the additive mask, or null; element {@code (b, h, i, j)} at {@code b·maskStrides[0]
   *     + h·maskStrides[1] + i·maskStrides[2] + j·maskStrides[3]} (0 broadcasts an axis)
   * @param maskStrides the mask's four strides in elements (ignored without a mask)
   * @param batch the sequences
   * @param seq the rows of each sequence
   * @param heads the heads
   * @param headSize the columns of each head, 1 to {@link #MAX_HEAD_SIZE}
   * @param div the divisor of every score (e.g. √headSize)
   */
  public static void attention(
      DeviceBuffer out,
      DeviceBuffer q,
      DeviceBuffer k,
      DeviceBuffer v,
      DeviceBuffer mask,
      long[] maskStrides,
      long batch,
      long seq,
      long heads,
      long headSize,
      float div) {
    checkAttentionShape(batch, seq, heads, headSize);
    if (batch == 0 || seq == 0 || heads == 0) {
      return;
    }
    long bytes = 4 * batch * seq * heads * headSize;
    CudaOps.requireBytes("attention query", q, bytes);
    CudaOps.requireBytes("attention key", k, bytes);
    CudaOps.requireBytes("attention value", v, bytes);
    CudaOps.requireBytes("attention output", out, bytes);
    long[] ms = new long[4];
    if (mask != null) {
      if (maskStrides == null || maskStrides.length != 4) {
        throw new IllegalArgumentException("attention: the mask needs 4 strides");
      }
      long last = 0;
      long[] extent = {batch, heads, seq, seq};
      for (int d = 0; d < 4; d++) {
        if (maskStrides[d] < 0) {
          throw new IllegalArgumentException("attention: negative mask stride " + maskStrides[d]);
        }
        last += (extent[d] - 1) * maskStrides[d];
      }
      CudaOps.requireBytes("attention mask", mask, 4 * (last + 1));
      ms = maskStrides.clone();
    }
    long ld = heads * headSize;
    CudaBackend.get()
        .launch(
            "mx_fused_attention_d" + columnsPerLane(headSize),
            new int[] {
              (int) ((seq + ATTENTION_QUERY_ROWS - 1) / ATTENTION_QUERY_ROWS),
              (int) heads,
              (int) batch
            },
            new int[] {128, 1, 1},
            attentionSharedBytes(headSize),
            new KernelArgs()
                .ptr(out)
                .ptr(q)
                .ptr(k)
                .ptr(v)
                .ptr(mask)
                .i32(seq)
                .i32(headSize)
                .i64(ld)
                .i64(ld)
                .i64(ld)
                .i64(ld)
                .i64(ms[0])
                .i64(ms[1])
                .i64(ms[2])
                .i64(ms[3])
                .f32(div)
                .build());
  }

  /**
   * Softmax attention of a packed batch in the merged layout, without a mask: sequence {@code s}
   * holds rows {@code [starts[s], starts[s] + lengths[s])} of every operand and attends to those
   * rows only; for its query {@code i} and head {@code h}: {@code out[i] = Σ_j softmax_j(q_i·k_j /
   * div) · v_j}. Rows are {@code heads·headSize} floats apart. The rows of each launch's (at most
   * {@link #PACKED_SEQUENCES}) sequences travel in its parameters: no upload, no synchronisation.
   * Rows outside every sequence are not written.
   *
   * @param out the context {@code [rows, heads·headSize]}
   * @param q the queries, same layout
   * @param k the keys, same layout
   * @param v the values, same layout
   * @param rows the rows of each operand
   * @param starts each sequence's first row
   * @param lengths each sequence's row count (at least 1)
   * @param heads the heads
   * @param headSize the columns of each head, 1 to {@link #MAX_HEAD_SIZE}
   * @param div the divisor of every score (e.g. √headSize)
   */
  public static void attentionPacked(
      DeviceBuffer out,
      DeviceBuffer q,
      DeviceBuffer k,
      DeviceBuffer v,
      long rows,
      int[] starts,
      int[] lengths,
      long heads,
      long headSize,
      float div) {
    if (starts.length != lengths.length) {
      throw new IllegalArgumentException(
          "attentionPacked: " + starts.length + " starts but " + lengths.length + " lengths");
    }
    checkAttentionShape(starts.length, rows, heads, headSize);
    int longest = 0;
    for (int s = 0; s < starts.length; s++) {
      if (lengths[s] < 1 || starts[s] < 0 || (long) starts[s] + lengths[s] > rows) {
        throw new IllegalArgumentException(
            "attentionPacked: sequence "
                + s
                + " (rows "
                + starts[s]
                + " + "
                + lengths[s]
                + ") is empty or outside the "
                + rows
                + " rows");
      }
      longest = Math.max(longest, lengths[s]);
    }
    if (starts.length == 0 || heads == 0) {
      return;
    }
    long bytes = 4 * rows * heads * headSize;
    CudaOps.requireBytes("attention query", q, bytes);
    CudaOps.requireBytes("attention key", k, bytes);
    CudaOps.requireBytes("attention value", v, bytes);
    CudaOps.requireBytes("attention output", out, bytes);
    long ld = heads * headSize;
    String name = "mx_fused_attention_packed_d" + columnsPerLane(headSize);
    int smem = attentionSharedBytes(headSize);
    CudaBackend be = CudaBackend.get();
    for (int s0 = 0; s0 < starts.length; s0 += PACKED_SEQUENCES) {
      int n = Math.min(PACKED_SEQUENCES, starts.length - s0);
      // struct FuSeqs { int start[64]; int len[64]; } by value
      byte[] seqs = new byte[8 * PACKED_SEQUENCES];
      java.nio.ByteBuffer bb =
          java.nio.ByteBuffer.wrap(seqs).order(java.nio.ByteOrder.LITTLE_ENDIAN);
      int chunkLongest = 0;
      for (int i = 0; i < n; i++) {
        bb.putInt(4 * i, starts[s0 + i]);
        bb.putInt(4 * (PACKED_SEQUENCES + i), lengths[s0 + i]);
        chunkLongest = Math.max(chunkLongest, lengths[s0 + i]);
      }
      be.launch(
          name,
          new int[] {
            (chunkLongest + ATTENTION_QUERY_ROWS - 1) / ATTENTION_QUERY_ROWS, (int) heads, n
          },
          new int[] {128, 1, 1},
          smem,
          new KernelArgs()
              .ptr(out)
              .ptr(q)
              .ptr(k)
              .ptr(v)
              .bytes(seqs)
              .i32(headSize)
              .i64(ld)
              .i64(ld)
              .i64(ld)
              .i64(ld)
              .f32(div)
              .build());
    }
  }

  /** Head columns per lane of the kernel variant (1 to 4). */
  private static int columnsPerLane(long headSize) {
    return (int) ((headSize + 31) / 32);
  }

  /** K and V tiles of 32 keys, 16 query rows, 16 rows of 32 probabilities. */
  private static int attentionSharedBytes(long headSize) {
    return (int) (4 * (32 * (headSize + 1) + 32 * headSize + 16 * headSize + 16 * 32));
  }

  private static void checkAttentionShape(long batch, long seq, long heads, long headSize) {
    if (batch < 0 || seq < 0 || heads < 0) {
      throw new IllegalArgumentException(
          "attention: negative shape batch " + batch + ", seq " + seq + ", heads " + heads);
    }
    if (headSize < 1 || headSize > MAX_HEAD_SIZE) {
      throw new IllegalArgumentException(
          "attention: head size " + headSize + " outside [1, " + MAX_HEAD_SIZE + "]");
    }
    if (batch > 65535 || heads > 65535 || seq > Integer.MAX_VALUE - ATTENTION_QUERY_ROWS) {
      throw new IllegalArgumentException(
          "attention: batch "
              + batch
              + " or heads "
              + heads
              + " above 65535, or seq "
              + seq
              + " too long for the kernel's grid");
    }
  }
}

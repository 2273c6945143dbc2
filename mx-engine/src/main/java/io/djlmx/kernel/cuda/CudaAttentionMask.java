package io.djlmx.kernel.cuda;

import io.djlmx.attention.AttentionShape;
import io.djlmx.attention.TensorView;
import java.util.Arrays;

/**
 * An additive FP32 attention mask in device memory for {@link CudaAttention}, broadcast to [B, H,
 * Sq, Sk] as PyTorch and DJL broadcast it: a padding mask [B, 1, 1, Sk], a per-query mask [B, 1,
 * Sq, Sk], a per-head one [B, H, Sq, Sk] or one shared mask [Sq, Sk]. The mask's last axis must be
 * the key length (the kernels read each mask row as contiguous keys); every other axis is either 1
 * (broadcast) or the full size. A mask value of -∞ hides a key; a row whose every key is hidden
 * yields a zero output row.
 *
 * <p>The mask does not own its buffer: the caller keeps it alive for the forward pass and closes
 * it.
 */
public final class CudaAttentionMask {

  private final DeviceBuffer buffer;
  private final AttentionShape attention;
  private final long batchStride;
  private final long headStride;
  private final long queryStride;

  private CudaAttentionMask(
      DeviceBuffer buffer,
      AttentionShape attention,
      long batchStride,
      long headStride,
      long queryStride) {
    this.buffer = buffer;
    this.attention = attention;
    this.batchStride = batchStride;
    this.headStride = headStride;
    this.queryStride = queryStride;
  }

  /**
   * Describes a dense row-major FP32 mask of the given shape for an attention of the given sizes.
   *
   * @param buffer the mask's values, FP32, dense row-major in {@code maskShape}
   * @param maskShape the mask's shape, rank 1 to 4, aligned to [B, H, Sq, Sk] from the right
   * @param attention the attention's sizes
   * @return the mask
   * @throws IllegalArgumentException naming the mask's shape when its last axis is not Sk, an axis
   *     does not broadcast, or the buffer is too small (or closed)
   */
  public static CudaAttentionMask of(
      DeviceBuffer buffer, long[] maskShape, AttentionShape attention) {
    if (buffer == null || buffer.isClosed()) {
      throw new IllegalArgumentException("CUDA attention mask: the buffer is null or closed");
    }
    long[] strides = TensorView.maskStrides(maskShape, attention);
    long n = strides[3];
    if (buffer.byteSize() < n * Float.BYTES) {
      throw new IllegalArgumentException(
          "CUDA attention mask of shape "
              + Arrays.toString(maskShape)
              + " needs "
              + n * Float.BYTES
              + " bytes, the buffer holds "
              + buffer.byteSize());
    }
    return new CudaAttentionMask(buffer, attention, strides[0], strides[1], strides[2]);
  }

  /**
   * Returns the attention sizes this mask was described for.
   *
   * @return the shape
   */
  public AttentionShape attentionShape() {
    return attention;
  }

  /**
   * Refuses this mask for an attention of another shape than it was described for.
   *
   * @param shape the attention's sizes
   * @param who the caller, for the message
   */
  void requireShape(AttentionShape shape, String who) {
    if (!attention.equals(shape)) {
      throw new IllegalArgumentException(
          who + ": the mask was described for " + attention + ", this attention is " + shape);
    }
  }

  /** The mask's values; refused once the caller has closed them. */
  DeviceBuffer buffer() {
    if (buffer.isClosed()) {
      throw new IllegalStateException("CUDA attention mask: its buffer was closed");
    }
    return buffer;
  }

  long batchStride() {
    return batchStride;
  }

  long headStride() {
    return headStride;
  }

  long queryStride() {
    return queryStride;
  }

  /** Appends the kernels' mask arguments: the pointer and the batch, head and query strides. */
  KernelArgs appendTo(KernelArgs a) {
    return a.ptr(buffer()).i64(batchStride).i64(headStride).i64(queryStride);
  }
}

package io.djlmx.attention;

import java.lang.foreign.MemorySegment;

/**
 * A four-axis FP32 tensor [batch, heads, sequence, last] in a memory segment, given by element
 * strides of its first three axes; the last axis is contiguous. A stride of 0 broadcasts an axis
 * (used by masks).
 *
 * @param data the native-order FP32 elements
 * @param strideBatch elements between consecutive batch indices
 * @param strideHead elements between consecutive heads
 * @param strideSeq elements between consecutive sequence positions
 */
public record TensorView(MemorySegment data, long strideBatch, long strideHead, long strideSeq) {

  /**
   * Describes a contiguous Q, K, V or output tensor of {@code layout}.
   *
   * @param data the elements
   * @param layout the axis order
   * @param batch batch size
   * @param heads heads
   * @param seq sequence length
   * @param dim head dimension
   * @return the view
   * @throws IllegalArgumentException when {@code data} is smaller than the tensor
   */
  public static TensorView of(
      MemorySegment data, TensorLayout layout, int batch, int heads, int seq, int dim) {
    TensorView v =
        switch (layout) {
          case BHSD -> new TensorView(data, (long) heads * seq * dim, (long) seq * dim, dim);
          case BSHD -> new TensorView(data, (long) seq * heads * dim, dim, (long) heads * dim);
        };
    v.checkFits("tensor", batch, heads, seq, dim);
    return v;
  }

  /**
   * Describes a contiguous additive mask of shape {@code maskShape} (rank 2 to 4, right-aligned,
   * each axis 1 or the full size) broadcast to [batch, heads, queryLength, keyLength].
   *
   * @param data the mask elements
   * @param maskShape the mask's shape
   * @param shape the attention sizes
   * @return the view, with stride 0 on broadcast axes
   * @throws IllegalArgumentException when the shape does not broadcast
   */
  public static TensorView ofMask(MemorySegment data, long[] maskShape, AttentionShape shape) {
    long[] strides = maskStrides(maskShape, shape);
    if (data.byteSize() < strides[3] * Float.BYTES) {
      throw new IllegalArgumentException(
          "Attention mask holds " + data.byteSize() / Float.BYTES + " floats, needs " + strides[3]);
    }
    return new TensorView(data, strides[0], strides[1], strides[2]);
  }

  /**
   * The element strides of a dense row-major mask of shape {@code maskShape} (rank 1 to 4, aligned
   * to [batch, heads, queryLength, keyLength] from the right, its last axis the key length, every
   * other axis 1 or the full size) broadcast to that shape.
   *
   * @param maskShape the mask's shape
   * @param shape the attention sizes
   * @return the batch, head and query strides (0 on broadcast axes), then the mask's element count
   * @throws IllegalArgumentException naming the shape when it does not broadcast
   */
  public static long[] maskStrides(long[] maskShape, AttentionShape shape) {
    long[] full = {shape.batch(), shape.heads(), shape.queryLength(), shape.keyLength()};
    if (maskShape == null || maskShape.length < 1 || maskShape.length > 4) {
      throw new IllegalArgumentException(
          "Attention mask must have rank 1 to 4, got shape "
              + java.util.Arrays.toString(maskShape));
    }
    long[] dims = {1, 1, 1, 1};
    System.arraycopy(maskShape, 0, dims, 4 - maskShape.length, maskShape.length);
    if (dims[3] != full[3]) {
      throw new IllegalArgumentException(
          "Attention mask's last axis must be the key length "
              + full[3]
              + ", mask shape "
              + java.util.Arrays.toString(maskShape));
    }
    long[] strides = new long[4];
    long n = 1;
    for (int i = 3; i >= 0; i--) {
      if (dims[i] != 1 && dims[i] != full[i]) {
        throw new IllegalArgumentException(
            "Attention mask shape "
                + java.util.Arrays.toString(maskShape)
                + " does not broadcast to [B, H, Sq, Sk] = "
                + java.util.Arrays.toString(full));
      }
      strides[i] = dims[i] == 1 ? 0 : n;
      n *= dims[i];
    }
    return new long[] {strides[0], strides[1], strides[2], n};
  }

  /**
   * Returns the element offset of position (b, h, s, 0).
   *
   * @param b batch index
   * @param h head index
   * @param s sequence index
   * @return the element offset
   */
  public long offset(int b, int h, int s) {
    return b * strideBatch + h * strideHead + s * strideSeq;
  }

  /**
   * Checks that the view's last element lies inside the segment.
   *
   * @param what the tensor's name for the message
   * @param batch batch size
   * @param heads heads
   * @param seq sequence length
   * @param last size of the last axis
   * @throws IllegalArgumentException when it does not fit
   */
  public void checkFits(String what, int batch, int heads, int seq, int last) {
    long end = offset(batch - 1, heads - 1, seq - 1) + last;
    if (end * Float.BYTES > data.byteSize()) {
      throw new IllegalArgumentException(
          "Attention "
              + what
              + " needs "
              + end
              + " floats but its memory holds "
              + data.byteSize() / Float.BYTES);
    }
  }
}

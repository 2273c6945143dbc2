package io.djlmx.zoo.bert;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.djlmx.attention.AttentionConfig;
import io.djlmx.attention.AttentionShape;
import io.djlmx.attention.CpuAttention;
import io.djlmx.attention.TensorLayout;
import io.djlmx.attention.TensorView;
import io.djlmx.attention.djl.MxAttention;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.stream.IntStream;

/**
 * The attention core that runs MX attention ({@link MxAttention}: INT8 Q·Kᵀ with smoothed K, online
 * softmax) in place of {@link SoftmaxAttentionCore}; install it with {@link
 * BertEncoder#setAttentionCore}.
 */
public final class MxAttentionCore implements AttentionCore {

  private final AttentionConfig config;
  private final AttentionConfig merged;

  /** Creates the core with the default MX attention configuration. */
  public MxAttentionCore() {
    this(AttentionConfig.defaults());
  }

  /**
   * Creates the core with a given MX attention configuration (its layout must be BHSD).
   *
   * @param config the configuration
   */
  public MxAttentionCore(AttentionConfig config) {
    this.config = Objects.requireNonNull(config, "config");
    this.merged = config.toBuilder().optLayout(TensorLayout.BSHD).build();
  }

  /** {@inheritDoc} */
  @Override
  public NDArray attend(NDArray query, NDArray key, NDArray value, NDArray maskBias) {
    return MxAttention.attention(query, key, value, maskBias, false, null, config);
  }

  /**
   * Reads the projections as {@code [batch, seq, heads, headSize]} (a view: no transpose, no copy)
   * and writes the context in that layout, which is the merged {@code [batch, seq, hidden]}.
   *
   * <p>{@inheritDoc}
   */
  @Override
  public NDArray attendMerged(
      NDArray query, NDArray key, NDArray value, NDArray maskBias, int heads) {
    Shape s = query.getShape();
    long headSize = s.get(2) / heads;
    NDArray out =
        MxAttention.attention(
            query.reshape(s.get(0), s.get(1), heads, headSize),
            key.reshape(s.get(0), s.get(1), heads, headSize),
            value.reshape(s.get(0), s.get(1), heads, headSize),
            maskBias,
            false,
            null,
            merged);
    return out.reshape(s);
  }

  /**
   * {@inheritDoc}
   *
   * <p>Each sequence's rows are read and written in place through views (no gather, no mask). Runs
   * on CPU FP32 arrays whose memory the kernel can address; returns null otherwise.
   */
  @Override
  public NDArray attendPacked(
      NDArray query, NDArray key, NDArray value, int[] starts, int[] lengths, int heads) {
    for (NDArray a : new NDArray[] {query, key, value}) {
      if (a.getDataType() != DataType.FLOAT32
          || a.getShape().dimension() != 2
          || !Device.Type.CPU.equals(a.getDevice().getDeviceType())) {
        return null;
      }
    }
    Shape s = query.getShape();
    if (!key.getShape().equals(s) || !value.getShape().equals(s) || s.get(1) % heads != 0) {
      return null;
    }
    int hidden = (int) s.get(1);
    int headSize = hidden / heads;
    NDArray out = query.getManager().create(s, DataType.FLOAT32);
    ByteBuffer ob = out.toByteBuffer(true);
    if (!ob.isDirect() || ob.isReadOnly()) {
      out.close();
      return null;
    }
    MemorySegment o = MemorySegment.ofBuffer(ob);
    MemorySegment q = MemorySegment.ofBuffer(query.toByteBuffer(true));
    MemorySegment k = MemorySegment.ofBuffer(key.toByteBuffer(true));
    MemorySegment v = MemorySegment.ofBuffer(value.toByteBuffer(true));
    long work = 0;
    for (int len : lengths) {
      work += (long) len * len;
    }
    IntStream seqs = IntStream.range(0, starts.length);
    // a hand-off to the pool costs more than a few short sequences' attention
    (work * heads * headSize < PARALLEL_MACS ? seqs : seqs.parallel())
        .forEach(
            i -> {
              int len = lengths[i];
              long from = (long) starts[i] * hidden * Float.BYTES;
              long bytes = (long) len * hidden * Float.BYTES;
              AttentionShape shape = new AttentionShape(1, heads, len, len, headSize);
              CpuAttention.compute(
                  shape,
                  rows(q, from, bytes, hidden, headSize),
                  rows(k, from, bytes, hidden, headSize),
                  rows(v, from, bytes, hidden, headSize),
                  rows(o, from, bytes, hidden, headSize),
                  null,
                  false,
                  null,
                  merged);
            });
    return out;
  }

  /** Multiply-adds (Q·Kᵀ) from which {@link #attendPacked} spreads the sequences over threads. */
  private static final long PARALLEL_MACS = 1L << 20;

  /** One sequence's rows as a [1, heads, len, headSize] view of packed [tokens, hidden] memory. */
  private static TensorView rows(
      MemorySegment all, long from, long bytes, int hidden, int headSize) {
    MemorySegment seg = all.asSlice(from, bytes);
    return new TensorView(seg, bytes / Float.BYTES, headSize, hidden);
  }
}

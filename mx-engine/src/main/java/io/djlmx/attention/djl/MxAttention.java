package io.djlmx.attention.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.djlmx.attention.AttentionConfig;
import io.djlmx.attention.AttentionShape;
import io.djlmx.attention.CpuAttention;
import io.djlmx.attention.TensorLayout;
import io.djlmx.attention.TensorView;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.Set;

/**
 * Fused MX attention on DJL arrays of any engine: softmax(scale·Q·Kᵀ + mask)·V.
 *
 * <p>MX GPU arrays stay on the device ({@link GpuAttention}: the CUDA MX attention kernel where it
 * applies, exact FP32 attention from device ops otherwise). Other inputs are CPU FLOAT32 arrays.
 * Their memory is read without a copy through {@code toByteBuffer(true)} (a direct view for
 * contiguous PyTorch tensors; a non-contiguous tensor gives a contiguous copy, which is then read).
 * The output is created on {@code q}'s manager; on engines whose {@code toByteBuffer(true)} is a
 * writable view of the array (PyTorch, MX) it is written in place, elsewhere through {@link
 * NDArray#set(java.nio.Buffer)}.
 */
public final class MxAttention {

  /** Engines whose {@code toByteBuffer(true)} of a fresh CPU array is a writable view of it. */
  private static final Set<String> VIEW_ENGINES = Set.of("PyTorch", "MX");

  private MxAttention() {}

  /**
   * Computes attention; see {@link CpuAttention} for the algorithm and edge-case semantics.
   *
   * @param q queries, [B, H, Sq, D] (or [B, Sq, H, D] with {@link TensorLayout#BSHD})
   * @param k keys, [B, H, Sk, D] (or [B, Sk, H, D])
   * @param v values, same shape as k
   * @param mask additive FP32 mask broadcastable to [B, H, Sq, Sk] (e.g. [B, 1, 1, Sk] padding or
   *     [B, 1, Sq, Sk]), or null; other types are converted to FLOAT32 (values kept)
   * @param causal whether key j is hidden from query i when j &gt; i
   * @param scale softmax scale, null for 1/√D
   * @param cfg the configuration, null for {@link AttentionConfig#defaults()}
   * @return the output, shaped and laid out like q, on q's manager
   * @throws IllegalArgumentException naming the argument whose type, device or shape is wrong
   */
  public static NDArray attention(
      NDArray q,
      NDArray k,
      NDArray v,
      NDArray mask,
      boolean causal,
      Float scale,
      AttentionConfig cfg) {
    AttentionConfig c = cfg == null ? AttentionConfig.defaults() : cfg;
    if (GpuAttention.handles(q)) {
      return GpuAttention.attention(q, k, v, mask, causal, scale, c);
    }
    check("q", q);
    check("k", k);
    check("v", v);
    AttentionShape shape = checkedShape(q, k, v, c.layout());
    NDArray maskF32 = null;
    try {
      TensorView maskView = null;
      if (mask != null) {
        maskF32 =
            mask.getDataType() == DataType.FLOAT32 ? mask : mask.toType(DataType.FLOAT32, true);
        maskView = TensorView.ofMask(segment(maskF32), maskF32.getShape().getShape(), shape);
      }
      TensorView qv = view(q, c, shape, shape.queryLength());
      TensorView kv = view(k, c, shape, shape.keyLength());
      TensorView vv = view(v, c, shape, shape.keyLength());
      NDManager manager = q.getManager();
      NDArray out = manager.create(q.getShape(), DataType.FLOAT32);
      ByteBuffer ob = out.toByteBuffer(true);
      if (VIEW_ENGINES.contains(manager.getEngine().getEngineName())
          && ob.isDirect()
          && !ob.isReadOnly()) {
        TensorView ov = outputView(MemorySegment.ofBuffer(ob), c, shape);
        CpuAttention.compute(shape, qv, kv, vv, ov, maskView, causal, scale, c);
      } else {
        try (Arena arena = Arena.ofConfined()) {
          MemorySegment tmp = arena.allocate(out.size() * Float.BYTES, 64);
          CpuAttention.compute(
              shape, qv, kv, vv, outputView(tmp, c, shape), maskView, causal, scale, c);
          out.set(tmp.asByteBuffer().order(java.nio.ByteOrder.nativeOrder()));
        }
      }
      return out;
    } finally {
      if (maskF32 != null && maskF32 != mask) {
        maskF32.close();
      }
    }
  }

  /**
   * The sizes of rank-4 q, k and v in {@code layout}, checked: k and v of one shape, q and k of one
   * batch, head count and head dim, every size in int range.
   */
  static AttentionShape checkedShape(NDArray q, NDArray k, NDArray v, TensorLayout layout) {
    if (!k.getShape().equals(v.getShape())) {
      throw new IllegalArgumentException(
          "Attention k and v shapes differ: " + k.getShape() + " vs " + v.getShape());
    }
    long[] qs = q.getShape().getShape();
    long[] ks = k.getShape().getShape();
    int seqAxis = layout == TensorLayout.BSHD ? 1 : 2;
    int headAxis = layout == TensorLayout.BSHD ? 2 : 1;
    if (qs[0] != ks[0] || qs[headAxis] != ks[headAxis] || qs[3] != ks[3]) {
      throw new IllegalArgumentException(
          "Attention q "
              + q.getShape()
              + " and k "
              + k.getShape()
              + " disagree on batch, heads or head dim (layout "
              + layout
              + ")");
    }
    return new AttentionShape(
        toInt("batch", qs[0]),
        toInt("heads", qs[headAxis]),
        toInt("query length", qs[seqAxis]),
        toInt("key length", ks[seqAxis]),
        toInt("head dim", qs[3]));
  }

  private static void check(String name, NDArray a) {
    if (a == null) {
      throw new IllegalArgumentException("Attention " + name + " is null");
    }
    if (a.getDataType() != DataType.FLOAT32) {
      throw new IllegalArgumentException(
          "Attention " + name + " must be FLOAT32, got " + a.getDataType());
    }
    if (!ai.djl.Device.Type.CPU.equals(a.getDevice().getDeviceType())) {
      throw new IllegalArgumentException(
          "Attention " + name + " is on " + a.getDevice() + "; this op runs on CPU arrays");
    }
    if (a.getShape().dimension() != 4) {
      throw new IllegalArgumentException(
          "Attention " + name + " must have rank 4, got shape " + a.getShape());
    }
  }

  private static int toInt(String what, long value) {
    if (value < 1 || value > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("Attention " + what + " out of range: " + value);
    }
    return (int) value;
  }

  private static MemorySegment segment(NDArray a) {
    return MemorySegment.ofBuffer(a.toByteBuffer(true));
  }

  private static TensorView outputView(MemorySegment seg, AttentionConfig c, AttentionShape s) {
    return TensorView.of(seg, c.layout(), s.batch(), s.heads(), s.queryLength(), s.headDim());
  }

  private static TensorView view(NDArray a, AttentionConfig c, AttentionShape s, int seq) {
    return TensorView.of(segment(a), c.layout(), s.batch(), s.heads(), seq, s.headDim());
  }
}

package io.djlmx.attention.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.djlmx.attention.AttentionConfig;
import io.djlmx.attention.AttentionShape;
import io.djlmx.attention.TensorLayout;
import io.djlmx.engine.MxCudaNDArray;
import io.djlmx.kernel.cuda.CudaAttention;
import io.djlmx.kernel.cuda.CudaAttentionMask;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link MxAttention} on MX GPU arrays, without leaving the device: the CUDA MX attention kernel
 * ({@link CudaAttention}, INT8 Q·Kᵀ, FP16 P·V) at head dims 64 and 128, on BHSD or BSHD arrays as
 * they lie and with an additive mask ({@link CudaAttentionMask}; a mask broadcast along the keys or
 * of another type is first made a dense FP32 array), otherwise exact FP32 attention from the device
 * ops (matMul, softmax), logged once.
 */
final class GpuAttention {

  private static final Logger logger = LoggerFactory.getLogger(GpuAttention.class);
  private static final AtomicBoolean EXACT_LOGGED = new AtomicBoolean();
  private static final AtomicLong KERNEL_CALLS = new AtomicLong();

  private GpuAttention() {}

  static boolean handles(NDArray q) {
    return q instanceof MxCudaNDArray;
  }

  static NDArray attention(
      NDArray q,
      NDArray k,
      NDArray v,
      NDArray mask,
      boolean causal,
      Float scale,
      AttentionConfig c) {
    for (NDArray a : new NDArray[] {q, k, v}) {
      if (!(a instanceof MxCudaNDArray)
          || a.getDataType() != DataType.FLOAT32
          || a.getShape().dimension() != 4) {
        throw new IllegalArgumentException(
            "GPU attention takes rank-4 FLOAT32 MX GPU arrays, got "
                + a.getShape()
                + " "
                + a.getDataType()
                + " on "
                + a.getDevice());
      }
    }
    AttentionShape shape = MxAttention.checkedShape(q, k, v, c.layout());
    int d = shape.headDim();
    double sc = scale == null ? 1 / Math.sqrt(d) : scale;
    if (d == 64 || d == 128) {
      return kernel(q, k, v, mask, causal, (float) sc, c.layout(), shape);
    }
    if (EXACT_LOGGED.compareAndSet(false, true)) {
      logger.info(
          "MX attention on GPU arrays of shape {} ({}): no CUDA MX attention kernel for head dim {}"
              + " (64 and 128 have one); exact FP32 attention on the device",
          q.getShape(),
          c.layout(),
          d);
    }
    return exact(q, k, v, mask, causal, sc, c.layout() == TensorLayout.BSHD);
  }

  /**
   * Exact FP32 attention from the device ops (matMul, softmax; a fully masked row gives NaN, as in
   * PyTorch): the fallback for head dims without a CUDA MX kernel, and the benchmark's baseline.
   */
  static NDArray exact(
      NDArray q, NDArray k, NDArray v, NDArray mask, boolean causal, double sc, boolean bshd) {
    NDArray qh = bshd ? q.transpose(0, 2, 1, 3) : q;
    NDArray kh = bshd ? k.transpose(0, 2, 1, 3) : k;
    NDArray vh = bshd ? v.transpose(0, 2, 1, 3) : v;
    NDArray kt = kh.transpose(0, 1, 3, 2);
    NDArray scores = qh.matMul(kt).muli((float) sc);
    kt.close();
    if (mask != null) {
      NDArray m =
          mask.getDataType() == DataType.FLOAT32 ? mask : mask.toType(DataType.FLOAT32, false);
      scores.addi(m);
      if (m != mask) {
        m.close();
      }
    }
    long sq = scores.getShape().get(2);
    long sk = scores.getShape().get(3);
    if (causal) {
      float[] bias = new float[(int) (sq * sk)];
      for (int i = 0; i < sq; i++) {
        for (int j = i + 1; j < sk; j++) {
          bias[(int) (i * sk + j)] = Float.NEGATIVE_INFINITY;
        }
      }
      try (NDArray b = q.getManager().create(bias, new Shape(sq, sk))) {
        scores.addi(b);
      }
    }
    NDArray probs = scores.softmax(-1);
    scores.close();
    NDArray out = probs.matMul(vh);
    probs.close();
    if (bshd) {
      NDArray o = out.transpose(0, 2, 1, 3);
      out.close();
      qh.close();
      kh.close();
      vh.close();
      return o;
    }
    return out;
  }

  /**
   * The CUDA MX kernel on the arrays as they lie (BHSD or BSHD, no transpose); a mask of another
   * type, or broadcast along the keys, is first made a dense FP32 array on the device.
   */
  private static NDArray kernel(
      NDArray q,
      NDArray k,
      NDArray v,
      NDArray mask,
      boolean causal,
      float scale,
      TensorLayout layout,
      AttentionShape shape) {
    NDArray dense = mask == null ? null : denseMask(mask, q, shape.keyLength());
    try {
      CudaAttentionMask m =
          dense == null
              ? null
              : CudaAttentionMask.of(
                  ((MxCudaNDArray) dense).buffer(), dense.getShape().getShape(), shape);
      MxCudaNDArray out = (MxCudaNDArray) q.getManager().create(q.getShape(), DataType.FLOAT32);
      try (CudaAttention att = CudaAttention.create(shape, true)) {
        att.forward(
            ((MxCudaNDArray) q).buffer(),
            ((MxCudaNDArray) k).buffer(),
            ((MxCudaNDArray) v).buffer(),
            out.buffer(),
            layout,
            m,
            causal,
            scale);
      } catch (RuntimeException e) {
        out.close();
        throw e;
      }
      KERNEL_CALLS.incrementAndGet();
      return out;
    } finally {
      if (dense != null && dense != mask) {
        dense.close();
      }
    }
  }

  /** The mask as a dense FP32 MX GPU array whose last axis is the keys (maybe the mask itself). */
  private static NDArray denseMask(NDArray mask, NDArray q, int keys) {
    if (!(mask instanceof MxCudaNDArray) || !mask.getDevice().equals(q.getDevice())) {
      throw new IllegalArgumentException(
          "GPU attention takes its mask as an MX GPU array on "
              + q.getDevice()
              + ", got "
              + mask.getShape()
              + " "
              + mask.getDataType()
              + " on "
              + mask.getDevice()
              + " ("
              + mask.getClass().getSimpleName()
              + ")");
    }
    long[] ms = mask.getShape().getShape();
    NDArray m =
        mask.getDataType() == DataType.FLOAT32 ? mask : mask.toType(DataType.FLOAT32, false);
    if (ms.length > 0 && ms[ms.length - 1] == 1 && keys != 1) {
      long[] full = ms.clone();
      full[ms.length - 1] = keys;
      NDArray b = m.broadcast(new Shape(full));
      if (m != mask) {
        m.close();
      }
      m = b;
    }
    return m;
  }

  /**
   * How many calls ran the CUDA MX kernel (not the exact fallback) in this JVM, for tests.
   *
   * @return the count
   */
  static long kernelCalls() {
    return KERNEL_CALLS.get();
  }
}

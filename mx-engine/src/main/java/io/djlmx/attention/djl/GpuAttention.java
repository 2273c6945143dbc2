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
import io.djlmx.kernel.cuda.CudaExactAttention;
import io.djlmx.kernel.cuda.DeviceBuffer;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link MxAttention} on MX GPU arrays, without leaving the device: the CUDA MX attention kernel
 * ({@link CudaAttention}, INT8 Q·Kᵀ; FP16 P·V, or FP8 E4M3 P·V where the configuration asks for it
 * with {@link AttentionConfig#pvFp8()}) at head dims 64 and 128, on BHSD or BSHD arrays as they lie
 * and with an additive mask ({@link CudaAttentionMask}; a mask broadcast along the keys or of
 * another type is first made a dense FP32 array); at other head dims up to 256 exact FP32 attention
 * in one launch ({@link CudaExactAttention}, same layouts, masks and edge cases), above that exact
 * attention from the device ops (matMul, softmax); a fallback is logged once. The MX kernel's
 * scratch is kept per NDManager and shape ({@link GpuAttentionScratch}).
 */
final class GpuAttention {

  private static final Logger logger = LoggerFactory.getLogger(GpuAttention.class);
  private static final AtomicBoolean EXACT_LOGGED = new AtomicBoolean();
  private static final AtomicBoolean OPS_LOGGED = new AtomicBoolean();
  private static final AtomicLong KERNEL_CALLS = new AtomicLong();
  private static final AtomicLong EXACT_KERNEL_CALLS = new AtomicLong();

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
      return kernel(q, k, v, mask, causal, (float) sc, c.layout(), shape, true, !c.pvFp8());
    }
    if (d <= CudaExactAttention.MAX_HEAD_DIM) {
      if (EXACT_LOGGED.compareAndSet(false, true)) {
        logger.info(
            "MX attention on GPU arrays of shape {} ({}): no CUDA MX attention kernel for head dim {}"
                + " (64 and 128 have one); exact FP32 attention in one CUDA launch",
            q.getShape(),
            c.layout(),
            d);
      }
      return kernel(q, k, v, mask, causal, (float) sc, c.layout(), shape, false, false);
    }
    if (OPS_LOGGED.compareAndSet(false, true)) {
      logger.info(
          "MX attention on GPU arrays of shape {} ({}): head dim {} is above the CUDA kernels' {};"
              + " exact FP32 attention from the device ops",
          q.getShape(),
          c.layout(),
          d,
          CudaExactAttention.MAX_HEAD_DIM);
    }
    return exact(q, k, v, mask, causal, sc, c.layout() == TensorLayout.BSHD, true);
  }

  /**
   * Exact FP32 attention from the device ops (matMul, softmax): the fallback for head dims above
   * {@link CudaExactAttention#MAX_HEAD_DIM}, and a baseline of the benchmark. With {@code
   * zeroMaskedRows} a fully masked row (every score -∞) gives zeros, as the kernels and the CPU do,
   * at the cost of a softmax spelled out in seven device ops; without, it gives NaN, as PyTorch's
   * softmax does.
   */
  static NDArray exact(
      NDArray q,
      NDArray k,
      NDArray v,
      NDArray mask,
      boolean causal,
      double sc,
      boolean bshd,
      boolean zeroMaskedRows) {
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
    NDArray out = zeroMaskedRows ? softmaxTimes(scores, vh) : softmaxTimesPlain(scores, vh);
    scores.close();
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

  /** softmax(scores)·v with the device's softmax: a fully masked row gives NaN. */
  private static NDArray softmaxTimesPlain(NDArray scores, NDArray v) {
    try (NDArray probs = scores.softmax(-1)) {
      return probs.matMul(v);
    }
  }

  /**
   * softmax(scores)·v where a fully masked row gives zeros: its maximum is clamped to a finite
   * value, so its exps and their sum are 0, and every row is divided by its sum clamped to the
   * smallest normal float (a row that sees any key sums to at least 1, so only the masked ones
   * change). NaN still propagates: a NaN score gives a NaN exp, a NaN value a NaN product.
   */
  private static NDArray softmaxTimes(NDArray scores, NDArray v) {
    NDArray e;
    try (NDArray max = scores.max(new int[] {-1}, true);
        NDArray finite = max.maximum(-Float.MAX_VALUE);
        NDArray shifted = scores.sub(finite)) {
      e = shifted.exp();
    }
    try (NDArray exps = e;
        NDArray sum = exps.sum(new int[] {-1}, true);
        NDArray divisor = sum.maximum(Float.MIN_NORMAL);
        NDArray weighted = exps.matMul(v)) {
      return weighted.div(divisor);
    }
  }

  /**
   * The CUDA MX kernel ({@code mx}, with FP16 or FP8 P·V) or the exact one on the arrays as they
   * lie (BHSD or BSHD, no transpose); a mask of another type, or broadcast along the keys, is first
   * made a dense FP32 array on the device.
   */
  static NDArray kernel(
      NDArray q,
      NDArray k,
      NDArray v,
      NDArray mask,
      boolean causal,
      float scale,
      TensorLayout layout,
      AttentionShape shape,
      boolean mx,
      boolean fp16PV) {
    NDArray dense = mask == null ? null : denseMask(mask, q, shape.keyLength());
    try {
      CudaAttentionMask m =
          dense == null
              ? null
              : CudaAttentionMask.of(
                  ((MxCudaNDArray) dense).buffer(), dense.getShape().getShape(), shape);
      MxCudaNDArray out = (MxCudaNDArray) q.getManager().create(q.getShape(), DataType.FLOAT32);
      DeviceBuffer qb = ((MxCudaNDArray) q).buffer();
      DeviceBuffer kb = ((MxCudaNDArray) k).buffer();
      DeviceBuffer vb = ((MxCudaNDArray) v).buffer();
      try {
        if (mx) {
          GpuAttentionScratch.run(
              q.getManager(),
              shape,
              fp16PV,
              att -> att.forward(qb, kb, vb, out.buffer(), layout, m, causal, scale));
        } else {
          CudaExactAttention.forward(qb, kb, vb, out.buffer(), shape, layout, m, causal, scale);
        }
      } catch (RuntimeException e) {
        out.close();
        throw e;
      }
      (mx ? KERNEL_CALLS : EXACT_KERNEL_CALLS).incrementAndGet();
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

  /**
   * How many calls ran the one-launch exact CUDA kernel in this JVM, for tests.
   *
   * @return the count
   */
  static long exactKernelCalls() {
    return EXACT_KERNEL_CALLS.get();
  }
}

package io.djlmx.attention.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.djlmx.attention.AttentionConfig;
import io.djlmx.attention.AttentionShape;
import io.djlmx.attention.TensorLayout;
import io.djlmx.engine.MxCudaNDArray;
import io.djlmx.kernel.cuda.CudaAttention;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link MxAttention} on MX GPU arrays, without leaving the device: the CUDA MX attention kernel
 * ({@link CudaAttention}, INT8 Q·Kᵀ, FP16 P·V) where it applies (BHSD, head dim 64 or 128, no
 * mask), otherwise exact FP32 attention from the device ops (matMul, softmax), logged once.
 */
final class GpuAttention {

  private static final Logger logger = LoggerFactory.getLogger(GpuAttention.class);
  private static final AtomicBoolean EXACT_LOGGED = new AtomicBoolean();

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
    if (!k.getShape().equals(v.getShape())) {
      throw new IllegalArgumentException(
          "Attention k and v shapes differ: " + k.getShape() + " vs " + v.getShape());
    }
    boolean bshd = c.layout() == TensorLayout.BSHD;
    long[] qs = q.getShape().getShape();
    long[] ks = k.getShape().getShape();
    long d = qs[3];
    double sc = scale == null ? 1 / Math.sqrt(d) : scale;
    if (!bshd && mask == null && (d == 64 || d == 128)) {
      AttentionShape shape =
          new AttentionShape((int) qs[0], (int) qs[1], (int) qs[2], (int) ks[2], (int) d);
      MxCudaNDArray out = (MxCudaNDArray) q.getManager().create(q.getShape(), DataType.FLOAT32);
      try (CudaAttention att = CudaAttention.create(shape, true)) {
        att.forward(
            ((MxCudaNDArray) q).buffer(),
            ((MxCudaNDArray) k).buffer(),
            ((MxCudaNDArray) v).buffer(),
            out.buffer(),
            causal,
            (float) sc);
      } catch (RuntimeException e) {
        out.close();
        throw e;
      }
      return out;
    }
    if (EXACT_LOGGED.compareAndSet(false, true)) {
      logger.info(
          "MX attention on GPU arrays of shape {} ({}{}): no CUDA MX attention kernel for it (BHSD,"
              + " head dim 64/128, no mask); exact FP32 attention on the device",
          q.getShape(),
          c.layout(),
          mask == null ? "" : ", masked");
    }
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
}

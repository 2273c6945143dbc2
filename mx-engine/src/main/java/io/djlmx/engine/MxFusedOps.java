package io.djlmx.engine;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.djlmx.kernel.cuda.CudaFusedOps;
import io.djlmx.kernel.cuda.CudaMxLinear;
import java.lang.foreign.MemorySegment;

/**
 * Fused ops of a transformer encoder layer that the MX engine runs itself: in Java on CPU FP32
 * arrays (for the small activations of an encoder at batch 1, one PyTorch call per op, and a fresh
 * output tensor for each, costs more than the arithmetic), and as one CUDA kernel each on MX GPU
 * arrays (where every separate op is a kernel launch and a round trip of its result through device
 * memory). Every op also accepts any other array (other engines, other data types) and then runs as
 * the ordinary DJL ops it stands for, so callers need no second code path.
 *
 * <p>The GPU kernels are on by default; the system property {@code mx.cuda.fused=false} (read once)
 * runs the ordinary ops on GPU arrays too, for comparisons.
 */
public final class MxFusedOps {

  private static final boolean VECTOR_API = vectorApiPresent();

  /** Whether MX GPU arrays take the fused kernels (tests and benchmarks compare both). */
  static volatile boolean fusedGpu =
      Boolean.parseBoolean(System.getProperty("mx.cuda.fused", "true"));

  private MxFusedOps() {}

  /**
   * Returns {@code layerNorm(x + residual)} over the last axis: the residual add and the layer
   * normalization of a post-norm transformer layer in one pass. The result equals DJL's {@code
   * LayerNorm.layerNorm(x.add(residual), new Shape(width), gamma, beta, eps)} within float
   * rounding.
   *
   * <p>{@code x} is consumed: like {@code addi} it may be overwritten (it may hold the result,
   * which is then returned as {@code x} itself, or {@code x + residual}); do not use it afterwards.
   *
   * <p>Runs in Java on FP32 MX host arrays while no gradient is recorded (written in place when
   * {@code x} owns fresh dense CPU storage, as the output of the MX {@code linear} does; into a new
   * array otherwise), as one kernel ({@code mx_fused_add_layernorm}) into a new array on FP32 MX
   * GPU arrays of one device; any other input (other engines, other data types) runs as {@code
   * x.addi(residual)} followed by the engine's {@code layerNorm}.
   *
   * @param x the input {@code [..., width]}
   * @param residual the residual, the shape of {@code x}
   * @param gamma the scale {@code [width]}
   * @param beta the shift {@code [width]}
   * @param eps the epsilon added to the variance
   * @return the normalized {@code x + residual}, the shape of {@code x}
   * @throws IllegalArgumentException if the shapes do not match
   */
  public static NDArray addLayerNorm(
      NDArray x, NDArray residual, NDArray gamma, NDArray beta, float eps) {
    Shape shape = x.getShape();
    if (shape.dimension() == 0) {
      throw new IllegalArgumentException("addLayerNorm needs at least one axis, got a scalar");
    }
    long width = shape.get(shape.dimension() - 1);
    Shape norm = new Shape(width);
    if (!residual.getShape().equals(shape)
        || !gamma.getShape().equals(norm)
        || !beta.getShape().equals(norm)) {
      throw new IllegalArgumentException(
          "addLayerNorm: x "
              + shape
              + ", residual "
              + residual.getShape()
              + ", gamma "
              + gamma.getShape()
              + " and beta "
              + beta.getShape()
              + " do not match (residual must equal x, gamma and beta must be ["
              + width
              + "])");
    }
    if (width > 0 && onOneGpu(x, residual, gamma, beta)) {
      MxCudaNDArray cx = (MxCudaNDArray) x;
      NDArray out = x.getManager().create(shape, DataType.FLOAT32);
      CudaFusedOps.addLayerNorm(
          ((MxCudaNDArray) out).buffer(),
          cx.buffer(),
          ((MxCudaNDArray) residual).buffer(),
          ((MxCudaNDArray) gamma).buffer(),
          ((MxCudaNDArray) beta).buffer(),
          shape.size() / width,
          width,
          eps);
      return out;
    }
    if (x instanceof MxNDArray mx
        && isMxFp32(x, residual, gamma, beta)
        && width > 0
        && Device.Type.CPU.equals(x.getDevice().getDeviceType())) {
      NDArray out = javaAddLayerNorm(mx, residual, gamma, beta, eps, (int) width);
      if (out != null) {
        return out;
      }
    }
    NDArray sum = x.addi(residual);
    return sum.getNDArrayInternal().layerNorm(sum, norm, gamma, beta, eps).singletonOrThrow();
  }

  /**
   * Returns {@code gelu(input·weightᵀ + bias)}: DJL's {@code Linear} followed by {@code
   * Activation.gelu} (the exact, erf GELU). On MX GPU arrays with the weight packed in an MX format
   * the GELU runs in the linear kernel's epilogue (the same values, one launch and one pass over
   * the output fewer); elsewhere it is the engine's {@code linear} and then its {@code gelu}.
   *
   * @param input the input {@code [..., k]}
   * @param weight the weight {@code [n, k]}
   * @param bias the bias {@code [n]}, or null
   * @return the activated output {@code [..., n]}
   * @throws IllegalArgumentException on mismatched shapes (as {@code linear})
   */
  public static NDArray linearGelu(NDArray input, NDArray weight, NDArray bias) {
    if (fusedGpu && !MxGradientCollector.isRecording()) {
      NDList fused = MxLinear.deviceLinear(input, weight, bias, CudaMxLinear.Epilogue.GELU);
      if (fused != null) {
        return fused.singletonOrThrow();
      }
    }
    NDArray y = input.getNDArrayInternal().linear(input, weight, bias).singletonOrThrow();
    NDArray g = y.getNDArrayInternal().gelu();
    if (g != y) {
      y.close();
    }
    return g;
  }

  /**
   * Returns softmax attention over the heads of the projections' merged layout, {@code
   * softmax(Q·Kᵀ/√headSize + maskBias)·V} per sequence and head, as one fused kernel on MX GPU
   * arrays ({@code mx_fused_attention_d*}: no head split or merge copies, no score matrix in device
   * memory); null for any other arrays, where the caller computes it with the ordinary ops (the
   * scores are divided by {@code (float) Math.sqrt(headSize)}, as {@code divi(Math.sqrt(headSize))}
   * does).
   *
   * @param query {@code [batch, seq, heads·headSize]}
   * @param key {@code [batch, seq, heads·headSize]}
   * @param value {@code [batch, seq, heads·headSize]}
   * @param maskBias the additive mask broadcastable to {@code [batch, heads, seq, seq]} (e.g.
   *     {@code [batch, 1, 1, seq]}), or null
   * @param heads the number of heads
   * @return the context {@code [batch, seq, heads·headSize]}, or null where no fused kernel applies
   *     (also: head size above {@link CudaFusedOps#MAX_HEAD_SIZE}, a gradient being recorded)
   * @throws IllegalArgumentException if the shapes do not fit each other
   */
  public static NDArray attention(
      NDArray query, NDArray key, NDArray value, NDArray maskBias, int heads) {
    Shape s = query.getShape();
    if (s.dimension() != 3
        || heads < 1
        || s.get(2) % heads != 0
        || !key.getShape().equals(s)
        || !value.getShape().equals(s)) {
      throw new IllegalArgumentException(
          "attention: query "
              + s
              + ", key "
              + key.getShape()
              + " and value "
              + value.getShape()
              + " must be one [batch, seq, heads·headSize] shape with "
              + heads
              + " heads");
    }
    long batch = s.get(0);
    long seq = s.get(1);
    long headSize = s.get(2) / heads;
    if (!(maskBias == null ? onOneGpu(query, key, value) : onOneGpu(query, key, value, maskBias))
        || headSize < 1
        || headSize > CudaFusedOps.MAX_HEAD_SIZE
        || batch > 65535
        || heads > 65535) {
      return null;
    }
    long[] strides = null;
    if (maskBias != null) {
      strides = broadcastStrides(maskBias.getShape(), new long[] {batch, heads, seq, seq});
      if (strides == null) {
        throw new IllegalArgumentException(
            "attention: mask "
                + maskBias.getShape()
                + " does not broadcast to [batch, heads, seq, seq] = ["
                + batch
                + ", "
                + heads
                + ", "
                + seq
                + ", "
                + seq
                + "]");
      }
    }
    NDArray out = query.getManager().create(s, DataType.FLOAT32);
    CudaFusedOps.attention(
        ((MxCudaNDArray) out).buffer(),
        ((MxCudaNDArray) query).buffer(),
        ((MxCudaNDArray) key).buffer(),
        ((MxCudaNDArray) value).buffer(),
        maskBias == null ? null : ((MxCudaNDArray) maskBias).buffer(),
        strides,
        batch,
        seq,
        heads,
        headSize,
        (float) Math.sqrt(headSize));
    return out;
  }

  /**
   * Returns softmax attention of sequences packed into consecutive rows without padding, {@code
   * softmax(Q·Kᵀ/√headSize)·V} per sequence (attending to its own rows only) and head, as one fused
   * kernel on MX GPU arrays; null for any other arrays, or where the sequences do not tile the rows
   * in order (the caller then spreads the rows to a padded batch and masks the padding).
   *
   * @param query {@code [tokens, heads·headSize]}
   * @param key {@code [tokens, heads·headSize]}
   * @param value {@code [tokens, heads·headSize]}
   * @param starts each sequence's first row
   * @param lengths each sequence's row count
   * @param heads the number of heads
   * @return the context {@code [tokens, heads·headSize]}, or null where no fused kernel applies
   */
  public static NDArray attentionPacked(
      NDArray query, NDArray key, NDArray value, int[] starts, int[] lengths, int heads) {
    Shape s = query.getShape();
    if (s.dimension() != 2
        || heads < 1
        || s.get(1) % heads != 0
        || !key.getShape().equals(s)
        || !value.getShape().equals(s)
        || starts.length != lengths.length
        || !onOneGpu(query, key, value)) {
      return null;
    }
    long headSize = s.get(1) / heads;
    if (headSize < 1 || headSize > CudaFusedOps.MAX_HEAD_SIZE || heads > 65535) {
      return null;
    }
    long next = 0;
    for (int i = 0; i < starts.length; i++) {
      if (starts[i] != next || lengths[i] < 1) {
        return null;
      }
      next += lengths[i];
    }
    if (next != s.get(0)) {
      return null;
    }
    NDArray out = query.getManager().create(s, DataType.FLOAT32);
    if (next == 0) {
      return out;
    }
    CudaFusedOps.attentionPacked(
        ((MxCudaNDArray) out).buffer(),
        ((MxCudaNDArray) query).buffer(),
        ((MxCudaNDArray) key).buffer(),
        ((MxCudaNDArray) value).buffer(),
        next,
        starts,
        lengths,
        heads,
        headSize,
        (float) Math.sqrt(headSize));
    return out;
  }

  /**
   * The element strides of a dense array of shape {@code from} read as {@code to} (right-aligned, 0
   * on broadcast axes); null where it does not broadcast.
   */
  private static long[] broadcastStrides(Shape from, long[] to) {
    int r = from.dimension();
    if (r > to.length) {
      return null;
    }
    long[] st = new long[to.length];
    long stride = 1;
    for (int i = r - 1; i >= 0; i--) {
      long d = from.get(i);
      int j = to.length - r + i;
      if (d == to[j]) {
        st[j] = d == 1 ? 0 : stride;
      } else if (d != 1) {
        return null;
      }
      stride *= d;
    }
    return st;
  }

  /**
   * Whether the fused GPU kernels apply: fused kernels on, no gradient recorded, every array an
   * FP32 MX GPU array on the device of the first.
   */
  private static boolean onOneGpu(NDArray... arrays) {
    if (!fusedGpu || MxGradientCollector.isRecording()) {
      return false;
    }
    for (NDArray a : arrays) {
      if (!(a instanceof MxCudaNDArray)
          || a.getDataType() != DataType.FLOAT32
          || !a.getDevice().equals(arrays[0].getDevice())) {
        return false;
      }
    }
    return true;
  }

  /**
   * Whether the Java path applies: MX FP32 arrays, no gradient recorded. The device is checked only
   * where it matters (an in-place write); reading an array through {@code toByteBuffer(true)} gives
   * its values from any device.
   */
  private static boolean isMxFp32(NDArray... arrays) {
    if (!VECTOR_API || MxGradientCollector.isRecording()) {
      return false;
    }
    for (NDArray a : arrays) {
      if (!(a instanceof MxNDArray) || a.getDataType() != DataType.FLOAT32) {
        return false;
      }
    }
    return true;
  }

  /** The Java path; null when it cannot write an output (the caller then runs DJL's ops). */
  private static NDArray javaAddLayerNorm(
      MxNDArray x, NDArray residual, NDArray gamma, NDArray beta, float eps, int width) {
    long rows = x.getShape().size() / width;
    if (rows == 0) {
      return x.addi(residual);
    }
    // toByteBuffer(true): a direct view of a contiguous CPU tensor, a contiguous copy otherwise
    MemorySegment in = MemorySegment.ofBuffer(x.toByteBuffer(true));
    MemorySegment res = MemorySegment.ofBuffer(residual.toByteBuffer(true));
    MemorySegment g = MemorySegment.ofBuffer(gamma.toByteBuffer(true));
    MemorySegment b = MemorySegment.ofBuffer(beta.toByteBuffer(true));
    boolean inPlace = x.hasFreshStorage() && !overlapsPartly(in, res);
    NDArray out = inPlace ? x : x.getManager().create(x.getShape(), DataType.FLOAT32);
    if (!(out instanceof MxNDArray o)
        || !o.hasFreshStorage()
        || !Device.Type.CPU.equals(o.getDevice().getDeviceType())) {
      // not host memory this op can write (a device-resident manager): DJL's ops instead
      out.close();
      return null;
    }
    MemorySegment dst = inPlace ? in : MemorySegment.ofBuffer(out.toByteBuffer(true));
    CpuLayerNorm.addLayerNorm(in, res, g, b, eps, rows, width, dst);
    if (inPlace) {
      x.markModified();
    }
    return out;
  }

  /**
   * Whether two segments share memory without being the same memory (a row of one could then be
   * overwritten before it is read).
   */
  private static boolean overlapsPartly(MemorySegment a, MemorySegment b) {
    long a0 = a.address();
    long b0 = b.address();
    boolean overlap = a0 < b0 + b.byteSize() && b0 < a0 + a.byteSize();
    return overlap && (a0 != b0 || a.byteSize() != b.byteSize());
  }

  private static boolean vectorApiPresent() {
    try {
      return CpuLayerNorm.LANES > 0;
    } catch (LinkageError e) {
      // the JVM runs without --add-modules jdk.incubator.vector: PyTorch does these ops
      return false;
    }
  }
}

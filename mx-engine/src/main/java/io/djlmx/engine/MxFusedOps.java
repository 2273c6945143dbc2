package io.djlmx.engine;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.lang.foreign.MemorySegment;

/**
 * Fused ops that the MX engine runs itself, in Java, on CPU FP32 arrays: for the small activations
 * of an encoder at batch 1, one PyTorch call per op (and a fresh output tensor for each) costs more
 * than the arithmetic. Every op also accepts any other array (GPU arrays, other engines, other data
 * types) and then runs as the ordinary DJL ops it stands for, so callers need no second code path.
 */
public final class MxFusedOps {

  private static final boolean VECTOR_API = vectorApiPresent();

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
   * array otherwise); any other input (GPU arrays, other engines, other data types) runs as {@code
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

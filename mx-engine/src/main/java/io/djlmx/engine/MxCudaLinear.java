package io.djlmx.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.kernel.cuda.CudaMxLinear;
import io.djlmx.kernel.cuda.CudaMxMatrix;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * {@code linear} on MX GPU arrays: the weight is quantized once into the configured MX format (on
 * the host, the same rule as the CPU path), uploaded as a {@link CudaMxMatrix} and cached on the
 * weight array until the array changes; each call runs {@link CudaMxLinear} on device memory and
 * writes a new GPU array. Parameters excluded from MX ({@code mx.exclude}, or {@code
 * mx.weights=none}) multiply in FP32 on the device.
 */
final class MxCudaLinear {

  private MxCudaLinear() {}

  static NDList linear(NDArray input, NDArray weight, NDArray bias) {
    return linear(input, weight, bias, CudaMxLinear.Epilogue.NONE);
  }

  /**
   * {@code linear} followed by an elementwise epilogue ({@code epilogue(x·Wᵀ + bias)}): inside the
   * MX kernels, or as a separate op on the FP32 path of excluded weights.
   */
  static NDList linear(
      NDArray input, NDArray weight, NDArray bias, CudaMxLinear.Epilogue epilogue) {
    MxCudaNDArray x = requireDevice("input", input, null);
    MxCudaNDArray w = requireDevice("weight", weight, x);
    MxCudaNDArray b = bias == null ? null : requireDevice("bias", bias, x);
    for (MxCudaNDArray a : new MxCudaNDArray[] {x, w, b}) {
      if (a != null && a.getDataType() != DataType.FLOAT32) {
        throw new IllegalArgumentException(
            "MX GPU linear takes FLOAT32 arrays, got "
                + a.getDataType()
                + " ("
                + a.getName()
                + ")");
      }
    }
    MxConfig config = w.getManager().getConfig();
    String name = w.getName();
    Shape xs = x.getShape();
    long k = xs.get(xs.dimension() - 1);
    long n = w.getShape().get(0);
    long m = k == 0 ? 0 : xs.size() / k;
    long[] outDims = xs.getShape().clone();
    outDims[outDims.length - 1] = n;
    if (config.getWeights() == null || config.isExcluded(name)) {
      MxLinear.countCall(MxLinear.Path.FP32);
      try (NDArray wt = w.transpose()) {
        NDArray y = x.matMul(wt);
        if (b != null) {
          y.addi(b);
        }
        if (epilogue == CudaMxLinear.Epilogue.GELU) {
          NDArray g = y.getNDArrayInternal().gelu();
          y.close();
          y = g;
        }
        return new NDList(y);
      }
    }
    CudaMxMatrix matrix = packed(w, config.getWeights(), config, name);
    MxLinear.countCall(MxLinear.Path.KERNEL);
    MxCudaNDArray y = (MxCudaNDArray) x.getManager().create(new Shape(outDims), DataType.FLOAT32);
    if (m == 0) {
      return new NDList(y);
    }
    try {
      CudaMxLinear.linear(
          x.buffer(),
          m,
          matrix,
          b == null ? null : b.buffer(),
          y.buffer(),
          config.getActivations(),
          config.getScale(),
          epilogue);
    } catch (RuntimeException e) {
      y.close();
      throw e;
    }
    return new NDList(y);
  }

  private static MxCudaNDArray requireDevice(String what, NDArray a, MxCudaNDArray like) {
    if (a instanceof MxCudaNDArray c && (like == null || c.getDevice().equals(like.getDevice()))) {
      return c;
    }
    throw new IllegalArgumentException(
        "MX GPU linear: the "
            + what
            + " is on "
            + a.getDevice()
            + (like == null ? "" : ", the input on " + like.getDevice())
            + "; put input, weight and bias on the same GPU");
  }

  /** Returns the device MX weight of {@code w}, packing and uploading it if absent or stale. */
  static CudaMxMatrix packed(MxCudaNDArray w, MxFormat format, MxConfig config, String name) {
    String key = format + "/" + config.getScale();
    synchronized (w) {
      MxCudaNDArray.PackedWeight p = w.packed();
      if (p != null && p.version() == w.getVersion() && p.format().equals(key)) {
        return p.matrix();
      }
      MxLinear.countPack();
      Shape s = w.getShape();
      CudaMxMatrix matrix;
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment f32 = arena.allocate(Math.max(4, s.size() * 4), 64);
        if (s.size() > 0) {
          w.buffer().copyTo(f32.asSlice(0, s.size() * 4));
        }
        try (MxTensor t =
            MxTensor.quantize(
                f32.asSlice(0, s.size() * 4),
                s.getShape(),
                format,
                config.getScale(),
                MxFormat.DEFAULT_BLOCK_SIZE)) {
          MxLinear.checkFinite(t, name);
          matrix = CudaMxMatrix.upload(format, t.rows(), t.cols(), t.codes(), t.scales());
        }
      }
      w.setPacked(new MxCudaNDArray.PackedWeight(matrix, w.getVersion(), key));
      return matrix;
    }
  }
}

package io.djlmx.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDArrayIndexer;
import ai.djl.ndarray.internal.NDArrayEx;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.recurrent.RNN;
import io.djlmx.kernel.cuda.CudaOps;
import java.util.List;

/**
 * The internal ops of an {@link MxCudaNDArray}: {@code linear} on MX weights packed on the device
 * ({@link MxCudaLinear}), layer norm, embedding, the activations and inference dropout on the CUDA
 * kernels; every other op falls back to the host ({@link MxFallbacks}).
 */
final class MxCudaNDArrayEx implements NDArrayEx {

  private final MxCudaNDArray array;

  MxCudaNDArrayEx(MxCudaNDArray array) {
    this.array = array;
  }

  /** {@inheritDoc} */
  @Override
  public MxCudaNDArray getArray() {
    return array;
  }

  /** {@inheritDoc} */
  @Override
  public NDArrayIndexer getIndexer(NDManager manager) {
    return new MxCudaNDArrayIndexer(manager);
  }

  /** {@inheritDoc} */
  @Override
  public NDList linear(NDArray input, NDArray weight, NDArray bias) {
    return MxLinear.linear(input, weight, bias);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray gelu() {
    return array.activation("gelu", CudaOps.Unary.GELU);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray relu() {
    return array.activation("relu", CudaOps.Unary.RELU);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sigmoid() {
    return array.activation("sigmoid", CudaOps.Unary.SIGMOID);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray tanh() {
    return array.activation("tanh", CudaOps.Unary.TANH);
  }

  /** {@inheritDoc} */
  @Override
  public NDList dropout(NDArray input, float rate, boolean training) {
    if (!training || rate == 0f) {
      return new NDList(input.duplicate());
    }
    return array.fallback(
        "dropout", (f, h) -> h.getNDArrayInternal().dropout(f.host(input), rate, training));
  }

  /** {@inheritDoc} */
  @Override
  public NDList layerNorm(
      NDArray input, Shape normalizedShape, NDArray gamma, NDArray beta, float eps) {
    MxCudaNDArray x = device(input);
    MxCudaNDArray g = gamma == null ? null : device(gamma);
    MxCudaNDArray b = beta == null ? null : device(beta);
    Shape s = input.getShape();
    int k = normalizedShape.dimension();
    boolean fits =
        x != null
            && (gamma == null || g != null)
            && (beta == null || b != null)
            && x.getDataType() == DataType.FLOAT32
            && k >= 1
            && k <= s.dimension()
            && s.slice(s.dimension() - k).equals(normalizedShape)
            && (g == null
                || (g.getDataType() == DataType.FLOAT32
                    && g.getShape().size() == normalizedShape.size()))
            && (b == null
                || (b.getDataType() == DataType.FLOAT32
                    && b.getShape().size() == normalizedShape.size()));
    if (!fits) {
      return array.fallback(
          "layerNorm",
          (f, h) ->
              h.getNDArrayInternal()
                  .layerNorm(f.host(input), normalizedShape, f.host(gamma), f.host(beta), eps));
    }
    long cols = normalizedShape.size();
    MxCudaNDArray out = (MxCudaNDArray) x.getManager().create(s, DataType.FLOAT32);
    CudaOps.layerNorm(
        out.buffer(),
        x.buffer(),
        g == null ? null : g.buffer(),
        b == null ? null : b.buffer(),
        cols == 0 ? 0 : s.size() / cols,
        cols,
        eps);
    return new NDList(out);
  }

  /** {@inheritDoc} */
  @Override
  public NDList embedding(NDArray input, NDArray weight, SparseFormat sparse) {
    MxCudaNDArray ids = device(input);
    MxCudaNDArray table = device(weight);
    DataType it = input.getDataType();
    boolean fits =
        ids != null
            && table != null
            && sparse == SparseFormat.DENSE
            && (it == DataType.INT64 || it == DataType.INT32)
            && table.getDataType() == DataType.FLOAT32
            && table.getShape().dimension() == 2;
    if (!fits) {
      return array.fallback(
          "embedding",
          (f, h) -> h.getNDArrayInternal().embedding(f.host(input), f.host(weight), sparse));
    }
    long vocab = table.getShape().get(0);
    long cols = table.getShape().get(1);
    Shape out = input.getShape().add(cols);
    MxCudaNDArray y = (MxCudaNDArray) ids.getManager().create(out, DataType.FLOAT32);
    try {
      CudaOps.gatherRows(
          y.buffer(),
          table.buffer(),
          vocab,
          cols,
          ids.buffer(),
          it == DataType.INT64,
          input.getShape().size());
    } catch (RuntimeException e) {
      y.close();
      throw e;
    }
    return new NDList(y);
  }

  private MxCudaNDArray device(NDArray a) {
    if (a instanceof MxCudaNDArray c && c.getDevice().equals(array.getDevice())) {
      return c;
    }
    return null;
  }

  /** {@inheritDoc} */
  @Override
  public void adadeltaUpdate(
      NDList a0, NDList a1, float a2, float a3, float a4, float a5, float a6) {
    array.fallbackInPlace(
        "adadeltaUpdate",
        (f, h) ->
            h.getNDArrayInternal().adadeltaUpdate(f.host(a0), f.host(a1), a2, a3, a4, a5, a6));
  }

  /** {@inheritDoc} */
  @Override
  public void adagradUpdate(
      NDList a0, NDList a1, float a2, float a3, float a4, float a5, float a6) {
    array.fallbackInPlace(
        "adagradUpdate",
        (f, h) -> h.getNDArrayInternal().adagradUpdate(f.host(a0), f.host(a1), a2, a3, a4, a5, a6));
  }

  /** {@inheritDoc} */
  @Override
  public void adamUpdate(
      NDList a0,
      NDList a1,
      float a2,
      float a3,
      float a4,
      float a5,
      float a6,
      float a7,
      float a8,
      float a9,
      boolean a10,
      boolean a11) {
    array.fallbackInPlace(
        "adamUpdate",
        (f, h) ->
            h.getNDArrayInternal()
                .adamUpdate(f.host(a0), f.host(a1), a2, a3, a4, a5, a6, a7, a8, a9, a10, a11));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray avgPool(Shape a0, Shape a1, Shape a2, boolean a3, boolean a4) {
    return array.fallback("avgPool", (f, h) -> h.getNDArrayInternal().avgPool(a0, a1, a2, a3, a4));
  }

  /** {@inheritDoc} */
  @Override
  public NDList batchNorm(
      NDArray a0,
      NDArray a1,
      NDArray a2,
      NDArray a3,
      NDArray a4,
      int a5,
      float a6,
      float a7,
      boolean a8) {
    return array.fallback(
        "batchNorm",
        (f, h) ->
            h.getNDArrayInternal()
                .batchNorm(
                    f.host(a0), f.host(a1), f.host(a2), f.host(a3), f.host(a4), a5, a6, a7, a8));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray concat(NDList a0, int a1) {
    NDArray joined = concatFirstAxis(a0, a1);
    if (joined != null) {
      return joined;
    }
    return array.fallback("concat", (f, h) -> h.getNDArrayInternal().concat(f.host(a0), a1));
  }

  /**
   * Concatenation of this array and {@code others} along the first axis on the device (each array's
   * memory is one contiguous piece of the result: one device copy per array); null for another
   * axis, arrays of other types, shapes or devices (the host fallback then runs).
   */
  private NDArray concatFirstAxis(NDList others, int axis) {
    NDList arrays = new NDList(array);
    arrays.addAll(others);
    Shape first = array.getShape();
    int rank = first.dimension();
    if (rank == 0 || (axis != 0 && axis != -rank)) {
      return null;
    }
    DataType type = array.getDataType();
    long rows = 0;
    for (NDArray a : arrays) {
      Shape s = a.getShape();
      if (device(a) == null
          || a.getDataType() != type
          || s.dimension() != rank
          || !s.slice(1).equals(first.slice(1))) {
        return null;
      }
      rows += s.get(0);
    }
    long[] dims = first.getShape().clone();
    dims[0] = rows;
    MxCudaNDArray out = (MxCudaNDArray) array.getManager().create(new Shape(dims), type);
    long at = 0;
    for (NDArray a : arrays) {
      long bytes = a.getShape().size() * type.getNumOfBytes();
      out.buffer().copyFromDevice(((MxCudaNDArray) a).buffer(), 0, at, bytes);
      at += bytes;
    }
    return out;
  }

  /** {@inheritDoc} */
  @Override
  public NDList convolution(
      NDArray a0, NDArray a1, NDArray a2, Shape a3, Shape a4, Shape a5, int a6) {
    return array.fallback(
        "convolution",
        (f, h) ->
            h.getNDArrayInternal().convolution(f.host(a0), f.host(a1), f.host(a2), a3, a4, a5, a6));
  }

  /** {@inheritDoc} */
  @Override
  public NDList deconvolution(
      NDArray a0, NDArray a1, NDArray a2, Shape a3, Shape a4, Shape a5, Shape a6, int a7) {
    return array.fallback(
        "deconvolution",
        (f, h) ->
            h.getNDArrayInternal()
                .deconvolution(f.host(a0), f.host(a1), f.host(a2), a3, a4, a5, a6, a7));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray elu(float a0) {
    return array.fallback("elu", (f, h) -> h.getNDArrayInternal().elu(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray globalAvgPool() {
    return array.fallback("globalAvgPool", (f, h) -> h.getNDArrayInternal().globalAvgPool());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray globalLpPool(float a0) {
    return array.fallback("globalLpPool", (f, h) -> h.getNDArrayInternal().globalLpPool(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray globalMaxPool() {
    return array.fallback("globalMaxPool", (f, h) -> h.getNDArrayInternal().globalMaxPool());
  }

  /** {@inheritDoc} */
  @Override
  public NDList gru(
      NDArray a0,
      NDArray a1,
      NDList a2,
      boolean a3,
      int a4,
      double a5,
      boolean a6,
      boolean a7,
      boolean a8) {
    return array.fallback(
        "gru",
        (f, h) ->
            h.getNDArrayInternal().gru(f.host(a0), f.host(a1), f.host(a2), a3, a4, a5, a6, a7, a8));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray interpolation(long[] a0, int a1, boolean a2) {
    return array.fallback(
        "interpolation", (f, h) -> h.getNDArrayInternal().interpolation(a0, a1, a2));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray leakyRelu(float a0) {
    return array.fallback("leakyRelu", (f, h) -> h.getNDArrayInternal().leakyRelu(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray lpPool(float a0, Shape a1, Shape a2, Shape a3, boolean a4) {
    return array.fallback("lpPool", (f, h) -> h.getNDArrayInternal().lpPool(a0, a1, a2, a3, a4));
  }

  /** {@inheritDoc} */
  @Override
  public NDList lstm(
      NDArray a0,
      NDList a1,
      NDList a2,
      boolean a3,
      int a4,
      double a5,
      boolean a6,
      boolean a7,
      boolean a8) {
    return array.fallback(
        "lstm",
        (f, h) ->
            h.getNDArrayInternal()
                .lstm(f.host(a0), f.host(a1), f.host(a2), a3, a4, a5, a6, a7, a8));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray maxPool(Shape a0, Shape a1, Shape a2, boolean a3) {
    return array.fallback("maxPool", (f, h) -> h.getNDArrayInternal().maxPool(a0, a1, a2, a3));
  }

  /** {@inheritDoc} */
  @Override
  public NDList multiBoxDetection(
      NDList a0, boolean a1, float a2, int a3, float a4, boolean a5, int a6) {
    return array.fallback(
        "multiBoxDetection",
        (f, h) -> h.getNDArrayInternal().multiBoxDetection(f.host(a0), a1, a2, a3, a4, a5, a6));
  }

  /** {@inheritDoc} */
  @Override
  public NDList multiBoxPrior(
      List<Float> a0, List<Float> a1, List<Float> a2, List<Float> a3, boolean a4) {
    return array.fallback(
        "multiBoxPrior", (f, h) -> h.getNDArrayInternal().multiBoxPrior(a0, a1, a2, a3, a4));
  }

  /** {@inheritDoc} */
  @Override
  public NDList multiBoxTarget(NDList a0, float a1, float a2, float a3, float a4, int a5) {
    return array.fallback(
        "multiBoxTarget",
        (f, h) -> h.getNDArrayInternal().multiBoxTarget(f.host(a0), a1, a2, a3, a4, a5));
  }

  /** {@inheritDoc} */
  @Override
  public void nagUpdate(NDList a0, NDList a1, float a2, float a3, float a4, float a5, float a6) {
    array.fallbackInPlace(
        "nagUpdate",
        (f, h) -> h.getNDArrayInternal().nagUpdate(f.host(a0), f.host(a1), a2, a3, a4, a5, a6));
  }

  /** {@inheritDoc} */
  @Override
  public NDList prelu(NDArray a0, NDArray a1) {
    return array.fallback("prelu", (f, h) -> h.getNDArrayInternal().prelu(f.host(a0), f.host(a1)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray randomBrightness(float a0) {
    return array.fallback(
        "randomBrightness", (f, h) -> h.getNDArrayInternal().randomBrightness(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray randomColorJitter(float a0, float a1, float a2, float a3) {
    return array.fallback(
        "randomColorJitter", (f, h) -> h.getNDArrayInternal().randomColorJitter(a0, a1, a2, a3));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray randomFlipLeftRight() {
    return array.fallback(
        "randomFlipLeftRight", (f, h) -> h.getNDArrayInternal().randomFlipLeftRight());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray randomFlipTopBottom() {
    return array.fallback(
        "randomFlipTopBottom", (f, h) -> h.getNDArrayInternal().randomFlipTopBottom());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray randomHue(float a0) {
    return array.fallback("randomHue", (f, h) -> h.getNDArrayInternal().randomHue(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray rdivi(NDArray a0) {
    return array.fallback("rdivi", (f, h) -> h.getNDArrayInternal().rdivi(f.host(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray resize(int a0, int a1, int a2) {
    return array.fallback("resize", (f, h) -> h.getNDArrayInternal().resize(a0, a1, a2));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray rmodi(NDArray a0) {
    return array.fallback("rmodi", (f, h) -> h.getNDArrayInternal().rmodi(f.host(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public void rmspropUpdate(
      NDList a0,
      NDList a1,
      float a2,
      float a3,
      float a4,
      float a5,
      float a6,
      float a7,
      float a8,
      boolean a9) {
    array.fallbackInPlace(
        "rmspropUpdate",
        (f, h) ->
            h.getNDArrayInternal()
                .rmspropUpdate(f.host(a0), f.host(a1), a2, a3, a4, a5, a6, a7, a8, a9));
  }

  /** {@inheritDoc} */
  @Override
  public NDList rnn(
      NDArray a0,
      NDArray a1,
      NDList a2,
      boolean a3,
      int a4,
      RNN.Activation a5,
      double a6,
      boolean a7,
      boolean a8,
      boolean a9) {
    return array.fallback(
        "rnn",
        (f, h) ->
            h.getNDArrayInternal()
                .rnn(f.host(a0), f.host(a1), f.host(a2), a3, a4, a5, a6, a7, a8, a9));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray rpowi(Number a0) {
    return array.fallback("rpowi", (f, h) -> h.getNDArrayInternal().rpowi(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray selu() {
    return array.fallback("selu", (f, h) -> h.getNDArrayInternal().selu());
  }

  /** {@inheritDoc} */
  @Override
  public void sgdUpdate(
      NDList a0, NDList a1, float a2, float a3, float a4, float a5, float a6, boolean a7) {
    array.fallbackInPlace(
        "sgdUpdate",
        (f, h) -> h.getNDArrayInternal().sgdUpdate(f.host(a0), f.host(a1), a2, a3, a4, a5, a6, a7));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray softPlus() {
    return array.fallback("softPlus", (f, h) -> h.getNDArrayInternal().softPlus());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray softSign() {
    return array.fallback("softSign", (f, h) -> h.getNDArrayInternal().softSign());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray stack(NDList a0, int a1) {
    return array.fallback("stack", (f, h) -> h.getNDArrayInternal().stack(f.host(a0), a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray where(NDArray a0, NDArray a1) {
    return array.fallback("where", (f, h) -> h.getNDArrayInternal().where(f.host(a0), f.host(a1)));
  }
}

package io.djlmx.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDArrayIndexer;
import ai.djl.ndarray.internal.NDArrayEx;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.recurrent.RNN;
import java.util.List;

/**
 * The internal ops of an {@link MxNDArray}: {@code linear} runs through {@link MxLinear} on MX
 * weights; every other op is forwarded to PyTorch's implementation with MX arguments unwrapped and
 * the results wrapped. Optimizer updates mark the updated weights modified, so their MX form is
 * rebuilt.
 */
final class MxNDArrayEx implements NDArrayEx {

  private final MxNDArray array;

  MxNDArrayEx(MxNDArray array) {
    this.array = array;
  }

  private NDArrayEx ex() {
    return array.getDelegate().getNDArrayInternal();
  }

  private NDArray wrap(NDArray result) {
    return array.wrap(result);
  }

  private NDList wrap(NDList result) {
    return array.wrap(result);
  }

  private static void markModified(NDList... lists) {
    for (NDList list : lists) {
      for (NDArray a : list) {
        if (a instanceof MxNDArray mx) {
          mx.markModified();
        }
      }
    }
  }

  /** {@inheritDoc} */
  @Override
  public MxNDArray getArray() {
    return array;
  }

  /** {@inheritDoc} */
  @Override
  public NDArrayIndexer getIndexer(NDManager manager) {
    return new MxNDArrayIndexer(manager);
  }

  /** {@inheritDoc} */
  @Override
  public NDList linear(NDArray input, NDArray weight, NDArray bias) {
    return MxLinear.linear(input, weight, bias);
  }

  /** {@inheritDoc} */
  @Override
  public void adadeltaUpdate(
      NDList a0, NDList a1, float a2, float a3, float a4, float a5, float a6) {
    ex().adadeltaUpdate(MxNDArray.unwrap(a0), MxNDArray.unwrap(a1), a2, a3, a4, a5, a6);
    markModified(a0, a1);
  }

  /** {@inheritDoc} */
  @Override
  public void adagradUpdate(
      NDList a0, NDList a1, float a2, float a3, float a4, float a5, float a6) {
    ex().adagradUpdate(MxNDArray.unwrap(a0), MxNDArray.unwrap(a1), a2, a3, a4, a5, a6);
    markModified(a0, a1);
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
    ex().adamUpdate(
            MxNDArray.unwrap(a0), MxNDArray.unwrap(a1), a2, a3, a4, a5, a6, a7, a8, a9, a10, a11);
    markModified(a0, a1);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray avgPool(Shape a0, Shape a1, Shape a2, boolean a3, boolean a4) {
    return wrap(ex().avgPool(a0, a1, a2, a3, a4));
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
    return wrap(
        ex().batchNorm(
                MxNDArray.unwrap(a0),
                MxNDArray.unwrap(a1),
                MxNDArray.unwrap(a2),
                MxNDArray.unwrap(a3),
                MxNDArray.unwrap(a4),
                a5,
                a6,
                a7,
                a8));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray concat(NDList a0, int a1) {
    return wrap(ex().concat(MxNDArray.unwrap(a0), a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDList convolution(
      NDArray a0, NDArray a1, NDArray a2, Shape a3, Shape a4, Shape a5, int a6) {
    return wrap(
        ex().convolution(
                MxNDArray.unwrap(a0), MxNDArray.unwrap(a1), MxNDArray.unwrap(a2), a3, a4, a5, a6));
  }

  /** {@inheritDoc} */
  @Override
  public NDList deconvolution(
      NDArray a0, NDArray a1, NDArray a2, Shape a3, Shape a4, Shape a5, Shape a6, int a7) {
    return wrap(
        ex().deconvolution(
                MxNDArray.unwrap(a0),
                MxNDArray.unwrap(a1),
                MxNDArray.unwrap(a2),
                a3,
                a4,
                a5,
                a6,
                a7));
  }

  /** {@inheritDoc} */
  @Override
  public NDList dropout(NDArray a0, float a1, boolean a2) {
    return wrap(ex().dropout(MxNDArray.unwrap(a0), a1, a2));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray elu(float a0) {
    return wrap(ex().elu(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDList embedding(NDArray a0, NDArray a1, SparseFormat a2) {
    return wrap(ex().embedding(MxNDArray.unwrap(a0), MxNDArray.unwrap(a1), a2));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray gelu() {
    return wrap(ex().gelu());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray globalAvgPool() {
    return wrap(ex().globalAvgPool());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray globalLpPool(float a0) {
    return wrap(ex().globalLpPool(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray globalMaxPool() {
    return wrap(ex().globalMaxPool());
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
    return wrap(
        ex().gru(
                MxNDArray.unwrap(a0),
                MxNDArray.unwrap(a1),
                MxNDArray.unwrap(a2),
                a3,
                a4,
                a5,
                a6,
                a7,
                a8));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray interpolation(long[] a0, int a1, boolean a2) {
    return wrap(ex().interpolation(a0, a1, a2));
  }

  /** {@inheritDoc} */
  @Override
  public NDList layerNorm(NDArray a0, Shape a1, NDArray a2, NDArray a3, float a4) {
    return wrap(
        ex().layerNorm(MxNDArray.unwrap(a0), a1, MxNDArray.unwrap(a2), MxNDArray.unwrap(a3), a4));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray leakyRelu(float a0) {
    return wrap(ex().leakyRelu(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray lpPool(float a0, Shape a1, Shape a2, Shape a3, boolean a4) {
    return wrap(ex().lpPool(a0, a1, a2, a3, a4));
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
    return wrap(
        ex().lstm(
                MxNDArray.unwrap(a0),
                MxNDArray.unwrap(a1),
                MxNDArray.unwrap(a2),
                a3,
                a4,
                a5,
                a6,
                a7,
                a8));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray maxPool(Shape a0, Shape a1, Shape a2, boolean a3) {
    return wrap(ex().maxPool(a0, a1, a2, a3));
  }

  /** {@inheritDoc} */
  @Override
  public NDList multiBoxDetection(
      NDList a0, boolean a1, float a2, int a3, float a4, boolean a5, int a6) {
    return wrap(ex().multiBoxDetection(MxNDArray.unwrap(a0), a1, a2, a3, a4, a5, a6));
  }

  /** {@inheritDoc} */
  @Override
  public NDList multiBoxPrior(
      List<Float> a0, List<Float> a1, List<Float> a2, List<Float> a3, boolean a4) {
    return wrap(ex().multiBoxPrior(a0, a1, a2, a3, a4));
  }

  /** {@inheritDoc} */
  @Override
  public NDList multiBoxTarget(NDList a0, float a1, float a2, float a3, float a4, int a5) {
    return wrap(ex().multiBoxTarget(MxNDArray.unwrap(a0), a1, a2, a3, a4, a5));
  }

  /** {@inheritDoc} */
  @Override
  public void nagUpdate(NDList a0, NDList a1, float a2, float a3, float a4, float a5, float a6) {
    ex().nagUpdate(MxNDArray.unwrap(a0), MxNDArray.unwrap(a1), a2, a3, a4, a5, a6);
    markModified(a0, a1);
  }

  /** {@inheritDoc} */
  @Override
  public NDList prelu(NDArray a0, NDArray a1) {
    return wrap(ex().prelu(MxNDArray.unwrap(a0), MxNDArray.unwrap(a1)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray randomBrightness(float a0) {
    return wrap(ex().randomBrightness(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray randomColorJitter(float a0, float a1, float a2, float a3) {
    return wrap(ex().randomColorJitter(a0, a1, a2, a3));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray randomFlipLeftRight() {
    return wrap(ex().randomFlipLeftRight());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray randomFlipTopBottom() {
    return wrap(ex().randomFlipTopBottom());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray randomHue(float a0) {
    return wrap(ex().randomHue(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray rdivi(NDArray a0) {
    return wrap(ex().rdivi(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray relu() {
    return wrap(ex().relu());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray resize(int a0, int a1, int a2) {
    return wrap(ex().resize(a0, a1, a2));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray rmodi(NDArray a0) {
    return wrap(ex().rmodi(MxNDArray.unwrap(a0)));
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
    ex().rmspropUpdate(MxNDArray.unwrap(a0), MxNDArray.unwrap(a1), a2, a3, a4, a5, a6, a7, a8, a9);
    markModified(a0, a1);
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
    return wrap(
        ex().rnn(
                MxNDArray.unwrap(a0),
                MxNDArray.unwrap(a1),
                MxNDArray.unwrap(a2),
                a3,
                a4,
                a5,
                a6,
                a7,
                a8,
                a9));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray rpowi(Number a0) {
    return wrap(ex().rpowi(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray selu() {
    return wrap(ex().selu());
  }

  /** {@inheritDoc} */
  @Override
  public void sgdUpdate(
      NDList a0, NDList a1, float a2, float a3, float a4, float a5, float a6, boolean a7) {
    ex().sgdUpdate(MxNDArray.unwrap(a0), MxNDArray.unwrap(a1), a2, a3, a4, a5, a6, a7);
    markModified(a0, a1);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sigmoid() {
    return wrap(ex().sigmoid());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray softPlus() {
    return wrap(ex().softPlus());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray softSign() {
    return wrap(ex().softSign());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray stack(NDList a0, int a1) {
    return wrap(ex().stack(MxNDArray.unwrap(a0), a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray tanh() {
    return wrap(ex().tanh());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray where(NDArray a0, NDArray a1) {
    return wrap(ex().where(MxNDArray.unwrap(a0), MxNDArray.unwrap(a1)));
  }
}

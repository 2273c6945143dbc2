package io.djlmx.engine;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.internal.NDArrayEx;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.pytorch.engine.PtNDArray;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.charset.Charset;

/**
 * An MX array: a PyTorch array ({@link PtNDArray}) that lives on the MX engine.
 *
 * <p>Every op is forwarded to the PyTorch array with MX arguments unwrapped first (PyTorch code
 * would otherwise copy them or fail) and the result wrapped again, so results stay on MX and
 * nothing is copied. In-place ops return this array. {@code linear} is the op MX replaces (see
 * {@link MxNDArrayEx} and {@link MxLinear}).
 *
 * <p>Each array counts its in-place modifications ({@link #getVersion()}), so that the MX form of a
 * weight, cached on the array by {@link MxLinear}, is rebuilt after a training step or a {@code
 * set}.
 */
public final class MxNDArray implements NDArray {

  private final PtNDArray delegate;
  private final MxNDArrayEx ex;
  private MxNDManager manager;
  private volatile long version;
  private volatile MxWeight weight;
  private boolean closed;

  MxNDArray(MxNDManager manager, PtNDArray delegate) {
    this.manager = manager;
    this.delegate = delegate;
    this.ex = new MxNDArrayEx(this);
    manager.attachInternal(delegate.getUid(), this);
    NDScope.unregister(delegate);
    NDScope.register(this);
  }

  /**
   * Returns the PyTorch array of an MX array, any other array as is.
   *
   * @param array an array, may be null
   * @return the array PyTorch code can use
   */
  public static NDArray unwrap(NDArray array) {
    return array instanceof MxNDArray mx ? mx.delegate : array;
  }

  /**
   * Returns a list with every MX array replaced by its PyTorch array.
   *
   * @param list a list, may be null
   * @return the list PyTorch code can use
   */
  public static NDList unwrap(NDList list) {
    if (list == null) {
      return null;
    }
    NDList out = new NDList(list.size());
    for (NDArray a : list) {
      out.add(unwrap(a));
    }
    return out;
  }

  static NDArray[] unwrap(NDArray[] arrays) {
    if (arrays == null) {
      return null;
    }
    NDArray[] out = new NDArray[arrays.length];
    for (int i = 0; i < arrays.length; i++) {
      out[i] = unwrap(arrays[i]);
    }
    return out;
  }

  /**
   * Returns the PyTorch array this MX array wraps.
   *
   * @return the PyTorch array
   */
  public PtNDArray getDelegate() {
    return delegate;
  }

  /**
   * Returns how many times this array has been modified in place; {@link MxLinear} compares it to
   * decide whether a cached MX weight is stale.
   *
   * @return the modification count
   */
  public long getVersion() {
    return version;
  }

  /** Records an in-place modification: the cached MX form of this array, if any, is stale. */
  public void markModified() {
    version++;
  }

  MxWeight getWeight() {
    return weight;
  }

  void setWeight(MxWeight weight) {
    MxWeight old = this.weight;
    this.weight = weight;
    if (old != null && old != weight) {
      old.close();
    }
  }

  NDArray wrap(NDArray result) {
    if (result == delegate) {
      markModified();
      return this;
    }
    if (result instanceof PtNDArray pt) {
      return manager.wrap(pt);
    }
    return result;
  }

  NDList wrap(NDList list) {
    return list == null ? null : manager.wrap(list);
  }

  NDArray[] wrap(NDArray[] arrays) {
    NDArray[] out = new NDArray[arrays.length];
    for (int i = 0; i < arrays.length; i++) {
      out[i] = wrap(arrays[i]);
    }
    return out;
  }

  /** {@inheritDoc} */
  @Override
  public MxNDManager getManager() {
    return manager;
  }

  /** {@inheritDoc} */
  @Override
  public String getUid() {
    return delegate.getUid();
  }

  /** {@inheritDoc} */
  @Override
  public NDArrayEx getNDArrayInternal() {
    return ex;
  }

  /** {@inheritDoc} */
  @Override
  public boolean isReleased() {
    return closed || delegate.isReleased();
  }

  /** {@inheritDoc} */
  @Override
  public NDArray toDevice(Device device, boolean copy) {
    NDArray r = delegate.toDevice(device, copy);
    return r == delegate ? this : wrap(r);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray toType(DataType dataType, boolean copy) {
    NDArray r = delegate.toType(dataType, copy);
    return r == delegate ? this : wrap(r);
  }

  /** {@inheritDoc} */
  @Override
  public void set(Buffer buffer) {
    delegate.set(buffer);
    markModified();
  }

  /** {@inheritDoc} */
  @Override
  public void intern(NDArray replaced) {
    delegate.intern(unwrap(replaced));
    markModified();
  }

  /** {@inheritDoc} */
  @Override
  public NDArray get(NDManager manager, long... indices) {
    return wrap(delegate.get(MxNDManager.shadowOf(manager), indices));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray take(NDManager manager, NDArray index) {
    return wrap(delegate.take(MxNDManager.shadowOf(manager), unwrap(index)));
  }

  /**
   * Moves this array and its PyTorch array to {@code manager}, which must be an MX manager.
   *
   * @param manager the MX manager to attach to
   */
  @Override
  public void attach(NDManager manager) {
    MxNDManager target = requireMx(manager);
    detach();
    this.manager = target;
    delegate.attach(target.getShadow());
    target.attachInternal(getUid(), this);
  }

  /** {@inheritDoc} */
  @Override
  public void returnResource(NDManager manager) {
    MxNDManager target = requireMx(manager);
    detach();
    this.manager = target;
    delegate.returnResource(target.getShadow());
    target.attachUncappedInternal(getUid(), this);
  }

  /** {@inheritDoc} */
  @Override
  public void tempAttach(NDManager manager) {
    MxNDManager target = requireMx(manager);
    NDManager original = this.manager;
    detach();
    this.manager = target;
    delegate.tempAttach(target.getShadow());
    target.tempAttachInternal(original, getUid(), this);
  }

  /** {@inheritDoc} */
  @Override
  public void detach() {
    manager.detachInternal(getUid());
    delegate.detach();
    manager = MxNDManager.getSystemManager();
  }

  private static MxNDManager requireMx(NDManager manager) {
    if (manager instanceof MxNDManager mx) {
      return mx;
    }
    throw new IllegalArgumentException(
        "An MX array can only be attached to an MX NDManager, got "
            + (manager == null ? "null" : manager.getEngine().getEngineName() + " manager"));
  }

  /** {@inheritDoc} */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      setWeight(null);
      delegate.close();
      manager.detachInternal(getUid());
    }
  }

  /** {@inheritDoc} */
  @Override
  public boolean equals(Object obj) {
    if (obj instanceof NDArray other) {
      return contentEquals(other);
    }
    return false;
  }

  /** {@inheritDoc} */
  @Override
  public int hashCode() {
    return 0;
  }

  /** {@inheritDoc} */
  @Override
  public String toString() {
    if (isReleased()) {
      return "This array is already closed";
    }
    return toDebugString();
  }

  /** {@inheritDoc} */
  @Override
  public NDArray abs() {
    return wrap(delegate.abs());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray acos() {
    return wrap(delegate.acos());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray acosh() {
    return wrap(delegate.acosh());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray add(Number a0) {
    return wrap(delegate.add(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray add(NDArray a0) {
    return wrap(delegate.add(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray addi(Number a0) {
    return wrap(delegate.addi(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray addi(NDArray a0) {
    return wrap(delegate.addi(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray all() {
    return wrap(delegate.all());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray any() {
    return wrap(delegate.any());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray argMax() {
    return wrap(delegate.argMax());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray argMax(int a0) {
    return wrap(delegate.argMax(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray argMin() {
    return wrap(delegate.argMin());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray argMin(int a0) {
    return wrap(delegate.argMin(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray argSort(int a0, boolean a1) {
    return wrap(delegate.argSort(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray asin() {
    return wrap(delegate.asin());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray asinh() {
    return wrap(delegate.asinh());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray atan() {
    return wrap(delegate.atan());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray atan2(NDArray a0) {
    return wrap(delegate.atan2(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray atanh() {
    return wrap(delegate.atanh());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray batchDot(NDArray a0) {
    return wrap(delegate.batchDot(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray batchMatMul(NDArray a0) {
    return wrap(delegate.batchMatMul(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray booleanMask(NDArray a0, int a1) {
    return wrap(delegate.booleanMask(MxNDArray.unwrap(a0), a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray broadcast(Shape a0) {
    return wrap(delegate.broadcast(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray cbrt() {
    return wrap(delegate.cbrt());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray ceil() {
    return wrap(delegate.ceil());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray clip(Number a0, Number a1) {
    return wrap(delegate.clip(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray complex() {
    return wrap(delegate.complex());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray conj() {
    return wrap(delegate.conj());
  }

  /** {@inheritDoc} */
  @Override
  public boolean contentEquals(Number a0) {
    return delegate.contentEquals(a0);
  }

  /** {@inheritDoc} */
  @Override
  public boolean contentEquals(NDArray a0) {
    return delegate.contentEquals(MxNDArray.unwrap(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray cos() {
    return wrap(delegate.cos());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray cosh() {
    return wrap(delegate.cosh());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray cumProd(int a0, DataType a1) {
    return wrap(delegate.cumProd(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray cumProd(int a0) {
    return wrap(delegate.cumProd(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray cumSum() {
    return wrap(delegate.cumSum());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray cumSum(int a0) {
    return wrap(delegate.cumSum(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray diagonal() {
    return wrap(delegate.diagonal());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray diagonal(int a0, int a1, int a2) {
    return wrap(delegate.diagonal(a0, a1, a2));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray diagonal(int a0) {
    return wrap(delegate.diagonal(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray diff(int a0, int a1) {
    return wrap(delegate.diff(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray div(Number a0) {
    return wrap(delegate.div(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray div(NDArray a0) {
    return wrap(delegate.div(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray divi(Number a0) {
    return wrap(delegate.divi(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray divi(NDArray a0) {
    return wrap(delegate.divi(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray dot(NDArray a0) {
    return wrap(delegate.dot(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray duplicate() {
    return wrap(delegate.duplicate());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray eq(Number a0) {
    return wrap(delegate.eq(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray eq(NDArray a0) {
    return wrap(delegate.eq(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray erf() {
    return wrap(delegate.erf());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray erfinv() {
    return wrap(delegate.erfinv());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray exp() {
    return wrap(delegate.exp());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray expandDims(int a0) {
    return wrap(delegate.expandDims(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray fft(long a0, long a1) {
    return wrap(delegate.fft(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray fft2(long[] a0, long[] a1) {
    return wrap(delegate.fft2(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray flatten() {
    return wrap(delegate.flatten());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray flatten(int a0, int a1) {
    return wrap(delegate.flatten(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray flip(int... a0) {
    return wrap(delegate.flip(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray floor() {
    return wrap(delegate.floor());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray gammaln() {
    return wrap(delegate.gammaln());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray gather(NDArray a0, int a1) {
    return wrap(delegate.gather(MxNDArray.unwrap(a0), a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray gatherNd(NDArray a0) {
    return wrap(delegate.gatherNd(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public DataType getDataType() {
    return delegate.getDataType();
  }

  /** {@inheritDoc} */
  @Override
  public Device getDevice() {
    return delegate.getDevice();
  }

  /** {@inheritDoc} */
  @Override
  public NDArray getGradient() {
    return wrap(delegate.getGradient());
  }

  /** {@inheritDoc} */
  @Override
  public String getName() {
    return delegate.getName();
  }

  /** {@inheritDoc} */
  @Override
  public Shape getShape() {
    return delegate.getShape();
  }

  /** {@inheritDoc} */
  @Override
  public SparseFormat getSparseFormat() {
    return delegate.getSparseFormat();
  }

  /** {@inheritDoc} */
  @Override
  public NDArray gt(Number a0) {
    return wrap(delegate.gt(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray gt(NDArray a0) {
    return wrap(delegate.gt(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray gte(Number a0) {
    return wrap(delegate.gte(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray gte(NDArray a0) {
    return wrap(delegate.gte(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public boolean hasGradient() {
    return delegate.hasGradient();
  }

  /** {@inheritDoc} */
  @Override
  public NDArray ifft(long a0, long a1) {
    return wrap(delegate.ifft(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray ifft2(long[] a0, long[] a1) {
    return wrap(delegate.ifft2(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray inverse() {
    return wrap(delegate.inverse());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray irfft(long a0, long a1) {
    return wrap(delegate.irfft(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray isInfinite() {
    return wrap(delegate.isInfinite());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray isNaN() {
    return wrap(delegate.isNaN());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray log() {
    return wrap(delegate.log());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray log10() {
    return wrap(delegate.log10());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray log2() {
    return wrap(delegate.log2());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray logSoftmax(int a0) {
    return wrap(delegate.logSoftmax(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray logicalAnd(NDArray a0) {
    return wrap(delegate.logicalAnd(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray logicalNot() {
    return wrap(delegate.logicalNot());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray logicalOr(NDArray a0) {
    return wrap(delegate.logicalOr(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray logicalXor(NDArray a0) {
    return wrap(delegate.logicalXor(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray lt(Number a0) {
    return wrap(delegate.lt(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray lt(NDArray a0) {
    return wrap(delegate.lt(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray lte(Number a0) {
    return wrap(delegate.lte(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray lte(NDArray a0) {
    return wrap(delegate.lte(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray matMul(NDArray a0) {
    return wrap(delegate.matMul(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray max() {
    return wrap(delegate.max());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray max(int[] a0, boolean a1) {
    return wrap(delegate.max(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray maximum(Number a0) {
    return wrap(delegate.maximum(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray maximum(NDArray a0) {
    return wrap(delegate.maximum(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray mean() {
    return wrap(delegate.mean());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray mean(int[] a0, boolean a1) {
    return wrap(delegate.mean(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray median() {
    return wrap(delegate.median());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray median(int[] a0) {
    return wrap(delegate.median(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray min() {
    return wrap(delegate.min());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray min(int[] a0, boolean a1) {
    return wrap(delegate.min(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray minimum(Number a0) {
    return wrap(delegate.minimum(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray minimum(NDArray a0) {
    return wrap(delegate.minimum(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray mod(Number a0) {
    return wrap(delegate.mod(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray mod(NDArray a0) {
    return wrap(delegate.mod(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray modi(Number a0) {
    return wrap(delegate.modi(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray modi(NDArray a0) {
    return wrap(delegate.modi(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray mul(Number a0) {
    return wrap(delegate.mul(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray mul(NDArray a0) {
    return wrap(delegate.mul(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray muli(Number a0) {
    return wrap(delegate.muli(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray muli(NDArray a0) {
    return wrap(delegate.muli(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray neg() {
    return wrap(delegate.neg());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray negi() {
    return wrap(delegate.negi());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray neq(Number a0) {
    return wrap(delegate.neq(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray neq(NDArray a0) {
    return wrap(delegate.neq(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray none() {
    return wrap(delegate.none());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray nonzero() {
    return wrap(delegate.nonzero());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray norm(boolean a0) {
    return wrap(delegate.norm(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray norm(int a0, int[] a1, boolean a2) {
    return wrap(delegate.norm(a0, a1, a2));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray normalize(double a0, long a1, double a2) {
    return wrap(delegate.normalize(a0, a1, a2));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray oneHot(int a0, DataType a1) {
    return wrap(delegate.oneHot(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray oneHot(int a0, float a1, float a2, DataType a3) {
    return wrap(delegate.oneHot(a0, a1, a2, a3));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray oneHot(int a0) {
    return wrap(delegate.oneHot(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray pad(Shape a0, double a1) {
    return wrap(delegate.pad(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray percentile(Number a0, int[] a1) {
    return wrap(delegate.percentile(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray percentile(Number a0) {
    return wrap(delegate.percentile(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray pow(Number a0) {
    return wrap(delegate.pow(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray pow(NDArray a0) {
    return wrap(delegate.pow(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray powi(Number a0) {
    return wrap(delegate.powi(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray powi(NDArray a0) {
    return wrap(delegate.powi(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray prod() {
    return wrap(delegate.prod());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray prod(int[] a0, boolean a1) {
    return wrap(delegate.prod(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray put(NDArray a0, NDArray a1) {
    return wrap(delegate.put(MxNDArray.unwrap(a0), MxNDArray.unwrap(a1)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray real() {
    return wrap(delegate.real());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray repeat(long[] a0) {
    return wrap(delegate.repeat(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray repeat(Shape a0) {
    return wrap(delegate.repeat(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray repeat(int a0, long a1) {
    return wrap(delegate.repeat(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray repeat(long a0) {
    return wrap(delegate.repeat(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray reshape(Shape a0) {
    return wrap(delegate.reshape(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray rfft(long a0, long a1) {
    return wrap(delegate.rfft(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray rotate90(int a0, int[] a1) {
    return wrap(delegate.rotate90(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray round() {
    return wrap(delegate.round());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray scatter(NDArray a0, NDArray a1, int a2) {
    return wrap(delegate.scatter(MxNDArray.unwrap(a0), MxNDArray.unwrap(a1), a2));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sequenceMask(NDArray a0, float a1) {
    return wrap(delegate.sequenceMask(MxNDArray.unwrap(a0), a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sequenceMask(NDArray a0) {
    return wrap(delegate.sequenceMask(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public void setName(String a0) {
    delegate.setName(a0);
  }

  /** {@inheritDoc} */
  @Override
  public void setRequiresGradient(boolean a0) {
    delegate.setRequiresGradient(a0);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sign() {
    return wrap(delegate.sign());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray signi() {
    return wrap(delegate.signi());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sin() {
    return wrap(delegate.sin());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sinh() {
    return wrap(delegate.sinh());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray softmax(int a0) {
    return wrap(delegate.softmax(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sort() {
    return wrap(delegate.sort());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sort(int a0) {
    return wrap(delegate.sort(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDList split(long[] a0, int a1) {
    return wrap(delegate.split(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDList split(long a0, int a1) {
    return wrap(delegate.split(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sqrt() {
    return wrap(delegate.sqrt());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray square() {
    return wrap(delegate.square());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray squeeze() {
    return wrap(delegate.squeeze());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray squeeze(int[] a0) {
    return wrap(delegate.squeeze(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray squeeze(int a0) {
    return wrap(delegate.squeeze(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray stft(long a0, long a1, boolean a2, NDArray a3, boolean a4, boolean a5) {
    return wrap(delegate.stft(a0, a1, a2, MxNDArray.unwrap(a3), a4, a5));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray stopGradient() {
    return wrap(delegate.stopGradient());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sub(Number a0) {
    return wrap(delegate.sub(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sub(NDArray a0) {
    return wrap(delegate.sub(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray subi(Number a0) {
    return wrap(delegate.subi(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray subi(NDArray a0) {
    return wrap(delegate.subi(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sum() {
    return wrap(delegate.sum());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sum(int[] a0, boolean a1) {
    return wrap(delegate.sum(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray swapAxes(int a0, int a1) {
    return wrap(delegate.swapAxes(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray tan() {
    return wrap(delegate.tan());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray tanh() {
    return wrap(delegate.tanh());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray tile(long[] a0) {
    return wrap(delegate.tile(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray tile(Shape a0) {
    return wrap(delegate.tile(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray tile(int a0, long a1) {
    return wrap(delegate.tile(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray tile(long a0) {
    return wrap(delegate.tile(a0));
  }

  /** {@inheritDoc} */
  @Override
  public ByteBuffer toByteBuffer(boolean a0) {
    return delegate.toByteBuffer(a0);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray toDegrees() {
    return wrap(delegate.toDegrees());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray toDense() {
    return wrap(delegate.toDense());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray toRadians() {
    return wrap(delegate.toRadians());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray toSparse(SparseFormat a0) {
    return wrap(delegate.toSparse(a0));
  }

  /** {@inheritDoc} */
  @Override
  public String[] toStringArray(Charset a0) {
    return delegate.toStringArray(a0);
  }

  /** {@inheritDoc} */
  @Override
  public NDList topK(int a0, int a1, boolean a2, boolean a3) {
    return wrap(delegate.topK(a0, a1, a2, a3));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray trace(int a0, int a1, int a2) {
    return wrap(delegate.trace(a0, a1, a2));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray transpose() {
    return wrap(delegate.transpose());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray transpose(int... a0) {
    return wrap(delegate.transpose(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray trunc() {
    return wrap(delegate.trunc());
  }

  /** {@inheritDoc} */
  @Override
  public NDList unique(Integer a0, boolean a1, boolean a2, boolean a3) {
    return wrap(delegate.unique(a0, a1, a2, a3));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray xlogy(NDArray a0) {
    return wrap(delegate.xlogy(MxNDArray.unwrap(a0)));
  }
}

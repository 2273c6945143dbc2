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
import java.lang.foreign.MemorySegment;
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
 *
 * <p>A packed {@code linear} weight frees its FP32 storage ({@code mx.keepFp32=false}, the
 * default): the PyTorch array keeps its identity and metadata but holds no values until something
 * needs them as an ordinary array (any forwarded op, {@link #getDelegate()}, {@link
 * #unwrap(NDArray)}); then the dequantized MX values are read back from the packed weight, under
 * this array's monitor. See {@link #isFp32Released()}.
 */
public final class MxNDArray implements NDArray {

  private final PtNDArray delegate;
  private volatile boolean fp32Released;
  private final MxNDArrayEx ex;
  private MxNDManager manager;
  private volatile long version;
  private boolean freshStorage;
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
    return array instanceof MxNDArray mx ? mx.pt() : array;
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
   * Returns the PyTorch array this MX array wraps, first reading a released weight's values back
   * (its dequantized MX values).
   *
   * @return the PyTorch array
   */
  public PtNDArray getDelegate() {
    return pt();
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

  /**
   * Records that this array owns dense, row-major storage that no other array views (it was made by
   * {@link MxNDManager#create(Shape, DataType)}), so that engine-side ops may write it in place
   * through {@code toByteBuffer(true)} ({@link MxFusedOps}).
   */
  void markFreshStorage() {
    freshStorage = true;
  }

  /**
   * Returns whether this array was created with its own dense storage (see {@link
   * #markFreshStorage()}); arrays from other ops (views, reshapes) answer false.
   *
   * @return true for arrays the engine created with fresh storage
   */
  boolean hasFreshStorage() {
    return freshStorage && !fp32Released;
  }

  /** Records an in-place modification: the cached MX form of this array, if any, is stale. */
  public void markModified() {
    version++;
  }

  MxWeight getWeight() {
    return weight;
  }

  void setWeight(MxWeight weight) {
    if (fp32Released && !closed) {
      // The values live only in the MX weight being replaced: read them back first.
      pt();
    }
    MxWeight old = this.weight;
    this.weight = weight;
    if (old != null && old != weight) {
      old.close();
    }
  }

  /**
   * Returns the PyTorch array, first reading its values back from the MX weight if its FP32 storage
   * was released ({@link #releaseFp32()}).
   */
  PtNDArray pt() {
    if (fp32Released) {
      rematerialize();
    }
    return delegate;
  }

  /**
   * Returns whether the FP32 storage of this weight is released: its values live only in its packed
   * MX weight until something reads them as an ordinary array.
   *
   * @return true while released
   */
  public boolean isFp32Released() {
    return fp32Released;
  }

  /**
   * Frees the FP32 storage of this weight, whose values the packed MX weight now holds; shape, data
   * type, device, name and identity stay. The caller holds this array's monitor and has checked
   * that the MX weight can write its values back ({@link
   * io.djlmx.kernel.PreparedWeight#canDequantize()}).
   */
  void releaseFp32() {
    if (fp32Released || closed) {
      return;
    }
    // PtNDArray caches its metadata on first use: cache it now, while it describes the real tensor.
    delegate.getShape();
    delegate.getDataType();
    delegate.getDevice();
    delegate.hasGradient();
    PtNDArray empty = (PtNDArray) manager.getShadow().create(new Shape(0), DataType.FLOAT32);
    // intern swaps the native tensor under the same Java array: every holder of it stays valid.
    delegate.intern(empty);
    fp32Released = true;
  }

  /**
   * Writes the MX weight's values (dequantized: exactly the MX values, not the original FP32 ones)
   * into a fresh FP32 tensor that becomes this array's storage again.
   */
  private synchronized void rematerialize() {
    if (!fp32Released) {
      return;
    }
    MxWeight mx = weight;
    if (mx == null || mx.prepared() == null) {
      throw new IllegalStateException(
          "FP32 storage of parameter " + getName() + " was released and its MX weight is gone");
    }
    PtNDArray full = (PtNDArray) manager.getShadow().create(delegate.getShape(), DataType.FLOAT32);
    try {
      mx.prepared().dequantizeInto(MemorySegment.ofBuffer(full.toByteBuffer(true)));
    } catch (RuntimeException e) {
      full.close();
      throw e;
    }
    delegate.intern(full);
    fp32Released = false;
    // The MX weight still matches these values: keep it (no repack).
    mx.setFingerprint(MxLinear.fingerprint(this));
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
    PtNDArray pt = pt();
    NDArray r = pt.toDevice(device, copy);
    return r == pt ? this : wrap(r);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray toType(DataType dataType, boolean copy) {
    PtNDArray pt = pt();
    NDArray r = pt.toType(dataType, copy);
    return r == pt ? this : wrap(r);
  }

  /** {@inheritDoc} */
  @Override
  public void set(Buffer buffer) {
    pt().set(buffer);
    markModified();
  }

  /** {@inheritDoc} */
  @Override
  public void intern(NDArray replaced) {
    pt().intern(unwrap(replaced));
    markModified();
  }

  /** {@inheritDoc} */
  @Override
  public NDArray get(NDManager manager, long... indices) {
    return wrap(pt().get(MxNDManager.shadowOf(manager), indices));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray take(NDManager manager, NDArray index) {
    return wrap(pt().take(MxNDManager.shadowOf(manager), unwrap(index)));
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
      MxWeight old = weight;
      weight = null;
      if (old != null) {
        old.close();
      }
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
    return wrap(pt().abs());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray acos() {
    return wrap(pt().acos());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray acosh() {
    return wrap(pt().acosh());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray add(Number a0) {
    return wrap(pt().add(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray add(NDArray a0) {
    return wrap(pt().add(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray addi(Number a0) {
    return wrap(pt().addi(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray addi(NDArray a0) {
    return wrap(pt().addi(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray all() {
    return wrap(pt().all());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray any() {
    return wrap(pt().any());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray argMax() {
    return wrap(pt().argMax());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray argMax(int a0) {
    return wrap(pt().argMax(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray argMin() {
    return wrap(pt().argMin());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray argMin(int a0) {
    return wrap(pt().argMin(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray argSort(int a0, boolean a1) {
    return wrap(pt().argSort(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray asin() {
    return wrap(pt().asin());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray asinh() {
    return wrap(pt().asinh());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray atan() {
    return wrap(pt().atan());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray atan2(NDArray a0) {
    return wrap(pt().atan2(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray atanh() {
    return wrap(pt().atanh());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray batchDot(NDArray a0) {
    return wrap(pt().batchDot(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray batchMatMul(NDArray a0) {
    return wrap(pt().batchMatMul(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray booleanMask(NDArray a0, int a1) {
    return wrap(pt().booleanMask(MxNDArray.unwrap(a0), a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray broadcast(Shape a0) {
    return wrap(pt().broadcast(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray cbrt() {
    return wrap(pt().cbrt());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray ceil() {
    return wrap(pt().ceil());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray clip(Number a0, Number a1) {
    return wrap(pt().clip(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray complex() {
    return wrap(pt().complex());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray conj() {
    return wrap(pt().conj());
  }

  /** {@inheritDoc} */
  @Override
  public boolean contentEquals(Number a0) {
    return pt().contentEquals(a0);
  }

  /** {@inheritDoc} */
  @Override
  public boolean contentEquals(NDArray a0) {
    return pt().contentEquals(MxNDArray.unwrap(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray cos() {
    return wrap(pt().cos());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray cosh() {
    return wrap(pt().cosh());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray cumProd(int a0, DataType a1) {
    return wrap(pt().cumProd(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray cumProd(int a0) {
    return wrap(pt().cumProd(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray cumSum() {
    return wrap(pt().cumSum());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray cumSum(int a0) {
    return wrap(pt().cumSum(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray diagonal() {
    return wrap(pt().diagonal());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray diagonal(int a0, int a1, int a2) {
    return wrap(pt().diagonal(a0, a1, a2));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray diagonal(int a0) {
    return wrap(pt().diagonal(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray diff(int a0, int a1) {
    return wrap(pt().diff(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray div(Number a0) {
    return wrap(pt().div(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray div(NDArray a0) {
    return wrap(pt().div(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray divi(Number a0) {
    return wrap(pt().divi(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray divi(NDArray a0) {
    return wrap(pt().divi(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray dot(NDArray a0) {
    return wrap(pt().dot(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray duplicate() {
    return wrap(pt().duplicate());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray eq(Number a0) {
    return wrap(pt().eq(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray eq(NDArray a0) {
    return wrap(pt().eq(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray erf() {
    return wrap(pt().erf());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray erfinv() {
    return wrap(pt().erfinv());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray exp() {
    return wrap(pt().exp());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray expandDims(int a0) {
    return wrap(pt().expandDims(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray fft(long a0, long a1) {
    return wrap(pt().fft(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray fft2(long[] a0, long[] a1) {
    return wrap(pt().fft2(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray flatten() {
    return wrap(pt().flatten());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray flatten(int a0, int a1) {
    return wrap(pt().flatten(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray flip(int... a0) {
    return wrap(pt().flip(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray floor() {
    return wrap(pt().floor());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray gammaln() {
    return wrap(pt().gammaln());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray gather(NDArray a0, int a1) {
    return wrap(pt().gather(MxNDArray.unwrap(a0), a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray gatherNd(NDArray a0) {
    return wrap(pt().gatherNd(MxNDArray.unwrap(a0)));
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
    return wrap(pt().getGradient());
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
    return wrap(pt().gt(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray gt(NDArray a0) {
    return wrap(pt().gt(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray gte(Number a0) {
    return wrap(pt().gte(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray gte(NDArray a0) {
    return wrap(pt().gte(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public boolean hasGradient() {
    return delegate.hasGradient();
  }

  /** {@inheritDoc} */
  @Override
  public NDArray ifft(long a0, long a1) {
    return wrap(pt().ifft(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray ifft2(long[] a0, long[] a1) {
    return wrap(pt().ifft2(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray inverse() {
    return wrap(pt().inverse());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray irfft(long a0, long a1) {
    return wrap(pt().irfft(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray isInfinite() {
    return wrap(pt().isInfinite());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray isNaN() {
    return wrap(pt().isNaN());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray log() {
    return wrap(pt().log());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray log10() {
    return wrap(pt().log10());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray log2() {
    return wrap(pt().log2());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray logSoftmax(int a0) {
    return wrap(pt().logSoftmax(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray logicalAnd(NDArray a0) {
    return wrap(pt().logicalAnd(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray logicalNot() {
    return wrap(pt().logicalNot());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray logicalOr(NDArray a0) {
    return wrap(pt().logicalOr(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray logicalXor(NDArray a0) {
    return wrap(pt().logicalXor(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray lt(Number a0) {
    return wrap(pt().lt(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray lt(NDArray a0) {
    return wrap(pt().lt(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray lte(Number a0) {
    return wrap(pt().lte(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray lte(NDArray a0) {
    return wrap(pt().lte(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray matMul(NDArray a0) {
    return wrap(pt().matMul(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray max() {
    return wrap(pt().max());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray max(int[] a0, boolean a1) {
    return wrap(pt().max(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray maximum(Number a0) {
    return wrap(pt().maximum(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray maximum(NDArray a0) {
    return wrap(pt().maximum(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray mean() {
    return wrap(pt().mean());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray mean(int[] a0, boolean a1) {
    return wrap(pt().mean(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray median() {
    return wrap(pt().median());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray median(int[] a0) {
    return wrap(pt().median(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray min() {
    return wrap(pt().min());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray min(int[] a0, boolean a1) {
    return wrap(pt().min(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray minimum(Number a0) {
    return wrap(pt().minimum(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray minimum(NDArray a0) {
    return wrap(pt().minimum(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray mod(Number a0) {
    return wrap(pt().mod(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray mod(NDArray a0) {
    return wrap(pt().mod(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray modi(Number a0) {
    return wrap(pt().modi(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray modi(NDArray a0) {
    return wrap(pt().modi(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray mul(Number a0) {
    return wrap(pt().mul(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray mul(NDArray a0) {
    return wrap(pt().mul(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray muli(Number a0) {
    return wrap(pt().muli(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray muli(NDArray a0) {
    return wrap(pt().muli(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray neg() {
    return wrap(pt().neg());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray negi() {
    return wrap(pt().negi());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray neq(Number a0) {
    return wrap(pt().neq(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray neq(NDArray a0) {
    return wrap(pt().neq(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray none() {
    return wrap(pt().none());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray nonzero() {
    return wrap(pt().nonzero());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray norm(boolean a0) {
    return wrap(pt().norm(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray norm(int a0, int[] a1, boolean a2) {
    return wrap(pt().norm(a0, a1, a2));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray normalize(double a0, long a1, double a2) {
    return wrap(pt().normalize(a0, a1, a2));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray oneHot(int a0, DataType a1) {
    return wrap(pt().oneHot(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray oneHot(int a0, float a1, float a2, DataType a3) {
    return wrap(pt().oneHot(a0, a1, a2, a3));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray oneHot(int a0) {
    return wrap(pt().oneHot(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray pad(Shape a0, double a1) {
    return wrap(pt().pad(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray percentile(Number a0, int[] a1) {
    return wrap(pt().percentile(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray percentile(Number a0) {
    return wrap(pt().percentile(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray pow(Number a0) {
    return wrap(pt().pow(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray pow(NDArray a0) {
    return wrap(pt().pow(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray powi(Number a0) {
    return wrap(pt().powi(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray powi(NDArray a0) {
    return wrap(pt().powi(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray prod() {
    return wrap(pt().prod());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray prod(int[] a0, boolean a1) {
    return wrap(pt().prod(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray put(NDArray a0, NDArray a1) {
    return wrap(pt().put(MxNDArray.unwrap(a0), MxNDArray.unwrap(a1)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray real() {
    return wrap(pt().real());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray repeat(long[] a0) {
    return wrap(pt().repeat(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray repeat(Shape a0) {
    return wrap(pt().repeat(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray repeat(int a0, long a1) {
    return wrap(pt().repeat(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray repeat(long a0) {
    return wrap(pt().repeat(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray reshape(Shape a0) {
    return wrap(pt().reshape(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray rfft(long a0, long a1) {
    return wrap(pt().rfft(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray rotate90(int a0, int[] a1) {
    return wrap(pt().rotate90(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray round() {
    return wrap(pt().round());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray scatter(NDArray a0, NDArray a1, int a2) {
    return wrap(pt().scatter(MxNDArray.unwrap(a0), MxNDArray.unwrap(a1), a2));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sequenceMask(NDArray a0, float a1) {
    return wrap(pt().sequenceMask(MxNDArray.unwrap(a0), a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sequenceMask(NDArray a0) {
    return wrap(pt().sequenceMask(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public void setName(String a0) {
    delegate.setName(a0);
  }

  /** {@inheritDoc} */
  @Override
  public void setRequiresGradient(boolean a0) {
    pt().setRequiresGradient(a0);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sign() {
    return wrap(pt().sign());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray signi() {
    return wrap(pt().signi());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sin() {
    return wrap(pt().sin());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sinh() {
    return wrap(pt().sinh());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray softmax(int a0) {
    return wrap(pt().softmax(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sort() {
    return wrap(pt().sort());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sort(int a0) {
    return wrap(pt().sort(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDList split(long[] a0, int a1) {
    return wrap(pt().split(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDList split(long a0, int a1) {
    return wrap(pt().split(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sqrt() {
    return wrap(pt().sqrt());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray square() {
    return wrap(pt().square());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray squeeze() {
    return wrap(pt().squeeze());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray squeeze(int[] a0) {
    return wrap(pt().squeeze(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray squeeze(int a0) {
    return wrap(pt().squeeze(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray stft(long a0, long a1, boolean a2, NDArray a3, boolean a4, boolean a5) {
    return wrap(pt().stft(a0, a1, a2, MxNDArray.unwrap(a3), a4, a5));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray stopGradient() {
    return wrap(pt().stopGradient());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sub(Number a0) {
    return wrap(pt().sub(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sub(NDArray a0) {
    return wrap(pt().sub(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray subi(Number a0) {
    return wrap(pt().subi(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray subi(NDArray a0) {
    return wrap(pt().subi(MxNDArray.unwrap(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sum() {
    return wrap(pt().sum());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sum(int[] a0, boolean a1) {
    return wrap(pt().sum(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray swapAxes(int a0, int a1) {
    return wrap(pt().swapAxes(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray tan() {
    return wrap(pt().tan());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray tanh() {
    return wrap(pt().tanh());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray tile(long[] a0) {
    return wrap(pt().tile(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray tile(Shape a0) {
    return wrap(pt().tile(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray tile(int a0, long a1) {
    return wrap(pt().tile(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray tile(long a0) {
    return wrap(pt().tile(a0));
  }

  /** {@inheritDoc} */
  @Override
  public ByteBuffer toByteBuffer(boolean a0) {
    return pt().toByteBuffer(a0);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray toDegrees() {
    return wrap(pt().toDegrees());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray toDense() {
    return wrap(pt().toDense());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray toRadians() {
    return wrap(pt().toRadians());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray toSparse(SparseFormat a0) {
    return wrap(pt().toSparse(a0));
  }

  /** {@inheritDoc} */
  @Override
  public String[] toStringArray(Charset a0) {
    return pt().toStringArray(a0);
  }

  /** {@inheritDoc} */
  @Override
  public NDList topK(int a0, int a1, boolean a2, boolean a3) {
    return wrap(pt().topK(a0, a1, a2, a3));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray trace(int a0, int a1, int a2) {
    return wrap(pt().trace(a0, a1, a2));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray transpose() {
    return wrap(pt().transpose());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray transpose(int... a0) {
    return wrap(pt().transpose(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray trunc() {
    return wrap(pt().trunc());
  }

  /** {@inheritDoc} */
  @Override
  public NDList unique(Integer a0, boolean a1, boolean a2, boolean a3) {
    return wrap(pt().unique(a0, a1, a2, a3));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray xlogy(NDArray a0) {
    return wrap(pt().xlogy(MxNDArray.unwrap(a0)));
  }
}

package io.djlmx.engine;

import ai.djl.Device;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.internal.NDArrayEx;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import io.djlmx.kernel.cuda.CudaMxMatrix;
import io.djlmx.kernel.cuda.CudaOps;
import io.djlmx.kernel.cuda.DeviceBuffer;
import java.lang.foreign.MemorySegment;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.Charset;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * An MX array in GPU memory owned by the MX engine: a dense row-major block of device memory
 * ({@link DeviceStorage}), its shape and data type.
 *
 * <p>Made by an {@link MxNDManager} whose device is a GPU; freed when the array or its manager
 * closes (also through {@link NDScope}). Reshapes are views sharing the memory; everything else
 * writes new device memory. The op set real models use runs on the MX CUDA kernels ({@link
 * CudaOps}, {@link io.djlmx.kernel.cuda.CudaMxLinear}) without PyTorch: elementwise arithmetic with
 * broadcasting, activations, softmax, layer norm, embedding, reshape/transpose/slice/broadcast,
 * reductions, matMul, casts and {@code linear} on MX weights packed once and kept on the device.
 * Every other op copies its arrays to the host, runs on PyTorch and copies the results back; each
 * such fallback is counted ({@link MxFallbacks}) and logged once per op name, and fails with a
 * clear {@link EngineException} when the engine runs without PyTorch ({@link HostEngine}).
 */
public final class MxCudaNDArray implements NDArray {

  private volatile DeviceStorage storage;
  private volatile Shape shape;
  private volatile DataType dataType;
  private final String uid;
  private final Device device;
  private final MxCudaNDArrayEx ex;
  private MxNDManager manager;
  private String name;
  private volatile long version;
  private volatile boolean closed;
  private PackedWeight packed;

  /** Tests set this to fill every new array with NaN before a kernel writes it. */
  static volatile boolean poisonNewArrays =
      Boolean.parseBoolean(System.getProperty("mx.cuda.poison", "false"));

  /**
   * An MX weight packed for the CUDA linear kernels, tied to the array version it was made from.
   */
  record PackedWeight(CudaMxMatrix matrix, long version, String format) {}

  private MxCudaNDArray(
      MxNDManager manager, DeviceStorage storage, Shape shape, DataType type, Device device) {
    this.manager = manager;
    this.storage = storage;
    this.shape = shape;
    this.dataType = type;
    this.uid = UUID.randomUUID().toString();
    this.device = device;
    this.ex = new MxCudaNDArrayEx(this);
    manager.attachInternal(uid, this);
    NDScope.register(this);
  }

  // ---------------------------------------------------------------- creation

  private static void checkType(DataType type) {
    if (type == null || type.getNumOfBytes() <= 0 || type == DataType.STRING) {
      throw new IllegalArgumentException("MX GPU arrays cannot hold data type " + type);
    }
  }

  static long byteSize(Shape shape, DataType type) {
    return shape.size() * type.getNumOfBytes();
  }

  /**
   * Allocates an array (contents undefined).
   *
   * @throws io.djlmx.kernel.cuda.CudaOutOfMemoryException when the device memory does not fit
   */
  static MxCudaNDArray allocate(MxNDManager manager, Shape shape, DataType type) {
    if (!manager.isDeviceResident()) {
      throw new IllegalStateException("manager " + manager.getName() + " is not on a GPU");
    }
    return allocate(manager, shape, type, manager.getDevice());
  }

  /** Allocates on {@code device}, attached to {@code manager} (a detached array's results). */
  private static MxCudaNDArray allocate(
      MxNDManager manager, Shape shape, DataType type, Device device) {
    checkType(type);
    for (long d : shape.getShape()) {
      if (d < 0) {
        throw new IllegalArgumentException("cannot allocate an array of unknown shape " + shape);
      }
    }
    DeviceStorage s = DeviceStorage.allocate(byteSize(shape, type));
    try {
      if (poisonNewArrays) {
        s.buffer().fill32(0x7FC00000);
      }
      return new MxCudaNDArray(manager, s, shape, type, device);
    } catch (RuntimeException e) {
      s.release();
      throw e;
    }
  }

  static MxCudaNDArray fromBuffer(MxNDManager manager, Buffer data, Shape shape, DataType type) {
    checkType(type);
    long bytes = byteSize(shape, type);
    ByteBuffer bb;
    if (data instanceof ByteBuffer b && b.isDirect() && b.order() == ByteOrder.nativeOrder()) {
      bb = b.duplicate().order(ByteOrder.nativeOrder());
    } else {
      int count = Math.toIntExact(shape.size());
      BaseNDManager.validateBuffer(data, type, count);
      bb = ByteBuffer.allocateDirect(Math.toIntExact(bytes)).order(ByteOrder.nativeOrder());
      BaseNDManager.copyBuffer(data, bb);
      bb.rewind();
    }
    if (bb.remaining() < bytes) {
      throw new IllegalArgumentException(
          "buffer holds " + bb.remaining() + " bytes, " + shape + " " + type + " needs " + bytes);
    }
    MxCudaNDArray a = allocate(manager, shape, type);
    try {
      if (bytes > 0) {
        a.buffer().copyFrom(MemorySegment.ofBuffer(bb).asSlice(0, bytes));
      }
    } catch (RuntimeException e) {
      a.close();
      throw e;
    }
    return a;
  }

  static MxCudaNDArray fromHost(MxNDManager manager, NDArray array) {
    MxCudaNDArray a =
        fromBuffer(manager, array.toByteBuffer(), array.getShape(), array.getDataType());
    a.setName(array.getName());
    return a;
  }

  static MxCudaNDArray zeros(MxNDManager manager, Shape shape, DataType type) {
    MxCudaNDArray a = allocate(manager, shape, type);
    a.buffer().fill8(0);
    return a;
  }

  static MxCudaNDArray full(MxNDManager manager, Shape shape, float value, DataType type) {
    if (type == DataType.FLOAT32 || type == DataType.INT32) {
      MxCudaNDArray a = allocate(manager, shape, type);
      a.buffer().fill32(type == DataType.FLOAT32 ? Float.floatToRawIntBits(value) : (int) value);
      return a;
    }
    int n = Math.toIntExact(shape.size());
    ByteBuffer bb = hostBuffer(n, type);
    for (int i = 0; i < n; i++) {
      put(bb, type, value);
    }
    bb.rewind();
    return fromBuffer(manager, bb, shape, type);
  }

  static MxCudaNDArray arange(
      MxNDManager manager, double start, double stop, double step, DataType type) {
    if (step == 0) {
      throw new IllegalArgumentException("arange step must not be 0");
    }
    int n = (int) Math.max(0, Math.ceil((stop - start) / step));
    ByteBuffer bb = hostBuffer(n, type);
    for (int i = 0; i < n; i++) {
      put(bb, type, start + i * step);
    }
    bb.rewind();
    return fromBuffer(manager, bb, new Shape(n), type);
  }

  /** Random values made on the host with Java's generator (no PyTorch), then uploaded. */
  static MxCudaNDArray random(
      MxNDManager manager, Shape shape, DataType type, boolean normal, float a, float b) {
    int n = Math.toIntExact(shape.size());
    SplittableRandom rnd = new SplittableRandom();
    ByteBuffer bb = hostBuffer(n, type);
    for (int i = 0; i < n; i++) {
      double v;
      if (normal) {
        double u1 = 1.0 - rnd.nextDouble();
        double u2 = rnd.nextDouble();
        v = a + b * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
      } else {
        v = a + (b - a) * rnd.nextDouble();
      }
      put(bb, type, v);
    }
    bb.rewind();
    return fromBuffer(manager, bb, shape, type);
  }

  /** Makes an array with a PyTorch factory on the host and uploads it (a counted fallback). */
  static <T> T createOnHost(MxNDManager manager, String op, Function<PtNDManager, T> factory) {
    try (HostFallback f = HostFallback.begin("NDManager." + op, manager)) {
      return f.back(factory.apply(f.manager()));
    }
  }

  private static ByteBuffer hostBuffer(int n, DataType type) {
    checkType(type);
    return ByteBuffer.allocateDirect(Math.max(1, n * type.getNumOfBytes()))
        .order(ByteOrder.nativeOrder());
  }

  private static void put(ByteBuffer bb, DataType type, double v) {
    switch (type) {
      case FLOAT32 -> bb.putFloat((float) v);
      case FLOAT64 -> bb.putDouble(v);
      case INT32 -> bb.putInt((int) v);
      case INT64 -> bb.putLong((long) v);
      case INT8, UINT8 -> bb.put((byte) (int) v);
      case BOOLEAN -> bb.put((byte) (v != 0 ? 1 : 0));
      default ->
          throw new IllegalArgumentException(
              "MX GPU arrays cannot fill data type " + type + " yet");
    }
  }

  // ---------------------------------------------------------------- internals

  /**
   * Returns the device memory of this array; valid until the array closes.
   *
   * @return the device buffer (dense, row-major)
   */
  public DeviceBuffer buffer() {
    DeviceStorage s = storage;
    if (closed || s == null) {
      throw new IllegalStateException("MX GPU array " + uid + " is closed");
    }
    return s.buffer();
  }

  /**
   * Returns how many times this array has been modified in place (a packed MX weight of an older
   * version is rebuilt).
   *
   * @return the modification count
   */
  public long getVersion() {
    return version;
  }

  void markModified() {
    version++;
  }

  synchronized PackedWeight packed() {
    return packed;
  }

  synchronized void setPacked(PackedWeight weight) {
    PackedWeight old = packed;
    packed = weight;
    if (old != null && old != weight) {
      old.matrix().close();
    }
  }

  private long[] dims() {
    return shape.getShape();
  }

  private boolean isF32() {
    return dataType == DataType.FLOAT32;
  }

  private MxCudaNDArray newArray(long[] dims, DataType type) {
    return allocate(manager, new Shape(dims), type, device);
  }

  private MxCudaNDArray view(Shape s) {
    if (s.size() != shape.size()) {
      throw new IllegalArgumentException("cannot reshape " + shape + " to " + s);
    }
    DeviceStorage st = storage.retain();
    try {
      return new MxCudaNDArray(manager, st, s, dataType, device);
    } catch (RuntimeException e) {
      st.release();
      throw e;
    }
  }

  private static Shape inferShape(Shape target, long size) {
    long[] d = target.getShape().clone();
    int unknown = -1;
    long known = 1;
    for (int i = 0; i < d.length; i++) {
      if (d[i] == -1) {
        if (unknown >= 0) {
          throw new IllegalArgumentException("reshape to " + target + ": more than one -1");
        }
        unknown = i;
      } else {
        known *= d[i];
      }
    }
    if (unknown >= 0) {
      if (known == 0 || size % known != 0) {
        throw new IllegalArgumentException("cannot reshape " + size + " elements to " + target);
      }
      d[unknown] = size / known;
    }
    return new Shape(d);
  }

  private static int axis(int a, int rank) {
    int r = a < 0 ? a + rank : a;
    if (r < 0 || r >= Math.max(rank, 1)) {
      throw new IllegalArgumentException("axis " + a + " out of range for rank " + rank);
    }
    return r;
  }

  /** Runs {@code fn} on host copies through PyTorch and brings the results back (counted). */
  <T> T fallback(String op, BiFunction<HostFallback, PtNDArray, T> fn) {
    try (HostFallback f = HostFallback.begin(op, manager)) {
      return f.back(fn.apply(f, f.host(this)));
    }
  }

  /** As {@link #fallback} for ops that modify their arguments: host copies are written back. */
  void fallbackInPlace(String op, java.util.function.BiConsumer<HostFallback, PtNDArray> fn) {
    try (HostFallback f = HostFallback.begin(op, manager)) {
      fn.accept(f, f.host(this));
      f.syncBack();
    }
  }

  /** Returns {@code other} as a device array of this device, or null if it is not one. */
  private MxCudaNDArray onDevice(NDArray other) {
    if (other instanceof MxCudaNDArray c && !c.isReleased() && c.getDevice().equals(getDevice())) {
      return c;
    }
    return null;
  }

  private NDArray binary(String op, NDArray other, CudaOps.Binary b, boolean inPlace) {
    MxCudaNDArray o = onDevice(other);
    if (o == null || !isF32() || o.dataType != DataType.FLOAT32) {
      return fallback(
          op,
          (f, h) -> {
            NDArray ho = f.host(other);
            return switch (b) {
              case ADD -> inPlace ? h.addi(ho) : h.add(ho);
              case SUB -> inPlace ? h.subi(ho) : h.sub(ho);
              case MUL -> inPlace ? h.muli(ho) : h.mul(ho);
              case DIV -> inPlace ? h.divi(ho) : h.div(ho);
              case MAX -> h.maximum(ho);
              case MIN -> h.minimum(ho);
              case POW -> inPlace ? h.powi(ho) : h.pow(ho);
            };
          });
    }
    long[] out = CudaOps.broadcastShape(dims(), o.dims());
    if (inPlace && !Arrays.equals(out, dims())) {
      throw new IllegalArgumentException(
          op + ": result shape " + Arrays.toString(out) + " differs from this array's " + shape);
    }
    MxCudaNDArray r = inPlace ? this : newArray(out, DataType.FLOAT32);
    CudaOps.binary(r.buffer(), out, buffer(), dims(), o.buffer(), o.dims(), b);
    if (inPlace) {
      markModified();
    }
    return r;
  }

  private NDArray map(String op, CudaOps.Unary u, float p, boolean inPlace) {
    if (!isF32()) {
      return fallback(op, (f, h) -> hostMap(h, op, p, inPlace));
    }
    MxCudaNDArray r = inPlace ? this : newArray(dims(), DataType.FLOAT32);
    CudaOps.map(r.buffer(), buffer(), shape.size(), u, p);
    if (inPlace) {
      markModified();
    }
    return r;
  }

  private static NDArray hostMap(NDArray h, String op, float p, boolean inPlace) {
    return switch (op) {
      case "add" -> inPlace ? h.addi(p) : h.add(p);
      case "sub" -> inPlace ? h.subi(p) : h.sub(p);
      case "mul" -> inPlace ? h.muli(p) : h.mul(p);
      case "div" -> inPlace ? h.divi(p) : h.div(p);
      case "pow" -> inPlace ? h.powi(p) : h.pow(p);
      case "maximum" -> h.maximum(p);
      case "minimum" -> h.minimum(p);
      case "neg" -> inPlace ? h.negi() : h.neg();
      case "abs" -> h.abs();
      case "exp" -> h.exp();
      case "log" -> h.log();
      case "sqrt" -> h.sqrt();
      case "square" -> h.square();
      case "tanh" -> h.tanh();
      case "sin" -> h.sin();
      case "cos" -> h.cos();
      case "floor" -> h.floor();
      case "ceil" -> h.ceil();
      case "sign" -> inPlace ? h.signi() : h.sign();
      case "sigmoid" -> h.getNDArrayInternal().sigmoid();
      case "relu" -> h.getNDArrayInternal().relu();
      case "gelu" -> h.getNDArrayInternal().gelu();
      default -> throw new IllegalStateException("no host form of " + op);
    };
  }

  NDArray activation(String op, CudaOps.Unary u) {
    return map(op, u, 0, false);
  }

  private NDArray reduce(String op, CudaOps.Reduce r, int[] axes, boolean keepDims) {
    if (!isF32()) {
      return fallback(
          op,
          (f, h) ->
              switch (r) {
                case SUM -> axes == null ? h.sum() : h.sum(axes, keepDims);
                case MEAN -> axes == null ? h.mean() : h.mean(axes, keepDims);
                case MAX -> axes == null ? h.max() : h.max(axes, keepDims);
                case MIN -> axes == null ? h.min() : h.min(axes, keepDims);
                case PROD -> axes == null ? h.prod() : h.prod(axes, keepDims);
              });
    }
    long[] d = dims();
    if (axes == null) {
      MxCudaNDArray out = newArray(new long[0], DataType.FLOAT32);
      CudaOps.reduce(out.buffer(), buffer(), 1, shape.size(), 1, r);
      return out;
    }
    boolean[] reduced = new boolean[d.length];
    for (int a : axes) {
      reduced[axis(a, d.length)] = true;
    }
    MxCudaNDArray cur = this;
    long[] cd = d.clone();
    for (int a = d.length - 1; a >= 0; a--) {
      if (!reduced[a]) {
        continue;
      }
      long outer = 1;
      for (int i = 0; i < a; i++) {
        outer *= cd[i];
      }
      long inner = 1;
      for (int i = a + 1; i < cd.length; i++) {
        inner *= cd[i];
      }
      long[] nd = cd.clone();
      nd[a] = 1;
      MxCudaNDArray next = newArray(nd, DataType.FLOAT32);
      CudaOps.reduce(next.buffer(), cur.buffer(), outer, cd[a], inner, r);
      if (cur != this) {
        cur.close();
      }
      cur = next;
      cd = nd;
    }
    if (keepDims) {
      return cur;
    }
    long[] squeezed = new long[d.length - countTrue(reduced)];
    for (int i = 0, j = 0; i < d.length; i++) {
      if (!reduced[i]) {
        squeezed[j++] = d[i];
      }
    }
    NDArray res = cur.view(new Shape(squeezed));
    if (cur != this) {
      cur.close();
    }
    return res;
  }

  private static int countTrue(boolean[] b) {
    int n = 0;
    for (boolean x : b) {
      n += x ? 1 : 0;
    }
    return n;
  }

  private MxCudaNDArray permuted(int[] axes) {
    int rank = dims().length;
    int[] ax = new int[axes.length];
    for (int i = 0; i < axes.length; i++) {
      ax[i] = axis(axes[i], rank);
    }
    long[] outDims = new long[rank];
    for (int i = 0; i < rank && i < ax.length; i++) {
      outDims[i] = dims()[ax[i]];
    }
    MxCudaNDArray out = newArray(outDims, dataType);
    try {
      CudaOps.permute(out.buffer(), buffer(), elementBytes(), dims(), ax);
    } catch (RuntimeException e) {
      out.close();
      throw e;
    }
    return out;
  }

  private int elementBytes() {
    int b = dataType.getNumOfBytes();
    if (b != 1 && b != 4 && b != 8) {
      throw new IllegalArgumentException("no CUDA copy kernel for " + dataType);
    }
    return b;
  }

  private NDArray softmaxOp(String op, int axis, boolean log) {
    if (!isF32() || dims().length == 0) {
      return fallback(op, (f, h) -> log ? h.logSoftmax(axis) : h.softmax(axis));
    }
    int rank = dims().length;
    int a = axis(axis, rank);
    if (a == rank - 1) {
      long cols = dims()[rank - 1];
      MxCudaNDArray out = newArray(dims(), DataType.FLOAT32);
      CudaOps.softmax(out.buffer(), buffer(), cols == 0 ? 0 : shape.size() / cols, cols, log);
      return out;
    }
    int[] perm = new int[rank];
    for (int i = 0; i < rank; i++) {
      perm[i] = i;
    }
    perm[a] = rank - 1;
    perm[rank - 1] = a;
    try (MxCudaNDArray t = permuted(perm);
        MxCudaNDArray s = (MxCudaNDArray) t.softmaxOp(op, -1, log)) {
      return s.permuted(perm);
    }
  }

  private static long[] dimsOf(NDArray a) {
    return a.getShape().getShape();
  }

  private NDArray matMulOp(String op, NDArray other) {
    MxCudaNDArray o = onDevice(other);
    if (o == null || !isF32() || o.dataType != DataType.FLOAT32) {
      return fallback(op, (f, h) -> h.matMul(f.host(other)));
    }
    long[] a = dims();
    long[] b = o.dims();
    if (a.length == 0 || b.length == 0) {
      return binary(op, other, CudaOps.Binary.MUL, false);
    }
    boolean vecA = a.length == 1;
    boolean vecB = b.length == 1;
    long[] a2 = vecA ? new long[] {1, a[0]} : a;
    long[] b2 = vecB ? new long[] {b[0], 1} : b;
    long m = a2[a2.length - 2];
    long k = a2[a2.length - 1];
    long n = b2[b2.length - 1];
    if (b2[b2.length - 2] != k) {
      throw new IllegalArgumentException(
          "matMul: shapes " + shape + " and " + o.getShape() + " do not agree on the inner size");
    }
    long[] batchA = Arrays.copyOf(a2, a2.length - 2);
    long[] batchB = Arrays.copyOf(b2, b2.length - 2);
    long[] batch = CudaOps.broadcastShape(batchA, batchB);
    long nb = CudaOps.size(batch);
    MxCudaNDArray ea = null;
    MxCudaNDArray eb = null;
    try {
      DeviceBuffer ba = buffer();
      DeviceBuffer bb = o.buffer();
      long sa = m * k;
      long sb = k * n;
      if (CudaOps.size(batchA) == 1) {
        sa = 0;
      } else if (!Arrays.equals(batchA, batch)) {
        ea = expand(this, a2, batch);
        ba = ea.buffer();
      }
      if (CudaOps.size(batchB) == 1) {
        sb = 0;
      } else if (!Arrays.equals(batchB, batch)) {
        eb = expand(o, b2, batch);
        bb = eb.buffer();
      }
      long[] outDims = Arrays.copyOf(batch, batch.length + 2);
      outDims[batch.length] = m;
      outDims[batch.length + 1] = n;
      MxCudaNDArray out = newArray(outDims, DataType.FLOAT32);
      CudaOps.matMul(out.buffer(), ba, bb, nb, m, n, k, sa, sb);
      if (vecA || vecB) {
        long[] fin = Arrays.copyOf(batch, batch.length + (vecA ? 0 : 1) + (vecB ? 0 : 1));
        int i = batch.length;
        if (!vecA) {
          fin[i++] = m;
        }
        if (!vecB) {
          fin[i] = n;
        }
        NDArray v = out.view(new Shape(fin));
        out.close();
        return v;
      }
      return out;
    } finally {
      if (ea != null) {
        ea.close();
      }
      if (eb != null) {
        eb.close();
      }
    }
  }

  /** Broadcasts the batch axes of a matrix operand {@code [..., r, c]} to {@code batch}. */
  private static MxCudaNDArray expand(MxCudaNDArray x, long[] dims, long[] batch) {
    long[] to = Arrays.copyOf(batch, batch.length + 2);
    to[batch.length] = dims[dims.length - 2];
    to[batch.length + 1] = dims[dims.length - 1];
    MxCudaNDArray out = x.newArray(to, x.dataType);
    CudaOps.broadcastTo(out.buffer(), x.buffer(), 4, dims, to);
    return out;
  }

  /** Copies the slice {@code min + i·step} of every axis (a view copied into new memory). */
  NDArray slice(long[] min, long[] step, Shape outShape, Shape squeezed) {
    long[] dense = CudaOps.strides(dims());
    long[] strides = new long[dense.length];
    long offset = 0;
    for (int d = 0; d < dense.length; d++) {
      strides[d] = dense[d] * step[d];
      offset += min[d] * dense[d];
    }
    MxCudaNDArray out = newArray(outShape.getShape(), dataType);
    CudaOps.stridedCopy(
        out.buffer(), buffer(), elementBytes(), outShape.getShape(), strides, offset);
    if (squeezed != null && !squeezed.equals(outShape)) {
      NDArray v = out.view(squeezed);
      out.close();
      return v;
    }
    return out;
  }

  private static CudaOps.ElementType elementType(DataType t) {
    return switch (t) {
      case FLOAT32 -> CudaOps.ElementType.F32;
      case FLOAT64 -> CudaOps.ElementType.F64;
      case INT32 -> CudaOps.ElementType.I32;
      case INT64 -> CudaOps.ElementType.I64;
      case INT8 -> CudaOps.ElementType.I8;
      case UINT8 -> CudaOps.ElementType.U8;
      case BOOLEAN -> CudaOps.ElementType.BOOL;
      default -> null;
    };
  }

  // ---------------------------------------------------------------- identity, memory, transfer

  /** {@inheritDoc} */
  @Override
  public MxNDManager getManager() {
    return manager;
  }

  /** {@inheritDoc} */
  @Override
  public String getUid() {
    return uid;
  }

  /** {@inheritDoc} */
  @Override
  public String getName() {
    return name;
  }

  /** {@inheritDoc} */
  @Override
  public void setName(String name) {
    this.name = name;
  }

  /** {@inheritDoc} */
  @Override
  public DataType getDataType() {
    return dataType;
  }

  /** {@inheritDoc} */
  @Override
  public Device getDevice() {
    return device; // where the memory is, whichever manager the array is attached to
  }

  /** {@inheritDoc} */
  @Override
  public Shape getShape() {
    return shape;
  }

  /** {@inheritDoc} */
  @Override
  public SparseFormat getSparseFormat() {
    return SparseFormat.DENSE;
  }

  /** {@inheritDoc} */
  @Override
  public NDArrayEx getNDArrayInternal() {
    return ex;
  }

  /** {@inheritDoc} */
  @Override
  public boolean isReleased() {
    return closed;
  }

  /** {@inheritDoc} */
  @Override
  public void attach(NDManager manager) {
    MxNDManager target = requireGpuManager(manager);
    detach();
    this.manager = target;
    target.attachInternal(uid, this);
  }

  /** {@inheritDoc} */
  @Override
  public void returnResource(NDManager manager) {
    MxNDManager target = requireGpuManager(manager);
    detach();
    this.manager = target;
    target.attachUncappedInternal(uid, this);
  }

  /** {@inheritDoc} */
  @Override
  public void tempAttach(NDManager manager) {
    MxNDManager target = requireGpuManager(manager);
    NDManager original = this.manager;
    detach();
    this.manager = target;
    target.tempAttachInternal(original, uid, this);
  }

  /** {@inheritDoc} */
  @Override
  public void detach() {
    manager.detachInternal(uid);
    manager = gpuSystemManager();
  }

  private MxNDManager gpuSystemManager() {
    return MxNDManager.getSystemManager();
  }

  private MxNDManager requireGpuManager(NDManager m) {
    if (m instanceof MxNDManager mx && mx.getDevice().equals(getDevice())) {
      return mx;
    }
    if (m instanceof MxNDManager mx && mx == MxNDManager.getSystemManager()) {
      return mx;
    }
    throw new IllegalArgumentException(
        "An MX GPU array can only be attached to an MX NDManager of "
            + getDevice()
            + ", got "
            + (m == null
                ? "null"
                : m.getEngine().getEngineName() + " manager on " + m.getDevice()));
  }

  /** Frees the device memory (shared with reshaped views until the last one closes). */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      setPacked(null);
      DeviceStorage s = storage;
      storage = null;
      if (s != null) {
        s.release();
      }
      manager.detachInternal(uid);
    }
  }

  /** {@inheritDoc} */
  @Override
  public ByteBuffer toByteBuffer(boolean tryDirect) {
    long bytes = byteSize(shape, dataType);
    ByteBuffer bb =
        ByteBuffer.allocateDirect(Math.toIntExact(bytes)).order(ByteOrder.nativeOrder());
    if (bytes > 0) {
      buffer().copyTo(MemorySegment.ofBuffer(bb));
    }
    return bb;
  }

  /** {@inheritDoc} */
  @Override
  public void set(Buffer data) {
    long bytes = byteSize(shape, dataType);
    ByteBuffer bb;
    if (data instanceof ByteBuffer b && b.isDirect() && b.order() == ByteOrder.nativeOrder()) {
      bb = b.duplicate();
    } else {
      BaseNDManager.validateBuffer(data, dataType, Math.toIntExact(shape.size()));
      bb = ByteBuffer.allocateDirect(Math.toIntExact(bytes)).order(ByteOrder.nativeOrder());
      BaseNDManager.copyBuffer(data, bb);
      bb.rewind();
    }
    if (bb.remaining() < bytes) {
      throw new IllegalArgumentException(
          "buffer holds "
              + bb.remaining()
              + " bytes, "
              + shape
              + " "
              + dataType
              + " needs "
              + bytes);
    }
    if (bytes > 0) {
      buffer().copyFrom(MemorySegment.ofBuffer(bb).asSlice(0, bytes));
    }
    markModified();
  }

  /** Copies device memory back from a host array of the same size (used by host fallbacks). */
  void setFromHost(NDArray host) {
    if (host.getShape().size() != shape.size() || host.getDataType() != dataType) {
      shape = host.getShape();
      dataType = host.getDataType();
      DeviceStorage old = storage;
      storage = DeviceStorage.allocate(byteSize(shape, dataType));
      old.release();
    }
    set(host.toByteBuffer());
  }

  /** {@inheritDoc} */
  @Override
  public void intern(NDArray replaced) {
    if (!(replaced instanceof MxCudaNDArray r) || r == this) {
      throw new IllegalArgumentException("an MX GPU array can only intern another MX GPU array");
    }
    DeviceStorage mine = storage;
    storage = r.storage.retain();
    shape = r.shape;
    dataType = r.dataType;
    if (mine != null) {
      mine.release();
    }
    r.close();
    markModified();
  }

  /** {@inheritDoc} */
  @Override
  public NDArray toDevice(Device device, boolean copy) {
    if (device.equals(getDevice())) {
      return copy ? duplicate() : this;
    }
    if (device.isGpu()) {
      throw new IllegalArgumentException(
          "MX GPU arrays live on gpu(0) only; cannot move " + getDevice() + " to " + device);
    }
    // To the host: a PyTorch CPU array on this manager's shadow (needs the host engine).
    PtNDManager host;
    try {
      host = manager.getShadow();
    } catch (EngineException e) {
      throw new EngineException(
          "Cannot copy an MX GPU array to " + device + ": " + e.getMessage(), e);
    }
    PtNDArray pt = (PtNDArray) host.create(toByteBuffer(), shape, dataType);
    pt.setName(name);
    return manager.wrap(pt);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray toType(DataType type, boolean copy) {
    if (type == dataType) {
      return copy ? duplicate() : this;
    }
    CudaOps.ElementType from = elementType(dataType);
    CudaOps.ElementType to = elementType(type);
    if (from == null || to == null) {
      return fallback("toType", (f, h) -> h.toType(type, true));
    }
    MxCudaNDArray out = newArray(dims(), type);
    CudaOps.cast(out.buffer(), to, buffer(), from, shape.size());
    return out;
  }

  /** {@inheritDoc} */
  @Override
  public NDArray duplicate() {
    MxCudaNDArray out = newArray(dims(), dataType);
    out.buffer().copyFromDevice(buffer(), byteSize(shape, dataType));
    out.setName(name);
    return out;
  }

  /** {@inheritDoc} */
  @Override
  public NDArray get(NDManager manager, long... indices) {
    return get(manager, new NDIndex(indices));
  }

  /** {@inheritDoc} */
  @Override
  public boolean contentEquals(Number number) {
    if (number == null) {
      return false;
    }
    double v = number.doubleValue();
    for (Number x : toArray()) {
      if (x.doubleValue() != v) {
        return false;
      }
    }
    return true;
  }

  /** {@inheritDoc} */
  @Override
  public boolean contentEquals(NDArray other) {
    if (other == null
        || !getShape().equals(other.getShape())
        || getDataType() != other.getDataType()) {
      return false;
    }
    return toByteBuffer().equals(other.toByteBuffer());
  }

  /** {@inheritDoc} */
  @Override
  public boolean equals(Object obj) {
    return obj instanceof NDArray other && contentEquals(other);
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
  public boolean hasGradient() {
    return false;
  }

  /** {@inheritDoc} */
  @Override
  public NDArray getGradient() {
    throw new IllegalStateException(
        "MX GPU arrays record no gradient (inference only): train on the CPU (PyTorch) path");
  }

  /**
   * Accepts the flag (DJL sets it on every parameter it initializes) but records nothing: MX GPU
   * arrays run inference only; {@link #getGradient()} says so. Train on the CPU (PyTorch) path.
   *
   * @param requiresGrad ignored
   */
  @Override
  public void setRequiresGradient(boolean requiresGrad) {
    // inference only: no autograd on device arrays
  }

  /** {@inheritDoc} */
  @Override
  public NDArray stopGradient() {
    return view(shape);
  }

  // ---------------------------------------------------------------- views and layout

  /** {@inheritDoc} */
  @Override
  public NDArray reshape(Shape newShape) {
    return view(inferShape(newShape, shape.size()));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray expandDims(int axis) {
    long[] d = dims();
    int a = axis < 0 ? axis + d.length + 1 : axis;
    if (a < 0 || a > d.length) {
      throw new IllegalArgumentException("expandDims axis " + axis + " out of range for " + shape);
    }
    long[] nd = new long[d.length + 1];
    System.arraycopy(d, 0, nd, 0, a);
    nd[a] = 1;
    System.arraycopy(d, a, nd, a + 1, d.length - a);
    return view(new Shape(nd));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray squeeze() {
    return view(new Shape(Arrays.stream(dims()).filter(x -> x != 1).toArray()));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray squeeze(int axis) {
    return squeeze(new int[] {axis});
  }

  /** {@inheritDoc} */
  @Override
  public NDArray squeeze(int[] axes) {
    long[] d = dims();
    boolean[] drop = new boolean[d.length];
    for (int a : axes) {
      int r = axis(a, d.length);
      if (d[r] != 1) {
        throw new IllegalArgumentException("cannot squeeze axis " + a + " of " + shape);
      }
      drop[r] = true;
    }
    long[] nd = new long[d.length - countTrue(drop)];
    for (int i = 0, j = 0; i < d.length; i++) {
      if (!drop[i]) {
        nd[j++] = d[i];
      }
    }
    return view(new Shape(nd));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray flatten() {
    return view(new Shape(shape.size()));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray flatten(int startDim, int endDim) {
    long[] d = dims();
    int s = axis(startDim, d.length);
    int e = axis(endDim, d.length);
    long[] nd = new long[d.length - (e - s)];
    int j = 0;
    for (int i = 0; i < s; i++) {
      nd[j++] = d[i];
    }
    long p = 1;
    for (int i = s; i <= e; i++) {
      p *= d[i];
    }
    nd[j++] = p;
    for (int i = e + 1; i < d.length; i++) {
      nd[j++] = d[i];
    }
    return view(new Shape(nd));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray transpose() {
    int r = dims().length;
    int[] perm = new int[r];
    for (int i = 0; i < r; i++) {
      perm[i] = r - 1 - i;
    }
    return permuted(perm);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray transpose(int... axes) {
    if (axes.length != dims().length) {
      throw new IllegalArgumentException(
          "transpose axes " + Arrays.toString(axes) + " do not match shape " + shape);
    }
    return permuted(axes);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray swapAxes(int axis1, int axis2) {
    int r = dims().length;
    int[] perm = new int[r];
    for (int i = 0; i < r; i++) {
      perm[i] = i;
    }
    int a = axis(axis1, r);
    int b = axis(axis2, r);
    perm[a] = b;
    perm[b] = a;
    return permuted(perm);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray broadcast(Shape target) {
    long[] to = target.getShape();
    MxCudaNDArray out = newArray(to, dataType);
    try {
      CudaOps.broadcastTo(out.buffer(), buffer(), elementBytes(), dims(), to);
    } catch (RuntimeException e) {
      out.close();
      throw e;
    }
    return out;
  }

  // ---------------------------------------------------------------- arithmetic

  /** {@inheritDoc} */
  @Override
  public NDArray add(Number n) {
    return map("add", CudaOps.Unary.ADD_SCALAR, n.floatValue(), false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray add(NDArray other) {
    return binary("add", other, CudaOps.Binary.ADD, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray addi(Number n) {
    return map("add", CudaOps.Unary.ADD_SCALAR, n.floatValue(), true);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray addi(NDArray other) {
    return binary("addi", other, CudaOps.Binary.ADD, true);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sub(Number n) {
    return map("sub", CudaOps.Unary.SUB_SCALAR, n.floatValue(), false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sub(NDArray other) {
    return binary("sub", other, CudaOps.Binary.SUB, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray subi(Number n) {
    return map("sub", CudaOps.Unary.SUB_SCALAR, n.floatValue(), true);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray subi(NDArray other) {
    return binary("subi", other, CudaOps.Binary.SUB, true);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray mul(Number n) {
    return map("mul", CudaOps.Unary.MUL_SCALAR, n.floatValue(), false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray mul(NDArray other) {
    return binary("mul", other, CudaOps.Binary.MUL, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray muli(Number n) {
    return map("mul", CudaOps.Unary.MUL_SCALAR, n.floatValue(), true);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray muli(NDArray other) {
    return binary("muli", other, CudaOps.Binary.MUL, true);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray div(Number n) {
    return map("div", CudaOps.Unary.DIV_SCALAR, n.floatValue(), false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray div(NDArray other) {
    return binary("div", other, CudaOps.Binary.DIV, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray divi(Number n) {
    return map("div", CudaOps.Unary.DIV_SCALAR, n.floatValue(), true);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray divi(NDArray other) {
    return binary("divi", other, CudaOps.Binary.DIV, true);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray pow(Number n) {
    return map("pow", CudaOps.Unary.POW_SCALAR, n.floatValue(), false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray pow(NDArray other) {
    return binary("pow", other, CudaOps.Binary.POW, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray powi(Number n) {
    return map("pow", CudaOps.Unary.POW_SCALAR, n.floatValue(), true);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray powi(NDArray other) {
    return binary("powi", other, CudaOps.Binary.POW, true);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray maximum(Number n) {
    return map("maximum", CudaOps.Unary.MAX_SCALAR, n.floatValue(), false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray maximum(NDArray other) {
    return binary("maximum", other, CudaOps.Binary.MAX, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray minimum(Number n) {
    return map("minimum", CudaOps.Unary.MIN_SCALAR, n.floatValue(), false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray minimum(NDArray other) {
    return binary("minimum", other, CudaOps.Binary.MIN, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray neg() {
    return map("neg", CudaOps.Unary.NEG, 0, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray negi() {
    return map("neg", CudaOps.Unary.NEG, 0, true);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray abs() {
    return map("abs", CudaOps.Unary.ABS, 0, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray exp() {
    return map("exp", CudaOps.Unary.EXP, 0, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray log() {
    return map("log", CudaOps.Unary.LOG, 0, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sqrt() {
    return map("sqrt", CudaOps.Unary.SQRT, 0, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray square() {
    return map("square", CudaOps.Unary.SQUARE, 0, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray tanh() {
    return map("tanh", CudaOps.Unary.TANH, 0, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sin() {
    return map("sin", CudaOps.Unary.SIN, 0, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray cos() {
    return map("cos", CudaOps.Unary.COS, 0, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray floor() {
    return map("floor", CudaOps.Unary.FLOOR, 0, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray ceil() {
    return map("ceil", CudaOps.Unary.CEIL, 0, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sign() {
    return map("sign", CudaOps.Unary.SIGN, 0, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray signi() {
    return map("sign", CudaOps.Unary.SIGN, 0, true);
  }

  // ---------------------------------------------------------------- softmax, reductions, matmul

  /** {@inheritDoc} */
  @Override
  public NDArray softmax(int axis) {
    return softmaxOp("softmax", axis, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray logSoftmax(int axis) {
    return softmaxOp("logSoftmax", axis, true);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sum() {
    return reduce("sum", CudaOps.Reduce.SUM, null, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sum(int[] axes, boolean keepDims) {
    return reduce("sum", CudaOps.Reduce.SUM, axes, keepDims);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray mean() {
    return reduce("mean", CudaOps.Reduce.MEAN, null, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray mean(int[] axes, boolean keepDims) {
    return reduce("mean", CudaOps.Reduce.MEAN, axes, keepDims);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray max() {
    return reduce("max", CudaOps.Reduce.MAX, null, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray max(int[] axes, boolean keepDims) {
    return reduce("max", CudaOps.Reduce.MAX, axes, keepDims);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray min() {
    return reduce("min", CudaOps.Reduce.MIN, null, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray min(int[] axes, boolean keepDims) {
    return reduce("min", CudaOps.Reduce.MIN, axes, keepDims);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray prod() {
    return reduce("prod", CudaOps.Reduce.PROD, null, false);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray prod(int[] axes, boolean keepDims) {
    return reduce("prod", CudaOps.Reduce.PROD, axes, keepDims);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray matMul(NDArray other) {
    return matMulOp("matMul", other);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray batchMatMul(NDArray other) {
    return matMulOp("batchMatMul", other);
  }

  // ---------------------------------------------------------------- host fallbacks (generated)
  /** {@inheritDoc} */
  @Override
  public NDArray take(NDManager manager, NDArray index) {
    return fallback("take", (f, h) -> h.take(f.manager(), f.host(index)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray acos() {
    return fallback("acos", (f, h) -> h.acos());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray acosh() {
    return fallback("acosh", (f, h) -> h.acosh());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray all() {
    return fallback("all", (f, h) -> h.all());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray any() {
    return fallback("any", (f, h) -> h.any());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray argMax() {
    return fallback("argMax", (f, h) -> h.argMax());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray argMax(int a0) {
    return fallback("argMax", (f, h) -> h.argMax(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray argMin() {
    return fallback("argMin", (f, h) -> h.argMin());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray argMin(int a0) {
    return fallback("argMin", (f, h) -> h.argMin(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray argSort(int a0, boolean a1) {
    return fallback("argSort", (f, h) -> h.argSort(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray asin() {
    return fallback("asin", (f, h) -> h.asin());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray asinh() {
    return fallback("asinh", (f, h) -> h.asinh());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray atan() {
    return fallback("atan", (f, h) -> h.atan());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray atan2(NDArray a0) {
    return fallback("atan2", (f, h) -> h.atan2(f.host(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray atanh() {
    return fallback("atanh", (f, h) -> h.atanh());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray batchDot(NDArray a0) {
    return fallback("batchDot", (f, h) -> h.batchDot(f.host(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray booleanMask(NDArray a0, int a1) {
    return fallback("booleanMask", (f, h) -> h.booleanMask(f.host(a0), a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray cbrt() {
    return fallback("cbrt", (f, h) -> h.cbrt());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray clip(Number a0, Number a1) {
    return fallback("clip", (f, h) -> h.clip(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray complex() {
    return fallback("complex", (f, h) -> h.complex());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray conj() {
    return fallback("conj", (f, h) -> h.conj());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray cosh() {
    return fallback("cosh", (f, h) -> h.cosh());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray cumProd(int a0, DataType a1) {
    return fallback("cumProd", (f, h) -> h.cumProd(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray cumProd(int a0) {
    return fallback("cumProd", (f, h) -> h.cumProd(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray cumSum() {
    return fallback("cumSum", (f, h) -> h.cumSum());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray cumSum(int a0) {
    return fallback("cumSum", (f, h) -> h.cumSum(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray diagonal() {
    return fallback("diagonal", (f, h) -> h.diagonal());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray diagonal(int a0, int a1, int a2) {
    return fallback("diagonal", (f, h) -> h.diagonal(a0, a1, a2));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray diagonal(int a0) {
    return fallback("diagonal", (f, h) -> h.diagonal(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray diff(int a0, int a1) {
    return fallback("diff", (f, h) -> h.diff(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray dot(NDArray a0) {
    return fallback("dot", (f, h) -> h.dot(f.host(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray eq(Number a0) {
    return fallback("eq", (f, h) -> h.eq(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray eq(NDArray a0) {
    return fallback("eq", (f, h) -> h.eq(f.host(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray erf() {
    return fallback("erf", (f, h) -> h.erf());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray erfinv() {
    return fallback("erfinv", (f, h) -> h.erfinv());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray fft(long a0, long a1) {
    return fallback("fft", (f, h) -> h.fft(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray fft2(long[] a0, long[] a1) {
    return fallback("fft2", (f, h) -> h.fft2(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray flip(int... a0) {
    return fallback("flip", (f, h) -> h.flip(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray gammaln() {
    return fallback("gammaln", (f, h) -> h.gammaln());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray gather(NDArray a0, int a1) {
    return fallback("gather", (f, h) -> h.gather(f.host(a0), a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray gatherNd(NDArray a0) {
    return fallback("gatherNd", (f, h) -> h.gatherNd(f.host(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray gt(Number a0) {
    return fallback("gt", (f, h) -> h.gt(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray gt(NDArray a0) {
    return fallback("gt", (f, h) -> h.gt(f.host(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray gte(Number a0) {
    return fallback("gte", (f, h) -> h.gte(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray gte(NDArray a0) {
    return fallback("gte", (f, h) -> h.gte(f.host(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray ifft(long a0, long a1) {
    return fallback("ifft", (f, h) -> h.ifft(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray ifft2(long[] a0, long[] a1) {
    return fallback("ifft2", (f, h) -> h.ifft2(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray inverse() {
    return fallback("inverse", (f, h) -> h.inverse());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray irfft(long a0, long a1) {
    return fallback("irfft", (f, h) -> h.irfft(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray isInfinite() {
    return fallback("isInfinite", (f, h) -> h.isInfinite());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray isNaN() {
    return fallback("isNaN", (f, h) -> h.isNaN());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray log10() {
    return fallback("log10", (f, h) -> h.log10());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray log2() {
    return fallback("log2", (f, h) -> h.log2());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray logicalAnd(NDArray a0) {
    return fallback("logicalAnd", (f, h) -> h.logicalAnd(f.host(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray logicalNot() {
    return fallback("logicalNot", (f, h) -> h.logicalNot());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray logicalOr(NDArray a0) {
    return fallback("logicalOr", (f, h) -> h.logicalOr(f.host(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray logicalXor(NDArray a0) {
    return fallback("logicalXor", (f, h) -> h.logicalXor(f.host(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray lt(Number a0) {
    return fallback("lt", (f, h) -> h.lt(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray lt(NDArray a0) {
    return fallback("lt", (f, h) -> h.lt(f.host(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray lte(Number a0) {
    return fallback("lte", (f, h) -> h.lte(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray lte(NDArray a0) {
    return fallback("lte", (f, h) -> h.lte(f.host(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray median() {
    return fallback("median", (f, h) -> h.median());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray median(int[] a0) {
    return fallback("median", (f, h) -> h.median(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray mod(Number a0) {
    return fallback("mod", (f, h) -> h.mod(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray mod(NDArray a0) {
    return fallback("mod", (f, h) -> h.mod(f.host(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray modi(Number a0) {
    return fallback("modi", (f, h) -> h.modi(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray modi(NDArray a0) {
    return fallback("modi", (f, h) -> h.modi(f.host(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray neq(Number a0) {
    return fallback("neq", (f, h) -> h.neq(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray neq(NDArray a0) {
    return fallback("neq", (f, h) -> h.neq(f.host(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray none() {
    return fallback("none", (f, h) -> h.none());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray nonzero() {
    return fallback("nonzero", (f, h) -> h.nonzero());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray norm(boolean a0) {
    return fallback("norm", (f, h) -> h.norm(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray norm(int a0, int[] a1, boolean a2) {
    if (a0 == 2 && isF32() && a1 != null && a1.length > 0) {
      // the Euclidean norm along axes (e.g. a sentence embedding's length) as the device ops
      // square, sum and square root
      try (NDArray sq = square();
          NDArray sum = sq.sum(a1, a2)) {
        return sum.sqrt();
      }
    }
    return fallback("norm", (f, h) -> h.norm(a0, a1, a2));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray normalize(double a0, long a1, double a2) {
    return fallback("normalize", (f, h) -> h.normalize(a0, a1, a2));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray oneHot(int a0, DataType a1) {
    return fallback("oneHot", (f, h) -> h.oneHot(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray oneHot(int a0, float a1, float a2, DataType a3) {
    return fallback("oneHot", (f, h) -> h.oneHot(a0, a1, a2, a3));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray oneHot(int a0) {
    return fallback("oneHot", (f, h) -> h.oneHot(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray pad(Shape a0, double a1) {
    return fallback("pad", (f, h) -> h.pad(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray percentile(Number a0, int[] a1) {
    return fallback("percentile", (f, h) -> h.percentile(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray percentile(Number a0) {
    return fallback("percentile", (f, h) -> h.percentile(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray put(NDArray a0, NDArray a1) {
    return fallback("put", (f, h) -> h.put(f.host(a0), f.host(a1)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray real() {
    return fallback("real", (f, h) -> h.real());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray repeat(long[] a0) {
    return fallback("repeat", (f, h) -> h.repeat(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray repeat(Shape a0) {
    return fallback("repeat", (f, h) -> h.repeat(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray repeat(int a0, long a1) {
    return fallback("repeat", (f, h) -> h.repeat(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray repeat(long a0) {
    return fallback("repeat", (f, h) -> h.repeat(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray rfft(long a0, long a1) {
    return fallback("rfft", (f, h) -> h.rfft(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray rotate90(int a0, int[] a1) {
    return fallback("rotate90", (f, h) -> h.rotate90(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray round() {
    return fallback("round", (f, h) -> h.round());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray scatter(NDArray a0, NDArray a1, int a2) {
    return fallback("scatter", (f, h) -> h.scatter(f.host(a0), f.host(a1), a2));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sequenceMask(NDArray a0, float a1) {
    return fallback("sequenceMask", (f, h) -> h.sequenceMask(f.host(a0), a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sequenceMask(NDArray a0) {
    return fallback("sequenceMask", (f, h) -> h.sequenceMask(f.host(a0)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sinh() {
    return fallback("sinh", (f, h) -> h.sinh());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sort() {
    return fallback("sort", (f, h) -> h.sort());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray sort(int a0) {
    return fallback("sort", (f, h) -> h.sort(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDList split(long[] a0, int a1) {
    return fallback("split", (f, h) -> h.split(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDList split(long a0, int a1) {
    return fallback("split", (f, h) -> h.split(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray stft(long a0, long a1, boolean a2, NDArray a3, boolean a4, boolean a5) {
    return fallback("stft", (f, h) -> h.stft(a0, a1, a2, f.host(a3), a4, a5));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray tan() {
    return fallback("tan", (f, h) -> h.tan());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray tile(long[] a0) {
    return fallback("tile", (f, h) -> h.tile(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray tile(Shape a0) {
    return fallback("tile", (f, h) -> h.tile(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray tile(int a0, long a1) {
    return fallback("tile", (f, h) -> h.tile(a0, a1));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray tile(long a0) {
    return fallback("tile", (f, h) -> h.tile(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray toDegrees() {
    return fallback("toDegrees", (f, h) -> h.toDegrees());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray toDense() {
    return fallback("toDense", (f, h) -> h.toDense());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray toRadians() {
    return fallback("toRadians", (f, h) -> h.toRadians());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray toSparse(SparseFormat a0) {
    return fallback("toSparse", (f, h) -> h.toSparse(a0));
  }

  /** {@inheritDoc} */
  @Override
  public String[] toStringArray(Charset a0) {
    return fallback("toStringArray", (f, h) -> h.toStringArray(a0));
  }

  /** {@inheritDoc} */
  @Override
  public NDList topK(int a0, int a1, boolean a2, boolean a3) {
    return fallback("topK", (f, h) -> h.topK(a0, a1, a2, a3));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray trace(int a0, int a1, int a2) {
    return fallback("trace", (f, h) -> h.trace(a0, a1, a2));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray trunc() {
    return fallback("trunc", (f, h) -> h.trunc());
  }

  /** {@inheritDoc} */
  @Override
  public NDList unique(Integer a0, boolean a1, boolean a2, boolean a3) {
    return fallback("unique", (f, h) -> h.unique(a0, a1, a2, a3));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray xlogy(NDArray a0) {
    return fallback("xlogy", (f, h) -> h.xlogy(f.host(a0)));
  }
}

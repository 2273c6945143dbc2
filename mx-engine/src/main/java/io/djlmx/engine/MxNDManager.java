package io.djlmx.engine;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import io.djlmx.kernel.cuda.CudaBackend;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.Charset;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The MX engine's {@link NDManager}: creates {@link MxNDArray}s and owns a PyTorch "shadow" manager
 * that holds their PyTorch arrays.
 *
 * <p>Every MX manager has at most one shadow: a sub-manager of its parent's shadow, closed with it,
 * made with a CPU manager and on first need (a host fallback) with a GPU manager. A manager on a
 * GPU creates {@link MxCudaNDArray}s in device memory, freed when they or the manager close. An MX
 * manager also carries the {@link MxConfig} that {@code linear} uses for weights it owns (set by
 * {@link MxModel}; sub-managers inherit it).
 */
public class MxNDManager extends BaseNDManager {

  /** Shadow manager to MX manager (identity keys), to wrap results made on another's shadow. */
  private static final Map<NDManager, MxNDManager> BY_SHADOW = new ConcurrentHashMap<>();

  private static final MxNDManager SYSTEM_MANAGER = new SystemManager();

  private volatile PtNDManager shadow;
  private volatile Supplier<MxConfig> config;

  private MxNDManager(NDManager parent, Device device, Supplier<MxConfig> config) {
    super(parent, device);
    this.config = config;
  }

  static MxNDManager getSystemManager() {
    return SYSTEM_MANAGER;
  }

  /**
   * Returns the PyTorch manager that holds this manager's PyTorch arrays, creating it on first use:
   * a sub-manager of the parent's shadow, on the CPU (a GPU manager's shadow holds the host copies
   * of its fallbacks). A GPU manager never creates one unless an op falls back to the host.
   *
   * @return the shadow manager
   * @throws ai.djl.engine.EngineException when there is no host engine ({@link HostEngine})
   */
  public PtNDManager getShadow() {
    PtNDManager s = shadow;
    if (s != null) {
      return s;
    }
    synchronized (this) {
      if (shadow == null) {
        checkOpen();
        NDManager p = getParentManager();
        PtNDManager made;
        if (p instanceof MxNDManager mx) {
          made = mx.getShadow().newSubManager(device.isGpu() ? Device.cpu() : device);
        } else {
          made = (PtNDManager) HostEngine.get().newBaseManager();
        }
        BY_SHADOW.put(made, this);
        shadow = made;
      }
      return shadow;
    }
  }

  /**
   * Returns whether this manager's arrays live in device memory owned by the MX engine ({@link
   * MxCudaNDArray}): true for a GPU device.
   *
   * @return true on a GPU
   */
  public boolean isDeviceResident() {
    return device != null && device.isGpu();
  }

  /**
   * Returns the configuration {@code linear} applies to weights owned by this manager: the one set
   * on it or a parent, else the one resolved from system properties, environment and defaults.
   *
   * @return the configuration
   */
  public MxConfig getConfig() {
    Supplier<MxConfig> c = config;
    return c != null ? c.get() : MxConfig.resolve(null);
  }

  /**
   * Sets the configuration {@code linear} applies to weights owned by this manager; sub-managers
   * created afterwards inherit it.
   *
   * @param config the configuration
   */
  public void setConfig(MxConfig config) {
    this.config = config == null ? null : () -> config;
  }

  /**
   * Sets where this manager (and sub-managers created afterwards) get their configuration from: a
   * model's current configuration, which may change after the manager is made.
   *
   * @param source the configuration source
   */
  void setConfigSource(Supplier<MxConfig> source) {
    this.config = source;
  }

  /**
   * Returns the PyTorch manager to pass to PyTorch code for {@code manager}: the shadow of an MX
   * manager, any other manager as is.
   *
   * @param manager a manager, may be null
   * @return the manager PyTorch code can use
   */
  static NDManager shadowOf(NDManager manager) {
    return manager instanceof MxNDManager mx ? mx.getShadow() : manager;
  }

  /**
   * Wraps a PyTorch array made by a forwarded op, on the MX manager whose shadow holds it.
   *
   * @param array the PyTorch array
   * @return the MX array
   */
  MxNDArray wrap(PtNDArray array) {
    MxNDManager owner = this;
    NDManager holder = array.getManager();
    PtNDManager own = getShadow();
    if (holder != own) {
      MxNDManager found = holder == null ? null : BY_SHADOW.get(holder);
      if (found != null && found.isOpen()) {
        owner = found;
      } else {
        array.attach(own);
      }
    }
    return new MxNDArray(owner, array);
  }

  NDList wrap(NDList list) {
    NDList out = new NDList(list.size());
    for (NDArray a : list) {
      out.add(a instanceof PtNDArray pt ? wrap(pt) : a);
    }
    return out;
  }

  void checkOpen() {
    if (!isOpen()) {
      throw new IllegalStateException("MX NDManager " + getName() + " has been closed");
    }
  }

  /** {@inheritDoc} */
  @Override
  public ByteBuffer allocateDirect(int capacity) {
    return ByteBuffer.allocateDirect(capacity).order(ByteOrder.nativeOrder());
  }

  /**
   * Returns {@code array} as an MX array of this manager: MX arrays as they are, any other array
   * copied into a new MX array.
   *
   * @param array the array
   * @return an MX array
   */
  @Override
  public NDArray from(NDArray array) {
    if (array == null) {
      return null;
    }
    if (isDeviceResident()) {
      if (array instanceof MxCudaNDArray) {
        return array;
      }
      checkOpen();
      return MxCudaNDArray.fromHost(this, array);
    }
    if (array instanceof MxNDArray) {
      return array;
    }
    checkOpen();
    NDArray result = create(array.toByteBuffer(), array.getShape(), array.getDataType());
    result.setName(array.getName());
    return result;
  }

  /** {@inheritDoc} */
  @Override
  public NDArray create(Shape shape, DataType dataType) {
    checkOpen();
    if (isDeviceResident()) {
      return MxCudaNDArray.allocate(this, shape, dataType);
    }
    MxNDArray array = wrap((PtNDArray) getShadow().create(shape, dataType));
    array.markFreshStorage(); // torch.empty: its own dense storage
    return array;
  }

  /** {@inheritDoc} */
  @Override
  public NDArray create(Buffer data, Shape shape, DataType dataType) {
    checkOpen();
    if (isDeviceResident()) {
      return MxCudaNDArray.fromBuffer(this, data, shape, dataType);
    }
    return wrap(getShadow().create(data, shape, dataType));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray create(String[] data, Charset charset, Shape shape) {
    checkOpen();
    // PyTorch keeps string arrays in Java; they have no native handle to share.
    return getShadow().create(data, charset, shape);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray createCoo(Buffer data, long[][] indices, Shape shape) {
    checkOpen();
    if (isDeviceResident()) {
      return MxCudaNDArray.createOnHost(this, "createCoo", h -> h.createCoo(data, indices, shape));
    }
    return wrap((PtNDArray) getShadow().createCoo(data, indices, shape));
  }

  /** {@inheritDoc} */
  @Override
  public NDList load(Path path) {
    checkOpen();
    if (isDeviceResident()) {
      return MxCudaNDArray.createOnHost(this, "load", h -> h.load(path));
    }
    return wrap(getShadow().load(path));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray zeros(Shape shape, DataType dataType) {
    checkOpen();
    if (isDeviceResident()) {
      return MxCudaNDArray.zeros(this, shape, dataType);
    }
    return wrap((PtNDArray) getShadow().zeros(shape, dataType));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray ones(Shape shape, DataType dataType) {
    checkOpen();
    if (isDeviceResident()) {
      return MxCudaNDArray.full(this, shape, 1, dataType);
    }
    return wrap((PtNDArray) getShadow().ones(shape, dataType));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray full(Shape shape, float value, DataType dataType) {
    checkOpen();
    if (isDeviceResident()) {
      return MxCudaNDArray.full(this, shape, value, dataType);
    }
    return wrap((PtNDArray) getShadow().full(shape, value, dataType));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray arange(int start, int stop, int step, DataType dataType) {
    checkOpen();
    if (isDeviceResident()) {
      return MxCudaNDArray.arange(this, start, stop, step, dataType);
    }
    return wrap((PtNDArray) getShadow().arange(start, stop, step, dataType));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray arange(float start, float stop, float step, DataType dataType) {
    checkOpen();
    if (isDeviceResident()) {
      return MxCudaNDArray.arange(this, start, stop, step, dataType);
    }
    return wrap((PtNDArray) getShadow().arange(start, stop, step, dataType));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray eye(int rows, int cols, int k, DataType dataType) {
    checkOpen();
    if (isDeviceResident()) {
      return MxCudaNDArray.createOnHost(this, "eye", h -> h.eye(rows, cols, k, dataType));
    }
    return wrap((PtNDArray) getShadow().eye(rows, cols, k, dataType));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray linspace(float start, float stop, int num, boolean endpoint) {
    checkOpen();
    if (isDeviceResident()) {
      return MxCudaNDArray.createOnHost(
          this, "linspace", h -> h.linspace(start, stop, num, endpoint));
    }
    return wrap((PtNDArray) getShadow().linspace(start, stop, num, endpoint));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray randomInteger(long low, long high, Shape shape, DataType dataType) {
    checkOpen();
    if (isDeviceResident()) {
      return MxCudaNDArray.createOnHost(
          this, "randomInteger", h -> h.randomInteger(low, high, shape, dataType));
    }
    return wrap((PtNDArray) getShadow().randomInteger(low, high, shape, dataType));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray randomPermutation(long n) {
    checkOpen();
    if (isDeviceResident()) {
      return MxCudaNDArray.createOnHost(this, "randomPermutation", h -> h.randomPermutation(n));
    }
    return wrap((PtNDArray) getShadow().randomPermutation(n));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray randomUniform(float low, float high, Shape shape, DataType dataType) {
    checkOpen();
    if (isDeviceResident()) {
      return MxCudaNDArray.random(this, shape, dataType, false, low, high);
    }
    return wrap((PtNDArray) getShadow().randomUniform(low, high, shape, dataType));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray randomNormal(float loc, float scale, Shape shape, DataType dataType) {
    checkOpen();
    if (isDeviceResident()) {
      return MxCudaNDArray.random(this, shape, dataType, true, loc, scale);
    }
    return wrap((PtNDArray) getShadow().randomNormal(loc, scale, shape, dataType));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray hanningWindow(long numPoints) {
    checkOpen();
    if (isDeviceResident()) {
      return MxCudaNDArray.createOnHost(this, "hanningWindow", h -> h.hanningWindow(numPoints));
    }
    return wrap((PtNDArray) getShadow().hanningWindow(numPoints));
  }

  /** {@inheritDoc} */
  @Override
  public MxNDManager newSubManager(Device device) {
    checkOpen();
    checkDevice(device);
    MxNDManager manager = new MxNDManager(this, device, config);
    attachUncappedInternal(manager.uid, manager);
    if (!manager.isDeviceResident()) {
      // CPU managers hold their arrays in PyTorch from the start; GPU managers only on fallback.
      manager.getShadow();
    }
    return manager;
  }

  /**
   * Rejects a GPU this process cannot use, before anything is allocated on it: PyTorch would
   * otherwise fail later, deep inside the first op, with a message that does not name the device.
   */
  private static void checkDevice(Device device) {
    if (device == null || !device.isGpu()) {
      return;
    }
    if (!CudaBackend.isAvailable()) {
      throw new EngineException(
          "Device "
              + device
              + " was requested but the MX engine sees no GPU it can use ("
              + CudaBackend.unavailableReason()
              + "); use Device.cpu()");
    }
    if (device.getDeviceId() != 0) {
      throw new EngineException(
          "Device "
              + device
              + " was requested but MX GPU arrays run on gpu(0) only (the CUDA backend uses device"
              + " 0)");
    }
  }

  /** {@inheritDoc} */
  @Override
  public final Engine getEngine() {
    return Engine.getEngine(MxEngine.ENGINE_NAME);
  }

  /** {@inheritDoc} */
  @Override
  public void close() {
    if (isOpen()) {
      super.close();
      PtNDManager s = shadow;
      if (s != null) {
        s.close();
        BY_SHADOW.remove(s);
      }
    }
  }

  /** The root MX manager; it lives as long as the process and cannot be closed. */
  private static final class SystemManager extends MxNDManager
      implements ai.djl.ndarray.NDManager.SystemNDManager {

    SystemManager() {
      super(null, null, null);
    }
  }
}

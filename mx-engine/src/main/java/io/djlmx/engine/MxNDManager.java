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
 * <p>Every MX manager has exactly one shadow: a sub-manager of its parent's shadow, closed with it.
 * An MX manager also carries the {@link MxConfig} that {@code linear} uses for weights it owns (set
 * by {@link MxModel}; sub-managers inherit it).
 */
public class MxNDManager extends BaseNDManager {

  /** Shadow manager to MX manager (identity keys), to wrap results made on another's shadow. */
  private static final Map<NDManager, MxNDManager> BY_SHADOW = new ConcurrentHashMap<>();

  private static final MxNDManager SYSTEM_MANAGER = new SystemManager();

  private final PtNDManager shadow;
  private volatile Supplier<MxConfig> config;

  private MxNDManager(
      NDManager parent, Device device, PtNDManager shadow, Supplier<MxConfig> config) {
    super(parent, device);
    this.shadow = shadow;
    this.config = config;
    BY_SHADOW.put(shadow, this);
  }

  static MxNDManager getSystemManager() {
    return SYSTEM_MANAGER;
  }

  /**
   * Returns the PyTorch manager that holds this manager's PyTorch arrays.
   *
   * @return the shadow manager
   */
  public PtNDManager getShadow() {
    return shadow;
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
    return manager instanceof MxNDManager mx ? mx.shadow : manager;
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
    if (holder != shadow) {
      MxNDManager found = holder == null ? null : BY_SHADOW.get(holder);
      if (found != null && found.isOpen()) {
        owner = found;
      } else {
        array.attach(shadow);
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

  private void checkOpen() {
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
    if (array == null || array instanceof MxNDArray) {
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
    return wrap(shadow.create(shape, dataType));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray create(Buffer data, Shape shape, DataType dataType) {
    checkOpen();
    return wrap(shadow.create(data, shape, dataType));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray create(String[] data, Charset charset, Shape shape) {
    checkOpen();
    // PyTorch keeps string arrays in Java; they have no native handle to share.
    return shadow.create(data, charset, shape);
  }

  /** {@inheritDoc} */
  @Override
  public NDArray createCoo(Buffer data, long[][] indices, Shape shape) {
    checkOpen();
    return wrap((PtNDArray) shadow.createCoo(data, indices, shape));
  }

  /** {@inheritDoc} */
  @Override
  public NDList load(Path path) {
    checkOpen();
    return wrap(shadow.load(path));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray zeros(Shape shape, DataType dataType) {
    checkOpen();
    return wrap((PtNDArray) shadow.zeros(shape, dataType));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray ones(Shape shape, DataType dataType) {
    checkOpen();
    return wrap((PtNDArray) shadow.ones(shape, dataType));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray full(Shape shape, float value, DataType dataType) {
    checkOpen();
    return wrap((PtNDArray) shadow.full(shape, value, dataType));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray arange(int start, int stop, int step, DataType dataType) {
    checkOpen();
    return wrap((PtNDArray) shadow.arange(start, stop, step, dataType));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray arange(float start, float stop, float step, DataType dataType) {
    checkOpen();
    return wrap((PtNDArray) shadow.arange(start, stop, step, dataType));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray eye(int rows, int cols, int k, DataType dataType) {
    checkOpen();
    return wrap((PtNDArray) shadow.eye(rows, cols, k, dataType));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray linspace(float start, float stop, int num, boolean endpoint) {
    checkOpen();
    return wrap((PtNDArray) shadow.linspace(start, stop, num, endpoint));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray randomInteger(long low, long high, Shape shape, DataType dataType) {
    checkOpen();
    return wrap((PtNDArray) shadow.randomInteger(low, high, shape, dataType));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray randomPermutation(long n) {
    checkOpen();
    return wrap((PtNDArray) shadow.randomPermutation(n));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray randomUniform(float low, float high, Shape shape, DataType dataType) {
    checkOpen();
    return wrap((PtNDArray) shadow.randomUniform(low, high, shape, dataType));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray randomNormal(float loc, float scale, Shape shape, DataType dataType) {
    checkOpen();
    return wrap((PtNDArray) shadow.randomNormal(loc, scale, shape, dataType));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray hanningWindow(long numPoints) {
    checkOpen();
    return wrap((PtNDArray) shadow.hanningWindow(numPoints));
  }

  /** {@inheritDoc} */
  @Override
  public MxNDManager newSubManager(Device device) {
    checkOpen();
    checkDevice(device);
    PtNDManager subShadow = shadow.newSubManager(device);
    MxNDManager manager = new MxNDManager(this, device, subShadow, config);
    attachUncappedInternal(manager.uid, manager);
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
    int gpus = Engine.getEngine(MxEngine.PYTORCH).getGpuCount();
    if (device.getDeviceId() >= gpus) {
      throw new EngineException(
          "Device "
              + device
              + " was requested but the MX engine sees "
              + (gpus == 0 ? "no GPU" : "only " + gpus + " GPU(s)")
              + " (PyTorch reports "
              + gpus
              + " CUDA devices); use Device.cpu() or a GPU build of PyTorch");
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
      shadow.close();
      BY_SHADOW.remove(shadow);
    }
  }

  /** The root MX manager; it lives as long as the process and cannot be closed. */
  private static final class SystemManager extends MxNDManager
      implements ai.djl.ndarray.NDManager.SystemNDManager {

    SystemManager() {
      super(null, null, (PtNDManager) Engine.getEngine(MxEngine.PYTORCH).newBaseManager(), null);
    }
  }
}

package io.djlmx.kernel.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The CUDA device the MX kernels run on: driver initialisation, the primary context of device 0,
 * the kernel module loaded from the class path, and checked kernel launches.
 *
 * <p>{@link #isAvailable()} never throws: without the JCuda natives, a driver, a device of compute
 * capability 9.0 or the fatbin (built only where {@code nvcc} was present), it returns false and
 * {@link #unavailableReason()} says which. Every driver call is checked; after each launch the
 * launch result and the stream's sticky error state are checked, and with {@link
 * #setSynchronousChecks(boolean)} the launch is also waited for so that a fault names its kernel.
 */
public final class CudaBackend {

  /** Class-path location of the fatbin that {@code build-fatbin.sh} makes. */
  public static final String FATBIN_RESOURCE = "/io/djlmx/kernel/cuda/mx-kernels.fatbin";

  private static final Logger logger = LoggerFactory.getLogger(CudaBackend.class);

  private static final Object LOCK = new Object();
  private static volatile CudaBackend instance;
  private static volatile String reason;

  private final CUdevice device;
  private final CUcontext context;
  private final CUmodule module;
  private final String deviceName;
  private final int multiprocessors;
  private final int computeCapability;
  private final Map<String, DriverLaunch.FunctionRef> functions = new ConcurrentHashMap<>();
  private final Map<String, Integer> occupancy = new ConcurrentHashMap<>();
  private final long contextHandle;
  private volatile long totalMemory;

  /**
   * Whether launches go straight to the driver through FFM ({@link DriverLaunch}) rather than
   * through JCuda: system property {@code mx.cuda.launcher} = {@code jcuda} (default: JCuda's
   * driver API, as the project's stack prescribes) or {@code driver} (opt-in, where the driver's
   * entry points are found). Both hand the driver one native parameter block.
   */
  static volatile boolean driverLaunch =
      DriverLaunch.isAvailable()
          && "driver".equalsIgnoreCase(System.getProperty("mx.cuda.launcher", "jcuda"));

  private static final CUstream DEFAULT_STREAM = new CUstream();

  private volatile boolean synchronousChecks =
      Boolean.parseBoolean(System.getProperty("mx.cuda.syncChecks", "false"));

  private CudaBackend(
      CUdevice device,
      DriverLaunch.ContextRef context,
      CUmodule module,
      String name,
      int sms,
      int cc) {
    this.device = device;
    this.context = context;
    this.contextHandle = context.handle();
    this.module = module;
    this.deviceName = name;
    this.multiprocessors = sms;
    this.computeCapability = cc;
  }

  /**
   * Returns whether a CUDA device with the MX kernels is usable in this process.
   *
   * @return true when {@link #get()} succeeds
   */
  public static boolean isAvailable() {
    return tryInit() != null;
  }

  /**
   * Returns why the CUDA backend is unavailable, or null when it is available.
   *
   * @return the reason, or null
   */
  public static String unavailableReason() {
    return tryInit() == null ? reason : null;
  }

  /**
   * Returns the backend, initialising it on first use.
   *
   * @return the backend
   * @throws IllegalStateException naming the reason when no usable device is present
   */
  public static CudaBackend get() {
    CudaBackend b = tryInit();
    if (b == null) {
      throw new IllegalStateException("CUDA backend unavailable: " + reason);
    }
    return b;
  }

  private static CudaBackend tryInit() {
    CudaBackend b = instance;
    if (b != null || reason != null) {
      return b;
    }
    synchronized (LOCK) {
      if (instance == null && reason == null) {
        try {
          instance = init();
          logger.info(
              "CUDA backend ready on {} (sm_{}, {} SMs)",
              instance.deviceName,
              instance.computeCapability,
              instance.multiprocessors);
        } catch (Throwable t) { // natives missing or driver absent: report, never crash the caller
          reason = describe(t);
          logger.info("CUDA backend unavailable: {}", reason);
          logger.debug("CUDA initialisation failure", t);
        }
      }
      return instance;
    }
  }

  private static String describe(Throwable t) {
    String msg = String.valueOf(t.getMessage());
    if (t instanceof LinkageError && msg.contains("libcuda.so.1")) {
      return "no NVIDIA driver: libcuda.so.1 not found (JCuda driver natives could not load)";
    }
    int nl = msg.indexOf('\n');
    return t.getClass().getSimpleName() + ": " + (nl < 0 ? msg : msg.substring(0, nl)).trim();
  }

  private static CudaBackend init() throws IOException {
    byte[] fatbin;
    try (InputStream in = CudaBackend.class.getResourceAsStream(FATBIN_RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException(
            "no kernel fatbin at "
                + FATBIN_RESOURCE
                + " (the build had no nvcc: build mx-engine where nvcc is on the PATH)");
      }
      fatbin = in.readAllBytes();
    }
    JCudaDriver.setExceptionsEnabled(false);
    check(JCudaDriver.cuInit(0), "cuInit");
    int[] count = new int[1];
    check(JCudaDriver.cuDeviceGetCount(count), "cuDeviceGetCount");
    if (count[0] == 0) {
      throw new IllegalStateException("the CUDA driver reports no device");
    }
    CUdevice dev = new CUdevice();
    check(JCudaDriver.cuDeviceGet(dev, 0), "cuDeviceGet(0)");
    int major = attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
    int minor = attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
    int sms = attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
    byte[] nameBytes = new byte[256];
    check(JCudaDriver.cuDeviceGetName(nameBytes, nameBytes.length, dev), "cuDeviceGetName");
    String name = new String(nameBytes, java.nio.charset.StandardCharsets.US_ASCII).trim();
    int nul = name.indexOf('\0');
    if (nul >= 0) {
      name = name.substring(0, nul);
    }
    if (major < 9) {
      throw new IllegalStateException(
          name + " has compute capability " + major + "." + minor + "; the MX kernels need 9.0");
    }
    DriverLaunch.ContextRef ctx = new DriverLaunch.ContextRef();
    check(JCudaDriver.cuDevicePrimaryCtxRetain(ctx, dev), "cuDevicePrimaryCtxRetain");
    check(JCudaDriver.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
    CUmodule mod = new CUmodule();
    check(JCudaDriver.cuModuleLoadData(mod, fatbin), "cuModuleLoadData(" + FATBIN_RESOURCE + ")");
    return new CudaBackend(dev, ctx, mod, name, sms, major * 10 + minor);
  }

  private static int attribute(CUdevice dev, int attr) {
    int[] v = new int[1];
    check(JCudaDriver.cuDeviceGetAttribute(v, attr, dev), "cuDeviceGetAttribute(" + attr + ")");
    return v[0];
  }

  /**
   * Throws a {@link CudaException} unless {@code result} is {@code CUDA_SUCCESS}.
   *
   * @param result a driver call's result
   * @param call what was called
   */
  static void check(int result, String call) {
    if (result != CUresult.CUDA_SUCCESS) {
      throw new CudaException(call, result);
    }
  }

  /**
   * Makes this backend's context current on the calling thread; every entry point calls it.
   *
   * @return this backend
   */
  CudaBackend makeCurrent() {
    check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
    return this;
  }

  /**
   * Returns the device's name, as the driver reports it.
   *
   * @return the device name
   */
  public String deviceName() {
    return deviceName;
  }

  /**
   * Returns the number of streaming multiprocessors.
   *
   * @return multiprocessor count
   */
  public int multiprocessors() {
    return multiprocessors;
  }

  /**
   * Returns the compute capability as major * 10 + minor (90 for Hopper).
   *
   * @return compute capability
   */
  public int computeCapability() {
    return computeCapability;
  }

  /**
   * Returns the device memory that is free now and the total, in bytes.
   *
   * @return {free, total}
   */
  public long[] memoryInfo() {
    makeCurrent();
    long[] free = new long[1];
    long[] total = new long[1];
    check(JCudaDriver.cuMemGetInfo(free, total), "cuMemGetInfo");
    return new long[] {free[0], total[0]};
  }

  /**
   * Returns the device's total memory in bytes (read once).
   *
   * @return total bytes
   */
  public long totalMemory() {
    long t = totalMemory;
    if (t == 0) {
      t = memoryInfo()[1];
      totalMemory = t;
    }
    return t;
  }

  /**
   * Sets whether each launch is waited for and checked before returning (slower; a failing kernel
   * is then named in the exception). Without it, a launch checks its own result and the stream's
   * error state without waiting.
   *
   * @param on true to synchronise after each launch
   */
  public void setSynchronousChecks(boolean on) {
    this.synchronousChecks = on;
  }

  /** Waits for all work on the device and checks for errors. */
  public void synchronize() {
    makeCurrent();
    check(JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize");
  }

  CUfunction function(String name) {
    return functionRef(name);
  }

  private DriverLaunch.FunctionRef functionRef(String name) {
    return functions.computeIfAbsent(
        name,
        n -> {
          DriverLaunch.FunctionRef f = new DriverLaunch.FunctionRef();
          check(JCudaDriver.cuModuleGetFunction(f, module, n), "cuModuleGetFunction(" + n + ")");
          return f;
        });
  }

  /**
   * Returns how many CTAs of a kernel fit on one SM at once (cached per kernel, block size and
   * dynamic shared memory; raise the kernel's shared-memory limit first where it needs more than 48
   * KiB).
   *
   * @param kernel the kernel name
   * @param threads threads per CTA
   * @param sharedBytes dynamic shared memory per CTA
   * @return the CTAs per SM, 0 where none fits
   */
  int activeBlocksPerMultiprocessor(String kernel, int threads, int sharedBytes) {
    return occupancy.computeIfAbsent(
        kernel + "/" + threads + "/" + sharedBytes,
        key -> {
          makeCurrent();
          int[] n = new int[1];
          check(
              JCudaDriver.cuOccupancyMaxActiveBlocksPerMultiprocessor(
                  n, function(kernel), threads, sharedBytes),
              "cuOccupancyMaxActiveBlocksPerMultiprocessor(" + kernel + ")");
          return n[0];
        });
  }

  /**
   * Raises a kernel's dynamic shared-memory limit (needed above 48 KiB).
   *
   * @param kernel the kernel name
   * @param bytes the dynamic shared memory it will be launched with
   */
  void allowDynamicSharedMemory(String kernel, int bytes) {
    check(
        JCudaDriver.cuFuncSetAttribute(
            function(kernel),
            CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
            bytes),
        "cuFuncSetAttribute(" + kernel + ", max dynamic shared memory " + bytes + ")");
  }

  /**
   * Launches a kernel of the module on the default stream and checks it.
   *
   * @param kernel the kernel's (extern "C") name
   * @param grid grid size {x, y, z}
   * @param block block size {x, y, z}
   * @param sharedBytes dynamic shared memory
   * @param params the kernel parameters
   */
  void launch(String kernel, int[] grid, int[] block, int sharedBytes, KernelArgs params) {
    jcuda.driver.CUevent profiled = KernelProfile.active() ? KernelProfile.before(kernel) : null;
    int launched;
    int q;
    if (driverLaunch) {
      check(DriverLaunch.setCurrent(contextHandle), "cuCtxSetCurrent");
      launched =
          DriverLaunch.launch(functionRef(kernel).handle(), grid, block, sharedBytes, params);
      q = DriverLaunch.queryDefaultStream();
    } else {
      makeCurrent();
      launched =
          JCudaDriver.cuLaunchKernel(
              function(kernel),
              grid[0],
              grid[1],
              grid[2],
              block[0],
              block[1],
              block[2],
              sharedBytes,
              null,
              params.toNativePointer(),
              null);
      q = JCudaDriver.cuStreamQuery(DEFAULT_STREAM);
    }
    if (launched != CUresult.CUDA_SUCCESS) {
      throw new CudaException("cuLaunchKernel(" + kernel + ")", launched);
    }
    if (profiled != null) {
      KernelProfile.after(profiled);
    }
    if (q != CUresult.CUDA_SUCCESS && q != CUresult.CUDA_ERROR_NOT_READY) {
      throw new CudaException("after launching " + kernel, q);
    }
    if (synchronousChecks) {
      check(JCudaDriver.cuCtxSynchronize(), "kernel " + kernel);
    }
  }

  CUdevice device() {
    return device;
  }
}

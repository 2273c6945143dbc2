package io.djlmx.engine;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import io.djlmx.kernel.cuda.CudaBackend;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The MX engine: DJL's PyTorch engine with {@code linear} replaced by MX-quantized kernels.
 *
 * <p>CPU arrays are {@link MxNDArray}s that wrap PyTorch arrays; every op without an MX kernel runs
 * on PyTorch without copies and its result stays on this engine. Arrays on {@code Device.gpu()} are
 * {@link MxCudaNDArray}s in device memory owned by the engine, run by the MX CUDA kernels; they
 * need PyTorch only for ops without a kernel ({@link MxFallbacks}), and the engine starts without
 * PyTorch when a CUDA device is present ({@link HostEngine}).
 */
public final class MxEngine extends Engine {

  /** The engine name, as used in {@code Criteria.optEngine("MX")}. */
  public static final String ENGINE_NAME = "MX";

  /** The engine rank: above PyTorch's 2, so MX is never the default engine by accident. */
  public static final int RANK = 20;

  /** The name of the engine that runs every op MX does not accelerate. */
  public static final String PYTORCH = "PyTorch";

  /**
   * System property (or environment variable {@code MX_TORCH_THREADS}) giving PyTorch's intra-op
   * thread count under the MX engine; default 1. DJL's own {@code ai.djl.pytorch.num_threads}, when
   * set, wins.
   */
  public static final String TORCH_THREADS = "mx.torch.threads";

  /** DJL's property for PyTorch's intra-op threads, read by its PyTorch engine at start. */
  static final String DJL_TORCH_THREADS = "ai.djl.pytorch.num_threads";

  private static final Logger logger = LoggerFactory.getLogger(MxEngine.class);

  private MxEngine() {}

  /**
   * Creates the engine. With {@code mx.engine.host=pytorch} (the default) PyTorch's native library
   * is loaded now; if it cannot load but a CUDA device with the MX kernels is present, the engine
   * starts GPU-only (logged) rather than failing. With {@code mx.engine.host=none} PyTorch is never
   * touched and a CUDA device is required.
   *
   * @return the engine
   * @throws EngineException if neither a host engine nor a CUDA device is usable
   */
  static Engine newInstance() {
    try {
      HostEngine host = HostEngine.instance();
      Engine pt = host.tryGet();
      if (pt != null) {
        int torchThreads = torchThreads();
        if (torchThreads > 0) {
          JniUtils.setNumThreads(torchThreads);
        }
        logger.info(
            "MX engine on {} {} (PyTorch intra-op threads: {})",
            PYTORCH,
            pt.getVersion(),
            JniUtils.getNumThreads());
        warmUpEngineWideFormats();
        return new MxEngine();
      }
      if (CudaBackend.isAvailable()) {
        logger.warn(
            "MX engine runs GPU-only: {}. Arrays on Device.gpu() run on the MX CUDA kernels;"
                + " CPU arrays and host fallbacks are unavailable",
            host.failure());
        return new MxEngine();
      }
      throw new EngineException(
          "The MX engine needs DJL's PyTorch engine (ai.djl.pytorch:pytorch-engine with its native"
              + " library) or a CUDA device: "
              + host.failure()
              + "; CUDA: "
              + CudaBackend.unavailableReason());
    } catch (EngineException e) {
      throw e;
    } catch (RuntimeException | LinkageError e) {
      throw new EngineException("Failed to start the MX engine: " + e.getMessage(), e);
    }
  }

  /** Starts compiling the CPU kernel for the formats set for the whole JVM (or the defaults). */
  private static void warmUpEngineWideFormats() {
    try {
      MxConfig c = MxConfig.resolve(Map.of());
      KernelWarmup.start(c.getWeights(), c.getActivations());
    } catch (IllegalArgumentException e) {
      // an invalid engine-wide setting is reported, with the valid values, when a model loads
    }
  }

  /**
   * Returns the PyTorch intra-op thread count the MX engine sets when it starts, or 0 when it
   * leaves PyTorch's own setting (because {@code ai.djl.pytorch.num_threads} is set).
   *
   * <p>The MX kernels (linear, attention) run on their own thread pools; the ops forwarded to
   * PyTorch are the small ones (layer norm, GELU, additions). PyTorch's OpenMP workers keep
   * spinning for a while after each parallel op, and on a machine with few cores they take those
   * cores from the MX kernels' threads: at MiniLM's batch 1 on 2 cores this cost 3–4× the CPU time
   * per sentence. So the default is 1 thread; {@value #TORCH_THREADS} (property, or {@code
   * MX_TORCH_THREADS}) sets another count.
   *
   * @return the thread count to set, or 0 to leave PyTorch's
   * @throws IllegalArgumentException if {@value #TORCH_THREADS} is not a positive integer
   */
  public static int torchThreads() {
    if (System.getProperty(DJL_TORCH_THREADS) != null) {
      return 0;
    }
    String v = System.getProperty(TORCH_THREADS);
    if (v == null) {
      v = System.getenv(TORCH_THREADS.replace('.', '_').toUpperCase(Locale.ROOT));
    }
    if (v == null || v.isBlank()) {
      return 1;
    }
    try {
      int n = Integer.parseInt(v.trim());
      if (n >= 1) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException(
        "Invalid " + TORCH_THREADS + " '" + v + "': use a positive number of threads");
  }

  /**
   * Returns the PyTorch engine every forwarded op runs on.
   *
   * @return the PyTorch engine
   * @throws EngineException when the engine runs without a host engine ({@link HostEngine})
   */
  public Engine getPyTorchEngine() {
    return HostEngine.get();
  }

  /**
   * Returns whether this engine has its host engine (PyTorch); without it only GPU arrays work.
   *
   * @return true when PyTorch is loaded
   */
  public boolean hasHostEngine() {
    return HostEngine.isAvailable();
  }

  /**
   * Returns {@code null}: MX arrays already run every op, and an alternative engine would make each
   * MX manager open a PyTorch manager that is never closed.
   *
   * @return {@code null}
   */
  @Override
  public Engine getAlternativeEngine() {
    return null;
  }

  /** {@inheritDoc} */
  @Override
  public String getEngineName() {
    return ENGINE_NAME;
  }

  /** {@inheritDoc} */
  @Override
  public int getRank() {
    return RANK;
  }

  /** {@inheritDoc} */
  @Override
  public String getVersion() {
    Engine pt = HostEngine.instance().tryGet();
    return "0.1.0 (" + (pt == null ? "GPU-only" : PYTORCH + " " + pt.getVersion()) + ")";
  }

  /** {@inheritDoc} */
  @Override
  public boolean hasCapability(String capability) {
    Engine pt = HostEngine.instance().tryGet();
    return pt != null && pt.hasCapability(capability);
  }

  /**
   * Returns 1 when a CUDA device with the MX kernels is usable (MX runs device 0), else 0.
   *
   * @return the number of GPUs MX arrays can use
   */
  @Override
  public int getGpuCount() {
    return CudaBackend.isAvailable() ? 1 : 0;
  }

  /** {@inheritDoc} */
  @Override
  public Model newModel(String name, Device device) {
    return new MxModel(name, device);
  }

  /**
   * Returns {@code gpu(0)} when the engine runs GPU-only (no host engine, a CUDA device present),
   * so that managers made without a device (e.g. by DJL blocks inferring shapes) hold GPU arrays;
   * otherwise DJL's default.
   *
   * @return the default device
   */
  @Override
  public Device defaultDevice() {
    if (HostEngine.instance().tryGet() == null && CudaBackend.isAvailable()) {
      return Device.gpu();
    }
    return super.defaultDevice();
  }

  /** {@inheritDoc} */
  @Override
  public NDManager newBaseManager() {
    return MxNDManager.getSystemManager().newSubManager(defaultDevice());
  }

  /** {@inheritDoc} */
  @Override
  public NDManager newBaseManager(Device device) {
    return MxNDManager.getSystemManager().newSubManager(device);
  }

  /** {@inheritDoc} */
  @Override
  public GradientCollector newGradientCollector() {
    return new MxGradientCollector(HostEngine.get().newGradientCollector());
  }

  /** {@inheritDoc} */
  @Override
  public void setRandomSeed(int seed) {
    super.setRandomSeed(seed);
    Engine pt = HostEngine.instance().tryGet();
    if (pt != null) {
      pt.setRandomSeed(seed);
    }
  }

  /** {@inheritDoc} */
  @Override
  public String toString() {
    return ENGINE_NAME + ":" + getVersion();
  }
}

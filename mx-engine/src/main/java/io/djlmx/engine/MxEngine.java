package io.djlmx.engine;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The MX engine: DJL's PyTorch engine with {@code linear} replaced by MX-quantized kernels.
 *
 * <p>Arrays are {@link MxNDArray}s that wrap PyTorch arrays; every op without an MX kernel runs on
 * PyTorch without copies and its result stays on this engine.
 */
public final class MxEngine extends Engine {

  /** The engine name, as used in {@code Criteria.optEngine("MX")}. */
  public static final String ENGINE_NAME = "MX";

  /** The engine rank: above PyTorch's 2, so MX is never the default engine by accident. */
  public static final int RANK = 20;

  /** The name of the engine that runs every op MX does not accelerate. */
  public static final String PYTORCH = "PyTorch";

  private static final Logger logger = LoggerFactory.getLogger(MxEngine.class);

  private final Engine pytorch;

  private MxEngine(Engine pytorch) {
    this.pytorch = pytorch;
  }

  /**
   * Creates the engine, loading PyTorch's native library.
   *
   * @return the engine
   * @throws EngineException if the PyTorch engine is missing or fails to load
   */
  static Engine newInstance() {
    try {
      if (!Engine.hasEngine(PYTORCH)) {
        throw new EngineException(
            "The MX engine needs DJL's PyTorch engine (ai.djl.pytorch:pytorch-engine) on the"
                + " class path");
      }
      Engine pt = Engine.getEngine(PYTORCH);
      logger.info("MX engine on {} {}", PYTORCH, pt.getVersion());
      return new MxEngine(pt);
    } catch (EngineException e) {
      throw e;
    } catch (RuntimeException | LinkageError e) {
      throw new EngineException("Failed to start the MX engine: " + e.getMessage(), e);
    }
  }

  /**
   * Returns the PyTorch engine every forwarded op runs on.
   *
   * @return the PyTorch engine
   */
  public Engine getPyTorchEngine() {
    return pytorch;
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
    return "0.1.0 (" + PYTORCH + " " + pytorch.getVersion() + ")";
  }

  /** {@inheritDoc} */
  @Override
  public boolean hasCapability(String capability) {
    return pytorch.hasCapability(capability);
  }

  /** {@inheritDoc} */
  @Override
  public Model newModel(String name, Device device) {
    return new MxModel(name, device);
  }

  /** {@inheritDoc} */
  @Override
  public NDManager newBaseManager() {
    return MxNDManager.getSystemManager().newSubManager();
  }

  /** {@inheritDoc} */
  @Override
  public NDManager newBaseManager(Device device) {
    return MxNDManager.getSystemManager().newSubManager(device);
  }

  /** {@inheritDoc} */
  @Override
  public GradientCollector newGradientCollector() {
    return new MxGradientCollector(pytorch.newGradientCollector());
  }

  /** {@inheritDoc} */
  @Override
  public void setRandomSeed(int seed) {
    super.setRandomSeed(seed);
    pytorch.setRandomSeed(seed);
  }

  /** {@inheritDoc} */
  @Override
  public String toString() {
    return ENGINE_NAME + ":" + getVersion();
  }
}

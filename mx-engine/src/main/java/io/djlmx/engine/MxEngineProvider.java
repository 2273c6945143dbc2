package io.djlmx.engine;

import ai.djl.engine.Engine;
import ai.djl.engine.EngineProvider;

/**
 * Registers the MX engine with DJL through {@code META-INF/services}.
 *
 * <p>DJL reads the name and rank inside {@link Engine}'s static initializer, so both are constants
 * and nothing else happens here until {@link #getEngine()} is called: resolving the PyTorch engine
 * that early would fail when this jar precedes pytorch-engine on the class path.
 */
public class MxEngineProvider implements EngineProvider {

  private static volatile Engine engine; // NOPMD

  /** {@inheritDoc} */
  @Override
  public String getEngineName() {
    return MxEngine.ENGINE_NAME;
  }

  /** {@inheritDoc} */
  @Override
  public int getEngineRank() {
    return MxEngine.RANK;
  }

  /** {@inheritDoc} */
  @Override
  public Engine getEngine() {
    if (engine == null) {
      synchronized (MxEngineProvider.class) {
        if (engine == null) {
          engine = MxEngine.newInstance();
        }
      }
    }
    return engine;
  }
}

package io.djlmx.engine;

import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import java.util.Locale;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The host engine of MX: DJL's PyTorch engine, which holds CPU arrays and runs every op MX does not
 * accelerate, resolved lazily so that GPU-resident arrays never need it.
 *
 * <p>Chosen by {@code mx.engine.host} (system property, else environment {@code MX_ENGINE_HOST}):
 * {@code pytorch} (default) loads PyTorch on first use; {@code none} never touches it, so the
 * engine runs GPU arrays only (CPU arrays and host fallbacks then fail with a message naming this
 * setting). When {@code pytorch} is chosen but cannot load (no native library, as on a GPU machine
 * that carries none), the failure is remembered and reported in the same way instead of being
 * retried.
 */
public final class HostEngine {

  /** The configuration key that selects the host engine. */
  public static final String KEY = "mx.engine.host";

  private static final Logger logger = LoggerFactory.getLogger(HostEngine.class);

  private static final HostEngine INSTANCE =
      new HostEngine(configuredMode(), () -> Engine.getEngine(MxEngine.PYTORCH));

  /** Where host ops run. */
  public enum Mode {
    /** DJL's PyTorch engine, loaded on first use. */
    PYTORCH,
    /** No host engine: only GPU-resident arrays and their CUDA kernels. */
    NONE
  }

  private final Mode mode;
  private final Supplier<Engine> loader;
  private volatile Engine engine;
  private volatile String failure;

  HostEngine(Mode mode, Supplier<Engine> loader) {
    this.mode = mode;
    this.loader = loader;
  }

  static HostEngine instance() {
    return INSTANCE;
  }

  /**
   * Parses a {@code mx.engine.host} value.
   *
   * @param value {@code pytorch} or {@code none} (any case), null for the default
   * @return the mode
   * @throws IllegalArgumentException listing the valid values
   */
  public static Mode parseMode(String value) {
    if (value == null || value.isBlank()) {
      return Mode.PYTORCH;
    }
    return switch (value.trim().toLowerCase(Locale.ROOT)) {
      case "pytorch" -> Mode.PYTORCH;
      case "none" -> Mode.NONE;
      default ->
          throw new IllegalArgumentException(
              "Unknown " + KEY + " value '" + value + "': valid values are pytorch, none");
    };
  }

  private static Mode configuredMode() {
    String v = System.getProperty(KEY);
    if (v == null) {
      v = System.getenv("MX_ENGINE_HOST");
    }
    return parseMode(v);
  }

  /**
   * Returns the configured mode of this process.
   *
   * @return the mode
   */
  public static Mode mode() {
    return INSTANCE.mode;
  }

  /**
   * Returns whether the host engine is usable, loading it on first call in {@code pytorch} mode.
   *
   * @return true when {@link #get()} succeeds
   */
  public static boolean isAvailable() {
    return INSTANCE.tryGet() != null;
  }

  /**
   * Returns why the host engine is unavailable, or null when it is available.
   *
   * @return the reason, or null
   */
  public static String unavailableReason() {
    return INSTANCE.tryGet() == null ? INSTANCE.failure : null;
  }

  /**
   * Returns the host engine, loading it on first use.
   *
   * @return the PyTorch engine
   * @throws EngineException naming the reason when there is none
   */
  public static Engine get() {
    return INSTANCE.require();
  }

  Engine require() {
    Engine e = tryGet();
    if (e == null) {
      throw new EngineException(
          "The MX engine has no host engine: "
              + failure
              + ". CPU arrays and ops without a CUDA kernel"
              + " need DJL's PyTorch engine with its native library");
    }
    return e;
  }

  Engine tryGet() {
    Engine e = engine;
    if (e != null || failure != null) {
      return e;
    }
    synchronized (this) {
      if (engine == null && failure == null) {
        if (mode == Mode.NONE) {
          failure = KEY + "=none";
        } else {
          try {
            engine = loader.get();
            if (engine == null) {
              failure =
                  "PyTorch engine not found (ai.djl.pytorch:pytorch-engine on the class path?)";
            }
          } catch (RuntimeException | LinkageError t) {
            failure = "PyTorch failed to load (" + t.getMessage() + ")";
            logger.warn("MX host engine unavailable: {}", failure);
          }
        }
      }
      return engine;
    }
  }

  String failure() {
    return failure;
  }
}

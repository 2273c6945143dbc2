package io.djlmx.zoo.lm;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * How {@link TextGenerationTranslator} generates: greedy or sampled (temperature, top-k, seed), at
 * most {@code maxNewTokens} tokens, stopping at the end-of-text token and at any stop string.
 * Immutable; build one with {@link #builder()} or read one from Criteria arguments with {@link
 * #fromArguments(Map)}.
 */
public final class GenerationConfig {

  /** Criteria argument: the most tokens generated (default 64). */
  public static final String MAX_NEW_TOKENS = "maxNewTokens";

  /** Criteria argument: {@code true} samples, {@code false} (default) picks the likeliest token. */
  public static final String SAMPLE = "sample";

  /** Criteria argument: the sampling temperature, positive (default 1.0). */
  public static final String TEMPERATURE = "temperature";

  /** Criteria argument: sample among the k likeliest tokens; 0 (default) for all. */
  public static final String TOP_K = "topK";

  /** Criteria argument: the sampling seed; each prediction restarts from it (default: random). */
  public static final String SEED = "seed";

  /** Criteria argument: a stop string, or several separated by {@code |} (default: none). */
  public static final String STOP = "stop";

  /** Criteria argument: {@code true} keeps generating past the end-of-text token (benchmarks). */
  public static final String IGNORE_EOS = "ignoreEos";

  /** Every argument the translator reads. */
  public static final List<String> ARGUMENTS =
      List.of(MAX_NEW_TOKENS, SAMPLE, TEMPERATURE, TOP_K, SEED, STOP, IGNORE_EOS);

  private final int maxNewTokens;
  private final boolean sample;
  private final float temperature;
  private final int topK;
  private final Long seed;
  private final List<String> stop;
  private final boolean ignoreEos;

  private GenerationConfig(Builder b) {
    this.maxNewTokens = b.maxNewTokens;
    this.sample = b.sample;
    this.temperature = b.temperature;
    this.topK = b.topK;
    this.seed = b.seed;
    this.stop = Collections.unmodifiableList(new ArrayList<>(b.stop));
    this.ignoreEos = b.ignoreEos;
  }

  /**
   * Returns a builder holding the defaults (greedy, 64 new tokens, stop at end of text).
   *
   * @return a builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Reads a configuration from Criteria arguments ({@link #ARGUMENTS}); values may be strings or
   * numbers/booleans. Keys the translator does not know are ignored.
   *
   * @param arguments the arguments
   * @return the configuration
   * @throws IllegalArgumentException naming the argument whose value is invalid
   */
  public static GenerationConfig fromArguments(Map<String, ?> arguments) {
    Builder b = builder();
    if (arguments == null) {
      return b.build();
    }
    Object v = arguments.get(MAX_NEW_TOKENS);
    if (v != null) {
      b.optMaxNewTokens(parseInt(MAX_NEW_TOKENS, v));
    }
    v = arguments.get(SAMPLE);
    if (v != null) {
      b.optSample(parseBoolean(SAMPLE, v));
    }
    v = arguments.get(TEMPERATURE);
    if (v != null) {
      try {
        b.optTemperature(Float.parseFloat(v.toString().trim()));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "Invalid " + TEMPERATURE + " '" + v + "': not a number", e);
      }
    }
    v = arguments.get(TOP_K);
    if (v != null) {
      b.optTopK(parseInt(TOP_K, v));
    }
    v = arguments.get(SEED);
    if (v != null) {
      try {
        b.optSeed(Long.parseLong(v.toString().trim()));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("Invalid " + SEED + " '" + v + "': not an integer", e);
      }
    }
    v = arguments.get(STOP);
    if (v != null) {
      for (String s : v.toString().split("\\|")) {
        b.addStop(s.replace("\\n", "\n"));
      }
    }
    v = arguments.get(IGNORE_EOS);
    if (v != null) {
      b.optIgnoreEos(parseBoolean(IGNORE_EOS, v));
    }
    return b.build();
  }

  private static int parseInt(String key, Object v) {
    try {
      return Integer.parseInt(v.toString().trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("Invalid " + key + " '" + v + "': not an integer", e);
    }
  }

  private static boolean parseBoolean(String key, Object v) {
    String s = v.toString().trim();
    if (s.equalsIgnoreCase("true") || s.equalsIgnoreCase("false")) {
      return Boolean.parseBoolean(s);
    }
    throw new IllegalArgumentException("Invalid " + key + " '" + v + "': use true or false");
  }

  /**
   * Returns the most tokens one prediction generates.
   *
   * @return the token limit
   */
  public int maxNewTokens() {
    return maxNewTokens;
  }

  /**
   * Returns whether tokens are sampled (else the likeliest is taken).
   *
   * @return true when sampling
   */
  public boolean sample() {
    return sample;
  }

  /**
   * Returns the sampling temperature.
   *
   * @return the temperature
   */
  public float temperature() {
    return temperature;
  }

  /**
   * Returns how many of the likeliest tokens sampling draws from (0: all).
   *
   * @return top-k
   */
  public int topK() {
    return topK;
  }

  /**
   * Returns the sampling seed, or null for a random one per prediction.
   *
   * @return the seed
   */
  public Long seed() {
    return seed;
  }

  /**
   * Returns the stop strings: generation ends when the generated text contains one (which is cut
   * off with everything after it).
   *
   * @return the stop strings, possibly empty
   */
  public List<String> stop() {
    return stop;
  }

  /**
   * Returns whether the end-of-text token is ignored (generation runs to the token limit).
   *
   * @return true when ignored
   */
  public boolean ignoreEos() {
    return ignoreEos;
  }

  /** {@inheritDoc} */
  @Override
  public String toString() {
    return (sample
            ? "sample(temperature " + temperature + ", topK " + topK + ", seed " + seed + ")"
            : "greedy")
        + ", maxNewTokens "
        + maxNewTokens
        + (stop.isEmpty() ? "" : ", stop " + stop)
        + (ignoreEos ? ", ignoreEos" : "");
  }

  /** Builds a {@link GenerationConfig}. */
  public static final class Builder {

    private int maxNewTokens = 64;
    private boolean sample;
    private float temperature = 1f;
    private int topK;
    private Long seed;
    private final List<String> stop = new ArrayList<>();
    private boolean ignoreEos;

    private Builder() {}

    /**
     * Sets the most tokens one prediction generates (default 64).
     *
     * @param maxNewTokens at least 1
     * @return this builder
     */
    public Builder optMaxNewTokens(int maxNewTokens) {
      if (maxNewTokens < 1) {
        throw new IllegalArgumentException(
            "Invalid " + MAX_NEW_TOKENS + " " + maxNewTokens + ": must be at least 1");
      }
      this.maxNewTokens = maxNewTokens;
      return this;
    }

    /**
     * Sets whether tokens are sampled (default false: greedy).
     *
     * @param sample true to sample
     * @return this builder
     */
    public Builder optSample(boolean sample) {
      this.sample = sample;
      return this;
    }

    /**
     * Sets the sampling temperature (default 1).
     *
     * @param temperature positive and finite
     * @return this builder
     */
    public Builder optTemperature(float temperature) {
      if (!(temperature > 0) || !Float.isFinite(temperature)) {
        throw new IllegalArgumentException(
            "Invalid " + TEMPERATURE + " " + temperature + ": must be positive and finite");
      }
      this.temperature = temperature;
      return this;
    }

    /**
     * Sets how many of the likeliest tokens sampling draws from (default 0: all).
     *
     * @param topK 0 or more
     * @return this builder
     */
    public Builder optTopK(int topK) {
      if (topK < 0) {
        throw new IllegalArgumentException(
            "Invalid " + TOP_K + " " + topK + ": must be 0 (all tokens) or more");
      }
      this.topK = topK;
      return this;
    }

    /**
     * Sets the sampling seed: each prediction restarts from it, so equal prompts give equal text.
     *
     * @param seed the seed, or null for a random one per prediction (the default)
     * @return this builder
     */
    public Builder optSeed(Long seed) {
      this.seed = seed;
      return this;
    }

    /**
     * Adds a stop string.
     *
     * @param stopString a non-empty string
     * @return this builder
     */
    public Builder addStop(String stopString) {
      Objects.requireNonNull(stopString, STOP);
      if (stopString.isEmpty()) {
        throw new IllegalArgumentException("Invalid " + STOP + ": a stop string must not be empty");
      }
      stop.add(stopString);
      return this;
    }

    /**
     * Sets whether the end-of-text token is ignored (default false).
     *
     * @param ignoreEos true to run to the token limit
     * @return this builder
     */
    public Builder optIgnoreEos(boolean ignoreEos) {
      this.ignoreEos = ignoreEos;
      return this;
    }

    /**
     * Builds the configuration.
     *
     * @return the configuration
     */
    public GenerationConfig build() {
      return new GenerationConfig(this);
    }
  }
}

package io.djlmx.attention;

import java.util.Objects;

/**
 * The knobs of MX attention: Q·Kᵀ precision, smoothing, the P·V precision, tensor layout and
 * parallelism. Immutable; build one with {@link #builder()}.
 */
public final class AttentionConfig {

  private static final AttentionConfig DEFAULTS = builder().build();

  private final QkPrecision qkPrecision;
  private final boolean smoothK;
  private final boolean smoothV;
  private final boolean pvFp8;
  private final TensorLayout layout;
  private final int parallelism;

  private AttentionConfig(Builder b) {
    this.qkPrecision = b.qkPrecision;
    this.smoothK = b.smoothK;
    this.smoothV = b.smoothV;
    this.pvFp8 = b.pvFp8;
    this.layout = b.layout;
    this.parallelism = b.parallelism;
  }

  /**
   * Returns the default configuration: INT8 Q·Kᵀ, K smoothed, V not smoothed, FP32 P·V, BHSD
   * layout, all cores. FP32 P·V is the default because FP8 P and V cost ~2.5 points of relative L1
   * on flat attention (docs/ACCURACY-attention.md) and buy no speed on a CPU; turn it on with
   * {@link Builder#optPvFp8(boolean)} to match the GPU kernel's numerics.
   *
   * @return the default configuration
   */
  public static AttentionConfig defaults() {
    return DEFAULTS;
  }

  /**
   * Returns a new builder holding the defaults.
   *
   * @return a builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Returns a builder initialised with this configuration's values.
   *
   * @return a builder
   */
  public Builder toBuilder() {
    return new Builder()
        .optQkPrecision(qkPrecision)
        .optSmoothK(smoothK)
        .optSmoothV(smoothV)
        .optPvFp8(pvFp8)
        .optLayout(layout)
        .optParallelism(parallelism);
  }

  /**
   * Returns how Q and K are quantized.
   *
   * @return the Q·Kᵀ precision
   */
  public QkPrecision qkPrecision() {
    return qkPrecision;
  }

  /**
   * Returns whether K has its per-channel token mean subtracted before quantization.
   *
   * @return true when K is smoothed
   */
  public boolean smoothK() {
    return smoothK;
  }

  /**
   * Returns whether V has its per-channel token mean subtracted before FP8 quantization (and added
   * back to the output).
   *
   * @return true when V is smoothed
   */
  public boolean smoothV() {
    return smoothV;
  }

  /**
   * Returns whether P and V are rounded to FP8 E4M3 before P·V (false: FP32 P·V).
   *
   * @return true for FP8 P·V
   */
  public boolean pvFp8() {
    return pvFp8;
  }

  /**
   * Returns the axis order of Q, K, V and the output.
   *
   * @return the layout
   */
  public TensorLayout layout() {
    return layout;
  }

  /**
   * Returns the number of threads to use; 0 means the common fork-join pool (all cores).
   *
   * @return the parallelism, 0 for the default
   */
  public int parallelism() {
    return parallelism;
  }

  /** {@inheritDoc} */
  @Override
  public String toString() {
    return "AttentionConfig{qk="
        + qkPrecision
        + ", smoothK="
        + smoothK
        + ", smoothV="
        + smoothV
        + ", pvFp8="
        + pvFp8
        + ", layout="
        + layout
        + ", parallelism="
        + parallelism
        + '}';
  }

  /** Builds an {@link AttentionConfig}; every value is optional. */
  public static final class Builder {
    private QkPrecision qkPrecision = QkPrecision.INT8;
    private boolean smoothK = true;
    private boolean smoothV;
    private boolean pvFp8;
    private TensorLayout layout = TensorLayout.BHSD;
    private int parallelism;

    private Builder() {}

    /**
     * Sets how Q and K are quantized (default INT8).
     *
     * @param qkPrecision the precision
     * @return this builder
     */
    public Builder optQkPrecision(QkPrecision qkPrecision) {
      this.qkPrecision = Objects.requireNonNull(qkPrecision, "qkPrecision");
      return this;
    }

    /**
     * Sets whether K is smoothed by its token mean (default true).
     *
     * @param smoothK true to smooth K
     * @return this builder
     */
    public Builder optSmoothK(boolean smoothK) {
      this.smoothK = smoothK;
      return this;
    }

    /**
     * Sets whether V is smoothed by its token mean (default false).
     *
     * @param smoothV true to smooth V
     * @return this builder
     */
    public Builder optSmoothV(boolean smoothV) {
      this.smoothV = smoothV;
      return this;
    }

    /**
     * Sets whether P and V are rounded to FP8 E4M3 (default false).
     *
     * @param pvFp8 true for FP8 P·V, false for FP32 P·V
     * @return this builder
     */
    public Builder optPvFp8(boolean pvFp8) {
      this.pvFp8 = pvFp8;
      return this;
    }

    /**
     * Sets the axis order of the tensors (default BHSD).
     *
     * @param layout the layout
     * @return this builder
     */
    public Builder optLayout(TensorLayout layout) {
      this.layout = Objects.requireNonNull(layout, "layout");
      return this;
    }

    /**
     * Sets the number of threads (default 0: the common fork-join pool).
     *
     * @param parallelism threads, 0 for the default
     * @return this builder
     */
    public Builder optParallelism(int parallelism) {
      if (parallelism < 0) {
        throw new IllegalArgumentException("parallelism must be >= 0, got " + parallelism);
      }
      this.parallelism = parallelism;
      return this;
    }

    /**
     * Builds the configuration.
     *
     * @return the configuration
     */
    public AttentionConfig build() {
      return new AttentionConfig(this);
    }
  }
}

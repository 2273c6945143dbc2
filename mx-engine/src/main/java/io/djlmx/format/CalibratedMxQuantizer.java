package io.djlmx.format;

import java.lang.foreign.ValueLayout;
import java.util.Objects;
import java.util.stream.IntStream;

/**
 * Quantizes a linear weight {@code W [n, k]} to MX choosing the codes that keep the layer's output
 * close on calibration inputs: it minimises {@code ||X·Wᵀ − X·Ŵᵀ||²} given the input Gram matrix
 * {@code H = Σ xᵀx}, instead of rounding every weight to nearest on its own.
 *
 * <p>The method is the error feedback of GPTQ (Frantar et al., 2022), fitted to MX blocks: the
 * columns (inputs) are visited in order; when the walk reaches the first column of a block, each
 * row's shared E8M0 exponent is fixed from that block's <em>current</em> values (already corrected
 * for the error of earlier blocks) with the configured {@link ScaleMode}; then each column is
 * rounded to nearest in that scale, and its rounding error, divided by the diagonal of the upper
 * Cholesky factor {@code U} of {@code H⁻¹}, is subtracted from the columns not yet rounded in
 * proportion to {@code U}'s row. Updates past the current block are batched per block (one
 * rank-{@code blockSize} update). Blocks are walked in activation order by default ({@link
 * Builder#optActivationOrder}). Rows are independent and run in parallel; the result does not
 * depend on the thread count.
 *
 * <p>The output is an ordinary {@link MxTensor} in the canonical layout: same packing, same scale
 * semantics, same kernels; only which codes are chosen differs. With {@code H} diagonal nothing is
 * fed back and the result is round-to-nearest, bit for bit equal to {@link MxTensor#quantize}.
 *
 * <p>Safeguard: the greedy walk is not optimal, and where the fixed block scale clips values that
 * the feedback pushed up (FLOOR keeps little headroom, e.g. E4M3's 448 against a block maximum up
 * to 511) errors can cascade. So each row keeps its round-to-nearest codes and scales whenever
 * those give the smaller output error {@code (w − ŵ)ᵀ·H·(w − ŵ)} on the calibration statistics: on
 * those statistics the result is never worse than round-to-nearest, row by row.
 *
 * <p>Damping: {@link Builder#optDamping(double)} (default {@value #DEFAULT_DAMPING}) times the mean
 * diagonal of {@code H} is added to its diagonal, which keeps the factorization stable where inputs
 * are nearly collinear; if {@code H} is still not positive definite the damping grows tenfold, a
 * few times, before an {@link IllegalArgumentException}. Inputs whose diagonal is zero (never
 * active during calibration) round to nearest and feed no error.
 *
 * <pre>{@code
 * CalibratedMxQuantizer q = CalibratedMxQuantizer.builder().setFormat(MxFormat.MXFP8_E4M3).build();
 * try (MxTensor t = q.quantize("fc1.weight", w, n, k, gram)) { ... }
 * }</pre>
 */
public final class CalibratedMxQuantizer {

  /** The default damping, relative to the mean diagonal of the Gram matrix: 1%. */
  public static final double DEFAULT_DAMPING = 0.01;

  /** Rows processed together, so each block of {@code U} is read once per tile. */
  private static final int ROW_TILE = 8;

  private final MxFormat format;
  private final ScaleMode scaleMode;
  private final int blockSize;
  private final double damping;
  private final boolean activationOrder;
  private final int refinePasses;

  private CalibratedMxQuantizer(Builder b) {
    this.refinePasses = b.refinePasses;
    this.activationOrder = b.activationOrder;
    this.format = b.format;
    this.scaleMode = b.scaleMode;
    this.blockSize = b.blockSize;
    this.damping = b.damping;
  }

  /**
   * Returns a new builder.
   *
   * @return the builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Returns the element type.
   *
   * @return the format
   */
  public MxFormat format() {
    return format;
  }

  /**
   * Returns the scale rule.
   *
   * @return the scale mode
   */
  public ScaleMode scaleMode() {
    return scaleMode;
  }

  /**
   * Returns the block size.
   *
   * @return elements per block
   */
  public int blockSize() {
    return blockSize;
  }

  /**
   * Returns the damping relative to the mean diagonal of the Gram matrix.
   *
   * @return the relative damping
   */
  public double damping() {
    return damping;
  }

  /**
   * Quantizes a weight with calibrated rounding.
   *
   * @param name the parameter's name, for messages
   * @param weight row-major {@code [rows, cols]} FP32 values, finite
   * @param rows {@code n}, the output features
   * @param cols {@code k}, the input features (the blocked axis)
   * @param gram the input Gram matrix {@code Σ xᵀx}, row-major {@code [cols, cols]}, symmetric (the
   *     lower triangle is read), finite
   * @return the packed tensor {@code [rows, cols]}; the caller closes it
   * @throws IllegalArgumentException when sizes do not match, a value is NaN or infinite (naming
   *     the row and column), or the Gram matrix is not positive definite even with more damping
   */
  public MxTensor quantize(String name, float[] weight, int rows, int cols, double[] gram) {
    Objects.requireNonNull(weight, "weight");
    Objects.requireNonNull(gram, "gram");
    String what = name == null ? "the weight" : name;
    if (rows < 0 || cols < 1 || weight.length != (long) rows * cols) {
      throw new IllegalArgumentException(
          what
              + ": weight has "
              + weight.length
              + " values, shape ["
              + rows
              + ", "
              + cols
              + "] needs "
              + (long) rows * cols);
    }
    if (gram.length != (long) cols * cols) {
      throw new IllegalArgumentException(
          what
              + ": Gram matrix has "
              + gram.length
              + " values, ["
              + cols
              + ", "
              + cols
              + "] needs "
              + (long) cols * cols);
    }
    for (int i = 0; i < weight.length; i++) {
      if (!Float.isFinite(weight[i])) {
        throw new IllegalArgumentException(
            what
                + " holds "
                + weight[i]
                + " at row "
                + i / cols
                + ", column "
                + i % cols
                + ": it cannot be quantized");
      }
    }
    for (int i = 0; i < cols; i++) {
      for (int j = 0; j <= i; j++) {
        if (!Double.isFinite(gram[i * cols + j])) {
          throw new IllegalArgumentException(
              "Gram matrix of "
                  + what
                  + " holds "
                  + gram[i * cols + j]
                  + " at ["
                  + i
                  + ", "
                  + j
                  + "]: the calibration inputs were not finite");
        }
      }
    }
    int blocks = (cols + blockSize - 1) / blockSize;
    int[] order = blockOrder(gram, cols, blocks);
    // perm[p]: the original column at walk position p; starts[i]: where the i-th block walked
    // starts
    int[] perm = new int[cols];
    int[] starts = new int[blocks + 1];
    int p = 0;
    for (int i = 0; i < blocks; i++) {
      starts[i] = p;
      for (int c = order[i] * blockSize; c < Math.min(cols, (order[i] + 1) * blockSize); c++) {
        perm[p++] = c;
      }
    }
    starts[blocks] = cols;
    double[] walked = new double[gram.length];
    for (int i = 0; i < cols; i++) {
      for (int j = 0; j <= i; j++) {
        int a = Math.max(perm[i], perm[j]);
        int b = Math.min(perm[i], perm[j]);
        double v = gram[a * cols + b]; // the lower triangle of H
        walked[i * cols + j] = v;
        walked[j * cols + i] = v;
      }
    }
    InverseGramFactor u = InverseGramFactor.of(walked, cols, damping, what);
    Walk walk = new Walk(order, perm, starts);
    double[] full = refinePasses > 0 ? symmetric(gram, cols) : null;
    MxTensor t = MxTensor.allocate(new long[] {rows, cols}, format, scaleMode, blockSize);
    try {
      int tiles = (rows + ROW_TILE - 1) / ROW_TILE;
      IntStream.range(0, tiles)
          .parallel()
          .forEach(
              tile -> {
                int r0 = tile * ROW_TILE;
                CodeRefiner refiner =
                    full == null
                        ? null
                        : new CodeRefiner(format, blockSize, cols, full, u.damping());
                quantizeRows(
                    weight, r0, Math.min(rows, r0 + ROW_TILE), cols, gram, u, walk, refiner, t);
              });
      return t;
    } catch (RuntimeException e) {
      t.close();
      throw e;
    }
  }

  /** The order blocks are walked in, and the column permutation it makes. */
  private record Walk(int[] blocks, int[] perm, int[] starts) {}

  /**
   * Returns the order to walk the blocks in: with activation order, the blocks holding the inputs
   * of largest energy ({@code max H[j][j]}) first, ties in natural order; else natural order.
   */
  private int[] blockOrder(double[] gram, int cols, int blocks) {
    Integer[] order = new Integer[blocks];
    double[] energy = new double[blocks];
    for (int b = 0; b < blocks; b++) {
      order[b] = b;
      for (int c = b * blockSize; c < Math.min(cols, (b + 1) * blockSize); c++) {
        energy[b] = Math.max(energy[b], gram[c * cols + c]);
      }
    }
    if (activationOrder) {
      java.util.Arrays.sort(order, (x, y) -> Double.compare(energy[y], energy[x]));
    }
    int[] out = new int[blocks];
    for (int b = 0; b < blocks; b++) {
      out[b] = order[b];
    }
    return out;
  }

  /**
   * Runs the error-feedback walk over rows {@code [r0, r1)}, keeps per row the better of it and
   * round-to-nearest by the output error on the calibration statistics, and writes the codes and
   * scales.
   */
  private void quantizeRows(
      float[] weight,
      int r0,
      int r1,
      int k,
      double[] gram,
      InverseGramFactor factor,
      Walk walk,
      CodeRefiner refiner,
      MxTensor t) {
    int n = r1 - r0;
    int blocks = (int) t.blocksPerRow();
    int padded = blocks * blockSize;
    int[] perm = walk.perm();
    double[] hu = factor.values();
    // w: the rows in walk order
    double[][] w = new double[n][k];
    for (int r = 0; r < n; r++) {
      for (int c = 0; c < k; c++) {
        w[r][c] = weight[(r0 + r) * k + perm[c]];
      }
    }
    int[][] codes = new int[n][padded];
    int[][] scales = new int[n][blocks];
    double[][] deq = new double[n][k];
    double[][] err = new double[n][blockSize];
    int[] exps = new int[n];
    for (int i = 0; i < blocks; i++) {
      int b = walk.blocks()[i];
      int s = walk.starts()[i];
      int e = walk.starts()[i + 1];
      for (int r = 0; r < n; r++) {
        double max = 0;
        for (int c = s; c < e; c++) {
          max = Math.max(max, Math.abs(w[r][c]));
        }
        if (!Double.isFinite(max) || max > Float.MAX_VALUE) {
          throw new IllegalStateException(
              "Calibrated rounding of row " + (r0 + r) + ", block " + b + " diverged: " + max);
        }
        exps[r] = E8M0.sharedExponent((float) max, format, scaleMode);
        scales[r][b] = E8M0.toBiased(exps[r]);
      }
      for (int c = s; c < e; c++) {
        int uc = c * k;
        double d = hu[uc + c];
        int col = perm[c];
        for (int r = 0; r < n; r++) {
          double[] wr = w[r];
          // Scaling by a power of two as the round-to-nearest codec does, so H = λI reproduces it.
          int code = format.encode(Math.scalb((float) wr[c], -exps[r]));
          codes[r][col] = code;
          double q = Math.scalb((double) format.decode(code), exps[r]);
          deq[r][col] = q;
          double ec = (wr[c] - q) / d;
          err[r][c - s] = ec;
          for (int j = c + 1; j < e; j++) {
            wr[j] -= ec * hu[uc + j];
          }
        }
      }
      if (e < k) {
        for (int r = 0; r < n; r++) {
          double[] wr = w[r];
          double[] er = err[r];
          for (int c = s; c < e; c++) {
            double ec = er[c - s];
            if (ec == 0) {
              continue;
            }
            int uc = c * k;
            for (int j = e; j < k; j++) {
              wr[j] -= ec * hu[uc + j];
            }
          }
        }
      }
    }
    float[] row = new float[padded];
    int[] rtnCodes = new int[padded];
    int[] rtnScales = new int[blocks];
    double[] diff = new double[k];
    long bytesPerRow = t.codeBytesPerRow();
    for (int r = 0; r < n; r++) {
      int base = (r0 + r) * k;
      for (int c = 0; c < k; c++) {
        diff[c] = weight[base + c] - deq[r][c];
      }
      double calibrated = quadraticForm(gram, k, diff);
      // Round-to-nearest, exactly as MxTensor.quantize does it.
      System.arraycopy(weight, base, row, 0, k);
      for (int b = 0; b < blocks; b++) {
        rtnScales[b] =
            ScalarBlockCodec.quantizeBlock(
                row, b * blockSize, blockSize, format, scaleMode, rtnCodes);
      }
      for (int c = 0; c < k; c++) {
        float scale = E8M0.toFloat(rtnScales[c / blockSize]);
        diff[c] = weight[base + c] - (double) format.decode(rtnCodes[c]) * scale;
      }
      boolean keepRtn = quadraticForm(gram, k, diff) <= calibrated;
      int[] rc = keepRtn ? rtnCodes : codes[r];
      int[] rs = keepRtn ? rtnScales : scales[r];
      if (refiner != null) {
        refiner.refine(weight, base, rc, rs, refinePasses);
      }
      for (int b = 0; b < blocks; b++) {
        t.scales().set(ValueLayout.JAVA_BYTE, (long) (r0 + r) * blocks + b, (byte) rs[b]);
      }
      CodePacking.pack(rc, padded, format.bits(), t.codes(), (r0 + r) * bytesPerRow);
    }
  }

  /** The full symmetric matrix from the lower triangle of {@code H}. */
  private static double[] symmetric(double[] h, int k) {
    double[] full = new double[k * k];
    for (int i = 0; i < k; i++) {
      for (int j = 0; j <= i; j++) {
        full[i * k + j] = h[i * k + j];
        full[j * k + i] = h[i * k + j];
      }
    }
    return full;
  }

  /** {@code dᵀ·H·d} from the lower triangle of a symmetric {@code H}. */
  private static double quadraticForm(double[] h, int k, double[] d) {
    double sum = 0;
    for (int i = 0; i < k; i++) {
      int ri = i * k;
      double off = 0;
      for (int j = 0; j < i; j++) {
        off += h[ri + j] * d[j];
      }
      sum += d[i] * (h[ri + i] * d[i] + 2 * off);
    }
    return sum;
  }

  /** Builds a {@link CalibratedMxQuantizer}: the format is required, the rest optional. */
  public static final class Builder {
    private MxFormat format;
    private ScaleMode scaleMode = ScaleMode.FLOOR;
    private int blockSize = MxFormat.DEFAULT_BLOCK_SIZE;
    private double damping = DEFAULT_DAMPING;
    private boolean activationOrder = true;
    private int refinePasses;

    private Builder() {}

    /**
     * Sets the most passes of coordinate descent run over each row after the error-feedback walk
     * (default 0: none). Each pass offers every weight the next representable value above and below
     * its current one, with the block scales fixed, and takes the moves that lower the damped
     * output error {@code (w − ŵ)ᵀ·(H + λI)·(w − ŵ)}; the walk rounds each weight once, in order,
     * and cannot revisit it.
     *
     * @param passes the most passes, {@code >= 0}
     * @return this builder
     */
    public Builder optRefinePasses(int passes) {
      if (passes < 0) {
        throw new IllegalArgumentException("refine passes must be >= 0, got " + passes);
      }
      this.refinePasses = passes;
      return this;
    }

    /**
     * Sets whether blocks are walked in activation order (default true): the blocks holding the
     * inputs of largest energy ({@code max H[j][j]}) first, so that no error is pushed into the
     * weights of the few inputs with large, steady activations (transformers' outlier features),
     * where a small change moves every output. False walks the blocks left to right. Columns within
     * a block keep their order; the packed layout never changes.
     *
     * @param activationOrder whether to walk blocks in activation order
     * @return this builder
     */
    public Builder optActivationOrder(boolean activationOrder) {
      this.activationOrder = activationOrder;
      return this;
    }

    /**
     * Sets the element type (required).
     *
     * @param format the format
     * @return this builder
     */
    public Builder setFormat(MxFormat format) {
      this.format = Objects.requireNonNull(format, "format");
      return this;
    }

    /**
     * Sets the scale rule; {@link ScaleMode#FLOOR} (the spec's) by default.
     *
     * @param scaleMode the scale mode
     * @return this builder
     */
    public Builder optScaleMode(ScaleMode scaleMode) {
      this.scaleMode = Objects.requireNonNull(scaleMode, "scaleMode");
      return this;
    }

    /**
     * Sets the block size; 32 (the spec's) by default.
     *
     * @param blockSize elements per block, >= 1
     * @return this builder
     */
    public Builder optBlockSize(int blockSize) {
      if (blockSize < 1) {
        throw new IllegalArgumentException("blockSize must be >= 1, got " + blockSize);
      }
      this.blockSize = blockSize;
      return this;
    }

    /**
     * Sets the damping added to the Gram matrix's diagonal, relative to its mean diagonal; {@value
     * #DEFAULT_DAMPING} by default. Larger values move the result toward round-to-nearest.
     *
     * @param damping the relative damping, finite and {@code >= 0}
     * @return this builder
     */
    public Builder optDamping(double damping) {
      if (!(damping >= 0) || Double.isInfinite(damping)) {
        throw new IllegalArgumentException("damping must be finite and >= 0, got " + damping);
      }
      this.damping = damping;
      return this;
    }

    /**
     * Builds the quantizer.
     *
     * @return the quantizer
     * @throws IllegalStateException when no format was set
     */
    public CalibratedMxQuantizer build() {
      if (format == null) {
        throw new IllegalStateException("CalibratedMxQuantizer needs a format: call setFormat");
      }
      return new CalibratedMxQuantizer(this);
    }
  }
}

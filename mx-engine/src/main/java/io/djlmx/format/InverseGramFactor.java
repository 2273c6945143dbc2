package io.djlmx.format;

/**
 * The upper-triangular factor {@code U} of the inverse of a damped input Gram matrix: {@code (H +
 * λI)⁻¹ = Uᵀ·U}, row-major {@code [k, k]}, the matrix calibrated rounding feeds its errors through.
 *
 * <p>It is found without forming the inverse: with {@code J} the order-reversing permutation,
 * {@code J·H·J = L·Lᵀ} (lower Cholesky) gives {@code H⁻¹ = (J·L⁻¹·J)ᵀ·(J·L⁻¹·J)}, and {@code
 * J·L⁻¹·J} is upper triangular with a positive diagonal: one Cholesky and one triangular inverse,
 * {@code k³/3} multiply-adds in all.
 *
 * <p>Inputs that never fire (a zero diagonal entry) are decoupled: their row and column of {@code
 * H} are cleared and the diagonal set to the damping, so their weights round to nearest without
 * passing error on (their value matters only for inputs the calibration never saw). The damping is
 * {@code relDamping} times the mean live diagonal; a matrix that is still not positive definite is
 * retried with ten times the damping, up to {@link #MAX_RETRIES} times.
 */
final class InverseGramFactor {

  /** How many times the damping is multiplied by ten before giving up. */
  static final int MAX_RETRIES = 4;

  private final int k;
  private final double[] upper;
  private final double damping;

  private InverseGramFactor(int k, double[] upper, double damping) {
    this.k = k;
    this.upper = upper;
    this.damping = damping;
  }

  /**
   * Factors a Gram matrix.
   *
   * @param gram row-major {@code [k, k]}, symmetric (only the lower triangle is read), finite
   * @param k the order
   * @param relDamping the damping relative to the mean diagonal, {@code >= 0}
   * @param what the parameter's name, for messages
   * @return the factor
   * @throws IllegalArgumentException when the matrix is not positive definite even after damping
   */
  static InverseGramFactor of(double[] gram, int k, double relDamping, String what) {
    boolean[] dead = new boolean[k];
    double diagSum = 0;
    int live = 0;
    for (int i = 0; i < k; i++) {
      double d = gram[i * k + i];
      if (d < 0) {
        throw new IllegalArgumentException(
            "Gram matrix of "
                + what
                + " has a negative diagonal entry "
                + d
                + " at input "
                + i
                + ": it is not a sum of xᵀx");
      }
      if (d == 0) {
        dead[i] = true;
      } else {
        diagSum += d;
        live++;
      }
    }
    double mean = live == 0 ? 1 : diagSum / live;
    double rel = relDamping;
    for (int attempt = 0; ; attempt++) {
      double lambda = Math.max(rel * mean, Double.MIN_NORMAL);
      double[] l = reversedDamped(gram, k, dead, lambda);
      if (choleskyInPlace(l, k)) {
        invertLowerInPlace(l, k);
        return new InverseGramFactor(k, reverse(l, k), lambda);
      }
      if (attempt == MAX_RETRIES) {
        throw new IllegalArgumentException(
            "Gram matrix of "
                + what
                + " ["
                + k
                + ", "
                + k
                + "] is not positive definite even with damping "
                + lambda
                + " ("
                + rel
                + " x the mean diagonal "
                + mean
                + ")");
      }
      rel = rel == 0 ? 1e-6 : rel * 10;
    }
  }

  /** Returns the order. */
  int order() {
    return k;
  }

  /** Returns the damping added to the diagonal (absolute). */
  double damping() {
    return damping;
  }

  /** Returns {@code U[i][j]} (zero below the diagonal). */
  double get(int i, int j) {
    return upper[i * k + j];
  }

  /** Returns the row-major factor itself (not a copy: read only). */
  double[] values() {
    return upper;
  }

  /** {@code J·(H + λI)·J}, dead inputs decoupled, as a full row-major matrix (lower used). */
  private static double[] reversedDamped(double[] gram, int k, boolean[] dead, double lambda) {
    double[] a = new double[k * k];
    for (int i = 0; i < k; i++) {
      int ri = k - 1 - i;
      for (int j = 0; j <= i; j++) {
        int rj = k - 1 - j;
        // the lower triangle of the reversed matrix is the upper triangle of H: read H's lower
        double v = dead[ri] || dead[rj] ? 0 : gram[rj * k + ri];
        a[i * k + j] = v;
      }
      a[i * k + i] += lambda;
    }
    return a;
  }

  /** Lower Cholesky in place (row-major, lower triangle); false when not positive definite. */
  private static boolean choleskyInPlace(double[] a, int k) {
    for (int i = 0; i < k; i++) {
      int ri = i * k;
      for (int j = 0; j <= i; j++) {
        int rj = j * k;
        double s0 = 0;
        double s1 = 0;
        int p = 0;
        for (; p + 1 < j; p += 2) {
          s0 += a[ri + p] * a[rj + p];
          s1 += a[ri + p + 1] * a[rj + p + 1];
        }
        for (; p < j; p++) {
          s0 += a[ri + p] * a[rj + p];
        }
        double s = a[ri + j] - (s0 + s1);
        if (i == j) {
          if (!(s > 0) || Double.isInfinite(s)) {
            return false;
          }
          a[ri + i] = Math.sqrt(s);
        } else {
          a[ri + j] = s / a[rj + j];
        }
      }
    }
    return true;
  }

  /**
   * Inverts a lower-triangular matrix in place, row by row: row {@code i} of the inverse is {@code
   * (e_i − Σ_{p<i} L[i][p]·X[p]) / L[i][i]}, every update a contiguous row axpy.
   */
  private static void invertLowerInPlace(double[] a, int k) {
    double[] row = new double[k];
    for (int i = 0; i < k; i++) {
      int ri = i * k;
      java.util.Arrays.fill(row, 0, i + 1, 0);
      row[i] = 1;
      for (int p = 0; p < i; p++) {
        double c = a[ri + p];
        if (c != 0) {
          int rp = p * k;
          for (int q = 0; q <= p; q++) {
            row[q] -= c * a[rp + q];
          }
        }
      }
      double inv = 1 / a[ri + i];
      for (int q = 0; q <= i; q++) {
        a[ri + q] = row[q] * inv;
      }
    }
  }

  /** {@code J·X·J} of a lower-triangular {@code X}: an upper-triangular matrix, full storage. */
  private static double[] reverse(double[] x, int k) {
    double[] u = new double[k * k];
    for (int i = 0; i < k; i++) {
      int ri = k - 1 - i;
      for (int j = i; j < k; j++) {
        u[i * k + j] = x[ri * k + (k - 1 - j)];
      }
    }
    return u;
  }
}

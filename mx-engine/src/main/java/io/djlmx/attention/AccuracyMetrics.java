package io.djlmx.attention;

/**
 * How far an attention output lies from its FP64 reference.
 *
 * @param cosine cosine similarity of the two as flat vectors
 * @param relativeL1 Σ|out - ref| / Σ|ref|
 * @param maxAbsError the largest |out - ref|
 */
public record AccuracyMetrics(double cosine, double relativeL1, double maxAbsError) {

  /**
   * Compares {@code out} with {@code ref} element by element.
   *
   * @param out the output under test, contiguous
   * @param ref the reference, same order and length
   * @return the metrics (NaN anywhere makes them NaN)
   */
  public static AccuracyMetrics of(float[] out, double[] ref) {
    if (out.length != ref.length) {
      throw new IllegalArgumentException(
          "Lengths differ: output " + out.length + ", reference " + ref.length);
    }
    double dot = 0;
    double no = 0;
    double nr = 0;
    double l1 = 0;
    double r1 = 0;
    double max = 0;
    for (int i = 0; i < out.length; i++) {
      double o = out[i];
      double r = ref[i];
      dot += o * r;
      no += o * o;
      nr += r * r;
      double e = Math.abs(o - r);
      l1 += e;
      r1 += Math.abs(r);
      max = Double.isNaN(e) ? Double.NaN : Math.max(max, e);
    }
    return new AccuracyMetrics(dot / Math.sqrt(no * nr), l1 / r1, max);
  }

  /**
   * Compares {@code out} with an FP32 reference {@code ref} element by element.
   *
   * @param out the output under test
   * @param ref the reference, same order and length
   * @return the metrics
   */
  public static AccuracyMetrics of(float[] out, float[] ref) {
    double[] r = new double[ref.length];
    for (int i = 0; i < r.length; i++) {
      r[i] = ref[i];
    }
    return of(out, r);
  }

  /**
   * Returns whether the targets of issue 6 hold: cosine ≥ 0.999 and relative L1 ≤ 0.03.
   *
   * @return true when both hold
   */
  public boolean meetsTargets() {
    return cosine >= 0.999 && relativeL1 <= 0.03;
  }
}

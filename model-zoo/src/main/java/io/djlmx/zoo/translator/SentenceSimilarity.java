package io.djlmx.zoo.translator;

/** Cosine similarity between sentence embeddings. */
public final class SentenceSimilarity {

  private SentenceSimilarity() {}

  /**
   * Returns the cosine similarity of two vectors (1 for the same direction).
   *
   * @param a a vector
   * @param b a vector of the same length
   * @return the cosine, in [-1, 1]; 0 if either vector is zero
   */
  public static double cosine(float[] a, float[] b) {
    if (a.length != b.length) {
      throw new IllegalArgumentException(
          "Embeddings differ in length: " + a.length + " vs " + b.length);
    }
    double dot = 0;
    double na = 0;
    double nb = 0;
    for (int i = 0; i < a.length; i++) {
      dot += (double) a[i] * b[i];
      na += (double) a[i] * a[i];
      nb += (double) b[i] * b[i];
    }
    return na == 0 || nb == 0 ? 0 : dot / Math.sqrt(na * nb);
  }

  /**
   * Returns the cosine similarity of every pair from two sets of embeddings.
   *
   * @param rows the first set
   * @param cols the second set
   * @return {@code [rows.length][cols.length]} cosines
   */
  public static double[][] matrix(float[][] rows, float[][] cols) {
    double[][] m = new double[rows.length][cols.length];
    for (int i = 0; i < rows.length; i++) {
      for (int j = 0; j < cols.length; j++) {
        m[i][j] = cosine(rows[i], cols[j]);
      }
    }
    return m;
  }
}

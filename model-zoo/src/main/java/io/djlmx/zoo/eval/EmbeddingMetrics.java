package io.djlmx.zoo.eval;

import io.djlmx.zoo.translator.SentenceSimilarity;
import java.util.Arrays;

/**
 * Fidelity of embeddings to reference embeddings of the same sentences.
 *
 * @param meanCosine the mean cosine similarity to the reference
 * @param minCosine the smallest cosine similarity to the reference
 * @param topKAgreement the mean fraction of each sentence's k nearest neighbours (by cosine, itself
 *     excluded) shared with the reference's
 * @param k the neighbourhood size
 */
public record EmbeddingMetrics(double meanCosine, double minCosine, double topKAgreement, int k) {

  /**
   * Compares embeddings to reference embeddings.
   *
   * @param reference the reference embeddings, one per sentence
   * @param candidate the embeddings to judge, same sentences in the same order
   * @param k the neighbourhood size for retrieval agreement
   * @return the metrics
   */
  public static EmbeddingMetrics compare(float[][] reference, float[][] candidate, int k) {
    if (reference.length != candidate.length) {
      throw new IllegalArgumentException(
          "Reference has " + reference.length + " embeddings, candidate " + candidate.length);
    }
    if (reference.length <= k) {
      throw new IllegalArgumentException("Need more than k = " + k + " sentences");
    }
    double sum = 0;
    double min = Double.POSITIVE_INFINITY;
    for (int i = 0; i < reference.length; i++) {
      double c = SentenceSimilarity.cosine(reference[i], candidate[i]);
      sum += c;
      min = Math.min(min, c);
    }
    double agree = 0;
    for (int i = 0; i < reference.length; i++) {
      int[] a = topK(reference, i, k);
      int[] b = topK(candidate, i, k);
      Arrays.sort(b);
      int shared = 0;
      for (int x : a) {
        if (Arrays.binarySearch(b, x) >= 0) {
          shared++;
        }
      }
      agree += (double) shared / k;
    }
    return new EmbeddingMetrics(sum / reference.length, min, agree / reference.length, k);
  }

  /** Indices of the k sentences most similar to sentence i (excluding i). */
  static int[] topK(float[][] e, int i, int k) {
    int n = e.length;
    double[] sims = new double[n];
    Integer[] idx = new Integer[n];
    for (int j = 0; j < n; j++) {
      sims[j] = j == i ? Double.NEGATIVE_INFINITY : dot(e[i], e[j]);
      idx[j] = j;
    }
    Arrays.sort(idx, (x, y) -> Double.compare(sims[y], sims[x]));
    int[] out = new int[k];
    for (int j = 0; j < k; j++) {
      out[j] = idx[j];
    }
    return out;
  }

  private static double dot(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += (double) a[i] * b[i];
    }
    return s;
  }
}

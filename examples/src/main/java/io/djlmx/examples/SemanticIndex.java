package io.djlmx.examples;

import io.djlmx.zoo.translator.SentenceSimilarity;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Nearest-neighbour search over L2-normalized sentence embeddings by cosine similarity (exact,
 * brute force: the corpora here are small).
 */
public final class SemanticIndex {

  private final float[][] vectors;

  /**
   * One search result.
   *
   * @param index the document's position in the corpus
   * @param score the cosine similarity to the query
   */
  public record Hit(int index, double score) {}

  /**
   * Creates an index over embeddings.
   *
   * @param vectors one embedding per document, all the same length
   * @throws IllegalArgumentException if there are none or their lengths differ
   */
  public SemanticIndex(float[][] vectors) {
    if (vectors.length == 0) {
      throw new IllegalArgumentException("Cannot index zero embeddings");
    }
    for (float[] v : vectors) {
      if (v.length != vectors[0].length) {
        throw new IllegalArgumentException(
            "Embeddings differ in length: " + vectors[0].length + " vs " + v.length);
      }
    }
    this.vectors = vectors;
  }

  /**
   * Returns the number of indexed documents.
   *
   * @return the size
   */
  public int size() {
    return vectors.length;
  }

  /**
   * Finds the {@code k} documents most similar to a query embedding, best first.
   *
   * @param query the query's embedding
   * @param k how many
   * @return at most {@code k} hits, highest cosine first (ties by index)
   */
  public List<Hit> search(float[] query, int k) {
    return search(query, k, -1);
  }

  /**
   * Finds the {@code k} documents most similar to a query embedding, skipping one document (to ask
   * for a document's neighbours other than itself).
   *
   * @param query the query's embedding
   * @param k how many
   * @param skip a document index to leave out, or -1
   * @return at most {@code k} hits, highest cosine first (ties by index)
   */
  public List<Hit> search(float[] query, int k, int skip) {
    if (query.length != vectors[0].length) {
      throw new IllegalArgumentException(
          "Query embedding has length " + query.length + ", index has " + vectors[0].length);
    }
    if (k <= 0) {
      throw new IllegalArgumentException("k must be positive, got " + k);
    }
    List<Hit> hits = new ArrayList<>(vectors.length);
    for (int i = 0; i < vectors.length; i++) {
      if (i != skip) {
        hits.add(new Hit(i, SentenceSimilarity.cosine(query, vectors[i])));
      }
    }
    hits.sort(Comparator.comparingDouble(Hit::score).reversed().thenComparingInt(Hit::index));
    return List.copyOf(hits.subList(0, Math.min(k, hits.size())));
  }

  /**
   * Returns the indices of the top {@code k} hits, for comparing two rankings as sets.
   *
   * @param hits a ranking
   * @return the document indices, sorted
   */
  public static int[] indices(List<Hit> hits) {
    int[] idx = hits.stream().mapToInt(Hit::index).toArray();
    Arrays.sort(idx);
    return idx;
  }
}

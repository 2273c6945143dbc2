package io.djlmx.examples;

import ai.djl.ModelException;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.TranslateException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Example 3a, a Translator pipeline for semantic search: the zoo's batch translator ({@code
 * String[] -> float[][]}) embeds a real corpus (WordNet definitions) in batches, its single
 * translator ({@code String -> float[]}) embeds each query, and cosine similarity ranks the corpus.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -cp
 * "examples/target/mx.jar:examples/target/lib/*" io.djlmx.examples.SemanticSearchExample "a tool
 * for cutting wood"}.
 */
public final class SemanticSearchExample implements AutoCloseable {

  private final Corpus corpus;
  private final SemanticIndex index;
  private final ZooModel<String, float[]> queryModel;
  private final Predictor<String, float[]> queryPredictor;

  /**
   * Embeds a corpus and prepares for queries.
   *
   * @param corpus the documents
   * @param cacheDir the zoo's checkpoint cache, or null for the DJL cache
   * @throws IOException if the model files are missing
   * @throws ModelException if the model cannot be loaded
   * @throws TranslateException if embedding fails
   */
  public SemanticSearchExample(Corpus corpus, Path cacheDir)
      throws IOException, ModelException, TranslateException {
    this.corpus = corpus;
    // Documents: the batch translator pads each batch to its longest sentence and masks the rest.
    try (ZooModel<String[], float[][]> docs = load(String[].class, float[][].class, cacheDir);
        Predictor<String[], float[][]> p = docs.newPredictor()) {
      List<String> texts = corpus.texts();
      float[][] vectors = new float[texts.size()][];
      for (int i = 0; i < texts.size(); i += 32) {
        String[] batch = texts.subList(i, Math.min(texts.size(), i + 32)).toArray(String[]::new);
        System.arraycopy(p.predict(batch), 0, vectors, i, batch.length);
      }
      index = new SemanticIndex(vectors);
    }
    // Queries: one sentence at a time.
    queryModel = load(String.class, float[].class, cacheDir);
    queryPredictor = queryModel.newPredictor();
  }

  private static <I, O> ZooModel<I, O> load(Class<I> in, Class<O> out, Path cacheDir)
      throws IOException, ModelException {
    Criteria.Builder<I, O> b =
        Criteria.builder()
            .setTypes(in, out)
            .optGroupId("io.djlmx")
            .optArtifactId("all-MiniLM-L6-v2")
            .optEngine("MX");
    if (cacheDir != null) {
      b.optOption("mx.zoo.cache", cacheDir.toString());
    }
    return b.build().loadModel();
  }

  /**
   * Finds the documents closest in meaning to a query.
   *
   * @param query free text
   * @param k how many answers
   * @return the best {@code k} entries with their cosine, best first
   * @throws TranslateException if embedding fails
   */
  public List<Answer> search(String query, int k) throws TranslateException {
    List<Answer> answers = new ArrayList<>();
    for (SemanticIndex.Hit h : index.search(queryPredictor.predict(query), k)) {
      answers.add(new Answer(corpus.entries().get(h.index()), h.score()));
    }
    return answers;
  }

  /** Releases the query model. */
  @Override
  public void close() {
    queryPredictor.close();
    queryModel.close();
  }

  /**
   * One search answer.
   *
   * @param entry the document
   * @param score its cosine to the query
   */
  public record Answer(Corpus.Entry entry, double score) {}

  /**
   * Answers the queries given as arguments (or two built-in ones) over the WordNet corpus.
   *
   * @param args queries
   * @throws Exception if a step fails
   */
  public static void main(String[] args) throws Exception {
    List<String> queries =
        args.length > 0
            ? List.of(args)
            : List.of("a tool for cutting wood", "someone who writes books");
    try (SemanticSearchExample search = new SemanticSearchExample(Corpus.wordNet(), null)) {
      for (String q : queries) {
        System.out.println("Query: " + q);
        for (Answer a : search.search(q, 3)) {
          System.out.printf(
              Locale.ROOT, "  %.3f  %s: %s%n", a.score(), a.entry().title(), a.entry().text());
        }
      }
    }
  }
}

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
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Example 3b, batched prediction from several threads: one MX model, a pool of {@link Predictor}s
 * (a predictor is not thread-safe; the model and its packed MX weights are shared), and worker
 * threads that each borrow a predictor, embed a batch of sentences in one forward pass and give it
 * back.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -cp
 * "examples/target/mx.jar:examples/target/lib/*" io.djlmx.examples.PredictorPoolExample}.
 */
public final class PredictorPoolExample implements AutoCloseable {

  private final ZooModel<String[], float[][]> model;
  private final BlockingQueue<Predictor<String[], float[][]>> pool;
  private final List<Predictor<String[], float[][]>> all = new ArrayList<>();

  /**
   * Loads the model once and creates the predictor pool.
   *
   * @param predictors how many predictors (at most this many batches run at once)
   * @param cacheDir the zoo's checkpoint cache, or null for the DJL cache
   * @throws IOException if the model files are missing
   * @throws ModelException if the model cannot be loaded
   */
  public PredictorPoolExample(int predictors, Path cacheDir) throws IOException, ModelException {
    if (predictors <= 0) {
      throw new IllegalArgumentException("Need at least one predictor, got " + predictors);
    }
    Criteria.Builder<String[], float[][]> b =
        Criteria.builder()
            .setTypes(String[].class, float[][].class)
            .optGroupId("io.djlmx")
            .optArtifactId("all-MiniLM-L6-v2")
            .optEngine("MX");
    if (cacheDir != null) {
      b.optOption("mx.zoo.cache", cacheDir.toString());
    }
    model = b.build().loadModel();
    pool = new ArrayBlockingQueue<>(predictors);
    for (int i = 0; i < predictors; i++) {
      Predictor<String[], float[][]> p = model.newPredictor();
      all.add(p);
      pool.add(p);
    }
  }

  /**
   * Embeds sentences in batches on worker threads sharing the predictor pool.
   *
   * @param sentences the sentences
   * @param threads worker threads
   * @param batchSize sentences per forward pass
   * @return one embedding per sentence, in input order
   * @throws TranslateException if a batch fails
   * @throws InterruptedException if interrupted while waiting
   */
  public float[][] embed(List<String> sentences, int threads, int batchSize)
      throws TranslateException, InterruptedException {
    float[][] out = new float[sentences.size()][];
    ExecutorService workers = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int start = 0; start < sentences.size(); start += batchSize) {
        int from = start;
        String[] batch =
            sentences
                .subList(from, Math.min(sentences.size(), from + batchSize))
                .toArray(String[]::new);
        futures.add(
            workers.submit(
                () -> {
                  Predictor<String[], float[][]> p = pool.take();
                  try {
                    System.arraycopy(p.predict(batch), 0, out, from, batch.length);
                  } finally {
                    pool.add(p);
                  }
                  return null;
                }));
      }
      for (Future<?> f : futures) {
        try {
          f.get();
        } catch (ExecutionException e) {
          if (e.getCause() instanceof TranslateException te) {
            throw te;
          }
          throw new TranslateException("A batch failed: " + e.getCause(), e.getCause());
        }
      }
    } finally {
      workers.shutdown();
    }
    return out;
  }

  /** Closes every predictor and the model. */
  @Override
  public void close() {
    all.forEach(Predictor::close);
    model.close();
  }

  /**
   * Embeds 512 WordNet definitions with 1 thread and with 4 threads, and checks that both give the
   * same embeddings.
   *
   * @param args ignored
   * @throws Exception if a step fails
   */
  public static void main(String[] args) throws Exception {
    List<String> texts = Corpus.wordNet().head(512).texts();
    try (PredictorPoolExample ex = new PredictorPoolExample(4, null)) {
      ex.embed(texts.subList(0, 32), 1, 16); // warm-up
      for (int threads : new int[] {1, 4}) {
        long t0 = System.nanoTime();
        float[][] e = ex.embed(texts, threads, 16);
        double s = (System.nanoTime() - t0) / 1e9;
        System.out.printf(
            Locale.ROOT,
            "%d thread(s), batches of 16: %d sentences in %.2f s (%.1f/s), dim %d%n",
            threads,
            e.length,
            s,
            e.length / s,
            e[0].length);
      }
    }
  }
}

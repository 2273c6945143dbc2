package io.djlmx.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.inference.Predictor;
import ai.djl.ndarray.types.Shape;
import ai.djl.repository.zoo.ZooModel;
import io.djlmx.engine.MxLinear;
import io.djlmx.engine.MxModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * Eight threads share one model through their own Predictors: every result must be bitwise equal to
 * a single-threaded run, and each weight must be packed exactly once under contention.
 */
class ConcurrencyTest {

  private static final String SECTION = "3. Concurrency";
  private static final int THREADS = 8;
  private static final int PREDICTIONS = 10_000;

  @AfterAll
  static void report() {
    ReliabilityReport.write();
  }

  @Test
  void sharedModelGivesBitwiseIdenticalResultsAndPacksOnce() throws Exception {
    for (String activations : new String[] {"none", "MXFP8_E4M3"}) {
      run(activations);
    }
  }

  private static void run(String activations) throws Exception {
    Path dir = Fixtures.saveMlp("cmlp", null);
    float[][] inputs = new float[PREDICTIONS][];
    for (int i = 0; i < PREDICTIONS; i++) {
      inputs[i] = Fixtures.gaussian(Fixtures.IN, 1000L + i);
    }
    try (ZooModel<float[], float[]> model =
        Fixtures.loadMlp(dir, "cmlp", Map.of("mx.activations", activations))) {
      // Single-threaded reference.
      int[][] expected = new int[PREDICTIONS][];
      long t0 = System.nanoTime();
      try (Predictor<float[], float[]> p = model.newPredictor()) {
        for (int i = 0; i < PREDICTIONS; i++) {
          expected[i] = bits(p.predict(inputs[i]));
        }
      }
      long singleNanos = System.nanoTime() - t0;

      // Drop the packed weights, so that the 8 threads race to build the cache.
      MxModel mx = (MxModel) model.getWrappedModel();
      mx.setConfig(mx.getConfig());
      long packsBefore = MxLinear.getPackCount();

      int[][] got = new int[PREDICTIONS][];
      CyclicBarrier start = new CyclicBarrier(THREADS);
      ExecutorService pool = Executors.newFixedThreadPool(THREADS);
      long t1 = System.nanoTime();
      try {
        List<Future<?>> futures = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
          int id = t;
          futures.add(
              pool.submit(
                  () -> {
                    try (Predictor<float[], float[]> p =
                        model.newPredictor(
                            new Fixtures.FloatTranslator(new Shape(1, Fixtures.IN)))) {
                      start.await();
                      // Interleaved indices: every thread touches the whole input range.
                      for (int i = id; i < PREDICTIONS; i += THREADS) {
                        got[i] = bits(p.predict(inputs[i]));
                      }
                    }
                    return null;
                  }));
        }
        for (Future<?> f : futures) {
          f.get();
        }
      } finally {
        pool.shutdown();
      }
      long parallelNanos = System.nanoTime() - t1;
      long packs = MxLinear.getPackCount() - packsBefore;

      int mismatches = 0;
      for (int i = 0; i < PREDICTIONS; i++) {
        if (!java.util.Arrays.equals(expected[i], got[i])) {
          mismatches++;
        }
      }
      String mode =
          "none".equals(activations) ? "weight-only MXFP6_E2M3" : "W+A MXFP6_E2M3/" + activations;
      ReliabilityReport.record(
          SECTION,
          mode + ": threads x predictions, one shared model, own Predictor each",
          THREADS
              + " threads, "
              + PREDICTIONS
              + " predictions (+"
              + PREDICTIONS
              + " single-threaded reference)");
      ReliabilityReport.record(
          SECTION, mode + ": results differing bitwise from the single-threaded run", mismatches);
      ReliabilityReport.record(
          SECTION, mode + ": weight packs during the contended run (3 linear weights)", packs);
      ReliabilityReport.record(
          SECTION,
          mode + ": wall time single-threaded / 8 threads (2-core machine)",
          String.format("%.2f s / %.2f s", singleNanos / 1e9, parallelNanos / 1e9));
      assertEquals(0, mismatches, "results differ from the single-threaded run");
      assertEquals(3, packs, "each of the 3 weights must be packed exactly once under contention");
      assertArrayEquals(expected[PREDICTIONS - 1], got[PREDICTIONS - 1]);
    }
  }

  private static int[] bits(float[] y) {
    int[] b = new int[y.length];
    for (int i = 0; i < y.length; i++) {
      b[i] = Float.floatToRawIntBits(y[i]);
    }
    return b;
  }
}

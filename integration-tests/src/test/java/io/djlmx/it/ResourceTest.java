package io.djlmx.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.ZooModel;
import io.djlmx.engine.MxNDManager;
import java.lang.reflect.Field;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Native memory stays flat (resident set after GC within 5%) across 10,000 predictions and 1,000
 * model load/close cycles, and every NDManager closes what it owns.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ResourceTest {

  private static final String SECTION = "4. Resources";
  private static final double TOLERANCE = 0.05;

  private static Path dir;

  @BeforeAll
  static void save() throws Exception {
    dir = Fixtures.saveMlp("rmlp", null);
  }

  @AfterAll
  static void report() {
    ReliabilityReport.write();
  }

  /** Size of the engine's shadow-manager registry: one entry per open MX manager. */
  private static int shadowRegistrySize() throws ReflectiveOperationException {
    Field f = MxNDManager.class.getDeclaredField("BY_SHADOW");
    f.setAccessible(true);
    return ((Map<?, ?>) f.get(null)).size();
  }

  private static void recordRss(String what, long beforeKb, long afterKb) {
    ReliabilityReport.record(
        SECTION,
        what + ": " + (what.contains("native") ? "" : "RSS after GC ") + "before / after",
        String.format(
            Locale.ROOT,
            "%.1f MiB / %.1f MiB (%+.2f%%)",
            beforeKb / 1024.0,
            afterKb / 1024.0,
            100.0 * (afterKb - beforeKb) / beforeKb));
  }

  @Test
  @Order(1)
  void predictionsKeepNativeMemoryFlat() throws Exception {
    int[] roots = Fixtures.rootCounts();
    int registry = shadowRegistrySize();
    try (ZooModel<float[], float[]> model = Fixtures.loadMlp(dir, "rmlp", Map.of());
        Predictor<float[], float[]> p = model.newPredictor()) {
      float[] x = Fixtures.gaussian(Fixtures.IN, 3);
      for (int i = 0; i < 1_000; i++) {
        p.predict(x); // warm-up: JIT, allocator pools
      }
      int modelResources = Fixtures.resourceCount(model.getNDManager());
      long before = Fixtures.rssAfterGcKb();
      long nativeBefore = Fixtures.nativeAfterGcKb();
      for (int i = 0; i < 10_000; i++) {
        x[i % Fixtures.IN] = (float) Math.sin(i);
        p.predict(x);
      }
      long after = Fixtures.rssAfterGcKb();
      long nativeAfter = Fixtures.nativeAfterGcKb();
      recordRss("10,000 predictions (one Predictor, MXFP6_E2M3 MLP)", before, after);
      recordRss(
          "10,000 predictions: native (RSS minus JVM heap, metaspace, code cache; after"
              + " malloc_trim)",
          nativeBefore,
          nativeAfter);
      int modelResourcesAfter = Fixtures.resourceCount(model.getNDManager());
      ReliabilityReport.record(
          SECTION,
          "10,000 predictions: resources held by the model's NDManager before / after",
          modelResources + " / " + modelResourcesAfter);
      assertEquals(modelResources, modelResourcesAfter, "predictions left arrays on the model");
      assertTrue(after <= before * (1 + TOLERANCE), "RSS grew " + before + " -> " + after + " kB");
      assertTrue(
          nativeAfter <= nativeBefore * (1 + TOLERANCE),
          "native memory grew " + nativeBefore + " -> " + nativeAfter + " kB");
    }
    assertArrayEquals(roots, Fixtures.rootCounts(), "the closed model left managers behind");
    assertEquals(registry, shadowRegistrySize(), "closed MX managers stayed registered");
  }

  @Test
  @Order(2)
  void loadCloseCyclesKeepNativeMemoryFlat() throws Exception {
    float[] x = Fixtures.gaussian(Fixtures.IN, 4);
    for (int i = 0; i < 200; i++) {
      cycle(x); // warm-up: JIT, class loading, allocator pools
    }
    int[] roots = Fixtures.rootCounts();
    int registry = shadowRegistrySize();
    long before = Fixtures.rssAfterGcKb();
    long nativeBefore = Fixtures.nativeAfterGcKb();
    long heapBefore = Fixtures.heapCommittedKb();
    long t0 = System.nanoTime();
    for (int i = 0; i < 1_000; i++) {
      cycle(x);
    }
    long nanos = System.nanoTime() - t0;
    long after = Fixtures.rssAfterGcKb();
    long nativeAfter = Fixtures.nativeAfterGcKb();
    long heapAfter = Fixtures.heapCommittedKb();
    int[] rootsAfter = Fixtures.rootCounts();
    int registryAfter = shadowRegistrySize();
    recordRss(
        "1,000 model load / predict / close cycles, raw RSS (includes freed memory glibc keeps)",
        before,
        after);
    recordRss(
        "1,000 cycles: native (RSS minus JVM heap, metaspace, code cache; after malloc_trim)",
        nativeBefore,
        nativeAfter);
    recordRss("1,000 cycles: committed Java heap (not native)", heapBefore, heapAfter);
    ReliabilityReport.record(
        SECTION,
        "1,000 cycles: open resources of the MX root / PyTorch root manager before / after",
        Arrays.toString(roots) + " / " + Arrays.toString(rootsAfter));
    ReliabilityReport.record(
        SECTION,
        "1,000 cycles: open MX managers (shadow registry) before / after",
        registry + " / " + registryAfter);
    ReliabilityReport.record(
        SECTION, "1,000 cycles: wall time", String.format(Locale.ROOT, "%.1f s", nanos / 1e9));
    assertArrayEquals(roots, rootsAfter, "load/close cycles left managers behind");
    assertEquals(registry, registryAfter, "closed MX managers stayed registered");
    assertTrue(
        nativeAfter <= nativeBefore * (1 + TOLERANCE),
        "native memory grew " + nativeBefore + " -> " + nativeAfter + " kB");
  }

  /** The same 1,000 cycles on DJL's PyTorch engine: the baseline the MX figures compare to. */
  @Test
  @Order(3)
  void pytorchBaselineCycles() throws Exception {
    float[] x = Fixtures.gaussian(Fixtures.IN, 4);
    for (int i = 0; i < 200; i++) {
      ptCycle(x);
    }
    long before = Fixtures.nativeAfterGcKb();
    for (int i = 0; i < 1_000; i++) {
      ptCycle(x);
    }
    long after = Fixtures.nativeAfterGcKb();
    recordRss(
        "baseline for comparison, same 1,000 cycles on DJL's PyTorch engine: native (as above)",
        before,
        after);
  }

  private static void ptCycle(float[] x) throws Exception {
    try (ZooModel<float[], float[]> model =
            ai.djl.repository.zoo.Criteria.builder()
                .setTypes(float[].class, float[].class)
                .optModelPath(dir)
                .optModelName("rmlp")
                .optEngine("PyTorch")
                .optBlock(Fixtures.mlp())
                .optTranslator(
                    new Fixtures.FloatTranslator(new ai.djl.ndarray.types.Shape(1, Fixtures.IN)))
                .build()
                .loadModel();
        Predictor<float[], float[]> p = model.newPredictor()) {
      p.predict(x);
    }
  }

  private static void cycle(float[] x) throws Exception {
    try (ZooModel<float[], float[]> model = Fixtures.loadMlp(dir, "rmlp", Map.of());
        Predictor<float[], float[]> p = model.newPredictor()) {
      p.predict(x);
    }
  }
}

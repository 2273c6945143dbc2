package io.djlmx.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Trains the digits MLP briefly on PyTorch, then runs it on MX by engine name and by default. */
class EngineSwapExampleTest {

  @Test
  void sameModelRunsOnMxByNameAndByDefaultEngine(@TempDir Path dir) throws Exception {
    Digits all = Digits.load();
    assertEquals(1797, all.size());
    Digits test = all.slice(EngineSwapExample.TRAIN_SIZE, all.size());
    float trainAccuracy =
        EngineSwapExample.train(all.slice(0, EngineSwapExample.TRAIN_SIZE), 3, dir);
    assertTrue(trainAccuracy > 0.8f, "train accuracy " + trainAccuracy);

    EngineSwapExample.Evaluation pt = EngineSwapExample.classify(dir, "PyTorch", test);
    EngineSwapExample.Evaluation mx = EngineSwapExample.classify(dir, "MX", test);
    assertEquals("PyTorch", pt.engine());
    assertEquals("MX", mx.engine());
    assertTrue(pt.accuracy() > 0.85, "PyTorch test accuracy " + pt.accuracy());
    assertTrue(
        mx.accuracy() > pt.accuracy() - 0.02, "MX " + mx.accuracy() + " vs " + pt.accuracy());
    assertTrue(mx.agreement(pt) > 0.97, "agreement " + mx.agreement(pt));

    // No engine in the code: DJL's default engine (DJL_DEFAULT_ENGINE / ai.djl.default_engine).
    String key = "ai.djl.default_engine";
    String before = System.getProperty(key);
    System.setProperty(key, "MX");
    try {
      EngineSwapExample.Evaluation dflt = EngineSwapExample.classify(dir, null, test);
      assertEquals("MX", dflt.engine());
      assertEquals(1.0, dflt.agreement(mx), 1e-9);
    } finally {
      if (before == null) {
        System.clearProperty(key);
      } else {
        System.setProperty(key, before);
      }
    }
  }
}

package io.djlmx.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import org.junit.jupiter.api.Test;

/** PyTorch's intra-op thread count under the MX engine. */
class MxEngineThreadsTest {

  @Test
  void engineStartLeavesPyTorchOneThreadByDefault() {
    Engine.getEngine(MxEngine.ENGINE_NAME);
    if (System.getProperty(MxEngine.DJL_TORCH_THREADS) == null
        && System.getProperty(MxEngine.TORCH_THREADS) == null
        && System.getenv("MX_TORCH_THREADS") == null) {
      assertEquals(1, JniUtils.getNumThreads());
    }
  }

  @Test
  void propertyParsing() {
    String saved = System.getProperty(MxEngine.TORCH_THREADS);
    String savedDjl = System.getProperty(MxEngine.DJL_TORCH_THREADS);
    try {
      System.clearProperty(MxEngine.DJL_TORCH_THREADS);
      System.setProperty(MxEngine.TORCH_THREADS, "3");
      assertEquals(3, MxEngine.torchThreads());
      System.setProperty(MxEngine.TORCH_THREADS, "0");
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, MxEngine::torchThreads);
      assertTrue(e.getMessage().contains(MxEngine.TORCH_THREADS), e.getMessage());
      System.setProperty(MxEngine.TORCH_THREADS, "two");
      assertThrows(IllegalArgumentException.class, MxEngine::torchThreads);
      // DJL's own property wins: the MX engine leaves the count alone
      System.setProperty(MxEngine.DJL_TORCH_THREADS, "2");
      assertEquals(0, MxEngine.torchThreads());
    } finally {
      restore(MxEngine.TORCH_THREADS, saved);
      restore(MxEngine.DJL_TORCH_THREADS, savedDjl);
    }
  }

  private static void restore(String key, String value) {
    if (value == null) {
      System.clearProperty(key);
    } else {
      System.setProperty(key, value);
    }
  }
}

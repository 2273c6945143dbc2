package io.djlmx.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDManager;
import io.djlmx.kernel.cuda.CudaBackend;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The parts of the GPU-resident path that need no GPU: the host engine choice ({@code
 * mx.engine.host}), the fallback counters, and which managers make device arrays or touch PyTorch.
 */
class HostEngineTest {

  @Test
  void modeParsesAndListsValidValues() {
    assertEquals(HostEngine.Mode.PYTORCH, HostEngine.parseMode(null));
    assertEquals(HostEngine.Mode.PYTORCH, HostEngine.parseMode(" PyTorch "));
    assertEquals(HostEngine.Mode.NONE, HostEngine.parseMode("none"));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> HostEngine.parseMode("torch"));
    assertTrue(e.getMessage().contains("pytorch, none"), e.getMessage());
  }

  @Test
  void noneNeverLoadsPyTorch() {
    HostEngine host =
        new HostEngine(
            HostEngine.Mode.NONE,
            () -> {
              throw new AssertionError("mx.engine.host=none must not load PyTorch");
            });
    assertNull(host.tryGet());
    EngineException e = assertThrows(EngineException.class, host::require);
    assertTrue(e.getMessage().contains("mx.engine.host=none"), e.getMessage());
  }

  @Test
  void failedLoadIsRememberedAndNamed() {
    AtomicInteger tries = new AtomicInteger();
    HostEngine host =
        new HostEngine(
            HostEngine.Mode.PYTORCH,
            () -> {
              tries.incrementAndGet();
              throw new EngineException("no native library libtorch.so");
            });
    assertNull(host.tryGet());
    assertNull(host.tryGet());
    assertEquals(1, tries.get(), "a failed load is not retried");
    EngineException e = assertThrows(EngineException.class, host::require);
    assertTrue(e.getMessage().contains("libtorch.so"), e.getMessage());
  }

  @Test
  void loadedEngineIsReturned() {
    Assumptions.assumeTrue(HostEngine.isAvailable(), "PyTorch is not loaded here");
    Engine pt = Engine.getEngine(MxEngine.PYTORCH);
    HostEngine host = new HostEngine(HostEngine.Mode.PYTORCH, () -> pt);
    assertSame(pt, host.require());
    assertSame(pt, ((MxEngine) Engine.getEngine(MxEngine.ENGINE_NAME)).getPyTorchEngine());
  }

  @Test
  void fallbackCountersCountPerOpAndReset() {
    MxFallbacks.reset();
    MxFallbacks.record("sort");
    MxFallbacks.record("sort");
    MxFallbacks.record("argMax");
    assertEquals(2, MxFallbacks.count("sort"));
    assertEquals(0, MxFallbacks.count("never"));
    assertEquals(3, MxFallbacks.total());
    assertEquals(Map.of("argMax", 1L, "sort", 2L), MxFallbacks.counts());
    assertEquals("argMax", MxFallbacks.counts().keySet().iterator().next(), "sorted by name");
    MxFallbacks.reset();
    assertEquals(0, MxFallbacks.total());
  }

  @Test
  void hostKeyIsNoModelConfigurationKey() {
    String old = System.getProperty(HostEngine.KEY);
    System.setProperty(HostEngine.KEY, "pytorch");
    try {
      assertEquals(MxConfig.resolve(null).getWeights(), MxConfig.resolve(Map.of()).getWeights());
    } finally {
      if (old == null) {
        System.clearProperty(HostEngine.KEY);
      } else {
        System.setProperty(HostEngine.KEY, old);
      }
    }
  }

  @Test
  void gpuManagersNeedTheCudaBackend() {
    if (!HostEngine.isAvailable() && !CudaBackend.isAvailable()) {
      EngineException e =
          assertThrows(EngineException.class, () -> Engine.getEngine(MxEngine.ENGINE_NAME));
      assertTrue(e.getMessage().contains("CUDA"), e.getMessage());
      return;
    }
    Engine mx = Engine.getEngine(MxEngine.ENGINE_NAME);
    assertEquals(CudaBackend.isAvailable() ? 1 : 0, mx.getGpuCount());
    if (HostEngine.isAvailable()) {
      try (NDManager cpu = mx.newBaseManager(Device.cpu())) {
        assertFalse(((MxNDManager) cpu).isDeviceResident());
        assertTrue(cpu.zeros(new ai.djl.ndarray.types.Shape(2)) instanceof MxNDArray);
      }
    } else {
      // GPU-only engine: CPU arrays are refused with the reason
      EngineException e =
          assertThrows(EngineException.class, () -> mx.newBaseManager(Device.cpu()));
      assertTrue(e.getMessage().contains("host engine"), e.getMessage());
    }
    if (!CudaBackend.isAvailable()) {
      EngineException e =
          assertThrows(EngineException.class, () -> mx.newBaseManager(Device.gpu()));
      assertTrue(e.getMessage().contains(CudaBackend.unavailableReason()), e.getMessage());
    } else {
      try (NDManager gpu = mx.newBaseManager(Device.gpu())) {
        assertTrue(((MxNDManager) gpu).isDeviceResident());
        assertTrue(gpu.zeros(new ai.djl.ndarray.types.Shape(2)) instanceof MxCudaNDArray);
      }
      assertThrows(EngineException.class, () -> mx.newBaseManager(Device.gpu(1)));
    }
  }

  @Test
  void gpuArraysAreNeverMadeWithoutADevice() {
    if (CudaBackend.isAvailable()) {
      return; // covered by MxCudaNDArrayTest
    }
    try {
      DeviceStorage.allocate(16);
      fail("allocation without a CUDA device");
    } catch (IllegalStateException e) {
      assertTrue(e.getMessage().contains("CUDA backend unavailable"), e.getMessage());
    }
  }
}

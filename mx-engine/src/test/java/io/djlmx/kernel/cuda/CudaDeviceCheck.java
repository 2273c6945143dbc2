package io.djlmx.kernel.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The per-test frame of the CUDA kernel tests ({@code @ExtendWith(CudaDeviceCheck.class)}): skips
 * each test, saying why, where no CUDA device is present; turns on synchronous launch checks, so a
 * kernel fault names its launch; fails a test that leaves device buffers behind. Runs after the
 * class's own {@code @AfterEach} methods.
 */
public final class CudaDeviceCheck implements BeforeEachCallback, AfterEachCallback {

  private static final ExtensionContext.Namespace NS =
      ExtensionContext.Namespace.create(CudaDeviceCheck.class);
  private static final String LIVE = "liveBuffersBefore";

  @Override
  public void beforeEach(ExtensionContext context) {
    Assumptions.assumeTrue(
        CudaBackend.isAvailable(), () -> "no CUDA device: " + CudaBackend.unavailableReason());
    CudaBackend.get().setSynchronousChecks(true);
    context.getStore(NS).put(LIVE, DeviceBuffer.liveBuffers());
  }

  @Override
  public void afterEach(ExtensionContext context) {
    Long before = context.getStore(NS).remove(LIVE, Long.class);
    if (before != null) { // null: the test was skipped before it started
      assertEquals(before.longValue(), DeviceBuffer.liveBuffers(), "device buffers leaked");
    }
  }
}

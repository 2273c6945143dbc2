package io.djlmx.kernel.cuda;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The backend says whether it is usable and, when it is not, why; it never crashes the caller. */
class CudaBackendTest {

  @Test
  void availabilityComesWithAReason() {
    if (CudaBackend.isAvailable()) {
      assertNull(CudaBackend.unavailableReason());
      CudaBackend b = CudaBackend.get();
      assertTrue(b.computeCapability() >= 90, "compute capability " + b.computeCapability());
      assertFalse(b.deviceName().isEmpty());
      long[] mem = b.memoryInfo();
      assertTrue(mem[0] > 0 && mem[0] <= mem[1]);
    } else {
      String reason = CudaBackend.unavailableReason();
      assertNotNull(reason);
      assertFalse(reason.isBlank());
      IllegalStateException e = assertThrows(IllegalStateException.class, CudaBackend::get);
      assertTrue(e.getMessage().contains(reason), e.getMessage());
      assertThrows(IllegalStateException.class, () -> DeviceBuffer.allocate(16));
    }
  }
}

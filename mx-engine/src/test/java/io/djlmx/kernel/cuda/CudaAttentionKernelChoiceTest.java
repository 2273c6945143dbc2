package io.djlmx.kernel.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The default attention kernel per device and head dim (no device needed). */
class CudaAttentionKernelChoiceTest {

  @Test
  void hopperTakesWgmmaKernelsAtBothHeadDims() {
    String before = System.clearProperty("mx.cuda.attentionKernel");
    try {
      assertEquals(CudaAttention.Kernel.WGMMA_1WG_PIPE128, CudaAttention.Kernel.byDefault(90, 128));
      assertEquals(CudaAttention.Kernel.WGMMA_1WG_PIPE128, CudaAttention.Kernel.byDefault(90, 64));
      assertEquals(CudaAttention.Kernel.MMA, CudaAttention.Kernel.byDefault(80, 64));
      assertEquals(CudaAttention.Kernel.MMA, CudaAttention.Kernel.byDefault(89, 128));
      System.setProperty("mx.cuda.attentionKernel", "mma");
      assertEquals(CudaAttention.Kernel.MMA, CudaAttention.Kernel.byDefault(90, 64));
    } finally {
      if (before == null) {
        System.clearProperty("mx.cuda.attentionKernel");
      } else {
        System.setProperty("mx.cuda.attentionKernel", before);
      }
    }
  }
}

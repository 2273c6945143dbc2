package io.djlmx.zoo.bert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import io.djlmx.engine.MxConfig;
import io.djlmx.engine.MxFallbacks;
import io.djlmx.engine.MxLinear;
import io.djlmx.engine.MxNDManager;
import io.djlmx.kernel.cuda.CudaBackend;
import io.djlmx.kernel.cuda.DeviceBuffer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The zoo's {@link BertEncoder} (MiniLM's layer structure, seeded random weights) runs its forward
 * pass on the GPU with every array in MX device memory, MXFP6 weights packed once on the device,
 * and no host fallback; its hidden states agree with the FP64 host reference and, when {@code
 * -Dmx.gpu.encoderReference=FILE} names the CPU MX result ({@link BertEncoderReferenceTest}), with
 * the CPU MX engine. Device memory is back to where it was once the manager closes.
 */
@Tag("gpu")
class BertEncoderGpuTest {

  @Test
  void encoderRunsOnTheGpuWithoutFallbacks() throws IOException {
    Assumptions.assumeTrue(
        CudaBackend.isAvailable(), () -> "no CUDA device: " + CudaBackend.unavailableReason());
    long seed = BertEncoderReferenceTest.SEED;
    BertWeights w = EncoderFixture.weights(seed);
    MxFallbacks.reset();
    long live = DeviceBuffer.liveBuffers();
    long kernelCalls = MxLinear.getCallCount(MxLinear.Path.KERNEL);
    float[] gpu;
    try (MxNDManager m = (MxNDManager) Engine.getEngine("MX").newBaseManager(Device.gpu())) {
      assertTrue(m.isDeviceResident());
      m.setConfig(MxConfig.resolve(Map.of(MxConfig.WEIGHTS, EncoderFixture.FORMAT.name())));
      gpu = EncoderFixture.runOn(m, w, seed);
      float[] again = EncoderFixture.runOn(m, w, seed); // fresh weight arrays: packed again
      assertEquals(gpu.length, again.length);
    }
    assertEquals(0, MxFallbacks.total(), "host fallbacks: " + MxFallbacks.counts());
    assertEquals(
        2 * 6 * EncoderFixture.CONFIG.numLayers(),
        MxLinear.getCallCount(MxLinear.Path.KERNEL) - kernelCalls,
        "every projection on the MX CUDA kernel");
    assertEquals(live, DeviceBuffer.liveBuffers(), "device memory freed with the manager");
    double vsRef = EncoderFixture.minTokenCosine(gpu, EncoderFixture.reference(w, seed));
    System.out.printf("[gpu encoder] min token cosine vs FP64 MX reference: %.7f%n", vsRef);
    assertTrue(vsRef >= 0.9999, "min token cosine GPU vs FP64 reference: " + vsRef);
    String ref = System.getProperty("mx.gpu.encoderReference");
    if (ref != null) {
      ByteBuffer bb =
          ByteBuffer.wrap(Files.readAllBytes(Path.of(ref))).order(ByteOrder.LITTLE_ENDIAN);
      float[] cpu = new float[bb.remaining() / 4];
      bb.asFloatBuffer().get(cpu);
      assertEquals(gpu.length, cpu.length, "CPU reference length");
      double vsCpu = EncoderFixture.minTokenCosine(gpu, EncoderFixture.toDouble(cpu));
      double maxAbs = 0;
      for (int i = 0; i < cpu.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(cpu[i] - gpu[i]));
      }
      System.out.printf(
          "[gpu encoder] min token cosine vs CPU MX engine: %.7f, max |diff| %.3g%n",
          vsCpu, maxAbs);
      assertTrue(vsCpu >= 0.999, "min token cosine GPU vs CPU MX: " + vsCpu);
    }
  }
}

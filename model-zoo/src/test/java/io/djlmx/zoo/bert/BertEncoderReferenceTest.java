package io.djlmx.zoo.bert;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import io.djlmx.engine.MxConfig;
import io.djlmx.engine.MxNDManager;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The CPU MX engine runs {@link EncoderFixture}'s encoder as the FP64 host reference says, which
 * validates the reference the GPU test ({@link BertEncoderGpuTest}) uses where PyTorch is absent.
 * With {@code -Dmx.gpu.writeEncoderReference=FILE} it also writes the CPU MX hidden states (FP32,
 * little-endian) for the GPU machine to compare against.
 */
class BertEncoderReferenceTest {

  static final long SEED = 42;

  @Test
  void cpuMxEngineMatchesTheHostReference() throws IOException {
    BertWeights w = EncoderFixture.weights(SEED);
    try (NDManager m = Engine.getEngine("MX").newBaseManager()) {
      ((MxNDManager) m)
          .setConfig(MxConfig.resolve(Map.of(MxConfig.WEIGHTS, EncoderFixture.FORMAT.name())));
      float[] cpu = EncoderFixture.runOn(m, w, SEED);
      double cos = EncoderFixture.minTokenCosine(cpu, EncoderFixture.reference(w, SEED));
      assertTrue(cos >= 0.9999, "min token cosine CPU MX vs FP64 reference: " + cos);
      String out = System.getProperty("mx.gpu.writeEncoderReference");
      if (out != null) {
        ByteBuffer bb = ByteBuffer.allocate(cpu.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        bb.asFloatBuffer().put(cpu);
        try (OutputStream os = Files.newOutputStream(Path.of(out));
            DataOutputStream dos = new DataOutputStream(os)) {
          dos.write(bb.array());
        }
      }
    }
  }
}

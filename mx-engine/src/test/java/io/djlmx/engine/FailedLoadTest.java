package io.djlmx.engine;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A failed load releases what the model allocated; a GPU that is not there is named at once. */
class FailedLoadTest {

  @Test
  void failedLoadClosesTheModel() throws Exception {
    Path dir = Files.createTempDirectory("mx-failed-load");
    ModelFixtures.saveUnderPyTorch(ModelFixtures.mlp(), new Shape(1, 20), dir, "mlp").close();
    Model model = Model.newInstance("mlp", Device.cpu(), "MX");
    model.setBlock(ModelFixtures.mlp());
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> model.load(dir, "mlp", Map.of("mx.weigths", "MXFP4_E2M1")));
    assertTrue(e.getMessage().contains("mx.weigths"), e.getMessage());
    assertFalse(model.getNDManager().isOpen(), "the failed model's manager is still open");
    model.close(); // closing again is harmless
  }

  @Test
  void missingGpuIsNamed() {
    assumeTrue(Engine.getEngine("PyTorch").getGpuCount() == 0, "needs a machine without a GPU");
    EngineException e =
        assertThrows(
            EngineException.class, () -> Engine.getEngine("MX").newBaseManager(Device.gpu()));
    assertTrue(
        e.getMessage().contains("gpu(0)") && e.getMessage().contains("no GPU"), e.getMessage());
  }
}

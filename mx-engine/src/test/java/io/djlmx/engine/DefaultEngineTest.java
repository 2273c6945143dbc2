package io.djlmx.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * MX as DJL's default engine. DJL picks the default once per JVM, so each case runs in a child JVM.
 */
class DefaultEngineTest {

  /** Child JVM entry point: prints the default engine and the engine of an array it makes. */
  public static void main(String[] args) {
    try (NDManager m = NDManager.newBaseManager()) {
      System.out.println(
          "default="
              + Engine.getDefaultEngineName()
              + " array="
              + m.ones(new ai.djl.ndarray.types.Shape(1)).getManager().getEngine().getEngineName());
    }
  }

  private static String runChild(String envValue, String property) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add("-Dai.djl.offline=true");
    cmd.add("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn");
    if (property != null) {
      cmd.add("-Dai.djl.default_engine=" + property);
    }
    cmd.add(DefaultEngineTest.class.getName());
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().remove("DJL_DEFAULT_ENGINE");
    if (envValue != null) {
      pb.environment().put("DJL_DEFAULT_ENGINE", envValue);
    }
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException("child JVM timed out: " + out);
    }
    return out;
  }

  @Test
  void environmentVariableSelectsMx() throws Exception {
    String out = runChild("MX", null);
    assertTrue(out.contains("default=MX array=MX"), out);
  }

  @Test
  void systemPropertySelectsMx() throws Exception {
    String out = runChild(null, "MX");
    assertTrue(out.contains("default=MX array=MX"), out);
  }

  @Test
  void withoutSelectionPyTorchStaysDefault() throws Exception {
    String out = runChild(null, null);
    assertTrue(out.contains("default=PyTorch"), out);
    assertEquals("MX", Engine.getEngine("MX").getEngineName());
  }
}

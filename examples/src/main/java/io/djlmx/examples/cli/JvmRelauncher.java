package io.djlmx.examples.cli;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Restarts the JVM with the flags the MX kernels need when {@code java -jar mx.jar} was run without
 * them.
 *
 * <p>The Vector API lives in the incubator module {@code jdk.incubator.vector}, which a jar
 * manifest cannot add; without it the CPU kernels cannot load. Rather than make every user remember
 * {@code --add-modules}, the launcher re-executes itself once with the module added.
 */
final class JvmRelauncher {

  static final String VECTOR_MODULE = "jdk.incubator.vector";
  private static final String MARKER = "io.djlmx.relaunched";

  private JvmRelauncher() {}

  /**
   * Re-executes this program in a child JVM with the Vector API module when it is missing.
   *
   * @param mainClass the class whose {@code main} to run in the child
   * @param args the program's arguments
   * @return the child's exit status, or empty when no relaunch was needed (or possible)
   */
  static Optional<Integer> relaunchIfNeeded(Class<?> mainClass, String[] args) {
    if (ModuleLayer.boot().findModule(VECTOR_MODULE).isPresent() || Boolean.getBoolean(MARKER)) {
      return Optional.empty();
    }
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    List<String> cmd = new ArrayList<>();
    cmd.add(java.toString());
    cmd.add("--add-modules=" + VECTOR_MODULE);
    cmd.add("--enable-native-access=ALL-UNNAMED");
    // protobuf (ONNX reading) still uses sun.misc.Unsafe; allowed quietly, as before Java 24
    cmd.add("--sun-misc-unsafe-memory-access=allow");
    cmd.add("-D" + MARKER + "=true");
    // Keep the user's own JVM options (heap size, system properties...).
    cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(mainClass.getName());
    cmd.addAll(List.of(args));
    try {
      Process p = new ProcessBuilder(cmd).inheritIO().start();
      return Optional.of(p.waitFor());
    } catch (IOException e) {
      return Optional.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.of(130);
    }
  }
}

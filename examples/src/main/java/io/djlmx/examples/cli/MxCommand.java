package io.djlmx.examples.cli;

import java.util.Optional;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code mx} command line: one entry point, one subcommand per task. */
@Command(
    name = "mx",
    mixinStandardHelpOptions = true,
    version = "djl-mx 0.1.0",
    description = "Tools for the OCP Microscaling (MX) formats and the MX engine for DJL.",
    footer = {
      "",
      "Start with: mx demo. Every command takes --help. Logging: warnings only unless --verbose."
    },
    subcommands = {
      CommandLine.HelpCommand.class,
      DemoCommand.class,
      ConvertCommand.class,
      InspectCommand.class,
      ChartCommand.class,
      CheckVectorsCommand.class,
      QuantizeCommand.class,
      DequantizeCommand.class,
      EvalCommand.class,
      BenchCommand.class
    })
public final class MxCommand implements Runnable {

  /** The slf4j-simple property for the default log level. */
  static final String LOG_LEVEL = "org.slf4j.simpleLogger.defaultLogLevel";

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @CommandLine.Mixin VerboseOption verbose;

  /**
   * Runs the command line.
   *
   * @param args the arguments
   */
  public static void main(String[] args) {
    Optional<Integer> child = JvmRelauncher.relaunchIfNeeded(MxCommand.class, args);
    if (child.isPresent()) {
      System.exit(child.get());
    }
    configureRuntime();
    System.exit(newCommandLine().execute(args));
  }

  /** Logs warnings only unless the user chose a level with {@code -D}; headless AWT for charts. */
  static void configureRuntime() {
    if (System.getProperty(LOG_LEVEL) == null) {
      System.setProperty(LOG_LEVEL, "warn");
    }
    // DJL and ONNX Runtime probe for CUDA at engine start and warn on CPU-only machines.
    for (String cudaProbe :
        new String[] {"ai.djl.util.cuda.CudaUtils", "ai.djl.onnxruntime.engine.OrtEngine"}) {
      String key = "org.slf4j.simpleLogger.log." + cudaProbe;
      if (System.getProperty(key) == null) {
        System.setProperty(key, "error");
      }
    }
    System.setProperty("java.awt.headless", "true");
  }

  /**
   * Builds the command line with every subcommand registered and user errors reported as one
   * message (no stack trace).
   *
   * @return a new command line
   */
  public static CommandLine newCommandLine() {
    CommandLine cl = new CommandLine(new MxCommand());
    cl.setExecutionExceptionHandler(new UserErrorHandler());
    RecordingWriter out = new RecordingWriter(cl.getOut());
    cl.setOut(out);
    cl.setExecutionStrategy(new ChartingStrategy(out));
    return cl;
  }

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }
}

package io.djlmx.examples.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code mx} command line: one entry point, one subcommand per task. */
@Command(
    name = "mx",
    mixinStandardHelpOptions = true,
    version = "djl-mx 0.1.0",
    description = "Tools for the OCP Microscaling (MX) formats and the MX engine for DJL.",
    subcommands = {
      CommandLine.HelpCommand.class,
      CheckVectorsCommand.class,
      QuantizeCommand.class,
      DequantizeCommand.class,
      EvalCommand.class
    })
public final class MxCommand implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  /**
   * Runs the command line.
   *
   * @param args the arguments
   */
  public static void main(String[] args) {
    java.util.Optional<Integer> child = JvmRelauncher.relaunchIfNeeded(MxCommand.class, args);
    if (child.isPresent()) {
      System.exit(child.get());
    }
    System.exit(newCommandLine().execute(args));
  }

  /**
   * Builds the command line with every subcommand registered.
   *
   * @return a new command line
   */
  public static CommandLine newCommandLine() {
    return new CommandLine(new MxCommand());
  }

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }
}

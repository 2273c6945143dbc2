package io.djlmx.examples.cli;

import picocli.CommandLine.Command;

/** {@code mx eval}: accuracy evaluations. */
@Command(
    name = "eval",
    mixinStandardHelpOptions = true,
    description = "Accuracy evaluations of MX formats.",
    subcommands = {EvalEmbeddingsCommand.class, EvalLmCommand.class})
public final class EvalCommand implements Runnable {

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }
}

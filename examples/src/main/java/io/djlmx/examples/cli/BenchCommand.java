package io.djlmx.examples.cli;

import picocli.CommandLine.Command;

/** {@code mx bench}: throughput measurements. */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    description = "Throughput measurements.",
    subcommands = {
      BenchEmbeddingsCommand.class,
      BenchLinearCommand.class,
      BenchAttentionCommand.class,
      BenchLmCommand.class
    })
public final class BenchCommand implements Runnable {

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }
}

package io.djlmx.examples.cli;

import picocli.CommandLine.Option;

/**
 * The {@code -v/--verbose} option every command mixes in: INFO logging instead of warnings only.
 * Options are parsed before any logger exists, so the level takes effect.
 */
public final class VerboseOption {

  /**
   * Turns on informational logging.
   *
   * @param verbose whether to log at INFO
   */
  @Option(
      names = {"-v", "--verbose"},
      description = "Log progress and configuration (INFO) instead of warnings only.")
  void setVerbose(boolean verbose) {
    if (verbose) {
      System.setProperty(MxCommand.LOG_LEVEL, "info");
    }
  }
}

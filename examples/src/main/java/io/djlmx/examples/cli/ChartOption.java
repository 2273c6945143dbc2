package io.djlmx.examples.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The {@code --chart FILE.png} option of the benchmark and evaluation commands. */
public final class ChartOption {

  @Option(
      names = "--chart",
      paramLabel = "FILE.png",
      description = "Also draw the measured table as a PNG chart (headless).")
  Path chart;

  /**
   * Returns the chart file asked for.
   *
   * @return the file, or null when no chart is wanted
   */
  public Path file() {
    return chart;
  }

  /**
   * Checks the file name before the (long) measurement starts.
   *
   * @throws UserException if the name does not end in {@code .png}
   */
  public void check() {
    if (chart != null && !chart.getFileName().toString().toLowerCase().endsWith(".png")) {
      throw new UserException("--chart writes PNG: give a file name ending in .png, not " + chart);
    }
  }
}

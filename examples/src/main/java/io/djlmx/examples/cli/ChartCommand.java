package io.djlmx.examples.cli;

import io.djlmx.examples.Charts;
import io.djlmx.examples.MarkdownTable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code mx chart}: a PNG from a table saved from {@code mx eval} or {@code mx bench}. */
@Command(
    name = "chart",
    mixinStandardHelpOptions = true,
    description =
        "Draws a PNG chart from the Markdown table that 'mx eval embeddings', 'mx bench"
            + " embeddings' or 'mx bench linear' printed (saved to a file, log lines around it are"
            + " fine), so a long measurement need not be run again to chart it.")
public final class ChartCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Mixin VerboseOption verbose;

  @Parameters(paramLabel = "TABLE", description = "A text file holding the command's table.")
  Path table;

  @Option(
      names = {"-o", "--output"},
      paramLabel = "FILE.png",
      required = true,
      description = "The PNG to write.")
  Path output;

  @Option(
      names = "--subtitle",
      paramLabel = "TEXT",
      description = "A line under the title: where and how it was measured.")
  String subtitle;

  /** {@inheritDoc} */
  @Override
  public Integer call() throws Exception {
    if (!output.getFileName().toString().toLowerCase().endsWith(".png")) {
      throw new UserException("--output writes PNG: give a name ending in .png, not " + output);
    }
    if (!Files.isRegularFile(table)) {
      throw new UserException("No file at " + table + ": save the command's output there first");
    }
    Charts.draw(
        MarkdownTable.parse(Files.readString(table, StandardCharsets.UTF_8)), subtitle, output);
    spec.commandLine().getOut().println("Chart written to " + output);
    spec.commandLine().getOut().flush();
    return 0;
  }
}

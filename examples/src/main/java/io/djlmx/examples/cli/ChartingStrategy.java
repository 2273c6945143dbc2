package io.djlmx.examples.cli;

import io.djlmx.examples.Charts;
import io.djlmx.examples.MarkdownTable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionStrategy;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/**
 * Runs the chosen subcommand, then, when it was given {@code --chart FILE.png} and succeeded, draws
 * the Markdown table it printed: accuracy against bits per element for {@code eval} commands, speed
 * bars for {@code bench} commands that print through the command line.
 */
final class ChartingStrategy implements IExecutionStrategy {

  private final RecordingWriter out;

  ChartingStrategy(RecordingWriter out) {
    this.out = out;
  }

  /** {@inheritDoc} */
  @Override
  public int execute(ParseResult parseResult) {
    CommandSpec last = lastSubcommand(parseResult).commandSpec();
    Object mixin =
        last.mixins().containsKey("chart") ? last.mixins().get("chart").userObject() : null;
    ChartOption chart = mixin instanceof ChartOption c ? c : null;
    if (chart != null) {
      try {
        chart.check();
      } catch (UserException e) {
        throw new CommandLine.ExecutionException(last.commandLine(), e.getMessage(), e);
      }
    }
    int rc = new CommandLine.RunLast().execute(parseResult);
    if (rc != 0 || chart == null || chart.file() == null) {
      return rc;
    }
    String name = last.qualifiedName(" ");
    if (!name.endsWith("eval embeddings") && !name.endsWith("bench embeddings")) {
      return rc; // commands that chart themselves
    }
    try {
      MarkdownTable table = MarkdownTable.parse(out.text());
      Path file = chart.file();
      String subtitle =
          String.format(
              Locale.ROOT,
              "%s, %d cores, %s",
              name,
              Runtime.getRuntime().availableProcessors(),
              java.time.LocalDate.now());
      Charts.draw(table, subtitle, file);
      out.println("Chart written to " + file);
      out.flush();
      return rc;
    } catch (IOException | RuntimeException e) {
      throw new CommandLine.ExecutionException(
          last.commandLine(),
          "Cannot write chart " + chart.file() + ": " + e.getMessage(),
          new UncheckedIOException(
              new IOException("Cannot write chart " + chart.file() + ": " + e.getMessage(), e)));
    }
  }

  private static ParseResult lastSubcommand(ParseResult pr) {
    ParseResult p = pr;
    while (p.subcommand() != null) {
      p = p.subcommand();
    }
    return p;
  }
}

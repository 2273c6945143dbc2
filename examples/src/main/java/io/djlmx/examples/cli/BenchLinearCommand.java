package io.djlmx.examples.cli;

import io.djlmx.examples.Charts;
import io.djlmx.examples.MarkdownTable;
import io.djlmx.examples.bench.CpuLinearBench;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code mx bench linear}: MX CPU linear against PyTorch FP32 linear (the kernels' harness). */
@Command(
    name = "linear",
    mixinStandardHelpOptions = true,
    description =
        "Times MX linear (all formats) against DJL PyTorch FP32 linear on the same inputs, side by"
            + " side, and prints medians and ratios as a Markdown table. The 16384 shape needs a"
            + " large heap (java -Xmx8g -jar ...).")
public final class BenchLinearCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Mixin VerboseOption verbose;

  @Mixin ChartOption chart;

  @Option(
      names = "--rounds",
      paramLabel = "N",
      defaultValue = "15",
      description = "Timed rounds per shape; the median is reported (default: ${DEFAULT-VALUE}).")
  int rounds;

  @Option(
      names = "--shapes",
      paramLabel = "MxKxN,...",
      defaultValue = CpuLinearBench.DEFAULT_SHAPES,
      description = "Shapes M×K→N, comma separated (default: ${DEFAULT-VALUE}).")
  String shapes;

  /** {@inheritDoc} */
  @Override
  public Integer call() throws Exception {
    chart.check();
    if (rounds <= 0) {
      throw new UserException("--rounds must be positive, got " + rounds);
    }
    if (!shapes.matches("\\s*\\d+x\\d+x\\d+(\\s*,\\s*\\d+x\\d+x\\d+)*\\s*")) {
      throw new UserException(
          "--shapes takes M×K×N triples like 1x4096x4096,128x768x3072; got '" + shapes + "'");
    }
    String text;
    try (TableCapture capture = new TableCapture()) {
      CpuLinearBench.main(new String[] {String.valueOf(rounds), shapes});
      text = capture.text();
    }
    if (chart.file() != null) {
      Charts.draw(
          MarkdownTable.parse(text),
          String.format(
              java.util.Locale.ROOT,
              "mx bench linear, median of %d rounds, %d cores, %s",
              rounds,
              Runtime.getRuntime().availableProcessors(),
              java.time.LocalDate.now()),
          chart.file());
      spec.commandLine().getOut().println("Chart written to " + chart.file());
      spec.commandLine().getOut().flush();
    }
    return 0;
  }
}

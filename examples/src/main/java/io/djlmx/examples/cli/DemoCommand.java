package io.djlmx.examples.cli;

import io.djlmx.examples.MxDemo;
import io.djlmx.format.MxFormat;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code mx demo}: MiniLM in FP32 and in MXFP6, semantic search side by side. */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description =
        "Loads the all-MiniLM-L6-v2 sentence encoder twice (FP32 on PyTorch, MXFP6 on the MX"
            + " engine), embeds 1,000 WordNet definitions, answers semantic-search queries with"
            + " both and prints the answers side by side with weight memory, speed and agreement."
            + " Works offline.")
public final class DemoCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @picocli.CommandLine.Mixin VerboseOption verbose;

  @Option(
      names = {"-q", "--query"},
      paramLabel = "TEXT",
      description = "A search query (repeatable; default: five built-in descriptions).")
  List<String> queries;

  @Option(
      names = "--weights",
      paramLabel = "FORMAT",
      description = "MX weight format of the second model (default: ${DEFAULT-VALUE}).",
      defaultValue = "MXFP6_E2M3",
      converter = FormatConverter.class)
  MxFormat weights;

  @Option(
      names = "--corpus-size",
      paramLabel = "N",
      description = "Corpus entries to embed, 1..1000 (default: ${DEFAULT-VALUE}).",
      defaultValue = "1000")
  int corpusSize;

  @Option(
      names = "--top",
      paramLabel = "K",
      description = "Answers shown per query (default: ${DEFAULT-VALUE}).",
      defaultValue = "3")
  int topK;

  @Option(
      names = "--warmup",
      paramLabel = "SECONDS",
      description =
          "Untimed embedding per model before the timed runs, in seconds (default:"
              + " ${DEFAULT-VALUE}): the JIT needs seconds to compile the MX kernels.",
      defaultValue = "12")
  double warmupSeconds;

  @Option(
      names = "--cache-dir",
      paramLabel = "DIR",
      description = "Where converted zoo checkpoints are cached (default: the DJL cache).")
  Path cacheDir;

  /** {@inheritDoc} */
  @Override
  public Integer call() throws Exception {
    MxDemo.Options defaults = MxDemo.Options.defaults();
    MxDemo.Options options =
        new MxDemo.Options(
            corpusSize,
            queries == null ? defaults.queries() : queries,
            topK,
            defaults.batchSize(),
            weights,
            cacheDir,
            warmupSeconds);
    MxDemo.print(new MxDemo(options).run(), spec.commandLine().getOut());
    return 0;
  }
}

package io.djlmx.examples.cli;

import io.djlmx.examples.bench.AttentionBench;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code mx bench attention}: MX CPU attention against attention from DJL PyTorch ops. */
@Command(
    name = "attention",
    mixinStandardHelpOptions = true,
    description =
        "Times MX CPU attention against DJL PyTorch FP32 ops (B=1, H=12, D=64), side by side.")
public final class BenchAttentionCommand implements Callable<Integer> {

  @Mixin VerboseOption verbose;

  @Parameters(
      paramLabel = "S",
      arity = "0..*",
      description = "Sequence lengths (default: 512 2048).")
  List<Integer> lengths;

  /** {@inheritDoc} */
  @Override
  public Integer call() {
    if (lengths != null && lengths.stream().anyMatch(s -> s <= 0)) {
      throw new UserException("Sequence lengths must be positive, got " + lengths);
    }
    AttentionBench.main(
        lengths == null
            ? new String[0]
            : lengths.stream().map(String::valueOf).toArray(String[]::new));
    return 0;
  }
}

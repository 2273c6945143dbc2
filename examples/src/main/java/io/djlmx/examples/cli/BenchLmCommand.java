package io.djlmx.examples.cli;

import ai.djl.engine.Engine;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import io.djlmx.format.MxFormat;
import io.djlmx.zoo.lm.ByteTokenizer;
import io.djlmx.zoo.lm.TextGenerator;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code mx bench lm}: generation speed of the zoo's {@code tiny-lm} at batch 1 (greedy, a fixed
 * number of new tokens, KV cache), PyTorch FP32 beside the MX formats on the MX engine, plus
 * PyTorch FP32 without the cache (the prefix re-run for every token) to show what the cache buys.
 * The configurations take turns in every round, so a change in machine load hits them alike.
 */
@Command(
    name = "lm",
    mixinStandardHelpOptions = true,
    description =
        "tiny-lm tokens/s at batch 1: PyTorch FP32 and MX formats (MX engine), greedy with the KV"
            + " cache, plus PyTorch FP32 re-running the prefix; medians of --reps rounds after"
            + " --warmup; prints a Markdown table.")
public final class BenchLmCommand implements Callable<Integer> {

  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @picocli.CommandLine.Mixin VerboseOption verbose;

  @Option(
      names = "--formats",
      split = ",",
      defaultValue = "MXFP8_E4M3,MXINT8,MXFP6_E2M3,MXFP4_E2M1",
      description = "MX weight formats (weight-only, MX attention)")
  List<String> formats;

  @Option(names = "--tokens", defaultValue = "96", description = "New tokens per generation")
  int tokens;

  @Option(
      names = "--prompt",
      defaultValue = "The best way to predict the future is",
      description = "Prompt")
  String prompt;

  @Option(names = "--reps", defaultValue = "7", description = "Timed rounds")
  int reps;

  @Option(names = "--warmup", defaultValue = "3", description = "Untimed rounds first")
  int warmup;

  @Option(names = "--out", description = "Also write the report to this Markdown file")
  Path outFile;

  /** One timed configuration: generates once, returns the tokens made. */
  private interface Run {
    int generate() throws Exception;
  }

  @Override
  public Integer call() throws Exception {
    if (tokens < 1 || reps < 1 || warmup < 0) {
      throw new UserException("--tokens and --reps must be at least 1, --warmup 0 or more");
    }
    PrintWriter out = spec.commandLine().getOut();
    String loadBefore = loadAverage();
    List<AutoCloseable> open = new ArrayList<>();
    Map<String, Run> runs = new LinkedHashMap<>();
    try {
      ZooModel<String, String> pt = load("PyTorch", null, open);
      runs.put("PyTorch FP32, KV cache", predictor(pt, open));
      runs.put("PyTorch FP32, no cache (prefix re-run per token)", rerun(pt));
      if (Engine.hasEngine("MX")) {
        for (String f : formats) {
          MxFormat fmt;
          try {
            fmt = MxFormat.parse(f);
          } catch (IllegalArgumentException e) {
            throw new UserException("--formats: " + e.getMessage());
          }
          runs.put("MX engine " + fmt + ", KV cache", predictor(load("MX", fmt, open), open));
        }
      }
      for (int r = 0; r < warmup; r++) {
        for (Run run : runs.values()) {
          run.generate();
        }
      }
      Map<String, double[]> seconds = new LinkedHashMap<>();
      runs.keySet().forEach(k -> seconds.put(k, new double[reps]));
      int[] made = new int[runs.size()];
      for (int r = 0; r < reps; r++) {
        int i = 0;
        for (Map.Entry<String, Run> e : runs.entrySet()) {
          long t0 = System.nanoTime();
          made[i++] = e.getValue().generate();
          seconds.get(e.getKey())[r] = (System.nanoTime() - t0) / 1e9;
        }
      }
      String loadAfter = loadAverage();
      double base = 0;
      StringBuilder table = new StringBuilder();
      table.append("| configuration | tokens/s (median) | ms/token | vs PyTorch FP32 + cache |\n");
      table.append("|---|---:|---:|---:|\n");
      int i = 0;
      for (Map.Entry<String, double[]> e : seconds.entrySet()) {
        double[] s = e.getValue().clone();
        Arrays.sort(s);
        double median = s[s.length / 2];
        double tps = made[i++] / median;
        if (base == 0) {
          base = tps;
        }
        table.append(
            String.format(
                Locale.ROOT,
                "| %s | %.1f | %.2f | %.2f× |%n",
                e.getKey(),
                tps,
                1000 / tps,
                tps / base));
      }
      String md =
          "# tiny-lm generation speed (batch 1, CPU)\n\n"
              + "Measured "
              + Instant.now()
              + " on the shared 2-core CPU machine; load average (1, 5, 15 min) "
              + loadBefore
              + " before, "
              + loadAfter
              + " after: other engineers were compiling and testing, so absolute figures are "
              + "noisy; the configurations took turns in each round, so the ratios are fairer "
              + "than the figures.\n\n"
              + "Command: `TOKENS="
              + tokens
              + " REPS="
              + reps
              + " WARMUP="
              + warmup
              + " scripts/tiny-lm-bench.sh` (runs `mx bench lm --tokens "
              + tokens
              + " --reps "
              + reps
              + " --warmup "
              + warmup
              + " --out docs/bench/tinylm.md`).\n\n"
              + "Each generation: the prompt \""
              + prompt
              + "\" ("
              + new ByteTokenizer().encode(prompt).length
              + " tokens) run once, then "
              + tokens
              + " greedy tokens, each one step over the key/value cache (end of text ignored so"
              + " every run makes the same number of tokens); tokens/s = new tokens / median "
              + "wall time of "
              + reps
              + " rounds after "
              + warmup
              + " warm-up rounds, through the zoo's Predictor (`String` → `String`). MX rows: "
              + "`Linear` weights packed in the format (weight-only) on the engine's CPU kernels, "
              + "MX attention. The no-cache row feeds the whole prefix again for every token.\n\n"
              + table;
      if (outFile != null) {
        Path parent = outFile.toAbsolutePath().getParent();
        if (parent != null) {
          Files.createDirectories(parent);
        }
        Files.writeString(outFile, md);
      }
      out.print(md);
      out.flush();
    } finally {
      for (int k = open.size() - 1; k >= 0; k--) {
        open.get(k).close();
      }
    }
    return 0;
  }

  private ZooModel<String, String> load(String engine, MxFormat weights, List<AutoCloseable> open)
      throws Exception {
    ZooModel<String, String> m =
        EvalLmCommand.criteria(engine, weights, null, engine.equals("MX"))
            .optArgument("maxNewTokens", tokens)
            .optArgument("ignoreEos", true)
            .build()
            .loadModel();
    open.add(m);
    return m;
  }

  private Run predictor(ZooModel<String, String> model, List<AutoCloseable> open) {
    Predictor<String, String> p = model.newPredictor();
    open.add(p);
    return () -> {
      p.predict(prompt);
      return tokens;
    };
  }

  /** Greedy generation without a cache: the whole sequence runs again for every new token. */
  private Run rerun(ZooModel<String, String> model) {
    Block block = model.getBlock();
    int[] promptIds = new ByteTokenizer().encode(prompt);
    return () -> {
      int[] seq = Arrays.copyOf(promptIds, promptIds.length + tokens);
      int len = promptIds.length;
      try (NDManager scope = model.getNDManager().newSubManager()) {
        ParameterStore ps = new ParameterStore(scope, false);
        for (int t = 0; t < tokens; t++) {
          try (NDManager step = scope.newSubManager()) {
            NDArray ids = TextGenerator.prefillInput(step, Arrays.copyOf(seq, len));
            NDArray logits = block.forward(ps, new NDList(ids), false).get(0);
            int next = TextGenerator.argMax(logits.get(0).get(len - 1).toFloatArray());
            seq[len++] = next;
          }
        }
      }
      return tokens;
    };
  }

  private static String loadAverage() {
    try {
      String[] f = Files.readString(Paths.get("/proc/loadavg")).trim().split(" ");
      return f[0] + ", " + f[1] + ", " + f[2];
    } catch (java.io.IOException e) {
      return "unknown";
    }
  }
}

package io.djlmx.examples.cli;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import io.djlmx.engine.MxEngine;
import io.djlmx.format.MxFormat;
import io.djlmx.zoo.SentenceEncoderSpec;
import io.djlmx.zoo.eval.EmbeddingEvaluator;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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
 * {@code mx bench embeddings}: sentences per second of a zoo encoder at batch 1 and 32, our blocks
 * on PyTorch FP32 and on the MX engine (when present) beside ONNX Runtime FP32 and INT8.
 */
@Command(
    name = "embeddings",
    mixinStandardHelpOptions = true,
    description =
        "Sentences/s at batch 1 and 32: PyTorch FP32, MX formats (MX engine), ONNX Runtime FP32"
            + " and INT8; median of --reps passes after --warmup seconds of untimed passes; prints a"
            + " Markdown table.")
public final class BenchEmbeddingsCommand implements Callable<Integer> {

  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @picocli.CommandLine.Mixin ChartOption chart;

  @picocli.CommandLine.Mixin VerboseOption verbose;

  @Option(
      names = "--sentences",
      defaultValue = "model-zoo/src/test/resources/sentences-en.txt",
      description = "Text file, one sentence a line")
  Path sentences;

  @Option(names = "--count1", defaultValue = "64", description = "Sentences per batch-1 pass")
  int count1;

  @Option(names = "--count32", defaultValue = "256", description = "Sentences per batch-32 pass")
  int count32;

  @Option(names = "--reps", defaultValue = "5", description = "Timed passes per configuration")
  int reps;

  @Option(
      names = "--warmup",
      defaultValue = "8",
      description =
          "Untimed passes per configuration and batch size for at least this many seconds first"
              + " (the JIT compiles the Vector API kernels only after seconds of use on 2 busy"
              + " cores: timed sooner, the first MX row would measure interpreted code)")
  double warmupSeconds;

  @Option(
      names = "--formats",
      split = ",",
      defaultValue = "MXFP6_E2M3,MXFP8_E4M3,MXFP4_E2M1",
      description = "MX weight formats (run only where the MX engine is present)")
  List<String> formats;

  /** One timed configuration. */
  private interface Config {
    EmbeddingEvaluator.Run run(EmbeddingEvaluator onPyTorch, EmbeddingEvaluator onMx)
        throws Exception;
  }

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    SentenceEncoderSpec s = SentenceEncoderSpec.ALL_MINILM_L6_V2;
    List<String> all = Files.readAllLines(sentences, StandardCharsets.UTF_8);
    Map<String, Config> configs = new LinkedHashMap<>();
    configs.put("BertEncoder on PyTorch, FP32", (pt, m) -> pt.embed(s, null, null));
    // the same with PyTorch on one intra-op thread, the setting the MX rows run with
    configs.put(
        "BertEncoder on PyTorch, FP32, 1 intra-op thread", (pt, m) -> pt.embed(s, null, null));
    configs.put("ONNX Runtime FP32", (pt, m) -> pt.embedOnnxRuntime(s, s.onnxResource()));
    configs.put(
        "ONNX Runtime INT8 (-q)", (pt, m) -> pt.embedOnnxRuntime(s, "all-minilm-l6-v2-q.onnx"));
    boolean mx = Engine.hasEngine("MX");
    // PyTorch's own default intra-op threads for the PyTorch rows; the MX engine sets its own count
    // (MxEngine.torchThreads) when it starts, and it is set again before each MX row
    Engine.getEngine("PyTorch");
    int torchDefault = JniUtils.getNumThreads();
    int torchMx = mx ? MxEngine.torchThreads() : 0;
    if (mx) {
      for (String f : formats) {
        MxFormat fmt = MxFormat.parse(f);
        configs.put("BertEncoder on MX, " + fmt, (pt, m) -> m.embed(s, fmt, null));
      }
    }
    out.println("| configuration | batch 1 sentences/s | batch 32 sentences/s |");
    out.println("|---|---|---|");
    out.flush();
    EmbeddingEvaluator[] pt = new EmbeddingEvaluator[2];
    EmbeddingEvaluator[] onMx = new EmbeddingEvaluator[2];
    int[] batches = {1, 32};
    for (int b = 0; b < 2; b++) {
      List<String> subset = all.subList(0, batches[b] == 1 ? count1 : count32);
      pt[b] =
          EmbeddingEvaluator.builder()
              .setSentences(subset)
              .optBatchSize(batches[b])
              .optWarmUp(true)
              .build();
      onMx[b] =
          mx
              ? EmbeddingEvaluator.builder()
                  .setSentences(subset)
                  .optBatchSize(batches[b])
                  .optWarmUp(true)
                  .optEngine("MX")
                  .build()
              : null;
    }
    // one row per configuration as soon as it is measured: medians of reps passes per batch size
    for (Map.Entry<String, Config> e : configs.entrySet()) {
      boolean mxRow = e.getKey().contains("on MX");
      boolean oneThread = e.getKey().endsWith("1 intra-op thread");
      JniUtils.setNumThreads(oneThread ? 1 : mxRow && torchMx > 0 ? torchMx : torchDefault);
      double[] median = new double[2];
      for (int b = 0; b < 2; b++) {
        long warmEnd = System.nanoTime() + (long) (warmupSeconds * 1e9);
        do {
          e.getValue().run(pt[b], onMx[b]);
        } while (System.nanoTime() < warmEnd);
        double[] v = new double[reps];
        for (int rep = 0; rep < reps; rep++) {
          v[rep] = e.getValue().run(pt[b], onMx[b]).sentencesPerSecond();
        }
        Arrays.sort(v);
        median[b] = v[reps / 2];
      }
      out.println(
          String.format(Locale.ROOT, "| %s | %.1f | %.1f |", e.getKey(), median[0], median[1]));
      out.flush();
    }
    out.println();
    out.println(
        String.format(
            Locale.ROOT,
            "PyTorch intra-op threads: %d for the PyTorch rows (unless said), %d for the MX rows;"
                + " %d cores.",
            torchDefault,
            torchMx > 0 ? torchMx : torchDefault,
            Runtime.getRuntime().availableProcessors()));
    out.flush();
    return 0;
  }
}

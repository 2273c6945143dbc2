package io.djlmx.examples.cli;

import io.djlmx.format.MxFormat;
import io.djlmx.format.ScaleMode;
import io.djlmx.zoo.SentenceEncoderSpec;
import io.djlmx.zoo.checkpoint.WeightRecipe;
import io.djlmx.zoo.checkpoint.WeightRounding;
import io.djlmx.zoo.eval.EmbeddingEvaluator;
import io.djlmx.zoo.eval.EmbeddingMetrics;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code mx eval embeddings}: fidelity of the zoo's encoders in MX formats to FP32. */
@Command(
    name = "embeddings",
    mixinStandardHelpOptions = true,
    description =
        "Cosine to FP32 and top-10 neighbour agreement of zoo encoders in MX formats, with the"
            + " ONNX Runtime INT8 peer; prints a Markdown table.")
public final class EvalEmbeddingsCommand implements Callable<Integer> {

  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @picocli.CommandLine.Mixin ChartOption chart;

  @picocli.CommandLine.Mixin VerboseOption verbose;

  @Option(
      names = "--models",
      split = ",",
      description = "Zoo artifacts (default: all)",
      defaultValue = "all-MiniLM-L6-v2,bge-small-en-v1.5,e5-small-v2")
  List<String> models;

  @Option(
      names = "--formats",
      split = ",",
      description = "Weight formats (each weight-only and weight+activation)",
      defaultValue = "MXFP6_E2M3,MXFP4_E2M1,MXFP6_E3M2,MXFP8_E4M3,MXINT8")
  List<String> formats;

  @Option(
      names = "--sentences",
      description = "Text file, one sentence a line (scripts/make-sentences.sh)",
      defaultValue = "model-zoo/src/test/resources/sentences-en.txt")
  Path sentences;

  @Option(
      names = "--scale",
      description =
          "Shared-scale rule of the MX weights: floor (the spec), rceil, or zoo (each format's"
              + " zoo recipe: rceil for E4M3, E5M2, E3M2 and E2M1, else floor)",
      defaultValue = "zoo")
  String scale;

  @Option(
      names = "--rounding",
      description =
          "How the MX codes are chosen: rtn (round to nearest), gptq (calibrated on the zoo's"
              + " calibration text), both, or zoo (each format's zoo recipe: gptq for E4M3,"
              + " E5M2, E3M2 and E2M1, else rtn)",
      defaultValue = "zoo")
  String rounding;

  @Option(names = "--weight-only", description = "Skip the weight + activation rows")
  boolean weightOnly;

  @Option(names = "--count", description = "Sentences used", defaultValue = "1000")
  int count;

  @Option(names = "--batch", description = "Batch size", defaultValue = "32")
  int batch;

  @Option(names = "--peer", description = "Add the ONNX Runtime INT8 peer row (MiniLM)")
  boolean peer = true;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    List<String> lines =
        Files.readAllLines(sentences, StandardCharsets.UTF_8).stream()
            .filter(s -> !s.isBlank())
            .limit(count)
            .toList();
    boolean zooRounding = rounding.equalsIgnoreCase("zoo");
    List<WeightRounding> roundings =
        rounding.equalsIgnoreCase("both")
            ? List.of(WeightRounding.RTN, WeightRounding.GPTQ)
            : zooRounding ? List.of() : List.of(WeightRounding.parse(rounding));
    ScaleMode fixedScale = scale.equalsIgnoreCase("zoo") ? null : ScaleMode.parse(scale);
    java.util.Map<WeightRounding, EmbeddingEvaluator> evs =
        new java.util.EnumMap<>(WeightRounding.class);
    java.util.function.Function<WeightRounding, EmbeddingEvaluator> evaluator =
        r ->
            evs.computeIfAbsent(
                r,
                k ->
                    EmbeddingEvaluator.builder()
                        .setSentences(lines)
                        .optBatchSize(batch)
                        .optRounding(k)
                        .build());
    EmbeddingEvaluator ev = evaluator.apply(WeightRounding.RTN);
    out.println("| model | weights | activations | mean cosine | min cosine | top-10 agreement |");
    out.println("|---|---|---|---|---|---|");
    out.flush();
    for (String m : models) {
      SentenceEncoderSpec s = SentenceEncoderSpec.of(m);
      float[][] ref = ev.embed(s, null, null).embeddings();
      if (peer && s == SentenceEncoderSpec.ALL_MINILM_L6_V2) {
        EmbeddingMetrics fp32Ort =
            ev.compare(ref, ev.embedOnnxRuntime(s, s.onnxResource()).embeddings());
        out.println(row(m, "ONNX Runtime FP32", "FP32", fp32Ort));
        EmbeddingMetrics q =
            ev.compare(ref, ev.embedOnnxRuntime(s, "all-minilm-l6-v2-q.onnx").embeddings());
        out.println(row(m, "ONNX Runtime INT8 (-q)", "INT8 (dynamic)", q));
        out.flush();
      }
      for (String f : formats) {
        MxFormat fmt = MxFormat.parse(f);
        WeightRecipe recipe = WeightRecipe.defaultFor(fmt);
        ScaleMode mode = fixedScale == null ? recipe.scale() : fixedScale;
        for (WeightRounding r : zooRounding ? List.of(recipe.rounding()) : roundings) {
          EmbeddingEvaluator e = evaluator.apply(r);
          for (MxFormat act : weightOnly ? new MxFormat[] {null} : new MxFormat[] {null, fmt}) {
            EmbeddingMetrics metrics = e.compare(ref, e.embed(s, fmt, mode, act).embeddings());
            String w = mode == ScaleMode.FLOOR ? fmt.name() : fmt.name() + " (" + mode + ")";
            if (r != WeightRounding.RTN) {
              w += " " + r.key();
            }
            out.println(row(m, w, act == null ? "FP32" : act.name(), metrics));
            out.flush();
          }
        }
      }
    }
    return 0;
  }

  private static String row(String model, String w, String a, EmbeddingMetrics m) {
    return String.format(
        Locale.ROOT,
        "| %s | %s | %s | %.5f | %.5f | %.4f |",
        model,
        w,
        a,
        m.meanCosine(),
        m.minCosine(),
        m.topKAgreement());
  }
}

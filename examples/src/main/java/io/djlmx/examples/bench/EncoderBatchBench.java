package io.djlmx.examples.bench;

import io.djlmx.format.MxFormat;
import io.djlmx.zoo.SentenceEncoderSpec;
import io.djlmx.zoo.eval.EmbeddingEvaluator;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Times one all-MiniLM-L6-v2 configuration alone (for profiling: run it under JFR): sentences per
 * second, median of the passes after an untimed warm-up pass.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp
 * 'examples/target/mx.jar:examples/target/lib/*' io.djlmx.examples.bench.EncoderBatchBench [format
 * | FP32] [batch] [sentences] [passes]} (defaults MXFP6_E2M3, 1, 64, 5; {@code FP32} runs the same
 * blocks on PyTorch).
 */
public final class EncoderBatchBench {

  private EncoderBatchBench() {}

  /**
   * Prints the timings.
   *
   * @param args optional format, batch size, sentence count and passes
   * @throws Exception if the model cannot be loaded
   */
  public static void main(String[] args) throws Exception {
    String name = args.length > 0 ? args[0] : "MXFP6_E2M3";
    int batch = args.length > 1 ? Integer.parseInt(args[1]) : 1;
    int count = args.length > 2 ? Integer.parseInt(args[2]) : 64;
    int passes = args.length > 3 ? Integer.parseInt(args[3]) : 5;
    boolean fp32 = "FP32".equalsIgnoreCase(name);
    MxFormat format = fp32 ? null : MxFormat.parse(name);
    List<String> sentences =
        Files.readAllLines(
                Path.of("model-zoo/src/test/resources/sentences-en.txt"), StandardCharsets.UTF_8)
            .subList(0, count);
    EmbeddingEvaluator eval =
        EmbeddingEvaluator.builder()
            .setSentences(sentences)
            .optBatchSize(batch)
            .optWarmUp(true)
            .optEngine(fp32 ? "PyTorch" : "MX")
            .build();
    var os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    double[] rate = new double[passes];
    for (int i = 0; i < passes; i++) {
      EmbeddingEvaluator.Run r = eval.embed(SentenceEncoderSpec.ALL_MINILM_L6_V2, format, null);
      rate[i] = r.sentencesPerSecond();
    }
    Arrays.sort(rate);
    System.out.printf(
        Locale.ROOT,
        "%s batch %d: %.1f sentences/s (median of %d; all %s), load average %.2f%n",
        name,
        batch,
        rate[passes / 2],
        passes,
        Arrays.toString(rate),
        os.getSystemLoadAverage());
  }
}

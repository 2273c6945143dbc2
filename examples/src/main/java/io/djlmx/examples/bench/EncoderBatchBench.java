package io.djlmx.examples.bench;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import io.djlmx.format.MxFormat;
import io.djlmx.zoo.SentenceEncoderLoader;
import io.djlmx.zoo.SentenceEncoderSpec;
import io.djlmx.zoo.bert.ActivationQuantizer;
import io.djlmx.zoo.bert.BertEncoder;
import io.djlmx.zoo.bert.MxAttentionCore;
import io.djlmx.zoo.bert.SoftmaxAttentionCore;
import io.djlmx.zoo.checkpoint.MxCheckpoint;
import io.djlmx.zoo.translator.SentenceBatchCodec;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Times one all-MiniLM-L6-v2 configuration alone, the way {@code mx bench embeddings} runs it
 * (tokenize, encoder, mean pooling, normalize per batch), for profiling and for A/B runs of two
 * builds: one model, a warm-up pass, then timed passes; prints the median sentences/s and the
 * median CPU time per sentence, of the process (the kernels' worker threads and the JIT count in
 * it) and of the calling thread (which runs everything but the workers' share of the kernels); both
 * are less sensitive than wall time to other processes on a shared machine.
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
    String engine = fp32 ? "PyTorch" : "MX";
    SentenceEncoderSpec spec = SentenceEncoderSpec.ALL_MINILM_L6_V2;
    List<String> sentences =
        Files.readAllLines(
                Path.of("model-zoo/src/test/resources/sentences-en.txt"), StandardCharsets.UTF_8)
            .subList(0, count);
    MxCheckpoint ckpt = MxCheckpoint.quantize(SentenceEncoderLoader.importOnnx(spec), format, null);
    SentenceBatchCodec codec = SentenceEncoderLoader.newCodec(spec);
    var os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    double[] rate = new double[passes];
    double[] cpuMs = new double[passes];
    double[] mainMs = new double[passes];
    var threads = ManagementFactory.getThreadMXBean();
    try (Model model = Model.newInstance(spec.artifactId(), engine)) {
      BertEncoder encoder =
          new BertEncoder(
              ckpt.config(),
              fp32 ? new SoftmaxAttentionCore() : new MxAttentionCore(),
              ActivationQuantizer.NONE);
      model.setBlock(encoder);
      encoder.setWeights(ckpt.toBertWeights(), model.getNDManager());
      for (int p = -1; p < passes; p++) {
        long c0 = os.getProcessCpuTime();
        long m0 = threads.getCurrentThreadCpuTime();
        long t0 = System.nanoTime();
        for (int i = 0; i < count; i += batch) {
          try (NDManager m = model.getNDManager().newSubManager()) {
            NDList in = codec.encode(m, sentences.subList(i, Math.min(count, i + batch)));
            NDArray hidden =
                encoder.forward(new ParameterStore(m, false), in, false).singletonOrThrow();
            codec.pool(hidden, in.get(2));
          }
        }
        if (p >= 0) { // pass -1 warms up
          rate[p] = count / ((System.nanoTime() - t0) / 1e9);
          cpuMs[p] = (os.getProcessCpuTime() - c0) / 1e6 / count;
          mainMs[p] = (threads.getCurrentThreadCpuTime() - m0) / 1e6 / count;
        }
      }
    }
    double[] sorted = rate.clone();
    Arrays.sort(sorted);
    Arrays.sort(cpuMs);
    Arrays.sort(mainMs);
    System.out.printf(
        Locale.ROOT,
        "%s batch %d: %.1f sentences/s, %.2f ms CPU/sentence (%.2f ms on the calling thread)"
            + " (medians of %d passes; rates %s),"
            + " load average %.2f%n",
        name,
        batch,
        sorted[passes / 2],
        cpuMs[passes / 2],
        mainMs[passes / 2],
        passes,
        Arrays.toString(Arrays.stream(rate).map(r -> Math.round(r * 10) / 10.0).toArray()),
        os.getSystemLoadAverage());
  }
}

package io.djlmx.examples.bench;

import ai.djl.engine.Engine;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import io.djlmx.format.MxFormat;
import io.djlmx.zoo.SentenceEncoderLoader;
import io.djlmx.zoo.SentenceEncoderSpec;
import io.djlmx.zoo.checkpoint.MxCheckpoint;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * Times a cached zoo load: {@code Criteria.loadModel()} of all-MiniLM-L6-v2 on the MX engine from
 * its cached checkpoint, and the first prediction after it (which would include any packing left to
 * it), repeated in one JVM: engine start is timed first, then the first repetition includes the
 * JIT, the rest show a warm JVM. Also times reading the checkpoint file alone.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp
 * 'examples/target/mx.jar:examples/target/lib/*' io.djlmx.examples.bench.ZooLoadBench [reps]
 * [format]} (defaults 6, MXFP6_E2M3). The checkpoint is converted first if it is not cached.
 */
public final class ZooLoadBench {

  private ZooLoadBench() {}

  /**
   * Prints the timings.
   *
   * @param args optional repetitions and weight format
   * @throws Exception if the model cannot be loaded
   */
  public static void main(String[] args) throws Exception {
    int reps = args.length > 0 ? Integer.parseInt(args[0]) : 6;
    MxFormat format = args.length > 1 ? MxFormat.parse(args[1]) : MxFormat.MXFP6_E2M3;
    SentenceEncoderSpec spec = SentenceEncoderSpec.ALL_MINILM_L6_V2;
    Path cache = ai.djl.util.Utils.getCacheDir().resolve("mx-zoo");
    Criteria<String, float[]> criteria =
        Criteria.builder()
            .setTypes(String.class, float[].class)
            .optGroupId("io.djlmx")
            .optArtifactId(spec.artifactId())
            .optEngine("MX")
            .optOption("mx.weights", format.name())
            .optOption("mx.zoo.cache", cache.toString())
            .build();
    SentenceEncoderLoader.loadOrConvert(spec, format, cache, null); // make sure it is cached
    // Starting the engines (PyTorch's native libraries) is a once-per-JVM cost every DJL app pays
    // on its first model, whatever the engine: timed apart from the first load.
    long e0 = System.nanoTime();
    Engine.getEngine("MX");
    Engine.getEngine("PyTorch");
    double engineStart = (System.nanoTime() - e0) / 1e6;
    System.out.printf(Locale.ROOT, "engine start (MX + PyTorch): %.0f ms%n", engineStart);
    double[] load = new double[reps];
    double[] first = new double[reps];
    double[] read = new double[reps];
    for (int r = 0; r < reps; r++) {
      long t0 = System.nanoTime();
      MxCheckpoint.read(SentenceEncoderLoader.checkpointFile(spec, format, cache));
      long t1 = System.nanoTime();
      try (ZooModel<String, float[]> model = criteria.loadModel();
          Predictor<String, float[]> p = model.newPredictor()) {
        long t2 = System.nanoTime();
        p.predict("The first sentence after loading.");
        long t3 = System.nanoTime();
        read[r] = (t1 - t0) / 1e6;
        load[r] = (t2 - t1) / 1e6;
        first[r] = (t3 - t2) / 1e6;
      }
      System.out.printf(
          Locale.ROOT,
          "rep %d: checkpoint read %.0f ms, loadModel %.0f ms, first predict %.0f ms%n",
          r,
          read[r],
          load[r],
          first[r]);
    }
    if (reps > 1) {
      System.out.printf(
          Locale.ROOT,
          "%s: first (fresh JVM) loadModel %.0f ms + first predict %.0f ms; warm JVM medians:"
              + " checkpoint read %.0f ms, loadModel %.0f ms, first predict %.0f ms%n",
          format,
          load[0],
          first[0],
          median(read),
          median(load),
          median(first));
    }
  }

  private static double median(double[] v) {
    double[] rest = Arrays.copyOfRange(v, 1, v.length);
    Arrays.sort(rest);
    return rest[rest.length / 2];
  }
}

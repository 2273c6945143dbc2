package io.djlmx.examples.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import io.djlmx.engine.MxFusedOps;
import java.util.Locale;

/**
 * Time per call of the feed-forward GELU on MX arrays of MiniLM's shapes ({@code [rows, 1536]}):
 * DJL's {@code Activation.gelu} (PyTorch, one intra-op thread under the MX engine, a new output
 * tensor) against {@link MxFusedOps#gelu} (in place, Java, split over the common pool from 64 Ki
 * elements), each on a fresh array of the shape as the MX {@code linear} returns it, alternating in
 * one JVM. Best of 15 rounds; the calls per round are chosen for about 20 ms of work.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp
 * 'examples/target/mx.jar:examples/target/lib/*' io.djlmx.examples.bench.FusedGeluBench [rows...]}
 * (default 24 and 758: one sentence of 24 tokens, 32 such sentences packed).
 */
public final class FusedGeluBench {

  private FusedGeluBench() {}

  /**
   * Prints the timings.
   *
   * @param args optional row counts
   */
  public static void main(String[] args) {
    int[] rows = args.length == 0 ? new int[] {24, 758} : new int[args.length];
    for (int i = 0; i < args.length; i++) {
      rows[i] = Integer.parseInt(args[i]);
    }
    String[] names = {"fresh array only", "DJL Activation.gelu", "MxFusedOps.gelu"};
    try (NDManager root = Engine.getEngine("MX").newBaseManager()) {
      for (int r : rows) {
        Shape shape = new Shape(r, 1536);
        NDArray x = root.randomNormal(shape);
        int calls = Math.max(20, 400_000 / r);
        double[] best = {Double.MAX_VALUE, Double.MAX_VALUE, Double.MAX_VALUE};
        for (int round = 0; round < 15; round++) {
          for (int w = 0; w < 3; w++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < calls; i++) {
              try (NDManager m = root.newSubManager()) {
                NDArray a = m.create(shape, DataType.FLOAT32);
                if (w > 0) {
                  a.set(x.toByteBuffer(true)); // the linear output's values
                }
                if (w == 1) {
                  Activation.gelu(a).attach(m);
                } else if (w == 2) {
                  MxFusedOps.gelu(a);
                }
              }
            }
            best[w] = Math.min(best[w], (System.nanoTime() - t0) / (double) calls / 1e3);
          }
        }
        // the copy of the values is in both contenders and not in the first line
        for (int w = 0; w < 3; w++) {
          System.out.printf(Locale.ROOT, "[%d, 1536] %-22s %8.2f us%n", r, names[w], best[w]);
        }
      }
    }
  }
}

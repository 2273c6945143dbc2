package io.djlmx.examples.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.norm.LayerNorm;
import io.djlmx.engine.MxFusedOps;
import java.util.Locale;

/**
 * Time per call of a post-norm layer's residual add and layer norm on MX arrays of MiniLM's batch-1
 * shape ({@code [1, 15, 384]}): DJL's ops (PyTorch {@code addi} and {@code layerNorm}) against
 * {@link MxFusedOps#addLayerNorm}, each on a fresh output of the shape (as the MX {@code linear}
 * returns), alternating in one JVM. Best of 15 rounds of 2,000 calls each.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp
 * 'examples/target/mx.jar:examples/target/lib/*' io.djlmx.examples.bench.FusedLayerNormBench
 * [seq]}.
 */
public final class FusedLayerNormBench {

  private FusedLayerNormBench() {}

  /**
   * Prints the timings.
   *
   * @param args optional sequence length (default 15)
   */
  public static void main(String[] args) {
    int seq = args.length > 0 ? Integer.parseInt(args[0]) : 15;
    Shape shape = new Shape(1, seq, 384);
    Shape norm = new Shape(384);
    try (NDManager root = Engine.getEngine("MX").newBaseManager()) {
      NDArray x = root.randomNormal(shape);
      NDArray gamma = root.randomNormal(norm);
      NDArray beta = root.randomNormal(norm);
      String[] names = {"fresh array only", "DJL addi + layerNorm", "MxFusedOps.addLayerNorm"};
      double[] best = {Double.MAX_VALUE, Double.MAX_VALUE, Double.MAX_VALUE};
      for (int round = 0; round < 15; round++) {
        for (int w = 0; w < 3; w++) {
          long t0 = System.nanoTime();
          for (int i = 0; i < 2000; i++) {
            try (NDManager m = root.newSubManager()) {
              NDArray a = m.create(shape, DataType.FLOAT32);
              if (w == 1) {
                LayerNorm.layerNorm(a.addi(x), norm, gamma, beta, 1e-12f)
                    .singletonOrThrow()
                    .attach(m);
              } else if (w == 2) {
                MxFusedOps.addLayerNorm(a, x, gamma, beta, 1e-12f);
              }
            }
          }
          best[w] = Math.min(best[w], (System.nanoTime() - t0) / 2000.0 / 1e3);
        }
      }
      for (int w = 0; w < 3; w++) {
        System.out.printf(Locale.ROOT, "%-26s %6.2f us%n", names[w], best[w]);
      }
    }
  }
}

package io.djlmx.kernel.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

class LaneSumTest {

  /**
   * The sum is the pairwise tree written out in scalar code, bit for bit, over enough calls that
   * the JIT compiles {@link LaneSum#of} partway through (lanes of mixed signs and magnitudes, where
   * the order of a float sum changes its bits).
   */
  @Test
  void addsInOneFixedOrderCompiledOrNot() {
    int n = LaneSum.SPECIES.length();
    float[] lanes = new float[n];
    Random r = new Random(7);
    for (int call = 0; call < 200_000; call++) {
      for (int i = 0; i < n; i++) {
        lanes[i] = (float) (r.nextGaussian() * Math.pow(2, r.nextInt(40) - 20));
      }
      float got = LaneSum.of(FloatVector.fromArray(LaneSum.SPECIES, lanes, 0));
      assertEquals(
          Float.floatToRawIntBits(tree(lanes)), Float.floatToRawIntBits(got), "call " + call);
    }
  }

  /** Lane i += lane i + half, halving until one lane is left. */
  private static float tree(float[] lanes) {
    float[] t = lanes.clone();
    for (int half = t.length / 2; half > 0; half /= 2) {
      for (int i = 0; i < half; i++) {
        t[i] += t[i + half];
      }
    }
    return t[0];
  }
}

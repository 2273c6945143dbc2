package io.djlmx.kernel.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The sum of a vector's lanes in one fixed order, the same bits whether the JIT compiled the caller
 * or not. {@code reduceLanes(ADD)} leaves the order of a float sum to the implementation: on JDK 25
 * with 16 lanes the Java fallback adds them in sequence and C2's intrinsic does not (the two
 * differed on 35% of random vectors here), so a kernel gave other bits for one input once C2 had
 * compiled it, which failed a bit-for-bit attention test now and then. This sum costs about 2 ns
 * against the intrinsic's 1.4 ns; attention takes it once per row and key tile, layer norm twice
 * per row.
 */
public final class LaneSum {

  /** The species this sum takes: the CPU kernels' preferred one. */
  public static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;

  /** Step k moves lane i + L / 2^(k+1) onto lane i (wrapping; only lane 0 is kept). */
  private static final VectorShuffle<Float>[] HALVES;

  static {
    int steps = Integer.numberOfTrailingZeros(SPECIES.length());
    @SuppressWarnings("unchecked")
    VectorShuffle<Float>[] h = new VectorShuffle[steps];
    for (int k = 0; k < steps; k++) {
      h[k] = VectorShuffle.iota(SPECIES, SPECIES.length() >> (k + 1), 1, true);
    }
    HALVES = h;
  }

  private LaneSum() {}

  /**
   * Adds the lanes pairwise: the upper half onto the lower half, lane by lane, until one lane is
   * left (for 16 lanes: ((l0 + l8) + (l4 + l12)) + ... ).
   *
   * @param v a vector of {@link #SPECIES}
   * @return the sum of its lanes
   */
  public static float of(FloatVector v) {
    for (VectorShuffle<Float> half : HALVES) {
      v = v.add(v.rearrange(half));
    }
    return v.lane(0);
  }
}

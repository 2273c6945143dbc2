package io.djlmx.kernel.cpu;

import io.djlmx.format.MxFormat;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/** Vector species, tables and small helpers shared by the CPU kernels (16 float lanes). */
final class Vec {

  /** 16 floats: one lane per weight row of a sub-tile. */
  static final VectorSpecies<Float> F = FloatVector.SPECIES_512;

  /** 16 ints. */
  static final VectorSpecies<Integer> I = IntVector.SPECIES_512;

  /** 64 bytes. */
  static final VectorSpecies<Byte> B = ByteVector.SPECIES_512;

  /** 16 bytes: one per lane. */
  static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;

  /**
   * The kernels' memory order. Scale vectors are built inline in each kernel (16 bytes widened to
   * ints and shifted into the exponent field) rather than by a helper: the generated code showed
   * such a helper (over the JIT's 35-byte always-inline limit) called, not inlined, with its vector
   * result boxed on the heap.
   */
  static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

  /** Spreads 16 groups of 3 bytes to 16 ints (the fourth byte of each int is don't-care). */
  static final VectorShuffle<Byte> SPREAD_3_TO_4;

  static {
    int[] idx = new int[64];
    for (int j = 0; j < 16; j++) {
      idx[4 * j] = 3 * j;
      idx[4 * j + 1] = 3 * j + 1;
      idx[4 * j + 2] = 3 * j + 2;
      idx[4 * j + 3] = 3 * j + 2;
    }
    SPREAD_3_TO_4 = VectorShuffle.fromArray(B, idx, 0);
  }

  private Vec() {}

  /**
   * Returns the float bits of every FP4 code's value, indexed by code.
   *
   * @return 16 ints
   */
  static int[] fp4Table() {
    float[] t = MxFormat.MXFP4_E2M1.decodeTable();
    int[] bits = new int[16];
    for (int c = 0; c < 16; c++) {
      bits[c] = Float.floatToRawIntBits(t[c]);
    }
    return bits;
  }

  /**
   * Returns the float bits of the 32 non-negative FP6 magnitudes (code & 0x1F).
   *
   * @param f an FP6 format
   * @return 32 ints
   */
  static int[] fp6MagnitudeTable(MxFormat f) {
    float[] t = f.decodeTable();
    int[] bits = new int[32];
    for (int c = 0; c < 32; c++) {
      bits[c] = Float.floatToRawIntBits(t[c]);
    }
    return bits;
  }
}

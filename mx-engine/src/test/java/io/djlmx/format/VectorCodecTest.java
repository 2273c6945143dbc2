package io.djlmx.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The Vector API paths give the same bytes and the same floats as the scalar path. */
class VectorCodecTest {

  @BeforeAll
  static void needsVectors() {
    assumeTrue(VectorBlockCodec.isSupported(), "no 512-bit vectors on this machine");
  }

  /** Random values mixing the cases that stress the encoder. */
  static float[] nastyData(Random rnd, int n) {
    float[] x = new float[n];
    int kind = 0;
    for (int i = 0; i < n; i++) {
      if (i % 32 == 0) {
        kind = rnd.nextInt(9);
      }
      x[i] =
          switch (kind) {
            case 0 -> (float) rnd.nextGaussian();
            case 1 -> (float) (rnd.nextGaussian() * Math.exp(rnd.nextGaussian() * 6));
            // dyadic values: exact ties for every element type
            case 2 -> Math.scalb((float) (rnd.nextInt(257) - 128), rnd.nextInt(9) - 6) / 8f;
            // FP32 subnormals and tiny normals
            case 3 -> Float.intBitsToFloat(rnd.nextInt(0x01000000)) * (rnd.nextBoolean() ? 1 : -1);
            // near FP32's largest values
            case 4 -> (float) (rnd.nextDouble() * Float.MAX_VALUE) * (rnd.nextBoolean() ? 1 : -1);
            // one outlier saturates the rest under FLOOR
            case 5 -> i % 32 == 7 ? 1000f : (float) rnd.nextGaussian() * 300;
            case 6 -> rnd.nextInt(4) == 0 ? Float.NaN : (float) rnd.nextGaussian();
            case 7 -> rnd.nextInt(8) == 0 ? Float.NEGATIVE_INFINITY : (float) rnd.nextGaussian();
            default -> rnd.nextInt(3) == 0 ? -0f : 0f;
          };
    }
    return x;
  }

  private static void assertSameFloats(float[] expected, float[] got, String what) {
    for (int i = 0; i < expected.length; i++) {
      // floatToIntBits makes every NaN one pattern; +0 and -0 stay distinct.
      if (Float.floatToIntBits(expected[i]) != Float.floatToIntBits(got[i])) {
        throw new AssertionError(
            what + " element " + i + ": scalar " + expected[i] + " vector " + got[i]);
      }
    }
  }

  @Test
  void quantizeAndDequantizeMatchTheScalarPath() {
    long seed = new Random().nextLong();
    Random rnd = new Random(seed);
    int[] colsCases = {32, 64 * 5, 7, 100, 33 + 64};
    for (MxFormat f : MxFormat.values()) {
      for (ScaleMode m : ScaleMode.values()) {
        for (int cols : colsCases) {
          int rows = 1 + rnd.nextInt(6);
          float[] x = nastyData(rnd, rows * cols);
          long[] shape = {rows, cols};
          String what = "seed " + seed + " " + f + " " + m + " cols " + cols;
          try (MxTensor vec = MxTensor.quantize(MemorySegment.ofArray(x), shape, f, m, 32);
              MxTensor ref = MxTensor.allocate(shape, f, m, 32)) {
            MxTensor.RowCodec.quantizeScalar(MemorySegment.ofArray(x), ref);
            assertArrayEquals(
                ref.scales().toArray(ValueLayout.JAVA_BYTE),
                vec.scales().toArray(ValueLayout.JAVA_BYTE),
                what + " scales");
            assertArrayEquals(
                ref.codes().toArray(ValueLayout.JAVA_BYTE),
                vec.codes().toArray(ValueLayout.JAVA_BYTE),
                what + " codes");
            float[] expected = new float[x.length];
            MxTensor.RowCodec.dequantizeScalar(ref, MemorySegment.ofArray(expected));
            assertSameFloats(expected, vec.dequantize(), what);
          }
        }
      }
    }
  }

  @Test
  void dequantizeOfArbitraryBytesMatchesTheScalarPath() {
    long seed = new Random().nextLong();
    Random rnd = new Random(seed);
    for (MxFormat f : MxFormat.values()) {
      long[] shape = {3, 32 * 9 + 5};
      try (MxTensor t = MxTensor.allocate(shape, f, ScaleMode.FLOOR, 32);
          Arena arena = Arena.ofConfined()) {
        byte[] codes = new byte[(int) t.codes().byteSize()];
        rnd.nextBytes(codes);
        MemorySegment.copy(codes, 0, t.codes(), ValueLayout.JAVA_BYTE, 0, codes.length);
        byte[] scales = new byte[(int) t.scales().byteSize()];
        for (int i = 0; i < scales.length; i++) {
          // every scale byte, including 0 (a subnormal scale) and 0xFF (NaN)
          scales[i] = (byte) (i < 3 ? new int[] {0, 0xFF, 254}[i] : rnd.nextInt(256));
        }
        MemorySegment.copy(scales, 0, t.scales(), ValueLayout.JAVA_BYTE, 0, scales.length);
        float[] expected = new float[(int) t.elementCount()];
        MxTensor.RowCodec.dequantizeScalar(t, MemorySegment.ofArray(expected));
        MemorySegment out = arena.allocate(expected.length * 4L);
        t.dequantizeInto(out);
        assertSameFloats(expected, out.toArray(ValueLayout.JAVA_FLOAT), "seed " + seed + " " + f);
      }
    }
  }

  @Test
  void everyCodeOfEveryFormatDecodesLikeTheTable() {
    for (MxFormat f : MxFormat.values()) {
      int n = f.codeCount() * 2;
      int[] codes = new int[n];
      for (int i = 0; i < n; i++) {
        codes[i] = i % f.codeCount();
      }
      long[] shape = {n};
      try (MxTensor t = MxTensor.allocate(shape, f, ScaleMode.FLOOR, 32)) {
        CodePacking.pack(codes, n, f.bits(), t.codes(), 0);
        t.scales().fill((byte) 127);
        float[] got = t.dequantize();
        for (int i = 0; i < n; i++) {
          float want = f.decode(codes[i]);
          assertTrue(
              Float.floatToIntBits(want) == Float.floatToIntBits(got[i]),
              f + " code " + codes[i] + ": " + want + " vs " + got[i]);
        }
      }
    }
  }

  @Test
  void largeTensorsSplitAcrossThreadsGiveTheSameBytes() {
    long seed = new Random().nextLong();
    Random rnd = new Random(seed);
    int rows = 67;
    int cols = 32 * 9 + 5;
    long saved = MxTensor.RowCodec.parallelThreshold;
    MxTensor.RowCodec.parallelThreshold = 1000;
    try {
      checkSplit(rnd, seed, rows, cols);
    } finally {
      MxTensor.RowCodec.parallelThreshold = saved;
    }
  }

  private static void checkSplit(Random rnd, long seed, int rows, int cols) {
    float[] x = nastyData(rnd, rows * cols);
    long[] shape = {rows, cols};
    for (MxFormat f : new MxFormat[] {MxFormat.MXFP6_E3M2, MxFormat.MXFP4_E2M1}) {
      String what = "seed " + seed + " " + f;
      try (MxTensor par =
              MxTensor.quantize(MemorySegment.ofArray(x), shape, f, ScaleMode.FLOOR, 32);
          MxTensor ref = MxTensor.allocate(shape, f, ScaleMode.FLOOR, 32);
          Arena confined = Arena.ofConfined()) {
        MxTensor.RowCodec.quantizeScalar(MemorySegment.ofArray(x), ref);
        assertArrayEquals(
            ref.codes().toArray(ValueLayout.JAVA_BYTE),
            par.codes().toArray(ValueLayout.JAVA_BYTE),
            what);
        assertArrayEquals(
            ref.scales().toArray(ValueLayout.JAVA_BYTE),
            par.scales().toArray(ValueLayout.JAVA_BYTE),
            what);
        float[] expected = new float[x.length];
        MxTensor.RowCodec.dequantizeScalar(ref, MemorySegment.ofArray(expected));
        assertSameFloats(expected, par.dequantize(), what);
        // memory confined to this thread is coded on this thread alone
        MemorySegment out = confined.allocate(x.length * 4L);
        par.dequantizeInto(out);
        assertSameFloats(expected, out.toArray(ValueLayout.JAVA_FLOAT), what + " confined");
      }
    }
  }
}

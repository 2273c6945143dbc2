package io.djlmx.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Properties of block quantization on fresh random data (the seed is in every message). */
class QuantizationPropertiesTest {

  /** The element quantum (ULP) at magnitude {@code y} (value already divided by the scale). */
  private static double quantum(MxFormat f, double y) {
    if (f == MxFormat.MXINT8) {
      return 1.0 / 64;
    }
    int emin = 1 - f.bias();
    int e = y == 0 ? emin : Math.max(Math.getExponent(y), emin);
    return Math.scalb(1.0, e - f.mantissaBits());
  }

  @Test
  void errorIsWithinHalfAnUlpOfTheElementOrSaturates() {
    long seed = new Random().nextLong();
    Random rnd = new Random(seed);
    int[] blockSizes = {32, 32, 16, 7};
    for (MxFormat f : MxFormat.values()) {
      for (ScaleMode m : ScaleMode.values()) {
        for (int bs : blockSizes) {
          int rows = 5;
          int cols = 1 + rnd.nextInt(200);
          float[] x = VectorCodecTest.nastyData(rnd, rows * cols);
          try (MxTensor t =
              MxTensor.quantize(MemorySegment.ofArray(x), new long[] {rows, cols}, f, m, bs)) {
            float[] y = t.dequantize();
            for (int r = 0; r < rows; r++) {
              for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                int scaleByte =
                    t.scales().get(ValueLayout.JAVA_BYTE, r * t.blocksPerRow() + c / bs) & 0xFF;
                String what = "seed " + seed + " " + f + " " + m + " block " + bs + " element " + i;
                if (scaleByte == E8M0.NAN) {
                  assertTrue(Float.isNaN(y[i]), what);
                  continue;
                }
                assertTrue(Float.isFinite(x[i]), what);
                if (Float.isInfinite(y[i])) {
                  // RCEIL can round a value near FP32's largest up to 2^128, which FP32 lacks
                  assertTrue(m == ScaleMode.RCEIL && Math.abs(x[i]) >= 0x1p127f, what + " " + x[i]);
                  continue;
                }
                double scale = Math.scalb(1.0, scaleByte - 127);
                double v = x[i] / scale;
                double err = Math.abs((double) y[i] - x[i]);
                double bound;
                if (Math.abs(v) > f.maxNormal()) {
                  // saturated: the result is the largest magnitude, with the sign
                  assertEquals(Math.copySign(f.maxNormal() * scale, x[i]), y[i], 0.0, what);
                  bound = Math.abs(x[i]) - f.maxNormal() * scale;
                } else {
                  bound = quantum(f, Math.abs(v)) / 2 * scale;
                }
                // + one FP32 subnormal step: a result below FP32's normal range is rounded once
                assertTrue(
                    err <= bound + Float.MIN_VALUE,
                    what + ": x=" + x[i] + " y=" + y[i] + " err " + err + " > " + bound);
                if (m == ScaleMode.RCEIL) {
                  // RCEIL never saturates unless the exponent was clamped at 127
                  assertTrue(Math.abs(v) <= f.maxNormal() || scaleByte == 254, what);
                }
              }
            }
          }
        }
      }
    }
  }

  @Test
  void packingRoundTripIsLosslessForAnyCountOfCodes() {
    long seed = new Random().nextLong();
    Random rnd = new Random(seed);
    for (int bits : new int[] {4, 6, 8}) {
      for (int trial = 0; trial < 50; trial++) {
        int n = rnd.nextInt(100);
        int[] codes = new int[n];
        for (int i = 0; i < n; i++) {
          codes[i] = rnd.nextInt(1 << bits);
        }
        byte[] bytes = new byte[(n * bits + 7) / 8 + 3];
        MemorySegment seg = MemorySegment.ofArray(bytes);
        CodePacking.pack(codes, n, bits, seg, 1);
        int[] back = new int[n];
        CodePacking.unpack(seg, 1, bits, back, n);
        assertArrayEquals(codes, back, "seed " + seed + " bits " + bits + " n " + n);
        assertEquals(0, bytes[0], "no write before the offset");
        assertEquals(0, bytes[bytes.length - 1], "no write past the packed bytes");
      }
    }
  }

  @Test
  void requantizingTheDequantizedValuesGivesTheSameBytes() {
    long seed = new Random().nextLong();
    Random rnd = new Random(seed);
    for (MxFormat f : MxFormat.values()) {
      float[] x = new float[4 * 96];
      for (int i = 0; i < x.length; i++) {
        x[i] = (float) (rnd.nextGaussian() * Math.exp(rnd.nextGaussian() * 4));
      }
      long[] shape = {4, 96};
      try (MxTensor a = MxTensor.quantize(x, shape, f);
          MxTensor b = MxTensor.quantize(a.dequantize(), shape, f)) {
        assertArrayEquals(
            a.scales().toArray(ValueLayout.JAVA_BYTE),
            b.scales().toArray(ValueLayout.JAVA_BYTE),
            "seed " + seed + " " + f);
        assertArrayEquals(
            a.codes().toArray(ValueLayout.JAVA_BYTE),
            b.codes().toArray(ValueLayout.JAVA_BYTE),
            "seed " + seed + " " + f);
      }
    }
  }

  @Test
  void allZeroBlocksAndSignedZerosSurvive() {
    for (MxFormat f : MxFormat.values()) {
      float[] x = new float[64];
      x[3] = -0f;
      x[40] = 1.5f;
      x[41] = -0f;
      try (MxTensor t = MxTensor.quantize(x, new long[] {64}, f)) {
        int zeroScale = E8M0.toBiased(E8M0.sharedExponent(0f, f, ScaleMode.FLOOR));
        assertEquals(zeroScale, t.scales().get(ValueLayout.JAVA_BYTE, 0) & 0xFF, f.toString());
        float[] y = t.dequantize();
        for (int i = 0; i < 64; i++) {
          if (i != 40) {
            assertEquals(0f, Math.abs(y[i]), f + " element " + i);
          }
        }
        if (f != MxFormat.MXINT8) { // INT8 has no -0
          assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(y[3]), f + "");
          assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(y[41]), f + "");
        }
        assertEquals(1.5f, y[40], f.toString());
      }
    }
  }

  @Test
  void raggedLastBlocksArePaddedWithZeroCodes() {
    for (MxFormat f : MxFormat.values()) {
      for (int cols : new int[] {1, 31, 33, 70}) {
        float[] x = new float[2 * cols];
        for (int i = 0; i < x.length; i++) {
          x[i] = (i % 7) - 3.25f;
        }
        try (MxTensor t = MxTensor.quantize(x, new long[] {2, cols}, f)) {
          long blocks = (cols + 31) / 32;
          assertEquals(blocks, t.blocksPerRow());
          assertEquals(f.packedBytes(blocks * 32), t.codeBytesPerRow());
          assertEquals(2 * (t.codeBytesPerRow() + blocks), t.byteSize());
          int[] codes = new int[(int) (blocks * 32)];
          for (int r = 0; r < 2; r++) {
            CodePacking.unpack(t.codes(), r * t.codeBytesPerRow(), f.bits(), codes, codes.length);
            for (int j = cols; j < codes.length; j++) {
              assertEquals(0, codes[j], f + " cols " + cols + " row " + r + " pad " + j);
            }
          }
          // the ragged block quantizes like the same values alone
          float[] tail = new float[cols % 32 == 0 ? 32 : cols % 32];
          System.arraycopy(x, cols - tail.length, tail, 0, tail.length);
          try (MxTensor alone = MxTensor.quantize(tail, new long[] {tail.length}, f)) {
            float[] y = t.dequantize();
            float[] z = alone.dequantize();
            for (int j = 0; j < tail.length; j++) {
              assertEquals(z[j], y[cols - tail.length + j], f + " cols " + cols);
            }
          }
        }
      }
    }
  }

  @Test
  void bitsPerElementAreAsAdvertised() {
    long[] shape = {4, 320};
    float[] x = new float[4 * 320];
    for (MxFormat f : MxFormat.values()) {
      try (MxTensor t = MxTensor.quantize(x, shape, f)) {
        assertEquals(f.bitsPerElement(), t.byteSize() * 8.0 / x.length, 1e-12, f.toString());
      }
    }
  }
}

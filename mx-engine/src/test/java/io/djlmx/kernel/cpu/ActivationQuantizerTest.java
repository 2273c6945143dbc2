package io.djlmx.kernel.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.format.ScaleMode;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The vectorised activation quantizer against {@link MxTensor} (the format core's quantize and
 * dequantize), bit for bit, on fresh random rows: magnitudes over the whole float range, zeros of
 * both signs, halfway cases, ragged last blocks, both scale rules, all six formats.
 */
class ActivationQuantizerTest {

  private static final long SEED = System.nanoTime();

  @Test
  void matchesMxTensorBitForBit() {
    Random rnd = new Random(SEED);
    int[] ks = {1, 31, 32, 33, 100, 257};
    for (MxFormat f : MxFormat.values()) {
      for (ScaleMode mode : ScaleMode.values()) {
        for (int k : ks) {
          int rows = 5;
          float[] x = new float[rows * k];
          for (int i = 0; i < x.length; i++) {
            x[i] = sample(rnd, f, i / 32);
          }
          float[] want;
          try (MxTensor t =
              MxTensor.quantize(
                  MemorySegment.ofArray(x),
                  new long[] {rows, k},
                  f,
                  mode,
                  CpuPreparedWeight.BLOCK)) {
            want = t.dequantize();
          }
          int stride = (k + 31) / 32 * 32;
          float[] got = new float[rows * stride];
          for (int r = 0; r < rows; r++) {
            System.arraycopy(x, r * k, got, r * stride, k);
          }
          ActivationQuantizer.quantize(got, stride, 0, rows, k, f, mode);
          for (int r = 0; r < rows; r++) {
            for (int c = 0; c < stride; c++) {
              float expected = c < k ? want[r * k + c] : 0f;
              if (Float.floatToRawIntBits(expected)
                  != Float.floatToRawIntBits(got[r * stride + c])) {
                throw new AssertionError(
                    String.format(
                        "%s/%s k=%d: element [%d, %d] = %s: quantizer %s, MxTensor %s (seed %d)",
                        f,
                        mode,
                        k,
                        r,
                        c,
                        c < k ? x[r * k + c] : 0f,
                        got[r * stride + c],
                        expected,
                        SEED));
              }
            }
          }
        }
      }
    }
  }

  @Test
  void nanOrInfinityMakesItsBlockNanOnly() {
    float[] x = new float[64];
    Random rnd = new Random(SEED + 1);
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) rnd.nextGaussian();
    }
    x[40] = Float.POSITIVE_INFINITY;
    float[] first = x.clone();
    ActivationQuantizer.quantize(x, 64, 0, 1, 50, MxFormat.MXFP8_E4M3, ScaleMode.FLOOR);
    for (int i = 32; i < 50; i++) {
      assertEquals(Float.NaN, x[i], "element " + i);
    }
    for (int i = 50; i < 64; i++) {
      assertEquals(first[i], x[i], "padding element " + i + " untouched");
    }
    assertEquals(false, Float.isNaN(x[0]), "the first block stays finite");
  }

  /** A value of a block whose magnitude class depends on the block. */
  private static float sample(Random rnd, MxFormat f, int block) {
    int kind = rnd.nextInt(10);
    // Per-block scale anywhere in the float range (kept finite), fixed by the block index.
    float scale = (float) Math.scalb(1.0, new Random(block * 7919L + SEED).nextInt(250) - 125);
    switch (kind) {
      case 0:
        return 0f;
      case 1:
        return -0f;
      case 2:
        {
          // A halfway case: an element value plus half its grid step, then scaled.
          float[] table = f.decodeTable();
          float v = table[rnd.nextInt(table.length)];
          if (!Float.isFinite(v)) {
            v = 1f;
          }
          float half = Math.ulp(v) == 0 ? 0 : (float) Math.scalb(1.0, -f.mantissaBits() - 1);
          return (v + half * Math.abs(v == 0 ? 1 : v)) * scale;
        }
      default:
        return (float) (rnd.nextGaussian() * scale);
    }
  }
}

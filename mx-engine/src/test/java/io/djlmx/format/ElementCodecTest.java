package io.djlmx.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Exhaustive checks of the element codecs: round trips, every tie, saturation. */
class ElementCodecTest {

  private static boolean isNanCode(MxFormat f, int code) {
    return Float.isNaN(f.decode(code));
  }

  @Test
  void everyCodeDecodesAndReencodesToItself() {
    for (MxFormat f : MxFormat.values()) {
      for (int c = 0; c < f.codeCount(); c++) {
        float v = f.decode(c);
        if (f == MxFormat.MXINT8 && c == 0x80) {
          // -128 is never produced: it decodes to -2 and re-encodes saturated to -127.
          assertEquals(-2f, v);
          assertEquals(0x81, f.encode(v));
        } else if (isNanCode(f, c)) {
          assertTrue(isNanCode(f, f.encode(v)), f + " NaN code " + c);
        } else {
          assertEquals(c, f.encode(v), f + " code " + c + " value " + v);
        }
      }
    }
  }

  /** The finite non-negative values of a format, ascending. */
  private static float[] positives(MxFormat f) {
    return Arrays.stream(toDoubles(f.decodeTable()))
        .filter(v -> Double.isFinite(v) && Double.doubleToRawLongBits(v) >= 0)
        .sorted()
        .distinct()
        .collect(
            () -> new float[][] {new float[0]},
            (acc, v) -> {
              acc[0] = Arrays.copyOf(acc[0], acc[0].length + 1);
              acc[0][acc[0].length - 1] = (float) v;
            },
            (x, y) -> {})[0];
  }

  private static double[] toDoubles(float[] a) {
    double[] d = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      d[i] = a[i];
    }
    return d;
  }

  @Test
  void everyTieGoesToTheEvenCodeAndNeighboursToTheNearest() {
    for (MxFormat f : MxFormat.values()) {
      float[] p = positives(f);
      assertTrue(p.length >= 8, f + " " + p.length);
      for (int i = 0; i + 1 < p.length; i++) {
        float lo = p[i];
        float hi = p[i + 1];
        float mid = (lo + hi) / 2; // exact: both are short dyadic numbers
        int loCode = f.encode(lo);
        int hiCode = f.encode(hi);
        int even = (loCode & 1) == 0 ? loCode : hiCode;
        for (float sign : new float[] {1f, -1f}) {
          int signBit = f == MxFormat.MXINT8 ? 0 : (sign < 0 ? 1 << (f.bits() - 1) : 0);
          String what = f + " tie " + sign * mid + " between " + lo + " and " + hi;
          if (f == MxFormat.MXINT8) {
            int q = f.encode(sign * mid);
            assertEquals(0, ((byte) q) & 1, what); // even integer code
            assertEquals((int) Math.rint(sign * mid * 64), (byte) q, what);
          } else {
            assertEquals(even | signBit, f.encode(sign * mid), what);
            assertEquals(loCode | signBit, f.encode(sign * Math.nextDown(mid)), what);
            assertEquals(hiCode | signBit, f.encode(sign * Math.nextUp(mid)), what);
          }
        }
      }
    }
  }

  @Test
  void designDocTiesAndE4m3At400() {
    float[] in = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5f};
    float[] out = {0f, 1f, 1f, 2f, 2f, 4f, 4f};
    for (int i = 0; i < in.length; i++) {
      MxFormat f = MxFormat.MXFP4_E2M1;
      assertEquals(out[i], f.decode(f.encode(in[i])), "E2M1 " + in[i]);
      assertEquals(-out[i], f.decode(f.encode(-in[i])), "E2M1 " + -in[i]);
    }
    assertEquals(384f, MxFormat.MXFP8_E4M3.decode(MxFormat.MXFP8_E4M3.encode(400f)));
  }

  @Test
  void saturationBoundaries() {
    for (MxFormat f : MxFormat.values()) {
      float max = f.maxNormal();
      int maxCode = f.encode(max);
      assertEquals(max, f.decode(maxCode), f.toString());
      for (float v : new float[] {Math.nextUp(max), max * 1.07f, max * 2, 1e30f, Float.MAX_VALUE}) {
        assertEquals(maxCode, f.encode(v), f + " " + v);
        assertEquals(-max, f.decode(f.encode(-v)), f + " " + -v);
      }
      if (f != MxFormat.MXFP8_E5M2) {
        assertEquals(maxCode, f.encode(Float.POSITIVE_INFINITY), f + " Inf saturates");
      }
    }
  }

  @Test
  void infinityAndNanEncodeAsDocumented() {
    assertEquals(0x7C, MxFormat.MXFP8_E5M2.encode(Float.POSITIVE_INFINITY));
    assertEquals(0xFC, MxFormat.MXFP8_E5M2.encode(Float.NEGATIVE_INFINITY));
    assertEquals(0x7E, MxFormat.MXFP8_E4M3.encode(Float.POSITIVE_INFINITY));
    assertTrue(Float.isNaN(MxFormat.MXFP8_E4M3.decode(MxFormat.MXFP8_E4M3.encode(Float.NaN))));
    assertEquals(0, MxFormat.MXFP6_E2M3.encode(Float.NaN));
  }

  @Test
  void unknownNamesAndCodesAreRejectedWithTheValidChoices() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> MxFormat.parse("fp5_e2m2"));
    assertTrue(e.getMessage().contains("fp5_e2m2") && e.getMessage().contains("MXFP6_E2M3"));
    e = assertThrows(IllegalArgumentException.class, () -> ScaleMode.parse("ceil"));
    assertTrue(e.getMessage().contains("'ceil'") && e.getMessage().contains("rceil"));
    e = assertThrows(IllegalArgumentException.class, () -> MxFormat.MXFP4_E2M1.decode(16));
    assertTrue(e.getMessage().contains("16") && e.getMessage().contains("0..15"));
    assertEquals(MxFormat.MXFP6_E3M2, MxFormat.parse("fp6_e3m2"));
    assertEquals(MxFormat.MXFP8_E4M3, MxFormat.parse(" mxfp8 "));
  }
}

package io.djlmx.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The shared exponent rules, against an exact BigDecimal reference. */
class E8M0Test {

  /** floor(log2(v)) for v > 0, exactly. */
  private static int floorLog2(BigDecimal v) {
    int e = 0;
    BigDecimal two = BigDecimal.valueOf(2);
    while (v.compareTo(BigDecimal.ONE) < 0) {
      v = v.multiply(two);
      e--;
    }
    while (v.compareTo(two) >= 0) {
      v = v.divide(two);
      e++;
    }
    return e;
  }

  private static int reference(float max, MxFormat f, ScaleMode m) {
    BigDecimal v = new BigDecimal(max == 0 ? 0x1p-126 : max);
    int e;
    if (m == ScaleMode.FLOOR) {
      e = floorLog2(v) - f.emaxElem();
    } else {
      // smallest e with max <= maxNormal * 2^e
      BigDecimal mn = new BigDecimal(f.maxNormal());
      e = floorLog2(v) - floorLog2(mn) - 1;
      while (v.compareTo(mn.multiply(new BigDecimal(Math.scalb(1.0, e)))) > 0) {
        e++;
      }
    }
    return Math.max(-127, Math.min(127, e));
  }

  @Test
  void sharedExponentMatchesTheExactRuleOnEdgesAndRandomValues() {
    long seed = new Random().nextLong();
    Random rnd = new Random(seed);
    for (MxFormat f : MxFormat.values()) {
      for (ScaleMode m : ScaleMode.values()) {
        float mn = f.maxNormal();
        float[] edges = {
          0f,
          Float.MIN_VALUE,
          Float.MIN_NORMAL,
          1f,
          Math.nextDown(1f),
          Float.MAX_VALUE,
          mn,
          Math.nextUp(mn),
          Math.nextDown(mn),
          mn * 2,
          Math.nextUp(mn * 2),
          1e-40f,
          1e38f
        };
        for (float v : edges) {
          assertEquals(reference(v, f, m), E8M0.sharedExponent(v, f, m), f + " " + m + " " + v);
        }
        for (int i = 0; i < 300; i++) {
          float v = Float.intBitsToFloat(rnd.nextInt(0x7F800000));
          assertEquals(
              reference(v, f, m),
              E8M0.sharedExponent(v, f, m),
              "seed " + seed + " " + f + " " + m + " " + v);
        }
      }
    }
  }

  @Test
  void allZeroBlockRule() {
    // floor(log2(2^-126)) - emax_elem, clamped at -127
    assertEquals(-127, E8M0.sharedExponent(0f, MxFormat.MXFP8_E4M3, ScaleMode.FLOOR));
    assertEquals(-126, E8M0.sharedExponent(0f, MxFormat.MXINT8, ScaleMode.FLOOR));
    assertEquals(-127, E8M0.sharedExponent(0f, MxFormat.MXFP6_E2M3, ScaleMode.FLOOR));
  }

  @Test
  void bytesAndValues() {
    assertEquals(0, E8M0.toBiased(-127));
    assertEquals(127, E8M0.toBiased(0));
    assertEquals(254, E8M0.toBiased(127));
    assertEquals(0x1p-127f, E8M0.toFloat(0));
    assertEquals(1f, E8M0.toFloat(127));
    assertEquals(0x1p127f, E8M0.toFloat(254));
    assertTrue(Float.isNaN(E8M0.toFloat(E8M0.NAN)));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> E8M0.toBiased(128));
    assertTrue(e.getMessage().contains("128"));
    e = assertThrows(IllegalArgumentException.class, () -> E8M0.toFloat(-1));
    assertTrue(e.getMessage().contains("-1"));
    e =
        assertThrows(
            IllegalArgumentException.class,
            () -> E8M0.sharedExponent(Float.NaN, MxFormat.MXINT8, ScaleMode.FLOOR));
    assertTrue(e.getMessage().contains("NaN"));
  }
}

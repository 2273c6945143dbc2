package io.djlmx.engine;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.djlmx.format.MxFormat;
import org.junit.jupiter.api.Test;

/** The background kernel warm-up: once per format pair, bounded in time, and switchable off. */
class KernelWarmupTest {

  @Test
  void warmsEachFormatPairOnceAndFinishes() throws Exception {
    // the build turns the warm-up off for the other tests (it would disturb their memory figures)
    String old = System.getProperty(KernelWarmup.PROPERTY);
    System.setProperty(KernelWarmup.PROPERTY, "true");
    try {
      warmOnce();
    } finally {
      restore(old);
    }
  }

  private static void warmOnce() throws Exception {
    Thread t = KernelWarmup.start(MxFormat.MXFP4_E2M1, MxFormat.MXINT8);
    assertNotNull(t, "a format pair not warmed yet starts a warm-up");
    assertTrue(t.isDaemon(), "the warm-up must never keep the JVM alive");
    assertNull(KernelWarmup.start(MxFormat.MXFP4_E2M1, MxFormat.MXINT8), "warmed once per JVM");
    t.join(30_000);
    assertFalse(t.isAlive(), "the warm-up is bounded in time");
    assertNull(KernelWarmup.start(null, null), "no weight format, nothing to warm");
  }

  @Test
  void propertyTurnsItOff() {
    String old = System.getProperty(KernelWarmup.PROPERTY);
    System.setProperty(KernelWarmup.PROPERTY, "false");
    try {
      assertFalse(KernelWarmup.isEnabled());
      assertNull(KernelWarmup.start(MxFormat.MXFP8_E5M2, null));
      System.setProperty(KernelWarmup.PROPERTY, "true");
      assertTrue(KernelWarmup.isEnabled());
    } finally {
      restore(old);
    }
  }

  private static void restore(String old) {
    if (old == null) {
      System.clearProperty(KernelWarmup.PROPERTY);
    } else {
      System.setProperty(KernelWarmup.PROPERTY, old);
    }
  }
}

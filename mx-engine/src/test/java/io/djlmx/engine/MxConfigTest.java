package io.djlmx.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.djlmx.format.MxFormat;
import io.djlmx.format.ScaleMode;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MxConfigTest {

  private static final Map<String, String> NONE = Map.of();

  @Test
  void defaults() {
    MxConfig c = MxConfig.resolve(null, k -> null, k -> null);
    assertEquals(MxFormat.MXFP6_E2M3, c.getWeights());
    assertNull(c.getActivations());
    assertTrue(c.isAttentionEnabled());
    assertEquals(ScaleMode.FLOOR, c.getScale());
    assertTrue(c.getExclude().isEmpty());
    assertEquals("default", c.getSources().get(MxConfig.WEIGHTS));
  }

  @Test
  void optionBeatsPropertyBeatsEnvironment() {
    Map<String, String> props = Map.of("mx.weights", "MXFP8_E4M3", "mx.scale", "rceil");
    Map<String, String> env =
        Map.of("MX_WEIGHTS", "MXFP4_E2M1", "MX_SCALE", "floor", "MX_ACTIVATIONS", "MXINT8");
    MxConfig c = MxConfig.resolve(Map.of("mx.weights", "MXFP6_E3M2"), props::get, env::get);
    assertEquals(MxFormat.MXFP6_E3M2, c.getWeights());
    assertEquals("option", c.getSources().get(MxConfig.WEIGHTS));
    assertEquals(ScaleMode.RCEIL, c.getScale());
    assertEquals("system property", c.getSources().get(MxConfig.SCALE));
    assertEquals(MxFormat.MXINT8, c.getActivations());
    assertEquals("environment MX_ACTIVATIONS", c.getSources().get(MxConfig.ACTIVATIONS));
    MxConfig e = MxConfig.resolve(null, NONE::get, env::get);
    assertEquals(MxFormat.MXFP4_E2M1, e.getWeights());
  }

  @Test
  void attentionModes() {
    MxConfig mx = MxConfig.resolve(null, k -> null, k -> null);
    assertTrue(mx.isAttentionEnabled());
    assertFalse(mx.isAttentionPvFp8());
    assertTrue(mx.toString().contains("mx.attention=mx"), mx.toString());
    MxConfig fp8 = MxConfig.resolve(Map.of("mx.attention", "FP8"), k -> null, k -> null);
    assertTrue(fp8.isAttentionEnabled());
    assertTrue(fp8.isAttentionPvFp8());
    assertTrue(fp8.toString().contains("mx.attention=fp8"), fp8.toString());
    MxConfig off = MxConfig.resolve(NONE, k -> null, Map.of("MX_ATTENTION", "off")::get);
    assertFalse(off.isAttentionEnabled());
    assertFalse(off.isAttentionPvFp8());
    assertTrue(off.toString().contains("mx.attention=off"), off.toString());
  }

  @Test
  void excludePatterns() {
    MxConfig c =
        MxConfig.resolve(Map.of("mx.exclude", "lm_head, *_05Linear_*"), k -> null, k -> null);
    assertTrue(c.isExcluded("model.lm_head.weight"));
    assertTrue(c.isExcluded("01Seq_05Linear_weight"));
    assertFalse(c.isExcluded("01Seq_04Linear_weight"));
    assertFalse(c.isExcluded(null));
  }

  @Test
  void unknownKeyListsValidKeys() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> MxConfig.resolve(Map.of("mx.weight", "MXFP8"), k -> null, k -> null));
    assertTrue(e.getMessage().contains("mx.weight'"), e.getMessage());
    assertTrue(e.getMessage().contains("mx.weights, mx.activations"), e.getMessage());
  }

  @Test
  void invalidValuesListValidValues() {
    IllegalArgumentException w =
        assertThrows(
            IllegalArgumentException.class,
            () -> MxConfig.resolve(Map.of("mx.weights", "FP7"), k -> null, k -> null));
    assertTrue(w.getMessage().contains("MXFP6_E2M3"), w.getMessage());
    IllegalArgumentException a =
        assertThrows(
            IllegalArgumentException.class,
            () -> MxConfig.resolve(NONE, k -> null, Map.of("MX_ATTENTION", "on")::get));
    assertTrue(a.getMessage().contains("mx, off, fp8"), a.getMessage());
    IllegalArgumentException s =
        assertThrows(
            IllegalArgumentException.class,
            () -> MxConfig.resolve(Map.of("mx.scale", "ceil"), k -> null, k -> null));
    assertTrue(s.getMessage().contains("floor, rceil"), s.getMessage());
    IllegalArgumentException act =
        assertThrows(
            IllegalArgumentException.class,
            () -> MxConfig.resolve(Map.of("mx.activations", "fp32"), k -> null, k -> null));
    assertTrue(act.getMessage().contains("none, MXFP8_E4M3"), act.getMessage());
  }

  @Test
  void unknownSystemPropertyIsAnError() {
    System.setProperty("mx.wieghts", "MXFP8");
    try {
      assertThrows(IllegalArgumentException.class, () -> MxConfig.resolve(null));
    } finally {
      System.clearProperty("mx.wieghts");
    }
  }

  @Test
  void fp32WeightsAndComponentKeys() {
    MxConfig c =
        MxConfig.resolve(
            Map.of("mx.weights", "FP32", "mx.zoo.cache", "/tmp/x", "engine", "x"),
            k -> null,
            k -> null);
    assertNull(c.getWeights());
    assertEquals("mx.weights=FP32", c.toString().split(",")[0]);
  }

  @Test
  void modelPropertiesFeedTheConfigUntilSetExplicitly() {
    try (ai.djl.Model model = ai.djl.Model.newInstance("cfg", ai.djl.Device.cpu(), "MX")) {
      MxModel mx = (MxModel) model;
      model.setProperty("mx.weights", "MXFP4_E2M1");
      model.setProperty("mx.zoo.cache", "/tmp/elsewhere");
      assertEquals(MxFormat.MXFP4_E2M1, mx.getConfig().getWeights());
      try (ai.djl.ndarray.NDManager sub = model.getNDManager().newSubManager()) {
        assertEquals(MxFormat.MXFP4_E2M1, ((MxNDManager) sub).getConfig().getWeights());
      }
      model.setProperty("mx.weights", "MXINT8");
      assertEquals(MxFormat.MXINT8, mx.getConfig().getWeights());
      mx.setConfig(MxConfig.resolve(Map.of("mx.weights", "MXFP8_E5M2"), k -> null, k -> null));
      model.setProperty("mx.weights", "MXFP6_E3M2");
      assertEquals(MxFormat.MXFP8_E5M2, mx.getConfig().getWeights());
    }
  }
}

package io.djlmx.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link MxModel#adoptPackedWeights}: packed MX weights installed without an FP32 round trip. */
class MxAdoptPackedTest {

  private static final int IN = 70; // a ragged last block
  private static final int OUT = 33;

  private static float[] randomWeights(long seed) {
    Random rnd = new Random(seed);
    float[] w = new float[OUT * IN];
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) rnd.nextGaussian() * 0.2f;
    }
    return w;
  }

  private static Model model(String weights, String keepFp32) {
    Model model = Model.newInstance("adopt", "MX");
    ((MxModel) model)
        .setConfig(
            MxConfig.resolve(Map.of(MxConfig.WEIGHTS, weights, MxConfig.KEEP_FP32, keepFp32)));
    Linear linear = Linear.builder().setUnits(OUT).build();
    model.setBlock(linear);
    // arrays set the way a loader sets them (no gradient attached)
    linear.getParameters().get("weight").setArray(model.getNDManager().zeros(new Shape(OUT, IN)));
    linear.getParameters().get("bias").setArray(model.getNDManager().zeros(new Shape(OUT)));
    return model;
  }

  private static float[] forward(Model model, float[] x) {
    try (NDManager m = model.getNDManager().newSubManager()) {
      NDArray in = m.create(x, new Shape(3, IN));
      return model
          .getBlock()
          .forward(new ParameterStore(m, false), new ai.djl.ndarray.NDList(in), false)
          .singletonOrThrow()
          .toFloatArray();
    }
  }

  @Test
  void adoptedWeightsComputeWhatPackingFromFp32Computes() {
    float[] w = randomWeights(1);
    float[] x = new float[3 * IN];
    Random rnd = new Random(2);
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) rnd.nextGaussian();
    }
    float[] expected;
    try (Model ref = model("MXFP6_E2M3", "false")) {
      Parameter weight = ref.getBlock().getParameters().get("weight");
      weight.getArray().set(w);
      ref.getBlock().getParameters().get("bias").getArray().set(new float[OUT]);
      expected = forward(ref, x);
    }
    try (Model model = model("MXFP6_E2M3", "false");
        MxTensor packed = MxTensor.quantize(w, new long[] {OUT, IN}, MxFormat.MXFP6_E2M3)) {
      model.getBlock().getParameters().get("bias").getArray().set(new float[OUT]);
      long packs = MxLinear.getPackCount();
      assertEquals(1, ((MxModel) model).adoptPackedWeights(a -> packed));
      MxNDArray weight = (MxNDArray) model.getBlock().getParameters().get("weight").getArray();
      assertTrue(weight.isFp32Released());
      assertArrayEquals(expected, forward(model, x), 1e-6f);
      assertEquals(packs, MxLinear.getPackCount(), "packed again after adoption");
      // the array reads back as the MX values
      assertArrayEquals(packed.dequantize(), weight.toFloatArray());
    }
  }

  @Test
  void mismatchedOrIneligibleTensorsAreReportedOrLeftAlone() {
    float[] w = randomWeights(3);
    try (Model model = model("MXFP6_E2M3", "false");
        MxTensor wrongFormat = MxTensor.quantize(w, new long[] {OUT, IN}, MxFormat.MXFP8_E4M3);
        MxTensor wrongShape = MxTensor.quantize(w, new long[] {IN, OUT}, MxFormat.MXFP6_E2M3)) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> ((MxModel) model).adoptPackedWeights(a -> wrongFormat));
      assertTrue(e.getMessage().contains("MXFP8_E4M3"), e.getMessage());
      e =
          assertThrows(
              IllegalArgumentException.class,
              () -> ((MxModel) model).adoptPackedWeights(a -> wrongShape));
      assertTrue(e.getMessage().contains("[70, 33]"), e.getMessage());
      assertEquals(0, ((MxModel) model).adoptPackedWeights(a -> null));
    }
    // mx.keepFp32: the FP32 values stay the source of truth, nothing is adopted
    try (Model model = model("MXFP6_E2M3", "true");
        MxTensor packed = MxTensor.quantize(w, new long[] {OUT, IN}, MxFormat.MXFP6_E2M3)) {
      assertEquals(0, ((MxModel) model).adoptPackedWeights(a -> packed));
      assertFalse(
          ((MxNDArray) model.getBlock().getParameters().get("weight").getArray()).isFp32Released());
    }
  }
}

package io.djlmx.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.repository.zoo.ZooModel;
import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Bad input across the public surface: each case must fail with a specific exception whose message
 * names the problem, and a failed load must leave nothing behind.
 */
class BadInputTest {

  private static final String SECTION = "1. Bad input";
  private static final AtomicInteger TRIED = new AtomicInteger();
  private static final AtomicInteger REJECTED = new AtomicInteger();

  private static Path mlpDir;

  @BeforeAll
  static void saveModel() throws Exception {
    mlpDir = Fixtures.saveMlp("mlp", null);
  }

  @AfterAll
  static void report() {
    ReliabilityReport.record(
        SECTION,
        "bad-input cases tried / rejected with a specific exception naming the problem",
        TRIED.get() + " / " + REJECTED.get());
    ReliabilityReport.write();
  }

  /**
   * Runs {@code call}, expects {@code type}, checks every fragment is in the message chain, and
   * counts the case for the report.
   */
  private static <T extends Throwable> T rejects(
      String caseName, Class<T> type, Executable call, String... fragments) {
    TRIED.incrementAndGet();
    Throwable thrown = assertThrows(Throwable.class, call, caseName);
    T match = Fixtures.causeOf(thrown, type);
    String all = Fixtures.messages(thrown);
    assertTrue(match != null, caseName + ": expected " + type.getSimpleName() + ", got " + all);
    for (String f : fragments) {
      assertTrue(all.contains(f), caseName + ": message lacks '" + f + "': " + all);
    }
    REJECTED.incrementAndGet();
    ReliabilityReport.record(SECTION, caseName, type.getSimpleName() + ": " + match.getMessage());
    return match;
  }

  private static Predictor<float[], float[]> predictor(ZooModel<?, ?> model, Shape shape) {
    return model.newPredictor(new Fixtures.FloatTranslator(shape));
  }

  @Test
  void wrongInputWidthNamesBothShapes() throws Exception {
    try (ZooModel<float[], float[]> model = Fixtures.loadMlp(mlpDir, "mlp", Map.of());
        Predictor<float[], float[]> p = predictor(model, new Shape(1, 33))) {
      rejects(
          "input [1, 33] into a linear expecting 70 features",
          IllegalArgumentException.class,
          () -> p.predict(new float[33]),
          "(1, 33)",
          "(64, 70)");
    }
  }

  @Test
  void wrongRanksNameTheShape() {
    try (NDManager m = Engine.getEngine("MX").newBaseManager()) {
      NDArray w3 = m.ones(new Shape(2, 3, 4));
      NDArray x = m.ones(new Shape(5, 4));
      rejects(
          "rank-3 linear weight",
          IllegalArgumentException.class,
          () -> x.getNDArrayInternal().linear(x, w3, null),
          "[out, in]",
          "(2, 3, 4)");
      NDArray w = m.ones(new Shape(3, 4));
      NDArray scalar = m.create(1f);
      rejects(
          "rank-0 (scalar) linear input",
          IllegalArgumentException.class,
          () -> scalar.getNDArrayInternal().linear(scalar, w, null),
          "does not match weight shape (3, 4)");
      NDArray badBias = m.ones(new Shape(4));
      rejects(
          "linear bias of the wrong length",
          IllegalArgumentException.class,
          () -> x.getNDArrayInternal().linear(x, w, badBias),
          "bias shape (4)",
          "(3, 4)");
    }
  }

  @Test
  void emptyTensorsAreValidAndStayEmpty() throws Exception {
    try (ZooModel<float[], float[]> model = Fixtures.loadMlp(mlpDir, "mlp", Map.of());
        NDManager m = model.getNDManager().newSubManager()) {
      NDArray w = model.getBlock().getParameters().get(0).getValue().getArray();
      NDArray empty = m.zeros(new Shape(0, Fixtures.IN));
      NDList out = empty.getNDArrayInternal().linear(empty, w, null);
      assertEquals(new Shape(0, 64), out.singletonOrThrow().getShape());
      assertEquals("MX", out.singletonOrThrow().getManager().getEngine().getEngineName());
    }
    for (MxFormat f : MxFormat.values()) {
      try (MxTensor t = MxTensor.quantize(new float[0], new long[] {0, 40}, f)) {
        assertEquals(0, t.dequantize().length);
        assertEquals(0, t.byteSize());
      }
    }
    ReliabilityReport.record(
        SECTION,
        "empty input [0, 70] through linear; empty MxTensor in all 6 formats",
        "accepted, empty output");
    rejects(
        "MxTensor data length does not match its shape",
        IllegalArgumentException.class,
        () -> MxTensor.quantize(new float[5], new long[] {2, 3}, MxFormat.MXFP8_E4M3),
        "6");
    rejects(
        "MxTensor shape of rank 0",
        IllegalArgumentException.class,
        () -> MxTensor.quantize(new float[1], new long[0], MxFormat.MXFP8_E4M3),
        "rank");
    rejects(
        "MxTensor with a negative dimension",
        IllegalArgumentException.class,
        () -> MxTensor.quantize(new float[0], new long[] {-1, 4}, MxFormat.MXFP8_E4M3),
        "-1");
  }

  @Test
  void unsupportedDataTypesAreNamed() {
    try (NDManager m = Engine.getEngine("MX").newBaseManager()) {
      NDArray w = m.ones(new Shape(3, 4));
      NDArray xi = m.ones(new Shape(2, 4), DataType.INT32);
      rejects(
          "INT32 input to linear",
          IllegalArgumentException.class,
          () -> xi.getNDArrayInternal().linear(xi, w, null),
          "floating point",
          "int32");
      NDArray wi = m.ones(new Shape(3, 4), DataType.INT32);
      NDArray x = m.ones(new Shape(2, 4));
      rejects(
          "INT32 weight in linear",
          IllegalArgumentException.class,
          () -> x.getNDArrayInternal().linear(x, wi, null),
          "int32");
    }
    rejects(
        "unknown MX format name",
        IllegalArgumentException.class,
        () -> MxFormat.parse("MXFP5"),
        "MXFP5");
  }

  @Test
  void nanAndInfWeightsAreRejectedWithParameterAndBlock() throws Exception {
    // Row 3, column 40 of the first linear weight: MX block 1 (columns 32..63).
    Path nanDir =
        Fixtures.saveMlp(
            "nanmlp", b -> Fixtures.poke(b, "weight", 3 * Fixtures.IN + 40, Float.NaN));
    Path infDir =
        Fixtures.saveMlp(
            "infmlp",
            b -> Fixtures.poke(b, "weight", 5 * Fixtures.IN + 69, Float.NEGATIVE_INFINITY));
    int[] before = Fixtures.rootCounts();
    rejects(
        "NaN in a linear weight at load",
        IllegalArgumentException.class,
        () -> Fixtures.loadMlp(nanDir, "nanmlp", Map.of()),
        "weight",
        "NaN or infinity",
        "row 3",
        "MX block 1",
        "columns 32..63");
    rejects(
        "-Infinity in a linear weight at load",
        IllegalArgumentException.class,
        () -> Fixtures.loadMlp(infDir, "infmlp", Map.of()),
        "row 5",
        "MX block 2",
        "columns 64..69");
    assertArrayEquals(
        before, Fixtures.rootCounts(), "a failed load left managers or arrays behind");
    ReliabilityReport.record(
        SECTION,
        "open MX / PyTorch root resources before and after 2 failed loads",
        java.util.Arrays.toString(before)
            + " -> "
            + java.util.Arrays.toString(Fixtures.rootCounts()));
  }

  @Test
  void nanActivationsPropagatePerBlock() throws Exception {
    for (String act : new String[] {"none", "MXFP8_E4M3", "MXFP4_E2M1"}) {
      try (ZooModel<float[], float[]> model =
              Fixtures.loadMlp(mlpDir, "mlp", Map.of("mx.activations", act));
          Predictor<float[], float[]> two = predictor(model, new Shape(2, Fixtures.IN))) {
        float[] clean = Fixtures.gaussian(Fixtures.IN, 7);
        float[] cleanPair = new float[2 * Fixtures.IN];
        System.arraycopy(Fixtures.gaussian(Fixtures.IN, 8), 0, cleanPair, 0, Fixtures.IN);
        System.arraycopy(clean, 0, cleanPair, Fixtures.IN, Fixtures.IN);
        float[] expected =
            Arrays.copyOfRange(two.predict(cleanPair), Fixtures.OUT, 2 * Fixtures.OUT);
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
          float[] x = cleanPair.clone();
          x[45] = bad; // row 0, MX block 1
          float[] y = two.predict(x);
          boolean quantized = !"none".equals(act);
          for (int j = 0; j < Fixtures.OUT; j++) {
            if (quantized || Float.isNaN(bad)) {
              // Spec: a NaN/Inf block gets the NaN scale and its dot products are NaN.
              assertTrue(Float.isNaN(y[j]), act + " " + bad + ": output " + j + " = " + y[j]);
            } else {
              assertTrue(!Float.isFinite(y[j]), act + " " + bad + ": output " + j + " = " + y[j]);
            }
            assertEquals(expected[j], y[Fixtures.OUT + j], 0f, "the clean row must be untouched");
          }
        }
      }
    }
    ReliabilityReport.record(
        SECTION,
        "NaN / +Inf in one activation block (weight-only, W+A MXFP8_E4M3, W+A MXFP4_E2M1)",
        "that row's outputs all NaN (non-finite for +Inf weight-only), other row bit-identical");
  }

  @Test
  void unknownConfigKeysAndValuesListTheValidOnes() throws Exception {
    int[] before = Fixtures.rootCounts();
    rejects(
        "unknown config key mx.weigths",
        IllegalArgumentException.class,
        () -> Fixtures.loadMlp(mlpDir, "mlp", Map.of("mx.weigths", "MXFP4_E2M1")),
        "mx.weigths",
        "mx.weights, mx.activations");
    rejects(
        "invalid mx.weights value",
        IllegalArgumentException.class,
        () -> Fixtures.loadMlp(mlpDir, "mlp", Map.of("mx.weights", "MXFP5")),
        "MXFP5",
        "MXFP4_E2M1");
    rejects(
        "invalid mx.activations value",
        IllegalArgumentException.class,
        () -> Fixtures.loadMlp(mlpDir, "mlp", Map.of("mx.activations", "int4")),
        "int4",
        "none, MXFP8_E4M3");
    rejects(
        "invalid mx.scale value",
        IllegalArgumentException.class,
        () -> Fixtures.loadMlp(mlpDir, "mlp", Map.of("mx.scale", "ceil")),
        "ceil",
        "floor, rceil");
    rejects(
        "invalid mx.attention value",
        IllegalArgumentException.class,
        () -> Fixtures.loadMlp(mlpDir, "mlp", Map.of("mx.attention", "fast")),
        "fast",
        "mx, off");
    assertArrayEquals(
        before, Fixtures.rootCounts(), "a failed load left managers or arrays behind");
  }

  @Test
  void gpuRequestedWithoutGpuIsNamed() throws Exception {
    assumeTrue(
        Engine.getEngine("PyTorch").getGpuCount() == 0, "this case needs a machine without a GPU");
    int[] before = Fixtures.rootCounts();
    rejects(
        "optDevice(Device.gpu()) on a machine without a GPU",
        ai.djl.engine.EngineException.class,
        () -> Fixtures.loadMlp(mlpDir, "mlp", Map.of(), Device.gpu()),
        "gpu(0)",
        "no GPU");
    rejects(
        "MX NDManager on gpu(0) without a GPU",
        ai.djl.engine.EngineException.class,
        () -> Engine.getEngine("MX").newBaseManager(Device.gpu()),
        "gpu(0)");
    assertArrayEquals(
        before, Fixtures.rootCounts(), "a failed load left managers or arrays behind");
  }

  @Test
  void closedResourcesSayTheyAreClosed() {
    NDManager m = Engine.getEngine("MX").newBaseManager();
    m.close();
    rejects(
        "create on a closed MX NDManager",
        IllegalStateException.class,
        () -> m.create(new float[] {1f}),
        "closed");
    MxTensor t = MxTensor.quantize(new float[32], new long[] {32}, MxFormat.MXFP4_E2M1);
    t.close();
    rejects("dequantize a closed MxTensor", IllegalStateException.class, t::dequantize, "closed");
  }

  @Test
  void missingParameterFileIsNamed() throws Exception {
    Path empty = java.nio.file.Files.createTempDirectory("mx-it-empty");
    int[] before = Fixtures.rootCounts();
    rejects(
        "model directory without its .params file",
        java.io.IOException.class,
        () -> Fixtures.loadMlp(empty, "mlp", Map.of()),
        empty.getFileName().toString());
    assertArrayEquals(
        before, Fixtures.rootCounts(), "a failed load left managers or arrays behind");
  }
}

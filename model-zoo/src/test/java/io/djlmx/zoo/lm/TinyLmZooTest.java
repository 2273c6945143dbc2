package io.djlmx.zoo.lm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import ai.djl.translate.TranslateException;
import io.djlmx.zoo.TinyLmLoader;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Properties;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The zoo's {@code tiny-lm} through Criteria, offline, under the MX engine and PyTorch: generation
 * with the KV cache against a full re-run, sampling, limits, bad input, and held-out loss on the
 * committed sample (the first held-out fortunes, written by {@code scripts/train-tiny-lm.sh})
 * against what training recorded.
 */
class TinyLmZooTest {

  private static final String PROMPT = "The meaning of life is";

  @TempDir static Path cache;

  private static int[] sample;
  private static Properties trained;

  @BeforeAll
  static void readSample() throws Exception {
    try (InputStream in =
        TinyLmZooTest.class.getClassLoader().getResourceAsStream("tiny-lm/heldout-sample.txt")) {
      String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      sample = FortuneCorpus.tokens(FortuneCorpus.parse(text));
    }
    trained = TinyLmLoader.artifactProperties();
  }

  private static Criteria.Builder<String, String> criteria(String engine, String weights) {
    Criteria.Builder<String, String> b =
        Criteria.builder()
            .setTypes(String.class, String.class)
            .optGroupId("io.djlmx")
            .optArtifactId("tiny-lm")
            .optEngine(engine)
            .optOption("mx.zoo.cache", cache.toString());
    return weights == null ? b : b.optOption("mx.weights", weights);
  }

  private static String generate(Criteria<String, String> c, String prompt) throws Exception {
    try (ZooModel<String, String> model = c.loadModel();
        Predictor<String, String> p = model.newPredictor()) {
      return p.predict(prompt);
    }
  }

  /**
   * Generates n greedy tokens with the KV cache, then re-runs the whole prefix (without a cache)
   * before each of those tokens. With {@code tolerance == 0} the re-run's greedy tokens must be the
   * same; otherwise (MX, where a cached step and a full run round attention a little differently)
   * each cached token must be the re-run's likeliest or within {@code tolerance} of the re-run's
   * largest logit (a near tie), and most must be exact.
   */
  private static void assertCacheMatchesRerun(Criteria<String, String> c, int n, float tolerance)
      throws Exception {
    try (ZooModel<String, String> model = c.loadModel()) {
      TextGenerator gen =
          new TextGenerator(
              TinyLmConfig.DEFAULT,
              new ByteTokenizer(),
              GenerationConfig.builder().optMaxNewTokens(n).optIgnoreEos(true).build());
      Generation g = gen.generate(model.getBlock(), model.getNDManager(), PROMPT);
      assertEquals(n, g.tokens().length);
      int[] prompt = new ByteTokenizer().encode(PROMPT);
      int[] seq = Arrays.copyOf(prompt, prompt.length + n);
      System.arraycopy(g.tokens(), 0, seq, prompt.length, n);
      int exact = 0;
      try (NDManager scope = model.getNDManager().newSubManager()) {
        ParameterStore ps = new ParameterStore(scope, false);
        for (int t = 0; t < n; t++) {
          int len = prompt.length + t;
          NDArray ids = TextGenerator.prefillInput(scope, Arrays.copyOf(seq, len));
          NDList out = model.getBlock().forward(ps, new NDList(ids), false);
          float[] logits = out.get(0).get(0).get(len - 1).toFloatArray();
          int best = TextGenerator.argMax(logits);
          int cached = g.tokens()[t];
          if (best == cached) {
            exact++;
          } else {
            assertTrue(
                tolerance > 0 && logits[best] - logits[cached] <= tolerance,
                "token "
                    + t
                    + ": cached "
                    + cached
                    + ", full re-run "
                    + best
                    + " (logits "
                    + logits[cached]
                    + " vs "
                    + logits[best]
                    + "), text: "
                    + g.text());
          }
        }
      }
      assertTrue(exact >= n * 3 / 4, exact + " of " + n + " tokens exact: " + g.text());
    }
  }

  @Test
  void kvCacheGivesTheGreedyTokensOfAFullRerun() throws Exception {
    assertCacheMatchesRerun(criteria("PyTorch", "FP32").build(), 24, 0f);
    // MXFP6_E2M3 weights + MX attention: near ties may go either way
    assertCacheMatchesRerun(criteria("MX", null).build(), 24, 0.05f);
  }

  @Test
  void loadsOfflineUnderMxAndPyTorch() throws Exception {
    try (ZooModel<String, String> model = criteria("MX", null).build().loadModel()) {
      assertEquals("MX", model.getNDManager().getEngine().getEngineName());
      assertEquals("MXFP6_E2M3", model.getProperty("mx.weights"));
      assertEquals("mx", model.getProperty("mx.attention"));
      assertTrue(((TinyLm) model.getBlock()).getAttentionCore() instanceof MxCausalAttention);
    }
    try (ZooModel<String, String> model =
        criteria("MX", null).optOption("mx.attention", "fp8").build().loadModel()) {
      assertEquals("fp8", model.getProperty("mx.attention"));
      assertTrue(((TinyLm) model.getBlock()).getAttentionCore() instanceof MxCausalAttention);
    }
    String mx = generate(criteria("MX", null).optArgument("maxNewTokens", 16).build(), PROMPT);
    String pt = generate(criteria("PyTorch", null).optArgument("maxNewTokens", 16).build(), PROMPT);
    for (String s : new String[] {mx, pt}) {
      assertFalse(s.isBlank(), "empty generation");
      assertTrue(s.getBytes(StandardCharsets.UTF_8).length <= 16 || s.contains("\uFFFD"), s);
    }
  }

  @Test
  void seededSamplingIsReproducible() throws Exception {
    Criteria<String, String> c =
        criteria("MX", null)
            .optArgument("sample", true)
            .optArgument("temperature", 0.9)
            .optArgument("topK", 20)
            .optArgument("seed", 1234)
            .optArgument("maxNewTokens", 16)
            .optArgument("ignoreEos", true)
            .build();
    try (ZooModel<String, String> model = c.loadModel();
        Predictor<String, String> p = model.newPredictor()) {
      String a = p.predict(PROMPT);
      String b = p.predict(PROMPT);
      assertEquals(a, b);
    }
  }

  @Test
  void stopStringAndTokenLimitAreHonoured() throws Exception {
    String free =
        generate(criteria("PyTorch", "FP32").optArgument("maxNewTokens", 32).build(), PROMPT);
    assertTrue(free.length() > 4, free);
    String stop = free.substring(2, 4);
    String cut =
        generate(
            criteria("PyTorch", "FP32")
                .optArgument("maxNewTokens", 32)
                .optArgument("stop", stop)
                .build(),
            PROMPT);
    assertEquals(free.substring(0, free.indexOf(stop)), cut);
    String few =
        generate(criteria("PyTorch", "FP32").optArgument("maxNewTokens", 3).build(), PROMPT);
    assertTrue(free.startsWith(few) && few.length() <= 3, few + " vs " + free);
  }

  @Test
  void badInputGivesClearErrors() throws Exception {
    try (ZooModel<String, String> model =
            criteria("MX", null).optArgument("maxNewTokens", 8).build().loadModel();
        Predictor<String, String> p = model.newPredictor()) {
      TranslateException e = assertThrows(TranslateException.class, () -> p.predict(""));
      assertTrue(String.valueOf(e.getCause()).contains("empty"), String.valueOf(e.getCause()));
      // over-long: the last tokens are kept (with a warning) and generation still happens
      assertFalse(p.predict("All work and no play makes Jack a dull boy. ".repeat(20)).isEmpty());
    }
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> criteria("MX", "MXFP5").build().loadModel().close());
    assertTrue(e.getMessage().contains("mx.weights"), e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                criteria("MX", null).optArgument("maxNewTokens", 500).build().loadModel().close());
    assertTrue(e.getMessage().contains("maxNewTokens 500"), e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                criteria("MX", null).optArgument("temperature", "hot").build().loadModel().close());
    assertTrue(e.getMessage().contains("temperature"), e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                criteria("MX", null).optOption("mx.attention", "fast").build().loadModel().close());
    assertTrue(e.getMessage().contains("mx.attention"), e.getMessage());
    Criteria<String, float[]> wrong =
        Criteria.builder()
            .setTypes(String.class, float[].class)
            .optGroupId("io.djlmx")
            .optArtifactId("tiny-lm")
            .build();
    assertThrows(ModelNotFoundException.class, wrong::loadModel);
  }

  private static HeldOutLoss sampleLoss(Criteria<String, String> c) throws Exception {
    try (ZooModel<String, String> model = c.loadModel()) {
      int windows = Integer.parseInt(trained.getProperty("heldOut.sampleWindows"));
      return HeldOutLoss.evaluate(
          model.getBlock(), model.getNDManager(), sample, 128, windows, windows);
    }
  }

  @Test
  void fp32HeldOutLossMatchesTheTrainingRecord() throws Exception {
    double recorded = Double.parseDouble(trained.getProperty("heldOut.sampleLoss"));
    HeldOutLoss pt = sampleLoss(criteria("PyTorch", "FP32").build());
    assertEquals(recorded, pt.meanNll(), 2e-3, "PyTorch FP32");
    HeldOutLoss mx = sampleLoss(criteria("MX", "FP32").optOption("mx.attention", "off").build());
    assertEquals(recorded, mx.meanNll(), 2e-3, "MX engine, FP32 weights");
    // MX attention runs (INT8 Q·Kᵀ rounds the scores, so the loss moves) and stays close
    HeldOutLoss attn = sampleLoss(criteria("MX", "FP32").optOption("mx.attention", "mx").build());
    assertNotEquals(mx.meanNll(), attn.meanNll(), "MX attention left the loss bit-identical");
    assertEquals(mx.meanNll(), attn.meanNll(), 0.01, "MX attention");
    // with FP8 P·V (mx.attention=fp8) the loss moves again, and stays close
    HeldOutLoss fp8 = sampleLoss(criteria("MX", "FP32").optOption("mx.attention", "fp8").build());
    assertNotEquals(attn.meanNll(), fp8.meanNll(), "FP8 P·V left the loss bit-identical");
    assertEquals(mx.meanNll(), fp8.meanNll(), 0.01, "MX attention, FP8 P·V");
  }

  @Test
  void mxFormatsKeepHeldOutLossInBounds() throws Exception {
    double fp32 = Double.parseDouble(trained.getProperty("heldOut.sampleLoss"));
    // bounds in nats per token on the 2,048-token sample (docs/ACCURACY-lm.md has the full table)
    double int8 =
        sampleLoss(criteria("MX", "MXINT8").optOption("mx.attention", "off").build()).meanNll();
    assertEquals(fp32, int8, 0.02, "MXINT8 weight-only");
    double fp6 = sampleLoss(criteria("MX", null).build()).meanNll(); // MXFP6_E2M3 + MX attention
    assertEquals(fp32, fp6, 0.08, "MXFP6_E2M3 weight-only with MX attention");
    double fp4 =
        sampleLoss(
                criteria("MX", "MXFP4_E2M1")
                    .optOption("mx.activations", "MXFP4_E2M1")
                    .optOption("mx.attention", "off")
                    .build())
            .meanNll();
    assertTrue(fp4 > fp32 && fp4 < fp32 + 1.0, "MXFP4_E2M1 weight + activation " + fp4);
  }
}

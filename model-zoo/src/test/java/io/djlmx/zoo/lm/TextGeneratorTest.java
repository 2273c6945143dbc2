package io.djlmx.zoo.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link TextGenerator} on a scripted model whose likeliest next token is fixed per position: stop
 * conditions, the token limit, sampling and the cache it passes along.
 */
class TextGeneratorTest {

  private static final TinyLmConfig SHAPE = new TinyLmConfig(257, 32, 32, 1, 1, 32, 1e-5f);
  private static NDManager manager;

  @BeforeAll
  static void setUp() {
    manager = NDManager.newBaseManager("PyTorch");
  }

  @AfterAll
  static void tearDown() {
    manager.close();
  }

  /**
   * A stand-in model: the logits of position p favour {@code script[p]} (by 10 over the rest); the
   * cache is one array [1, 1, length, 1] that counts positions, checked on each step.
   */
  private static final class ScriptedModel extends AbstractBlock {
    private final int[] script;
    private int calls;

    ScriptedModel(String script, boolean eosAtEnd) {
      byte[] b = script.getBytes(StandardCharsets.UTF_8);
      this.script = new int[b.length + (eosAtEnd ? 1 : 0)];
      for (int i = 0; i < b.length; i++) {
        this.script[i] = b[i] & 0xFF;
      }
      if (eosAtEnd) {
        this.script[b.length] = ByteTokenizer.EOS;
      }
    }

    @Override
    protected NDList forwardInternal(
        ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
      calls++;
      NDArray ids = inputs.get(0);
      int n = (int) ids.getShape().get(1);
      int past = inputs.size() > 1 ? (int) inputs.get(1).getShape().get(2) : 0;
      if (past > 0 && n != 1) {
        throw new AssertionError("a cached step must feed one token, fed " + n);
      }
      float[] logits = new float[n * SHAPE.vocabSize()];
      for (int i = 0; i < n; i++) {
        int pos = past + i;
        logits[i * SHAPE.vocabSize() + script[Math.min(pos, script.length - 1)]] = 10f;
      }
      NDArray cache = ids.getManager().zeros(new Shape(1, 1, past + n, 1));
      return new NDList(ids.getManager().create(logits, new Shape(1, n, SHAPE.vocabSize())), cache);
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
      return new Shape[0];
    }
  }

  private static Generation run(ScriptedModel model, String prompt, GenerationConfig cfg) {
    return new TextGenerator(SHAPE, new ByteTokenizer(), cfg).generate(model, manager, prompt);
  }

  @Test
  void greedyFollowsTheModelAndStopsAtEndOfText() {
    // prompt "ab" takes positions 0-1; the generated tokens are the script from position 1 on
    ScriptedModel model = new ScriptedModel("xhello", true);
    Generation g = run(model, "ab", GenerationConfig.builder().optMaxNewTokens(20).build());
    assertEquals("hello", g.text());
    assertEquals(Generation.StopReason.END_OF_TEXT, g.reason());
    assertEquals(2, g.promptTokens());
    // one prefill, then one step per generated token fed back (the end of text is not fed)
    assertEquals(6, model.calls);
  }

  @Test
  void tokenLimitIsHonoured() {
    ScriptedModel model = new ScriptedModel("xhello world", true);
    Generation g = run(model, "ab", GenerationConfig.builder().optMaxNewTokens(4).build());
    assertEquals("hell", g.text());
    assertEquals(4, g.tokens().length);
    assertEquals(Generation.StopReason.TOKEN_LIMIT, g.reason());
  }

  @Test
  void stopStringCutsTheText() {
    ScriptedModel model = new ScriptedModel("xhello world", true);
    GenerationConfig cfg =
        GenerationConfig.builder().optMaxNewTokens(20).addStop(" w").addStop("zz").build();
    Generation g = run(model, "ab", cfg);
    assertEquals("hello", g.text());
    assertEquals(Generation.StopReason.STOP_STRING, g.reason());
    assertEquals(7, g.tokens().length, "the stop string's tokens are generated, then cut");
  }

  @Test
  void ignoreEosRunsToTheLimit() {
    ScriptedModel model = new ScriptedModel("xhi", true);
    GenerationConfig cfg = GenerationConfig.builder().optMaxNewTokens(6).optIgnoreEos(true).build();
    Generation g = run(model, "ab", cfg);
    assertEquals(6, g.tokens().length);
    assertEquals(ByteTokenizer.EOS, g.tokens()[2]);
    assertEquals("hi", g.text().substring(0, 2));
  }

  @Test
  void seededSamplingIsReproducibleAndSeedsDiffer() {
    // a flat script: every token has logit 0 except the scripted one, so sampling at a high
    // temperature spreads over the vocabulary
    ScriptedModel model = new ScriptedModel("x", false);
    GenerationConfig.Builder b =
        GenerationConfig.builder()
            .optMaxNewTokens(12)
            .optSample(true)
            .optTemperature(50f)
            .optIgnoreEos(true);
    Generation a1 = run(model, "q", b.optSeed(7L).build());
    Generation a2 = run(model, "q", b.optSeed(7L).build());
    assertArrayEquals(a1.tokens(), a2.tokens());
    Set<String> outputs = new HashSet<>();
    for (long seed = 1; seed <= 4; seed++) {
      outputs.add(java.util.Arrays.toString(run(model, "q", b.optSeed(seed).build()).tokens()));
    }
    assertTrue(outputs.size() > 1, "four seeds gave one output");
  }

  @Test
  void topKOneIsGreedy() {
    ScriptedModel model = new ScriptedModel("xabcdef", false);
    GenerationConfig cfg =
        GenerationConfig.builder()
            .optMaxNewTokens(5)
            .optSample(true)
            .optTemperature(100f)
            .optTopK(1)
            .optSeed(3L)
            .build();
    assertEquals("abcde", run(model, "ab", cfg).text());
  }

  @Test
  void longPromptKeepsItsEnd() {
    TextGenerator gen =
        new TextGenerator(
            SHAPE, new ByteTokenizer(), GenerationConfig.builder().optMaxNewTokens(8).build());
    int[] ids = gen.encodePrompt("0123456789".repeat(5));
    assertEquals(24, ids.length);
    assertEquals('6', ids[0]);
    assertEquals('9', ids[23]);
  }

  @Test
  void badInputIsRefusedClearly() {
    TextGenerator gen =
        new TextGenerator(
            SHAPE, new ByteTokenizer(), GenerationConfig.builder().optMaxNewTokens(8).build());
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> gen.encodePrompt(""));
    assertTrue(e.getMessage().contains("empty"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> gen.encodePrompt(null));
    e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                new TextGenerator(
                    SHAPE,
                    new ByteTokenizer(),
                    GenerationConfig.builder().optMaxNewTokens(32).build()));
    assertTrue(e.getMessage().contains("maxNewTokens 32"), e.getMessage());
  }

  @Test
  void argumentsAreParsedAndCheckedByName() {
    GenerationConfig c =
        GenerationConfig.fromArguments(
            Map.of(
                "maxNewTokens", "9",
                "sample", true,
                "temperature", 0.7,
                "topK", 5,
                "seed", "11",
                "stop", "\\n|END",
                "ignoreEos", "false"));
    assertEquals(9, c.maxNewTokens());
    assertTrue(c.sample());
    assertEquals(0.7f, c.temperature(), 1e-6f);
    assertEquals(5, c.topK());
    assertEquals(11L, c.seed());
    assertEquals(java.util.List.of("\n", "END"), c.stop());
    for (Map<String, Object> bad :
        java.util.List.<Map<String, Object>>of(
            Map.of("maxNewTokens", "0"),
            Map.of("maxNewTokens", "many"),
            Map.of("temperature", "-1"),
            Map.of("temperature", "NaN"),
            Map.of("topK", "-2"),
            Map.of("sample", "yes"),
            Map.of("seed", "1.5"))) {
      String key = bad.keySet().iterator().next();
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> GenerationConfig.fromArguments(bad));
      assertTrue(e.getMessage().contains(key), e.getMessage());
    }
    assertNotEquals(c.toString(), GenerationConfig.builder().build().toString());
  }
}

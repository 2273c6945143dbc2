package io.djlmx.examples;

import ai.djl.ModelException;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.TranslateException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Example: generate text with the zoo's small language model {@code tiny-lm} (trained on Debian's
 * fortune cookies) in MXFP6 on the MX engine: greedy, then sampled with a seed, each stopping at
 * the end of a fortune, a blank line or 80 new tokens.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -cp
 * "examples/target/mx.jar:examples/target/lib/*" io.djlmx.examples.TextGenerationExample [prompt
 * ...]}.
 */
public final class TextGenerationExample {

  /** The prompts used when none are given. */
  public static final List<String> PROMPTS =
      List.of("A computer is", "Q: What do you call", "Never trust a");

  private TextGenerationExample() {}

  /**
   * Generates a continuation of each prompt.
   *
   * @param prompts the texts to continue
   * @param sample false for greedy, true to sample (temperature 0.8, top 40, seed 42)
   * @param maxNewTokens the token (byte) limit
   * @return the continuations, in prompt order
   * @throws IOException if the model files are missing
   * @throws ModelException if the model cannot be loaded
   * @throws TranslateException if generation fails
   */
  public static List<String> generate(List<String> prompts, boolean sample, int maxNewTokens)
      throws IOException, ModelException, TranslateException {
    Criteria.Builder<String, String> b =
        Criteria.builder()
            .setTypes(String.class, String.class)
            .optGroupId("io.djlmx")
            .optArtifactId("tiny-lm")
            .optEngine(
                "MX") // MXFP6_E2M3 weights by default; optOption("mx.weights", ...) for others
            .optArgument("maxNewTokens", maxNewTokens)
            .optArgument("stop", "\\n\\n");
    if (sample) {
      b.optArgument("sample", true)
          .optArgument("temperature", 0.8)
          .optArgument("topK", 40)
          .optArgument("seed", 42);
    }
    List<String> out = new ArrayList<>();
    try (ZooModel<String, String> model = b.build().loadModel();
        Predictor<String, String> predictor = model.newPredictor()) {
      for (String p : prompts) {
        out.add(predictor.predict(p));
      }
    }
    return out;
  }

  /**
   * Prints greedy and sampled continuations.
   *
   * @param args prompts (default {@link #PROMPTS})
   * @throws Exception if loading or generation fails
   */
  public static void main(String[] args) throws Exception {
    List<String> prompts = args.length > 0 ? List.of(args) : PROMPTS;
    List<String> greedy = generate(prompts, false, 80);
    List<String> sampled = generate(prompts, true, 80);
    for (int i = 0; i < prompts.size(); i++) {
      System.out.println("Prompt:  " + prompts.get(i));
      System.out.println("Greedy:  " + prompts.get(i) + greedy.get(i));
      System.out.println("Sampled: " + prompts.get(i) + sampled.get(i));
      System.out.println();
    }
  }
}

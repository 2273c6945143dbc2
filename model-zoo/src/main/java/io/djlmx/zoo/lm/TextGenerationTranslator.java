package io.djlmx.zoo.lm;

import ai.djl.ndarray.NDList;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;
import java.util.Objects;

/**
 * The text-generation translator of {@code tiny-lm} ({@code String} → {@code String}): tokenizes
 * the prompt (keeping its last tokens with a warning when it is too long), lets the predictor run
 * the prompt through the model once, then generates token by token over the key/value cache ({@link
 * TextGenerator}) and returns the generated continuation (without the prompt).
 */
public final class TextGenerationTranslator implements NoBatchifyTranslator<String, String> {

  private static final String PROMPT_TOKENS = "tiny-lm.promptTokens";

  private final TextGenerator generator;

  /**
   * Creates the translator.
   *
   * @param generator the generation loop and its settings
   */
  public TextGenerationTranslator(TextGenerator generator) {
    this.generator = Objects.requireNonNull(generator, "generator");
  }

  /**
   * Returns the generator.
   *
   * @return the generator
   */
  public TextGenerator getGenerator() {
    return generator;
  }

  /** {@inheritDoc} */
  @Override
  public NDList processInput(TranslatorContext ctx, String input) {
    int[] ids = generator.encodePrompt(input);
    ctx.setAttachment(PROMPT_TOKENS, ids.length);
    return new NDList(TextGenerator.prefillInput(ctx.getNDManager(), ids));
  }

  /** {@inheritDoc} */
  @Override
  public String processOutput(TranslatorContext ctx, NDList list) {
    int promptTokens = (Integer) ctx.getAttachment(PROMPT_TOKENS);
    return generator.decode(ctx.getBlock(), ctx.getNDManager(), list, promptTokens).text();
  }
}

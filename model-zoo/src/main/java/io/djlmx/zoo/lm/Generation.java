package io.djlmx.zoo.lm;

/**
 * The result of one generation.
 *
 * @param text the generated text (without the prompt; cut before a stop string)
 * @param tokens the generated token ids (a stop string's tokens included, end of text excluded)
 * @param promptTokens how many prompt tokens the model saw (after truncation)
 * @param reason why generation ended
 */
public record Generation(String text, int[] tokens, int promptTokens, StopReason reason) {

  /** Why generation ended. */
  public enum StopReason {
    /** The model produced the end-of-text token. */
    END_OF_TEXT,
    /** The generated text contains a stop string. */
    STOP_STRING,
    /** The token limit ({@link GenerationConfig#maxNewTokens()}) was reached. */
    TOKEN_LIMIT
  }
}

package io.djlmx.zoo.translator;

import ai.djl.ndarray.NDList;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;
import java.util.List;

/** Embeds one sentence: tokenize, encode, pool, L2-normalize. */
public final class SentenceEmbeddingTranslator implements NoBatchifyTranslator<String, float[]> {

  private static final String MASK = "attentionMask";
  private final SentenceBatchCodec codec;

  /**
   * Creates the translator.
   *
   * @param codec the tokenization and pooling
   */
  public SentenceEmbeddingTranslator(SentenceBatchCodec codec) {
    this.codec = codec;
  }

  /** {@inheritDoc} */
  @Override
  public NDList processInput(TranslatorContext ctx, String input) {
    NDList list = codec.encode(ctx.getNDManager(), List.of(input));
    ctx.setAttachment(MASK, list.get(2));
    return list;
  }

  /** {@inheritDoc} */
  @Override
  public float[] processOutput(TranslatorContext ctx, NDList list) {
    return codec.pool(list.get(0), (ai.djl.ndarray.NDArray) ctx.getAttachment(MASK))[0];
  }
}

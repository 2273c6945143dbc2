package io.djlmx.zoo.translator;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;
import java.util.Arrays;

/**
 * Embeds a batch of sentences in one forward pass, padding to the longest and masking the padding.
 */
public final class BatchSentenceEmbeddingTranslator
    implements NoBatchifyTranslator<String[], float[][]> {

  private static final String MASK = "attentionMask";
  private final SentenceBatchCodec codec;

  /**
   * Creates the translator.
   *
   * @param codec the tokenization and pooling
   */
  public BatchSentenceEmbeddingTranslator(SentenceBatchCodec codec) {
    this.codec = codec;
  }

  /** {@inheritDoc} */
  @Override
  public NDList processInput(TranslatorContext ctx, String[] input) {
    NDList list = codec.encode(ctx.getNDManager(), Arrays.asList(input));
    ctx.setAttachment(MASK, list.get(2));
    return list;
  }

  /** {@inheritDoc} */
  @Override
  public float[][] processOutput(TranslatorContext ctx, NDList list) {
    return codec.pool(list.get(0), (NDArray) ctx.getAttachment(MASK));
  }
}

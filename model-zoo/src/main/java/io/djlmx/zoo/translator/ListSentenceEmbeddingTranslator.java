package io.djlmx.zoo.translator;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;
import java.util.Arrays;
import java.util.List;

/** Embeds a list of sentences in one forward pass; the list form of the batch translator. */
public final class ListSentenceEmbeddingTranslator
    implements NoBatchifyTranslator<List<String>, List<float[]>> {

  private static final String MASK = "attentionMask";
  private final SentenceBatchCodec codec;

  /**
   * Creates the translator.
   *
   * @param codec the tokenization and pooling
   */
  public ListSentenceEmbeddingTranslator(SentenceBatchCodec codec) {
    this.codec = codec;
  }

  /** {@inheritDoc} */
  @Override
  public NDList processInput(TranslatorContext ctx, List<String> input) {
    NDList list = codec.encode(ctx.getNDManager(), input);
    ctx.setAttachment(MASK, list.get(2));
    return list;
  }

  /** {@inheritDoc} */
  @Override
  public List<float[]> processOutput(TranslatorContext ctx, NDList list) {
    return Arrays.asList(codec.pool(list.get(0), (NDArray) ctx.getAttachment(MASK)));
  }
}

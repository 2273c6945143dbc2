package io.djlmx.zoo.bert;

/**
 * The shape of a BERT encoder.
 *
 * @param vocabSize the number of token ids
 * @param hiddenSize the width of the hidden states
 * @param numLayers the number of transformer layers
 * @param numHeads the number of attention heads
 * @param intermediateSize the width of the feed-forward layer
 * @param maxPositions the number of learned positions: the longest input in tokens
 * @param typeVocabSize the number of token types (segments)
 * @param layerNormEps the epsilon of every layer normalization
 */
public record BertConfig(
    int vocabSize,
    int hiddenSize,
    int numLayers,
    int numHeads,
    int intermediateSize,
    int maxPositions,
    int typeVocabSize,
    float layerNormEps) {

  /** Checks the shape is consistent. */
  public BertConfig {
    if (vocabSize <= 0
        || hiddenSize <= 0
        || numLayers <= 0
        || numHeads <= 0
        || intermediateSize <= 0
        || maxPositions <= 0
        || typeVocabSize <= 0
        || !(layerNormEps > 0)) {
      throw new IllegalArgumentException(
          "Invalid BERT configuration: "
              + describe(
                  vocabSize,
                  hiddenSize,
                  numLayers,
                  numHeads,
                  intermediateSize,
                  maxPositions,
                  typeVocabSize,
                  layerNormEps));
    }
    if (hiddenSize % numHeads != 0) {
      throw new IllegalArgumentException(
          "hidden size " + hiddenSize + " is not a multiple of the head count " + numHeads);
    }
  }

  /**
   * Returns the width of one attention head.
   *
   * @return {@code hiddenSize / numHeads}
   */
  public int headSize() {
    return hiddenSize / numHeads;
  }

  private static String describe(Object... values) {
    return java.util.Arrays.toString(values);
  }
}

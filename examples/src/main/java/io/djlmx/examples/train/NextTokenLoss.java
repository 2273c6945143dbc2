package io.djlmx.examples.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.training.loss.Loss;
import ai.djl.training.loss.SoftmaxCrossEntropyLoss;

/**
 * Next-token cross-entropy of a language model: the first prediction holds logits {@code [batch,
 * length, vocab]} (further outputs, such as a key/value cache, are ignored), the label holds the
 * next token ids {@code [batch, length]}; the mean over every position.
 */
final class NextTokenLoss extends Loss {

  private final SoftmaxCrossEntropyLoss crossEntropy =
      new SoftmaxCrossEntropyLoss("crossEntropy", 1, -1, true, true);

  NextTokenLoss() {
    super("nextToken");
  }

  /** {@inheritDoc} */
  @Override
  public NDArray evaluate(NDList labels, NDList predictions) {
    NDArray logits = predictions.get(0);
    long vocab = logits.getShape().get(2);
    return crossEntropy.evaluate(
        new NDList(labels.singletonOrThrow().reshape(-1)), new NDList(logits.reshape(-1, vocab)));
  }
}

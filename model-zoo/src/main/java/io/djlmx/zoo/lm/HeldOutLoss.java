package io.djlmx.zoo.lm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;

/**
 * Mean next-token cross-entropy (nats per token) of a language model on a token stream, and its
 * perplexity: the stream is cut into consecutive windows of {@code context + 1} tokens that start
 * every {@code context} tokens; each window predicts its last {@code context} tokens from the ones
 * before, with no context carried between windows.
 *
 * @param meanNll mean negative log-likelihood per predicted token, in nats
 * @param tokens number of predicted tokens
 * @param windowNll the mean negative log-likelihood of each window, in stream order (for paired
 *     comparisons between models on the same windows)
 */
public record HeldOutLoss(double meanNll, long tokens, double[] windowNll) {

  /**
   * Returns the perplexity.
   *
   * @return {@code exp(meanNll)}
   */
  public double perplexity() {
    return Math.exp(meanNll);
  }

  /**
   * Returns the loss in bits per byte (a token is one byte).
   *
   * @return {@code meanNll / ln 2}
   */
  public double bitsPerToken() {
    return meanNll / Math.log(2);
  }

  /**
   * Returns the standard error of the mean difference of this loss from another's over the same
   * windows (paired), in nats.
   *
   * @param other the loss of another model on the same windows
   * @return the standard error of {@code meanNll - other.meanNll}
   * @throws IllegalArgumentException when the window counts differ
   */
  public double pairedStandardError(HeldOutLoss other) {
    int n = windowNll.length;
    if (other.windowNll.length != n) {
      throw new IllegalArgumentException(
          "Paired comparison needs equal windows: " + n + " vs " + other.windowNll.length);
    }
    if (n < 2) {
      return Double.NaN;
    }
    double mean = 0;
    for (int i = 0; i < n; i++) {
      mean += windowNll[i] - other.windowNll[i];
    }
    mean /= n;
    double var = 0;
    for (int i = 0; i < n; i++) {
      double d = windowNll[i] - other.windowNll[i] - mean;
      var += d * d;
    }
    return Math.sqrt(var / (n - 1) / n);
  }

  /**
   * Returns how many windows of a stream are evaluated.
   *
   * @param streamLength tokens in the stream
   * @param context the window's input length
   * @return the number of whole windows
   */
  public static int windows(int streamLength, int context) {
    return streamLength <= context ? 0 : (streamLength - 1) / context;
  }

  /**
   * Evaluates a model block on a token stream.
   *
   * @param block the model ({@link TinyLm}: ids in, logits first out)
   * @param manager the manager inputs are made on (the model's, so its engine runs)
   * @param stream the token ids
   * @param context the window's input length
   * @param maxWindows the most windows evaluated (the first ones)
   * @param batch windows per forward pass
   * @return the loss
   * @throws IllegalArgumentException when the stream is shorter than one window
   */
  public static HeldOutLoss evaluate(
      Block block, NDManager manager, int[] stream, int context, int maxWindows, int batch) {
    int windows = Math.min(maxWindows, windows(stream.length, context));
    if (windows < 1) {
      throw new IllegalArgumentException(
          "A stream of " + stream.length + " tokens holds no window of " + (context + 1));
    }
    double sum = 0;
    long count = 0;
    double[] perWindow = new double[windows];
    ParameterStore ps = new ParameterStore(manager, false);
    for (int first = 0; first < windows; first += batch) {
      int n = Math.min(batch, windows - first);
      long[] ids = new long[n * context];
      for (int w = 0; w < n; w++) {
        int start = (first + w) * context;
        for (int t = 0; t < context; t++) {
          ids[w * context + t] = stream[start + t];
        }
      }
      try (NDManager sub = manager.newSubManager()) {
        NDArray x = sub.create(ids, new Shape(n, context));
        NDList out = block.forward(ps, new NDList(x), false);
        float[] logits = out.get(0).toFloatArray();
        int vocab = (int) out.get(0).getShape().get(2);
        for (int w = 0; w < n; w++) {
          int start = (first + w) * context;
          double windowSum = 0;
          for (int t = 0; t < context; t++) {
            int row = (w * context + t) * vocab;
            windowSum += nll(logits, row, vocab, stream[start + t + 1]);
          }
          perWindow[first + w] = windowSum / context;
          sum += windowSum;
          count += context;
        }
      }
    }
    return new HeldOutLoss(sum / count, count, perWindow);
  }

  /** −log softmax(logits[row..row+vocab))[target], in double. */
  static double nll(float[] logits, int row, int vocab, int target) {
    double max = Double.NEGATIVE_INFINITY;
    for (int i = 0; i < vocab; i++) {
      max = Math.max(max, logits[row + i]);
    }
    double z = 0;
    for (int i = 0; i < vocab; i++) {
      z += Math.exp(logits[row + i] - max);
    }
    return Math.log(z) + max - logits[row + target];
  }
}

package io.djlmx.zoo.lm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import java.util.Arrays;
import java.util.Objects;
import java.util.Random;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Generates text with a {@link TinyLm} and a key/value cache: the prompt runs once (the prefill),
 * then each new token is one forward step of a single position over the cached keys and values.
 * Greedy or sampled per {@link GenerationConfig}; stops at the end-of-text token, a stop string or
 * the token limit. It holds only settings, so one generator may serve several threads; each call's
 * arrays live on the manager passed in.
 */
public final class TextGenerator {

  private static final Logger logger = LoggerFactory.getLogger(TextGenerator.class);

  private final TinyLmConfig model;
  private final ByteTokenizer tokenizer;
  private final GenerationConfig config;

  /**
   * Creates a generator.
   *
   * @param model the model's shape
   * @param tokenizer the tokenizer
   * @param config how to generate
   * @throws IllegalArgumentException when the token limit leaves no room for a prompt
   */
  public TextGenerator(TinyLmConfig model, ByteTokenizer tokenizer, GenerationConfig config) {
    this.model = Objects.requireNonNull(model, "model");
    this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
    this.config = Objects.requireNonNull(config, "config");
    if (config.maxNewTokens() >= model.contextLength()) {
      throw new IllegalArgumentException(
          "Invalid "
              + GenerationConfig.MAX_NEW_TOKENS
              + " "
              + config.maxNewTokens()
              + ": the model attends over "
              + model.contextLength()
              + " positions, so at most "
              + (model.contextLength() - 1)
              + " new tokens fit after a prompt");
    }
  }

  /**
   * Returns the generation settings.
   *
   * @return the configuration
   */
  public GenerationConfig getConfig() {
    return config;
  }

  /**
   * Returns the most prompt tokens kept: the context less the token limit.
   *
   * @return the prompt limit
   */
  public int maxPromptTokens() {
    return model.contextLength() - config.maxNewTokens();
  }

  /**
   * Tokenizes a prompt, keeping its last {@link #maxPromptTokens()} tokens (with a warning) when it
   * is longer.
   *
   * @param prompt the text to continue
   * @return the prompt's token ids
   * @throws IllegalArgumentException when the prompt is null or empty
   */
  public int[] encodePrompt(String prompt) {
    if (prompt == null) {
      throw new IllegalArgumentException("The prompt is null");
    }
    if (prompt.isEmpty()) {
      throw new IllegalArgumentException(
          "The prompt is empty: tiny-lm continues a text and needs at least one character");
    }
    int[] ids = tokenizer.encode(prompt);
    int limit = maxPromptTokens();
    if (ids.length > limit) {
      logger.warn(
          "Prompt of {} tokens truncated to its last {} (context {} less {} {})",
          ids.length,
          limit,
          model.contextLength(),
          GenerationConfig.MAX_NEW_TOKENS,
          config.maxNewTokens());
      ids = Arrays.copyOfRange(ids, ids.length - limit, ids.length);
    }
    return ids;
  }

  /**
   * Generates a continuation of a prompt.
   *
   * @param block the model
   * @param manager where inputs are made (the model's engine); freed arrays are closed
   * @param prompt the text to continue
   * @return the generation
   */
  public Generation generate(Block block, NDManager manager, String prompt) {
    int[] ids = encodePrompt(prompt);
    try (NDManager scope = manager.newSubManager()) {
      NDList prefill =
          block.forward(
              new ParameterStore(scope, false), new NDList(prefillInput(scope, ids)), false);
      return decode(block, scope, prefill, ids.length);
    }
  }

  /**
   * Returns the prefill input: the prompt ids as an INT64 {@code [1, length]} array.
   *
   * @param manager the manager
   * @param ids the prompt ids
   * @return the input
   */
  public static NDArray prefillInput(NDManager manager, int[] ids) {
    long[] l = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      l[i] = ids[i];
    }
    return manager.create(l, new Shape(1, ids.length));
  }

  /**
   * Generates from the model's output on the prompt: logits first, then the cache.
   *
   * @param block the model
   * @param manager where step inputs are made
   * @param prefill the block's output on the prompt
   * @param promptTokens the prompt's length
   * @return the generation
   */
  public Generation decode(Block block, NDManager manager, NDList prefill, int promptTokens) {
    Random random = config.seed() == null ? new Random() : new Random(config.seed());
    ParameterStore ps = new ParameterStore(manager, false);
    float[] logits = lastRow(prefill.get(0));
    NDList cache = prefill.subNDList(1);
    int[] out = new int[config.maxNewTokens()];
    int n = 0;
    Generation.StopReason reason = Generation.StopReason.TOKEN_LIMIT;
    String text = "";
    NDManager previous = null;
    try {
      while (true) {
        int next = config.sample() ? sample(logits, random) : argMax(logits);
        if (next == ByteTokenizer.EOS && !config.ignoreEos()) {
          reason = Generation.StopReason.END_OF_TEXT;
          break;
        }
        out[n++] = next;
        text = tokenizer.decode(out, 0, n);
        int cut = stopAt(text);
        if (cut >= 0) {
          text = text.substring(0, cut);
          reason = Generation.StopReason.STOP_STRING;
          break;
        }
        if (n == config.maxNewTokens()) {
          break;
        }
        // one step: the new token over the cache; the previous step's arrays are then freed
        NDManager step = manager.newSubManager();
        NDList in = new NDList(1 + cache.size());
        in.add(step.create(new long[] {next}, new Shape(1, 1)));
        in.addAll(cache);
        NDList res = block.forward(ps, in, false);
        res.attach(step);
        logits = lastRow(res.get(0));
        cache = res.subNDList(1);
        if (previous != null) {
          previous.close();
        }
        previous = step;
      }
    } finally {
      if (previous != null) {
        previous.close();
      }
    }
    return new Generation(text, Arrays.copyOf(out, n), promptTokens, reason);
  }

  private int stopAt(String text) {
    int best = -1;
    for (String s : config.stop()) {
      int i = text.indexOf(s);
      if (i >= 0 && (best < 0 || i < best)) {
        best = i;
      }
    }
    return best;
  }

  /** The logits of the last position of {@code [1, length, vocab]}. */
  private static float[] lastRow(NDArray logits) {
    long length = logits.getShape().get(1);
    try (NDArray last = logits.get(0).get(length - 1)) {
      return last.toFloatArray();
    }
  }

  /**
   * Returns the index of the largest logit (the first on ties).
   *
   * @param logits the logits
   * @return the likeliest token id
   */
  public static int argMax(float[] logits) {
    int best = 0;
    for (int i = 1; i < logits.length; i++) {
      if (logits[i] > logits[best]) {
        best = i;
      }
    }
    return best;
  }

  /** Draws from softmax(logits / temperature) restricted to the top-k logits. */
  private int sample(float[] logits, Random random) {
    int k = config.topK() == 0 ? logits.length : Math.min(config.topK(), logits.length);
    Integer[] order = new Integer[logits.length];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    // stable sort: equal logits keep id order, so a seed always picks the same token
    Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]));
    double max = logits[order[0]];
    double[] p = new double[k];
    double sum = 0;
    for (int i = 0; i < k; i++) {
      p[i] = Math.exp((logits[order[i]] - max) / config.temperature());
      sum += p[i];
    }
    double r = random.nextDouble() * sum;
    for (int i = 0; i < k; i++) {
      r -= p[i];
      if (r < 0) {
        return order[i];
      }
    }
    return order[k - 1];
  }
}

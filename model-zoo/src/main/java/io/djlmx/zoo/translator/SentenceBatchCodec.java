package io.djlmx.zoo.translator;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.djlmx.zoo.bert.HostMask;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns sentences into a padded encoder batch, and the encoder's hidden states into pooled,
 * L2-normalized sentence embeddings. Shared by the sentence-embedding translators.
 */
public final class SentenceBatchCodec {

  private static final Logger logger = LoggerFactory.getLogger(SentenceBatchCodec.class);

  private final HuggingFaceTokenizer tokenizer;
  private final Pooling pooling;
  private final int maxTokens;
  private final String prefix;

  /**
   * Creates a codec.
   *
   * @param tokenizer a tokenizer that truncates to {@code maxTokens} and does not pad
   * @param pooling the pooling
   * @param maxTokens the model's input limit in tokens (special tokens included)
   * @param prefix text put before every sentence (e.g. {@code "query: "} for e5), or empty
   */
  public SentenceBatchCodec(
      HuggingFaceTokenizer tokenizer, Pooling pooling, int maxTokens, String prefix) {
    this.tokenizer = tokenizer;
    this.pooling = pooling;
    this.maxTokens = maxTokens;
    this.prefix = prefix == null ? "" : prefix;
  }

  /**
   * Returns the pooling used.
   *
   * @return the pooling
   */
  public Pooling getPooling() {
    return pooling;
  }

  /**
   * Tokenizes sentences into {@code inputIds, tokenTypeIds, attentionMask}, each {@code [batch,
   * longest]} INT64, padded with id 0 and mask 0. Sentences longer than the model's limit are
   * truncated with a warning.
   *
   * @param manager the manager to create the arrays on
   * @param sentences the sentences (at least one)
   * @return the encoder input
   */
  public NDList encode(NDManager manager, List<String> sentences) {
    if (sentences.isEmpty()) {
      throw new IllegalArgumentException("No sentences to embed");
    }
    Encoding[] enc = new Encoding[sentences.size()];
    int longest = 1;
    for (int i = 0; i < enc.length; i++) {
      String s = sentences.get(i);
      if (s == null) {
        throw new IllegalArgumentException("Sentence " + i + " is null");
      }
      enc[i] = tokenizer.encode(prefix + s);
      if (enc[i].exceedMaxLength()) {
        logger.warn(
            "Sentence {} ({} characters) exceeds the model's limit of {} tokens: truncated",
            i,
            s.length(),
            maxTokens);
      }
      longest = Math.max(longest, enc[i].getIds().length);
    }
    int b = enc.length;
    long[] ids = new long[b * longest];
    long[] types = new long[b * longest];
    long[] mask = new long[b * longest];
    for (int i = 0; i < b; i++) {
      long[] e = enc[i].getIds();
      long[] t = enc[i].getTypeIds();
      long[] m = enc[i].getAttentionMask();
      System.arraycopy(e, 0, ids, i * longest, e.length);
      System.arraycopy(t, 0, types, i * longest, t.length);
      System.arraycopy(m, 0, mask, i * longest, m.length);
    }
    Shape shape = new Shape(b, longest);
    return new NDList(
        manager.create(ids, shape),
        manager.create(types, shape),
        HostMask.create(manager, mask, shape));
  }

  /**
   * Pools hidden states into unit-length sentence embeddings.
   *
   * @param hidden the encoder's last hidden states {@code [batch, seq, hidden]}
   * @param attentionMask the mask given to the encoder {@code [batch, seq]}
   * @return one embedding per sentence
   */
  public float[][] pool(NDArray hidden, NDArray attentionMask) {
    return pool(hidden, attentionMask, pooling);
  }

  /**
   * Pools hidden states into unit-length sentence embeddings with NDArray ops (on the device that
   * holds {@code hidden}); only the pooled {@code [batch, hidden]} values come to the host.
   *
   * @param hidden the encoder's last hidden states {@code [batch, seq, hidden]}
   * @param attentionMask the mask given to the encoder {@code [batch, seq]}
   * @param pooling the pooling
   * @return one embedding per sentence
   */
  public static float[][] pool(NDArray hidden, NDArray attentionMask, Pooling pooling) {
    NDArray pooled;
    if (pooling == Pooling.CLS) {
      pooled = hidden.get(":, 0, :");
    } else {
      NDArray m = attentionMask.toType(DataType.FLOAT32, false).expandDims(-1);
      pooled = hidden.mul(m).sum(new int[] {1}).div(m.sum(new int[] {1}).maximum(1e-9f));
    }
    NDArray norm = pooled.norm(new int[] {1}, true).maximum(1e-12f);
    float[] flat = pooled.div(norm).toFloatArray();
    int b = (int) hidden.getShape().get(0);
    int h = (int) hidden.getShape().get(2);
    float[][] out = new float[b][h];
    for (int i = 0; i < b; i++) {
      System.arraycopy(flat, i * h, out[i], 0, h);
    }
    return out;
  }
}

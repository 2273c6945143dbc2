package io.djlmx.zoo.bert;

import io.djlmx.zoo.onnx.NamedTensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A BERT encoder's configuration and FP32 weights under the Hugging Face parameter names; linear
 * weights are {@code [out, in]}.
 */
public final class BertWeights {

  private final BertConfig config;
  private final Map<String, NamedTensor> tensors;

  /**
   * Creates the weights, checking every expected parameter is present with the right shape.
   *
   * @param config the encoder's shape
   * @param tensors the weights by parameter name
   */
  public BertWeights(BertConfig config, Map<String, NamedTensor> tensors) {
    this.config = config;
    this.tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
    for (Map.Entry<String, long[]> e : expectedShapes(config).entrySet()) {
      NamedTensor t = tensors.get(e.getKey());
      if (t == null) {
        throw new IllegalArgumentException("BERT parameter '" + e.getKey() + "' is missing");
      }
      if (!Arrays.equals(t.shape(), e.getValue())) {
        throw new IllegalArgumentException(
            "BERT parameter '"
                + e.getKey()
                + "' has shape "
                + Arrays.toString(t.shape())
                + ", expected "
                + Arrays.toString(e.getValue()));
      }
    }
  }

  /**
   * Returns the encoder's shape.
   *
   * @return the configuration
   */
  public BertConfig config() {
    return config;
  }

  /**
   * Returns the weights by parameter name.
   *
   * @return an unmodifiable map
   */
  public Map<String, NamedTensor> tensors() {
    return tensors;
  }

  /**
   * Returns one weight.
   *
   * @param name the parameter name
   * @return the tensor
   * @throws IllegalArgumentException if there is none of that name
   */
  public NamedTensor get(String name) {
    NamedTensor t = tensors.get(name);
    if (t == null) {
      throw new IllegalArgumentException("No BERT parameter '" + name + "'");
    }
    return t;
  }

  /**
   * Returns the names of every parameter a BERT encoder of this shape needs.
   *
   * @param c the configuration
   * @return the names, embeddings first, then layer by layer
   */
  public static List<String> expectedNames(BertConfig c) {
    return new ArrayList<>(expectedShapes(c).keySet());
  }

  /**
   * Returns whether a parameter is a linear projection's weight (the ones MX quantizes).
   *
   * @param name the parameter name
   * @return true for {@code encoder.layer.N.*.{query,key,value,dense}.weight}
   */
  public static boolean isLinearWeight(String name) {
    return name.startsWith("encoder.layer.")
        && name.endsWith(".weight")
        && !name.contains("LayerNorm");
  }

  /**
   * Returns the shape of every parameter a BERT encoder of this shape needs, by name.
   *
   * @param c the configuration
   * @return the shapes, embeddings first, then layer by layer
   */
  public static Map<String, long[]> expectedShapes(BertConfig c) {
    long h = c.hiddenSize();
    long f = c.intermediateSize();
    Map<String, long[]> m = new LinkedHashMap<>();
    m.put("embeddings.word_embeddings.weight", new long[] {c.vocabSize(), h});
    m.put("embeddings.position_embeddings.weight", new long[] {c.maxPositions(), h});
    m.put("embeddings.token_type_embeddings.weight", new long[] {c.typeVocabSize(), h});
    m.put("embeddings.LayerNorm.weight", new long[] {h});
    m.put("embeddings.LayerNorm.bias", new long[] {h});
    for (int i = 0; i < c.numLayers(); i++) {
      String p = "encoder.layer." + i + ".";
      for (String proj :
          new String[] {"attention.self.query", "attention.self.key", "attention.self.value"}) {
        m.put(p + proj + ".weight", new long[] {h, h});
        m.put(p + proj + ".bias", new long[] {h});
      }
      m.put(p + "attention.output.dense.weight", new long[] {h, h});
      m.put(p + "attention.output.dense.bias", new long[] {h});
      m.put(p + "attention.output.LayerNorm.weight", new long[] {h});
      m.put(p + "attention.output.LayerNorm.bias", new long[] {h});
      m.put(p + "intermediate.dense.weight", new long[] {f, h});
      m.put(p + "intermediate.dense.bias", new long[] {f});
      m.put(p + "output.dense.weight", new long[] {h, f});
      m.put(p + "output.dense.bias", new long[] {h});
      m.put(p + "output.LayerNorm.weight", new long[] {h});
      m.put(p + "output.LayerNorm.bias", new long[] {h});
    }
    return m;
  }
}

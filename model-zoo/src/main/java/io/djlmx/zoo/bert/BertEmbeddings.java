package io.djlmx.zoo.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.Map;

/** BERT's input embeddings: word + position + token type, then layer normalization. */
public final class BertEmbeddings extends AbstractBlock {

  private final Parameter word;
  private final Parameter position;
  private final Parameter tokenType;
  private final BertLayerNorm norm;
  private final BertConfig config;

  /**
   * Creates the embeddings of an encoder.
   *
   * @param config the encoder's shape
   */
  public BertEmbeddings(BertConfig config) {
    this.config = config;
    word = addParameter(weight("word_embeddings"));
    position = addParameter(weight("position_embeddings"));
    tokenType = addParameter(weight("token_type_embeddings"));
    norm =
        addChildBlock("LayerNorm", new BertLayerNorm(config.hiddenSize(), config.layerNormEps()));
  }

  private static Parameter weight(String name) {
    return Parameter.builder().setName(name).setType(Parameter.Type.WEIGHT).build();
  }

  void collectParameters(String prefix, Map<String, Parameter> out) {
    out.put(prefix + "word_embeddings.weight", word);
    out.put(prefix + "position_embeddings.weight", position);
    out.put(prefix + "token_type_embeddings.weight", tokenType);
    out.put(prefix + "LayerNorm.weight", norm.getParameters().get("weight"));
    out.put(prefix + "LayerNorm.bias", norm.getParameters().get("bias"));
  }

  /**
   * Embeds token ids.
   *
   * @param ps the parameter store
   * @param inputs {@code inputIds [batch, seq]} and {@code tokenTypeIds [batch, seq]}, INT64
   * @param training whether training
   * @param params unused
   * @return the embeddings {@code [batch, seq, hidden]}
   */
  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    NDArray ids = inputs.get(0);
    NDArray types = inputs.get(1);
    long seq = ids.getShape().get(1);
    if (seq > config.maxPositions()) {
      throw new IllegalArgumentException(
          "Input of " + seq + " tokens exceeds the model's limit of " + config.maxPositions());
    }
    NDArray positions = ids.getManager().arange(0, (int) seq, 1, DataType.INT64).expandDims(0);
    var dev = ids.getDevice();
    NDArray x = lookup(ids, ps.getValue(word, dev, training));
    x = x.addi(lookup(types, ps.getValue(tokenType, dev, training)));
    x = x.addi(lookup(positions, ps.getValue(position, dev, training)));
    return norm.forward(ps, new NDList(x), training);
  }

  private static NDArray lookup(NDArray ids, NDArray table) {
    return ids.getNDArrayInternal().embedding(ids, table, SparseFormat.DENSE).singletonOrThrow();
  }

  /** {@inheritDoc} */
  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    return new Shape[] {inputShapes[0].add(config.hiddenSize())};
  }
}

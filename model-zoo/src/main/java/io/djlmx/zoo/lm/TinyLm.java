package io.djlmx.zoo.lm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;
import io.djlmx.zoo.bert.ActivationQuantizer;
import io.djlmx.zoo.bert.BertLayerNorm;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The zoo's small decoder-only (GPT-style) language model: token and learned position embeddings,
 * {@link TinyLmConfig#layers()} pre-LN {@link DecoderLayer}s, a final layer normalization and a
 * {@link Linear} head to one logit per token id.
 *
 * <p>Inputs: token ids {@code [batch, newLength]} (INT64), optionally followed by a cache: the keys
 * and values of each layer in order ({@code k0, v0, k1, v1, ...}, each {@code [batch, heads,
 * pastLength, headSize]}). Outputs: logits {@code [batch, newLength, vocabSize]} followed by the
 * cache for every position so far. Without a cache the ids are the positions {@code 0..newLength-1}
 * with causal attention; with one, the new ids continue after the cached positions, so generating
 * one token costs one step over the cache instead of a run over the whole prefix.
 */
public final class TinyLm extends AbstractBlock {

  private final TinyLmConfig config;
  private final Parameter tokenEmbedding;
  private final Parameter positionEmbedding;
  private final List<DecoderLayer> layers;
  private final BertLayerNorm finalNorm;
  private final Linear head;
  private final ActivationQuantizer activations;

  /**
   * Creates a model with the reference FP32 attention and no activation rounding (training).
   *
   * @param config the shape
   */
  public TinyLm(TinyLmConfig config) {
    this(config, new ReferenceCausalAttention(), ActivationQuantizer.NONE);
  }

  /**
   * Creates a model.
   *
   * @param config the shape
   * @param core the attention core of every layer
   * @param activations the rounding of linear inputs (an emulation for engines without MX)
   */
  public TinyLm(TinyLmConfig config, CausalAttention core, ActivationQuantizer activations) {
    this.config = config;
    this.activations = activations;
    tokenEmbedding = addParameter(embedding("tokenEmbedding"));
    positionEmbedding = addParameter(embedding("positionEmbedding"));
    List<DecoderLayer> list = new ArrayList<>();
    for (int i = 0; i < config.layers(); i++) {
      list.add(addChildBlock("layer" + i, new DecoderLayer(config, core, activations)));
    }
    layers = Collections.unmodifiableList(list);
    finalNorm = addChildBlock("lnFinal", new BertLayerNorm(config.width(), config.layerNormEps()));
    head =
        addChildBlock("head", Linear.builder().setUnits(config.vocabSize()).optBias(false).build());
  }

  private static Parameter embedding(String name) {
    return Parameter.builder()
        .setName(name)
        .setType(Parameter.Type.WEIGHT)
        .optInitializer(new NormalInitializer(0.02f))
        .build();
  }

  /**
   * Returns the model's shape.
   *
   * @return the configuration
   */
  public TinyLmConfig getConfig() {
    return config;
  }

  /**
   * Replaces the attention core of every layer.
   *
   * @param core the new core
   */
  public void setAttentionCore(CausalAttention core) {
    for (DecoderLayer layer : layers) {
      layer.getAttention().setAttentionCore(core);
    }
  }

  /**
   * Returns the attention core of the first layer (all layers share one kind).
   *
   * @return the core
   */
  public CausalAttention getAttentionCore() {
    return layers.get(0).getAttention().getAttentionCore();
  }

  /** {@inheritDoc} */
  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    NDArray ids = inputs.get(0);
    if (ids.getShape().dimension() != 2) {
      throw new IllegalArgumentException(
          "tiny-lm takes token ids [batch, length], got shape " + ids.getShape());
    }
    int cached = inputs.size() - 1;
    if (cached != 0 && cached != 2 * config.layers()) {
      throw new IllegalArgumentException(
          "tiny-lm takes token ids and optionally a cache of "
              + 2 * config.layers()
              + " arrays (keys and values of each layer); got "
              + cached);
    }
    long newLength = ids.getShape().get(1);
    long pastLength = cached == 0 ? 0 : inputs.get(1).getShape().get(2);
    if (newLength < 1 || pastLength + newLength > config.contextLength()) {
      throw new IllegalArgumentException(
          "tiny-lm attends over at most "
              + config.contextLength()
              + " positions; got "
              + pastLength
              + " cached + "
              + newLength
              + " new");
    }
    var device = ids.getDevice();
    NDArray positions =
        ids.getManager()
            .arange(pastLength, pastLength + newLength, 1, DataType.INT64)
            .expandDims(0);
    NDArray x =
        lookup(ids, ps.getValue(tokenEmbedding, device, training))
            .add(lookup(positions, ps.getValue(positionEmbedding, device, training)));
    NDList cache = new NDList(2 * config.layers());
    for (int i = 0; i < layers.size(); i++) {
      NDList layerIn =
          cached == 0 ? new NDList(x) : new NDList(x, inputs.get(1 + 2 * i), inputs.get(2 + 2 * i));
      NDList out = layers.get(i).forward(ps, layerIn, training);
      x = out.get(0);
      cache.add(out.get(1));
      cache.add(out.get(2));
    }
    x = finalNorm.forward(ps, new NDList(x), training).singletonOrThrow();
    NDArray logits =
        head.forward(ps, new NDList(activations.apply(x)), training).singletonOrThrow();
    NDList result = new NDList(1 + cache.size());
    result.add(logits);
    result.addAll(cache);
    return result;
  }

  private static NDArray lookup(NDArray ids, NDArray table) {
    return ids.getNDArrayInternal().embedding(ids, table, SparseFormat.DENSE).singletonOrThrow();
  }

  /** {@inheritDoc} */
  @Override
  protected void prepare(Shape[] inputShapes) {
    tokenEmbedding.setShape(new Shape(config.vocabSize(), config.width()));
    positionEmbedding.setShape(new Shape(config.contextLength(), config.width()));
  }

  /** {@inheritDoc} */
  @Override
  protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
    Shape ids = inputShapes[0];
    Shape x = new Shape(ids.get(0), ids.get(1), config.width());
    for (DecoderLayer layer : layers) {
      layer.initialize(manager, dataType, x);
    }
    finalNorm.initialize(manager, dataType, x);
    head.initialize(manager, dataType, x);
  }

  /** {@inheritDoc} */
  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    Shape ids = inputShapes[0];
    long past = inputShapes.length > 1 ? inputShapes[1].get(2) : 0;
    Shape kv = new Shape(ids.get(0), config.heads(), past + ids.get(1), config.headSize());
    Shape[] out = new Shape[1 + 2 * config.layers()];
    out[0] = new Shape(ids.get(0), ids.get(1), config.vocabSize());
    for (int i = 1; i < out.length; i++) {
      out[i] = kv;
    }
    return out;
  }
}

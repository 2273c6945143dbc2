package io.djlmx.zoo.bert;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import io.djlmx.zoo.onnx.NamedTensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A BERT encoder as DJL blocks: embeddings and a stack of {@link BertLayer}s. Every projection is a
 * {@link Linear}, so an engine that overrides {@code linear} (the MX engine) runs it.
 *
 * <p>Input: {@code inputIds}, {@code tokenTypeIds}, {@code attentionMask}, each {@code [batch,
 * seq]} INT64. Output: the last hidden states {@code [batch, seq, hidden]}; in inference on a
 * padded batch they are zero at padded positions (see {@link #setTokenPacking}).
 */
public final class BertEncoder extends AbstractBlock {

  /** What HF adds to the scores of masked keys: the most negative FP32 value. */
  private static final float MASKED = -Float.MAX_VALUE;

  private final BertConfig config;
  private final BertEmbeddings embeddings;
  private final List<BertLayer> layers = new ArrayList<>();
  private boolean tokenPacking = true;
  private boolean deviceTokenPacking = true;

  /**
   * Creates an encoder with the reference attention core and FP32 activations.
   *
   * @param config the encoder's shape
   */
  public BertEncoder(BertConfig config) {
    this(config, new SoftmaxAttentionCore(), ActivationQuantizer.NONE);
  }

  /**
   * Creates an encoder.
   *
   * @param config the encoder's shape
   * @param core the attention core of every layer
   * @param activations the rounding of projection inputs ({@link ActivationQuantizer#NONE} for
   *     FP32)
   */
  public BertEncoder(BertConfig config, AttentionCore core, ActivationQuantizer activations) {
    this.config = config;
    embeddings = addChildBlock("embeddings", new BertEmbeddings(config));
    for (int i = 0; i < config.numLayers(); i++) {
      layers.add(addChildBlock("layer" + i, new BertLayer(config, core, activations)));
    }
  }

  /**
   * Returns the encoder's shape.
   *
   * @return the configuration
   */
  public BertConfig getConfig() {
    return config;
  }

  /**
   * Returns the transformer layers.
   *
   * @return an unmodifiable list
   */
  public List<BertLayer> getLayers() {
    return Collections.unmodifiableList(layers);
  }

  /**
   * Replaces the attention core of every layer.
   *
   * @param core the new core
   */
  public void setAttentionCore(AttentionCore core) {
    for (BertLayer l : layers) {
      l.getAttention().setAttentionCore(core);
    }
  }

  /**
   * Sets whether inference on a padded batch runs the per-token work on the real tokens only
   * (default true): the projections, feed-forward layers and layer norms skip the padding, and the
   * output is zero at padded positions. False runs every position, padding included, as training
   * always does; the real tokens' outputs are the same up to float rounding (and, with MX
   * attention, up to its quantization, whose statistics then include the padding).
   *
   * @param tokenPacking whether to pack the real tokens
   */
  public void setTokenPacking(boolean tokenPacking) {
    this.tokenPacking = tokenPacking;
  }

  /**
   * Sets whether token packing ({@link #setTokenPacking}) also applies to arrays off the CPU
   * (default true). On a GPU the packing needs the mask on the host: the zoo's translators make it
   * with {@link HostMask}, which keeps its host values, other masks are read back (a
   * synchronisation). It adds gathers; the attention then runs on the packed rows where the engine
   * has such a kernel (the MX engine's {@code MxFusedOps.attentionPacked}). It cut the GPU time of
   * a real MiniLM batch of 32 by a quarter on an H100 (docs/bench/gpufuse.md).
   *
   * @param deviceTokenPacking whether GPU (and other non-CPU) batches are packed too
   */
  public void setDeviceTokenPacking(boolean deviceTokenPacking) {
    this.deviceTokenPacking = deviceTokenPacking;
  }

  /**
   * Returns every parameter under its Hugging Face name.
   *
   * @return the parameters, in {@link BertWeights#expectedNames} order
   */
  public Map<String, Parameter> parametersByName() {
    Map<String, Parameter> out = new LinkedHashMap<>();
    embeddings.collectParameters("embeddings.", out);
    for (int i = 0; i < layers.size(); i++) {
      layers.get(i).collectParameters("encoder.layer." + i + ".", out);
    }
    return out;
  }

  /**
   * Sets every parameter from imported weights, creating the arrays on a manager.
   *
   * @param weights the weights (their configuration must equal this encoder's)
   * @param manager the manager that owns the arrays
   */
  public void setWeights(BertWeights weights, NDManager manager) {
    if (!weights.config().equals(config)) {
      throw new IllegalArgumentException(
          "Weights are for " + weights.config() + ", the encoder is " + config);
    }
    for (Map.Entry<String, Parameter> e : parametersByName().entrySet()) {
      NamedTensor t = weights.get(e.getKey());
      NDArray a = manager.create(t.data(), new Shape(t.shape()));
      e.getValue().setArray(a);
    }
  }

  static void collectLinear(String prefix, Linear linear, Map<String, Parameter> out) {
    out.put(prefix + "weight", linear.getParameters().get("weight"));
    out.put(prefix + "bias", linear.getParameters().get("bias"));
  }

  static void collectNorm(String prefix, BertLayerNorm norm, Map<String, Parameter> out) {
    out.put(prefix + "weight", norm.getParameters().get("weight"));
    out.put(prefix + "bias", norm.getParameters().get("bias"));
  }

  /** {@inheritDoc} */
  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    if (inputs.size() != 3) {
      throw new IllegalArgumentException(
          "BertEncoder expects inputIds, tokenTypeIds, attentionMask; got " + inputs.size());
    }
    NDArray mask = inputs.get(2);
    // [batch, seq] 1/0 -> additive [batch, 1, 1, seq]: 0 for tokens, MASKED for padding
    NDArray maskBias =
        mask.toType(DataType.FLOAT32, false)
            .neg()
            .addi(1f)
            .muli(MASKED)
            .expandDims(1)
            .expandDims(1);
    NDArray x =
        embeddings
            .forward(ps, new NDList(inputs.get(0), inputs.get(1)), training)
            .singletonOrThrow();
    // Inference skips the padding in everything but attention (a padded batch of real sentences
    // is half padding or more); training keeps the plain layout.
    boolean onCpu =
        Device.Type.CPU.equals(mask.getDevice().getDeviceType())
            && Device.Type.CPU.equals(x.getDevice().getDeviceType());
    TokenPacking packing =
        training || !tokenPacking || !(onCpu || deviceTokenPacking)
            ? null
            : TokenPacking.of(mask, x.getManager());
    if (packing == null) {
      for (BertLayer layer : layers) {
        x = layer.forward(ps, new NDList(x, maskBias), training).singletonOrThrow();
      }
      return new NDList(x);
    }
    NDArray h = packing.pack(x);
    for (BertLayer layer : layers) {
      h = layer.forwardPacked(ps, h, maskBias, packing);
    }
    return new NDList(packing.unpack(h));
  }

  /** {@inheritDoc} */
  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    return new Shape[] {inputShapes[0].add(config.hiddenSize())};
  }
}

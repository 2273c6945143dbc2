package io.djlmx.examples;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.TranslateException;
import ai.djl.util.Pair;
import io.djlmx.engine.MxConfig;
import io.djlmx.engine.MxMemoryReport;
import io.djlmx.engine.MxModel;
import io.djlmx.format.MxFormat;
import io.djlmx.zoo.MxModelZoo;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A zoo sentence encoder loaded through {@link Criteria} on one engine in one weight format, with
 * the numbers the demo and examples report: load time, weight memory and embedding throughput.
 */
public final class ZooEncoder implements AutoCloseable {

  /** The zoo artifact the demo uses. */
  public static final String MINILM = "all-MiniLM-L6-v2";

  private final String label;
  private final ZooModel<String[], float[][]> model;
  private final Predictor<String[], float[][]> predictor;
  private final long loadNanos;

  private ZooEncoder(String label, ZooModel<String[], float[][]> model, long loadNanos) {
    this.label = label;
    this.model = model;
    this.predictor = model.newPredictor();
    this.loadNanos = loadNanos;
  }

  /**
   * Loads a zoo encoder.
   *
   * @param artifactId the zoo artifact, e.g. {@link #MINILM}
   * @param engine the engine name: {@code "MX"} or {@code "PyTorch"}
   * @param weights the weight format name: an {@link MxFormat} or {@code FP32}
   * @param cacheDir where the zoo caches converted checkpoints, or null for its default
   * @return the loaded encoder
   * @throws IOException if the model files are missing or corrupt
   * @throws ModelNotFoundException if the zoo has no such artifact
   */
  public static ZooEncoder load(String artifactId, String engine, String weights, Path cacheDir)
      throws IOException, ModelNotFoundException {
    Criteria.Builder<String[], float[][]> builder =
        Criteria.builder()
            .setTypes(String[].class, float[][].class)
            .optGroupId(MxModelZoo.GROUP_ID)
            .optArtifactId(artifactId)
            .optEngine(engine)
            .optOption(MxConfig.WEIGHTS, weights)
            .optProgress(null);
    if (cacheDir != null) {
      builder.optOption("mx.zoo.cache", cacheDir.toString());
    }
    long start = System.nanoTime();
    ZooModel<String[], float[][]> model;
    try {
      model = builder.build().loadModel();
    } catch (ai.djl.MalformedModelException e) {
      throw new IOException("Cannot load " + artifactId + " in " + weights + ": " + e, e);
    }
    try {
      if (model.getWrappedModel() instanceof MxModel mx) {
        mx.getMemoryReport(); // packs every linear weight now, not during the first query
      }
      return new ZooEncoder(weights + " (" + engine + ")", model, System.nanoTime() - start);
    } catch (RuntimeException e) {
      model.close();
      throw e;
    }
  }

  /**
   * Returns what this encoder is, e.g. {@code "MXFP6_E2M3 (MX)"}.
   *
   * @return the label
   */
  public String label() {
    return label;
  }

  /**
   * Returns the loaded model.
   *
   * @return the zoo model
   */
  public ZooModel<String[], float[][]> model() {
    return model;
  }

  /**
   * Returns how long loading took (first use includes converting and caching the checkpoint).
   *
   * @return nanoseconds
   */
  public long loadNanos() {
    return loadNanos;
  }

  /**
   * Embeds sentences in batches.
   *
   * @param texts the sentences
   * @param batchSize sentences per forward pass
   * @return one L2-normalized embedding per sentence
   * @throws TranslateException if the model fails
   */
  public float[][] embed(List<String> texts, int batchSize) throws TranslateException {
    if (batchSize <= 0) {
      throw new IllegalArgumentException("Batch size must be positive, got " + batchSize);
    }
    float[][] out = new float[texts.size()][];
    for (int i = 0; i < texts.size(); i += batchSize) {
      List<String> batch = texts.subList(i, Math.min(texts.size(), i + batchSize));
      float[][] e = predictor.predict(batch.toArray(String[]::new));
      System.arraycopy(e, 0, out, i, e.length);
    }
    return out;
  }

  /**
   * Embeds one sentence.
   *
   * @param text the sentence
   * @return its L2-normalized embedding
   * @throws TranslateException if the model fails
   */
  public float[] embed(String text) throws TranslateException {
    return predictor.predict(new String[] {text})[0];
  }

  /**
   * Returns the memory of the model's weights: the linear weights as the engine holds them (MX
   * packed on the MX engine) and everything else (embeddings, norms, biases: FP32).
   *
   * @return the weight memory
   */
  public WeightMemory weightMemory() {
    return weightMemory(model.getWrappedModel());
  }

  /**
   * Measures the weight memory of any DJL model.
   *
   * @param model a loaded model
   * @return its weight memory
   */
  public static WeightMemory weightMemory(Model model) {
    List<Long> linear = new ArrayList<>();
    long[] other = new long[1];
    walk(model.getBlock(), linear, other);
    long linearFp32 = linear.stream().mapToLong(Long::longValue).sum();
    long linearHeld = linearFp32;
    if (model instanceof MxModel mx && !mx.isEmulation()) {
      MxMemoryReport r = mx.getMemoryReport();
      linearHeld = r.mxBytes() + (linearFp32 - r.fp32Bytes()); // excluded weights stay FP32
    }
    return new WeightMemory(linearHeld, linearFp32, other[0]);
  }

  private static void walk(Block block, List<Long> linear, long[] other) {
    for (Pair<String, Parameter> p : block.getDirectParameters()) {
      Parameter param = p.getValue();
      if (!param.isInitialized()) {
        continue;
      }
      NDArray a = param.getArray();
      long bytes = a.getShape().size() * a.getDataType().getNumOfBytes();
      if (block instanceof Linear && param.getType() == Parameter.Type.WEIGHT) {
        linear.add(bytes);
      } else {
        other[0] += bytes;
      }
    }
    for (Pair<String, Block> child : block.getChildren()) {
      walk(child.getValue(), linear, other);
    }
  }

  /** {@inheritDoc} */
  @Override
  public void close() {
    predictor.close();
    model.close();
  }

  /**
   * Weight memory of a model.
   *
   * @param linearBytes the bytes of the linear weights as held for compute (MX-packed on MX)
   * @param linearFp32Bytes the bytes the same weights take in FP32
   * @param otherBytes the bytes of every other parameter (FP32)
   */
  public record WeightMemory(long linearBytes, long linearFp32Bytes, long otherBytes) {

    /**
     * Returns the bytes of all weights as held for compute.
     *
     * @return linear plus other bytes
     */
    public long totalBytes() {
      return linearBytes + otherBytes;
    }

    /**
     * Returns the bits per element of the linear weights.
     *
     * @return 32 for FP32, e.g. 6.25 for MXFP6 (more when a kernel layout adds padding)
     */
    public double linearBitsPerElement() {
      return linearFp32Bytes == 0 ? 0 : 32.0 * linearBytes / linearFp32Bytes;
    }
  }
}

package io.djlmx.checkpoint;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.util.Pair;
import ai.djl.util.Progress;
import io.djlmx.format.MxFormat;
import io.djlmx.format.ScaleMode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.StringJoiner;
import java.util.function.Supplier;

/**
 * Converts a DJL block model ({@code .params}) into a {@link ModelCheckpoint}: every {@link Linear}
 * weight packed in an MX format, every other parameter kept in FP32, and the block factory and
 * input shapes recorded so that the MX engine can rebuild the model from the checkpoint alone.
 *
 * <p>A {@code .params} file is not self-describing: it needs its block. Name the block with {@link
 * Builder#optBlockFactory} (an {@code ai.djl.nn.BlockFactory} class, as DJL serving does; recorded
 * in the checkpoint) or give it with {@link Builder#optBlock} (then pass the block again at load).
 */
public final class ParamsConverter {

  private final Path modelPath;
  private final String modelName;
  private final Supplier<Block> block;
  private final String blockFactory;
  private final Map<String, String> arguments;
  private final MxFormat format;
  private final ScaleMode scale;
  private final Progress progress;

  private ParamsConverter(Builder b) {
    modelPath = b.modelPath;
    modelName = b.modelName;
    block = b.block;
    blockFactory = b.blockFactory;
    arguments = b.arguments;
    format = b.format;
    scale = b.scale;
    progress = b.progress;
  }

  /**
   * Returns a builder.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Loads the model on PyTorch and converts its parameters.
   *
   * @return the checkpoint; the caller closes it
   * @throws IOException when the model files cannot be read
   * @throws MalformedModelException when the {@code .params} file does not fit the block
   * @throws IllegalArgumentException when the block factory is missing, or a weight holds NaN or
   *     infinity (naming the parameter, row and block)
   */
  public ModelCheckpoint convert() throws IOException, MalformedModelException {
    Path dir = Files.isDirectory(modelPath) ? modelPath : modelPath.toAbsolutePath().getParent();
    String name = modelName;
    if (name == null) {
      name =
          Files.isDirectory(modelPath)
              ? modelPath.toAbsolutePath().normalize().getFileName().toString()
              : paramsPrefix();
    }
    try (Model pt = Model.newInstance(name, Device.cpu(), "PyTorch")) {
      Block b =
          block != null ? block.get() : BlockFactories.newBlock(blockFactory, pt, dir, arguments);
      pt.setBlock(b);
      Map<String, Object> options = new LinkedHashMap<>();
      if (!Files.isDirectory(modelPath)) {
        options.put("epoch", epochOf(modelPath));
      }
      try {
        pt.load(dir, name, options);
      } catch (IllegalStateException | IllegalArgumentException e) {
        throw new MalformedModelException(
            "The parameters in " + modelPath + " do not fit the block: " + e.getMessage(), e);
      }
      checkBlockBuildsTheseShapes(pt, b, dir);
      return toCheckpoint(b, name);
    }
  }

  /**
   * DJL's loader takes a layer's size from the file, so a block that disagrees with the file loads
   * without complaint; the block made at load from the recorded factory would not. Build a fresh
   * block, initialize it with the recorded input shapes, and compare every parameter's shape.
   */
  private void checkBlockBuildsTheseShapes(Model pt, Block loaded, Path dir)
      throws IOException, MalformedModelException {
    Block fresh =
        block != null ? block.get() : BlockFactories.newBlock(blockFactory, pt, dir, arguments);
    try (ai.djl.ndarray.NDManager m = pt.getNDManager().newSubManager()) {
      try {
        fresh.initialize(m, DataType.FLOAT32, loaded.getInputShapes());
      } catch (RuntimeException e) {
        throw new MalformedModelException(
            "The block cannot be built for the input shapes "
                + formatShapes(loaded.getInputShapes())
                + " recorded in "
                + modelPath
                + ": "
                + e.getMessage(),
            e);
      }
      var built = fresh.getParameters();
      for (Pair<String, Parameter> p : loaded.getParameters()) {
        Parameter f = built.get(p.getKey());
        Shape inFile = p.getValue().getArray().getShape();
        Shape made = f == null ? null : f.getArray().getShape();
        if (!inFile.equals(made)) {
          throw new MalformedModelException(
              "Parameter "
                  + p.getKey()
                  + " has shape "
                  + inFile
                  + " in "
                  + modelPath
                  + ", but the block "
                  + (blockFactory != null ? "from " + blockFactory + " " + arguments : "given")
                  + (made == null ? " has no such parameter" : " makes it " + made)
                  + ": the block does not describe this model");
        }
      }
    }
  }

  private ModelCheckpoint toCheckpoint(Block b, String name) {
    Set<Parameter> linear = linearWeights(b);
    List<Pair<String, Parameter>> params = b.getParameters().stream().toList();
    List<CheckpointTensor> tensors = new ArrayList<>();
    if (progress != null) {
      progress.reset("Converting to " + format, params.size());
    }
    try {
      for (Pair<String, Parameter> p : params) {
        NDArray array = p.getValue().getArray();
        long[] shape = array.getShape().getShape();
        float[] values = array.toType(DataType.FLOAT32, false).toFloatArray();
        if (linear.contains(p.getValue()) && shape.length == 2) {
          tensors.add(WeightQuantizer.quantize(p.getKey(), values, shape, format, scale));
        } else {
          tensors.add(new CheckpointTensor(p.getKey(), shape, values, null));
        }
        if (progress != null) {
          progress.increment(1);
        }
      }
    } catch (RuntimeException e) {
      for (CheckpointTensor t : tensors) {
        if (t.mx() != null) {
          t.mx().close();
        }
      }
      throw e;
    } finally {
      if (progress != null) {
        progress.end();
      }
    }
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put(ModelCheckpoint.SOURCE, ModelCheckpoint.SOURCE_PARAMS);
    meta.put("model", name);
    meta.put(ModelCheckpoint.CONVERTED_FROM, modelPath.toString());
    if (blockFactory != null) {
      meta.put(ModelCheckpoint.BLOCK_FACTORY, blockFactory);
    }
    arguments.forEach((k, v) -> meta.put(ModelCheckpoint.ARGUMENT_PREFIX + k, v));
    meta.put(ModelCheckpoint.INPUT_SHAPES, formatShapes(b.getInputShapes()));
    meta.put(ModelCheckpoint.WEIGHTS, format.name());
    meta.put(ModelCheckpoint.SCALE, scale.name().toLowerCase(java.util.Locale.ROOT));
    return new ModelCheckpoint(meta, tensors);
  }

  private String paramsPrefix() {
    String file = modelPath.getFileName().toString();
    return file.replaceFirst("(-\\d{4})?\\.params$", "");
  }

  private static String epochOf(Path paramsFile) throws IOException {
    String file = paramsFile.getFileName().toString();
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("-(\\d{4})\\.params$").matcher(file);
    if (!m.find()) {
      throw new IOException(
          "Not a DJL parameter file name (NAME-0000.params): "
              + paramsFile
              + "; give the model directory instead");
    }
    return String.valueOf(Integer.parseInt(m.group(1)));
  }

  /**
   * Returns the weights of the {@link Linear} blocks in {@code block}, the ones the MX engine
   * packs.
   *
   * @param block the root block
   * @return the weight parameters, by identity
   */
  public static Set<Parameter> linearWeights(Block block) {
    Set<Parameter> out = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
    collect(block, out);
    return out;
  }

  private static void collect(Block block, Set<Parameter> out) {
    if (block instanceof Linear) {
      for (Pair<String, Parameter> p : block.getDirectParameters()) {
        if (p.getValue().getType() == Parameter.Type.WEIGHT) {
          out.add(p.getValue());
        }
      }
    }
    for (Pair<String, Block> child : block.getChildren()) {
      collect(child.getValue(), out);
    }
  }

  /**
   * Formats input shapes for the checkpoint's metadata: {@code (1,70)} and {@code (2,3)} become
   * {@code 1,70;2,3}.
   *
   * @param shapes the shapes
   * @return the text
   */
  public static String formatShapes(Shape[] shapes) {
    StringJoiner all = new StringJoiner(";");
    for (Shape s : shapes) {
      StringJoiner dims = new StringJoiner(",");
      for (long d : s.getShape()) {
        dims.add(Long.toString(d));
      }
      all.add(dims.toString());
    }
    return all.toString();
  }

  /**
   * Parses input shapes written by {@link #formatShapes}.
   *
   * @param text the text
   * @return the shapes
   * @throws IllegalArgumentException on malformed text
   */
  public static Shape[] parseShapes(String text) {
    if (text == null || text.isEmpty()) {
      throw new IllegalArgumentException("no input shapes recorded");
    }
    String[] parts = text.split(";", -1);
    Shape[] shapes = new Shape[parts.length];
    for (int i = 0; i < parts.length; i++) {
      String[] dims = parts[i].isEmpty() ? new String[0] : parts[i].split(",");
      long[] d = new long[dims.length];
      for (int j = 0; j < dims.length; j++) {
        try {
          d[j] = Long.parseLong(dims[j].trim());
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("malformed input shapes: " + text, e);
        }
      }
      shapes[i] = new Shape(d);
    }
    return shapes;
  }

  /** Builds a {@link ParamsConverter}. */
  public static final class Builder {
    private Path modelPath;
    private String modelName;
    private Supplier<Block> block;
    private String blockFactory;
    private Map<String, String> arguments = Map.of();
    private MxFormat format = MxFormat.MXFP6_E2M3;
    private ScaleMode scale = ScaleMode.FLOOR;
    private Progress progress;

    Builder() {}

    /**
     * Sets the model: a directory holding {@code NAME-0000.params}, or that file.
     *
     * @param modelPath the directory or file
     * @return this builder
     */
    public Builder setModelPath(Path modelPath) {
      this.modelPath = modelPath;
      return this;
    }

    /**
     * Sets the model name (the {@code .params} file prefix); default: the directory's name.
     *
     * @param modelName the name
     * @return this builder
     */
    public Builder optModelName(String modelName) {
      this.modelName = modelName;
      return this;
    }

    /**
     * Names the {@code ai.djl.nn.BlockFactory} class that builds the block (recorded in the
     * checkpoint, so the engine can rebuild the block at load).
     *
     * @param className the factory's class name
     * @return this builder
     */
    public Builder optBlockFactory(String className) {
      this.blockFactory = className;
      return this;
    }

    /**
     * Sets the block factory's arguments (recorded in the checkpoint).
     *
     * @param arguments the arguments
     * @return this builder
     */
    public Builder optArguments(Map<String, String> arguments) {
      this.arguments = Map.copyOf(arguments);
      return this;
    }

    /**
     * Gives the block directly (instead of a factory); it is not recorded, so pass the block again
     * with {@code Criteria.optBlock} at load.
     *
     * @param block makes the uninitialized block
     * @return this builder
     */
    public Builder optBlock(Supplier<Block> block) {
      this.block = block;
      return this;
    }

    /**
     * Sets the MX format of the linear weights (default {@code MXFP6_E2M3}).
     *
     * @param format the format
     * @return this builder
     */
    public Builder optFormat(MxFormat format) {
      this.format = format;
      return this;
    }

    /**
     * Sets the shared-scale rule (default FLOOR, the OCP rule).
     *
     * @param scale the rule
     * @return this builder
     */
    public Builder optScale(ScaleMode scale) {
      this.scale = scale;
      return this;
    }

    /**
     * Sets a progress bar, one step per parameter.
     *
     * @param progress the progress, or null
     * @return this builder
     */
    public Builder optProgress(Progress progress) {
      this.progress = progress;
      return this;
    }

    /**
     * Builds the converter.
     *
     * @return the converter
     * @throws IllegalArgumentException when the model path or the block is missing
     */
    public ParamsConverter build() {
      if (modelPath == null) {
        throw new IllegalArgumentException("setModelPath is required");
      }
      if (block == null && (blockFactory == null || blockFactory.isBlank())) {
        throw new IllegalArgumentException(
            "A .params file holds parameters, not the block that uses them: name an"
                + " ai.djl.nn.BlockFactory class (mx convert --block-factory CLASS)");
      }
      if (format == null || scale == null) {
        throw new IllegalArgumentException("format and scale must not be null");
      }
      return new ParamsConverter(this);
    }
  }
}

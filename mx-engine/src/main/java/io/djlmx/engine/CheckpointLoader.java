package io.djlmx.engine;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import io.djlmx.checkpoint.CheckpointTensor;
import io.djlmx.checkpoint.ModelCheckpoint;
import io.djlmx.checkpoint.ParamsConverter;
import io.djlmx.format.MxFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Applies an MX model checkpoint ({@link ModelCheckpoint}, {@code .mxckpt}) to a model at load: the
 * parameters of a block model, or the emulated weights of a TorchScript module, come from the
 * checkpoint, and its packed weights are used as they are (never quantized again).
 */
final class CheckpointLoader {

  /** The checkpoint file extension. */
  static final String EXTENSION = ".mxckpt";

  private static final Set<String> LOADABLE_SOURCES =
      Set.of(ModelCheckpoint.SOURCE_PARAMS, ModelCheckpoint.SOURCE_TORCHSCRIPT);

  private CheckpointLoader() {}

  /**
   * Finds the checkpoint of a model: {@code modelPath} itself if it is a {@code .mxckpt} file; next
   * to a model file, the file of the same name with the extension {@code .mxckpt}; in a directory,
   * {@code PREFIX.mxckpt}, {@code DIRNAME.mxckpt} or {@code model.mxckpt}; a file found (not named)
   * counts only if it is a model checkpoint ({@code DJLMXCK2}) of a source the engine loads (a
   * {@code .params} block model or a TorchScript module; a zoo encoder's cache is not one).
   *
   * @return the file, or null when there is none
   */
  static Path find(Path modelPath, String prefix) throws IOException {
    if (Files.isRegularFile(modelPath)) {
      String file = modelPath.getFileName().toString();
      if (file.endsWith(EXTENSION)) {
        return modelPath; // named by the user: read it, and say so if it is not one
      }
      int dot = file.lastIndexOf('.');
      Path sibling =
          modelPath.resolveSibling((dot > 0 ? file.substring(0, dot) : file) + EXTENSION);
      return isModelCheckpoint(sibling) ? sibling : null;
    }
    for (String candidate : new String[] {prefix, modelPath.toFile().getName(), "model"}) {
      Path file = modelPath.resolve(candidate + EXTENSION);
      if (isModelCheckpoint(file)) {
        return file;
      }
    }
    return null;
  }

  /** A found file counts only as a model checkpoint of a source the engine loads. */
  private static boolean isModelCheckpoint(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      return false;
    }
    Map<String, String> meta = ModelCheckpoint.readMetadata(file);
    return meta != null && LOADABLE_SOURCES.contains(meta.get(ModelCheckpoint.SOURCE));
  }

  /**
   * Returns the options to resolve the model's configuration with: {@code options} plus the
   * checkpoint's weight format and scale rule where the user set none.
   *
   * @throws IllegalArgumentException when the user asked for another format or scale than the
   *     checkpoint holds
   */
  static Map<String, Object> adoptFormat(
      ModelCheckpoint ckpt, Path file, MxConfig resolved, Map<String, ?> options) {
    MxFormat format = ckpt.weightFormat();
    Map<String, Object> merged = new LinkedHashMap<>();
    if (options != null) {
      merged.putAll(options);
    }
    if (format == null) {
      return merged;
    }
    String weightsSource = resolved.getSources().get(MxConfig.WEIGHTS);
    if (resolved.getWeights() != format) {
      if (!"default".equals(weightsSource)) {
        throw new IllegalArgumentException(
            "MX checkpoint "
                + file
                + " holds "
                + format
                + " weights, but mx.weights="
                + (resolved.getWeights() == null ? "FP32" : resolved.getWeights())
                + " was asked ("
                + weightsSource
                + "): convert again with 'mx convert -w ...', or remove the checkpoint to quantize"
                + " the model's FP32 weights at load");
      }
      merged.put(MxConfig.WEIGHTS, format.name());
    }
    if (resolved.getScale() != ckpt.scaleMode()) {
      String scaleSource = resolved.getSources().get(MxConfig.SCALE);
      if (!"default".equals(scaleSource)) {
        throw new IllegalArgumentException(
            "MX checkpoint "
                + file
                + " was packed with the "
                + ckpt.scaleMode()
                + " scale rule, but mx.scale="
                + resolved.getScale()
                + " was asked ("
                + scaleSource
                + ")");
      }
      merged.put(MxConfig.SCALE, ckpt.scaleMode().name().toLowerCase(java.util.Locale.ROOT));
    }
    return merged;
  }

  /**
   * Sets every parameter of {@code block} from the checkpoint and installs its packed {@code
   * Linear} weights.
   *
   * @throws MalformedModelException when the block and the checkpoint disagree (a parameter missing
   *     on either side, a shape, an MX tensor for a parameter that is not a linear weight)
   */
  static void applyToBlock(Block block, ModelCheckpoint ckpt, Path file, MxConfig config)
      throws MalformedModelException {
    Set<Parameter> linear = ParamsConverter.linearWeights(block);
    Map<String, CheckpointTensor> remaining = new LinkedHashMap<>(ckpt.tensors());
    for (Pair<String, Parameter> p : block.getParameters()) {
      String name = p.getKey();
      CheckpointTensor t = remaining.remove(name);
      if (t == null) {
        throw new MalformedModelException(
            "MX checkpoint "
                + file
                + " has no tensor for parameter "
                + name
                + " of the block: it was converted from another model (it holds "
                + preview(ckpt.tensors().keySet())
                + ")");
      }
      NDArray array = p.getValue().getArray();
      checkShape(name, array, t, file);
      if (t.isMx() && !linear.contains(p.getValue())) {
        throw new MalformedModelException(
            "MX checkpoint "
                + file
                + " holds parameter "
                + name
                + " in "
                + t.mx().format()
                + ", but in the block it is not a Linear weight");
      }
      array.set(t.values());
      if (t.isMx()
          && array instanceof MxNDArray w
          && config.getWeights() != null
          && !config.isExcluded(name)) {
        MxLinear.install(w, name, t.mx(), config);
      }
    }
    if (!remaining.isEmpty()) {
      throw new MalformedModelException(
          "MX checkpoint "
              + file
              + " holds tensors the block lacks: "
              + preview(remaining.keySet())
              + ": it was converted from another model");
    }
  }

  /**
   * Writes the checkpoint's weight into a TorchScript parameter (emulation: the packed values,
   * decoded, become the module's weight).
   *
   * @return the bytes the packed weight takes
   * @throws MalformedModelException when the checkpoint lacks the weight or its shape differs
   */
  static long applyEmulated(
      String name, NDArray array, Map<String, CheckpointTensor> remaining, Path file)
      throws MalformedModelException {
    CheckpointTensor t = remaining.remove(name);
    if (t == null || !t.isMx()) {
      throw new MalformedModelException(
          "MX checkpoint "
              + file
              + " has no packed weight for parameter "
              + name
              + " of the TorchScript module: it was converted from another module");
    }
    checkShape(name, array, t, file);
    MxLinear.checkFinite(t.mx(), name);
    // Written through the tensor's memory: libtorch refuses set() on a module's inference tensors.
    java.nio.ByteBuffer data = array.toByteBuffer(true);
    t.mx().dequantizeInto(java.lang.foreign.MemorySegment.ofBuffer(data));
    if (!data.isDirect()) {
      array.set(data.rewind());
    }
    return t.byteSize();
  }

  static void checkShape(String name, NDArray array, CheckpointTensor t, Path file)
      throws MalformedModelException {
    if (!Arrays.equals(array.getShape().getShape(), t.shape())) {
      throw new MalformedModelException(
          "Parameter "
              + name
              + " has shape "
              + array.getShape()
              + " in the model but "
              + Arrays.toString(t.shape())
              + " in MX checkpoint "
              + file
              + ": the checkpoint was converted from another model");
    }
  }

  static String preview(Iterable<String> names) {
    StringBuilder sb = new StringBuilder();
    int n = 0;
    for (String name : names) {
      if (n == 5) {
        sb.append(", ...");
        break;
      }
      sb.append(n == 0 ? "" : ", ").append(name);
      n++;
    }
    return sb.toString();
  }

  /** Returns the input shapes recorded in a {@code .params} checkpoint. */
  static ai.djl.ndarray.types.Shape[] inputShapes(ModelCheckpoint ckpt, Path file)
      throws MalformedModelException {
    try {
      return ParamsConverter.parseShapes(ckpt.get(ModelCheckpoint.INPUT_SHAPES));
    } catch (IllegalArgumentException e) {
      throw new MalformedModelException(
          "MX checkpoint " + file + " records no usable input shapes: " + e.getMessage(), e);
    }
  }
}

package io.djlmx.checkpoint;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.djl.util.Progress;
import io.djlmx.format.MxFormat;
import io.djlmx.format.ScaleMode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Converts a TorchScript module ({@code .pt}) into a {@link ModelCheckpoint} holding its emulated
 * weights (every 2-D FP32 parameter whose name ends in {@code weight}) packed in an MX format. The
 * module's graph and its other parameters stay in the {@code .pt}: the MX engine loads the module,
 * then applies the checkpoint's weights instead of quantizing them again.
 */
public final class TorchScriptConverter {

  private TorchScriptConverter() {}

  /**
   * Returns whether the MX engine emulates {@code array} in MX when it runs a TorchScript module: a
   * 2-D FP32 parameter whose name ends in {@code weight}.
   *
   * @param name the parameter name
   * @param array the parameter's array
   * @return true for an emulated weight
   */
  public static boolean isEmulatedWeight(String name, NDArray array) {
    return array.getShape().dimension() == 2
        && name.endsWith("weight")
        && array.getDataType() == DataType.FLOAT32;
  }

  /**
   * Loads the module on PyTorch and packs its emulated weights.
   *
   * @param file the {@code .pt} file
   * @param format the MX format
   * @param scale the shared-scale rule
   * @param progress one step per weight, or null
   * @return the checkpoint; the caller closes it
   * @throws IOException when the file is missing or unreadable
   * @throws MalformedModelException when the file is not a TorchScript module
   * @throws IllegalArgumentException when a weight holds NaN or infinity (naming it)
   */
  public static ModelCheckpoint convert(
      Path file, MxFormat format, ScaleMode scale, Progress progress)
      throws IOException, MalformedModelException {
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null, "TorchScript file not found");
    }
    List<CheckpointTensor> tensors = new ArrayList<>();
    try (Model pt = Model.newInstance("torchscript", Device.cpu(), "PyTorch")) {
      try {
        pt.load(file, null, Map.of());
      } catch (RuntimeException e) {
        // libtorch reports a file it cannot parse as an EngineException (a RuntimeException)
        throw new MalformedModelException(
            "Not a TorchScript module: " + file + " (" + e.getMessage() + ")", e);
      }
      List<Pair<String, Parameter>> weights = new ArrayList<>();
      for (Pair<String, Parameter> p : pt.getBlock().getParameters()) {
        if (isEmulatedWeight(p.getKey(), p.getValue().getArray())) {
          weights.add(p);
        }
      }
      if (progress != null) {
        progress.reset("Converting to " + format, weights.size());
      }
      for (Pair<String, Parameter> p : weights) {
        NDArray a = p.getValue().getArray();
        tensors.add(
            WeightQuantizer.quantize(
                p.getKey(), a.toFloatArray(), a.getShape().getShape(), format, scale));
        if (progress != null) {
          progress.increment(1);
        }
      }
    } catch (IOException | MalformedModelException | RuntimeException e) {
      for (CheckpointTensor t : tensors) {
        t.mx().close();
      }
      throw e;
    } finally {
      if (progress != null) {
        progress.end();
      }
    }
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put(ModelCheckpoint.SOURCE, ModelCheckpoint.SOURCE_TORCHSCRIPT);
    meta.put(ModelCheckpoint.CONVERTED_FROM, file.toString());
    meta.put(ModelCheckpoint.WEIGHTS, format.name());
    meta.put(ModelCheckpoint.SCALE, scale.name().toLowerCase(Locale.ROOT));
    return new ModelCheckpoint(meta, tensors);
  }
}

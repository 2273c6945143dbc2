package io.djlmx.engine;

import ai.djl.BaseModel;
import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.SymbolBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.Trainer;
import ai.djl.training.TrainingConfig;
import ai.djl.training.initializer.Initializer;
import ai.djl.translate.Translator;
import ai.djl.util.Pair;
import ai.djl.util.PairList;
import io.djlmx.checkpoint.BlockFactories;
import io.djlmx.checkpoint.CheckpointTensor;
import io.djlmx.checkpoint.ModelCheckpoint;
import io.djlmx.checkpoint.TorchScriptConverter;
import io.djlmx.format.MxTensor;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A model on the MX engine.
 *
 * <p>DJL block models ({@code .params} with {@code Criteria.optBlock}) load as on PyTorch, then
 * every {@link Linear} weight is packed into MX once. TorchScript models ({@code .pt}) load through
 * PyTorch and their 2-D {@code *weight} parameters are quantized and dequantized in place (MX
 * emulation: libtorch runs them, MX kernels do not). The resolved {@link MxConfig} and the weight
 * memory ({@link #getMemoryReport()}) are logged at load.
 *
 * <p>An MX checkpoint made by {@code mx convert} ({@link ModelCheckpoint}, {@code NAME.mxckpt} next
 * to the model, or given as the model path) replaces that quantization: a block model's parameters
 * come from it (its block from {@code optBlock} or the block factory it names) and its packed
 * weights are used as they are; a TorchScript module's emulated weights become the checkpoint's
 * decoded values.
 */
public class MxModel extends BaseModel {

  private static final Logger logger = LoggerFactory.getLogger(MxModel.class);

  private static final List<MxModelHook> HOOKS = new CopyOnWriteArrayList<>();

  static {
    for (MxModelHook hook : ServiceLoader.load(MxModelHook.class)) {
      HOOKS.add(hook);
    }
  }

  private volatile MxConfig config;
  private boolean explicitConfig;
  private Map<String, ?> loadOptions;
  private Model torchScript;
  private long emulatedMxBytes = -1;
  private int emulatedCount;

  MxModel(String name, Device device) {
    super(name);
    manager = MxNDManager.getSystemManager().newSubManager(device);
    manager.setName("mxModel");
    dataType = DataType.FLOAT32;
    getMxManager().setConfigSource(this::getConfig);
  }

  /**
   * Registers a step run on every model loaded afterwards.
   *
   * @param hook the hook
   */
  public static void registerHook(MxModelHook hook) {
    HOOKS.add(hook);
  }

  /**
   * Returns the model's MX configuration, resolved on first use from (highest first) the options
   * given to {@code load} ({@code Criteria.optOption}), the model's {@code mx.*} properties ({@link
   * #setProperty}), system properties, environment and defaults; or the one set with {@link
   * #setConfig}.
   *
   * @return the configuration
   * @throws IllegalArgumentException on an unknown key or an invalid value
   */
  public MxConfig getConfig() {
    MxConfig c = config;
    if (c == null) {
      synchronized (this) {
        c = config;
        if (c == null) {
          Map<String, Object> merged = new HashMap<>();
          properties.forEach(
              (k, v) -> {
                if (k.startsWith("mx.")) {
                  merged.put(k, v);
                }
              });
          if (loadOptions != null) {
            merged.putAll(loadOptions);
          }
          c = MxConfig.resolve(merged);
          config = c;
        }
      }
    }
    return c;
  }

  /**
   * Sets the model's MX configuration, replacing the resolved one, and drops weights packed under
   * the previous one.
   *
   * @param config the configuration
   */
  public void setConfig(MxConfig config) {
    this.config = config;
    explicitConfig = true;
    dropPackedWeights();
  }

  /**
   * Sets a model property; an {@code mx.*} property takes part in the configuration (unless one was
   * set with {@link #setConfig}), which is resolved again on next use.
   *
   * @param key the property key
   * @param value the value
   */
  @Override
  public void setProperty(String key, String value) {
    super.setProperty(key, value);
    if (key.startsWith("mx.") && !explicitConfig) {
      config = null;
      dropPackedWeights();
    }
  }

  private void dropPackedWeights() {
    if (block != null) {
      forEachLinearWeight(
          block,
          "",
          (name, w) -> {
            if (w instanceof MxNDArray mx) {
              mx.setWeight(null);
            } else if (w instanceof MxCudaNDArray gpu) {
              gpu.setPacked(null);
            }
          });
    }
  }

  private MxNDManager getMxManager() {
    return (MxNDManager) manager;
  }

  /**
   * Loads the model, then packs its {@code linear} weights into MX.
   *
   * <p>A load that fails (unknown option, NaN weight, missing file...) closes this model: it
   * releases everything it had allocated, so nothing survives a failed load.
   *
   * @param modelPath the model directory or file
   * @param prefix the file name prefix, null for the model name
   * @param options the options, including the {@code mx.*} keys of {@link MxConfig}
   * @throws IOException when a file cannot be read
   * @throws MalformedModelException when the files do not hold the model
   */
  @Override
  public void load(Path modelPath, String prefix, Map<String, ?> options)
      throws IOException, MalformedModelException {
    try {
      loadChecked(modelPath, prefix, options);
    } catch (IOException | MalformedModelException | RuntimeException e) {
      // DJL's model loader drops a model whose load threw without closing it: release its
      // manager, parameters and packed weights here so that a failed load leaves nothing behind.
      close();
      throw e;
    }
  }

  private void loadChecked(Path modelPath, String prefix, Map<String, ?> options)
      throws IOException, MalformedModelException {
    loadOptions = options;
    if (!explicitConfig) {
      config = null;
    }
    if (prefix == null) {
      // BaseModelLoader passes null: default to the model name, as PtModel does.
      prefix = modelName;
    }
    Path ckptFile = CheckpointLoader.find(modelPath, prefix);
    try (ModelCheckpoint ckpt = ckptFile == null ? null : ModelCheckpoint.read(ckptFile)) {
      if (ckpt != null) {
        // The checkpoint's packed format is the model's, unless the user asked for another.
        Map<String, Object> adopted =
            CheckpointLoader.adoptFormat(ckpt, ckptFile, getConfig(), options);
        if (!explicitConfig) {
          loadOptions = adopted;
          config = null;
        }
        logger.info(
            "MX model {}: weights from MX checkpoint {} ({})",
            modelName,
            ckptFile,
            ckpt.metadata());
      }
      MxConfig resolved = getConfig();
      logger.info("MX model {}: {} (sources: {})", modelName, resolved, resolved.getSources());
      boolean ckptIsFile = modelPath.equals(ckptFile);
      setModelDir(ckptIsFile ? modelPath.toAbsolutePath().getParent() : modelPath);
      wasLoaded = true;
      if (ckpt != null && ModelCheckpoint.SOURCE_PARAMS.equals(ckpt.get(ModelCheckpoint.SOURCE))) {
        if (block == null) {
          block = newBlockFromCheckpoint(ckpt, ckptFile, options);
        }
        loadBlockFromCheckpoint(prefix, options, ckpt, ckptFile);
      } else if (block == null) {
        loadTorchScript(ckptIsFile ? modelDir : modelPath, prefix, options, ckpt, ckptFile);
      } else if (ckpt != null) {
        throw new MalformedModelException(
            "MX checkpoint "
                + ckptFile
                + " was converted from a "
                + ckpt.get(ModelCheckpoint.SOURCE)
                + " model, not a DJL block model: load it without Criteria.optBlock");
      } else {
        loadBlock(prefix, options);
      }
    }
    for (MxModelHook hook : HOOKS) {
      hook.onLoad(this);
    }
    if (torchScript == null) {
      MxMemoryReport report = getMemoryReport();
      logger.info("MX model {}: {}", modelName, report);
    }
  }

  private Block newBlockFromCheckpoint(ModelCheckpoint ckpt, Path file, Map<String, ?> options)
      throws IOException, MalformedModelException {
    String factory = ckpt.get(ModelCheckpoint.BLOCK_FACTORY);
    Object given = options == null ? null : options.get("blockFactory");
    if (given != null) {
      factory = given.toString();
    }
    if (factory == null) {
      throw new MalformedModelException(
          "MX checkpoint "
              + file
              + " was converted with a block given in code and names no block factory: pass the"
              + " block with Criteria.optBlock(...), or convert with --block-factory CLASS");
    }
    Map<String, Object> arguments = new LinkedHashMap<>();
    ckpt.metadata()
        .forEach(
            (k, v) -> {
              if (k.startsWith(ModelCheckpoint.ARGUMENT_PREFIX)) {
                arguments.put(k.substring(ModelCheckpoint.ARGUMENT_PREFIX.length()), v);
              }
            });
    if (options != null) {
      arguments.putAll(options);
    }
    try {
      return BlockFactories.newBlock(factory, this, modelDir, arguments);
    } catch (IllegalArgumentException e) {
      throw new MalformedModelException(e.getMessage() + " (named by " + file + ")", e);
    }
  }

  /**
   * Builds the block's parameters (from the {@code .params} file when present, else from the input
   * shapes the checkpoint records), then sets them all from the checkpoint.
   */
  private void loadBlockFromCheckpoint(
      String prefix, Map<String, ?> options, ModelCheckpoint ckpt, Path file)
      throws IOException, MalformedModelException {
    Path paramFile = paramPathResolver(prefix, options);
    if (paramFile != null && Files.isRegularFile(paramFile)) {
      readParameters(paramFile, options);
    } else {
      block.initialize(manager, DataType.FLOAT32, CheckpointLoader.inputShapes(ckpt, file));
    }
    CheckpointLoader.applyToBlock(block, ckpt, file, getConfig());
  }

  private void loadTorchScript(
      Path modelPath, String prefix, Map<String, ?> options, ModelCheckpoint ckpt, Path ckptFile)
      throws IOException, MalformedModelException {
    Path file = findTorchScript(modelPath, prefix);
    if (file == null) {
      throw new FileNotFoundException(
          "No block set and no TorchScript file "
              + prefix
              + ".pt found in "
              + modelPath
              + "; for a DJL .params model pass Criteria.optBlock(...)");
    }
    Map<String, Object> ptOptions = new HashMap<>();
    if (options != null) {
      options.forEach(
          (k, v) -> {
            if (!k.startsWith("mx.")) {
              ptOptions.put(k, v);
            }
          });
    }
    Model pt = Engine.getEngine(MxEngine.PYTORCH).newModel(modelName, manager.getDevice());
    try {
      pt.load(file, null, ptOptions);
      SymbolBlock ptBlock = (SymbolBlock) pt.getBlock();
      MxConfig cfg = getConfig();
      long mxBytes = 0;
      long fp32Bytes = 0;
      int count = 0;
      int excluded = 0;
      Map<String, CheckpointTensor> remaining =
          ckpt == null ? null : new LinkedHashMap<>(ckpt.tensors());
      for (Pair<String, Parameter> p : ptBlock.getParameters()) {
        NDArray array = p.getValue().getArray();
        String name = p.getKey();
        if (!TorchScriptConverter.isEmulatedWeight(name, array)) {
          continue;
        }
        if (cfg.getWeights() == null || cfg.isExcluded(name)) {
          excluded++;
          if (remaining != null) {
            remaining.remove(name);
          }
          continue;
        }
        if (remaining != null) {
          // The checkpoint's packed values, decoded, are the emulated weight: no quantization.
          mxBytes += CheckpointLoader.applyEmulated(name, array, remaining, ckptFile);
        } else {
          mxBytes += MxLinear.quantizeInPlace(array, name, cfg);
        }
        fp32Bytes += array.getShape().size() * Float.BYTES;
        count++;
      }
      if (remaining != null && !remaining.isEmpty()) {
        throw new MalformedModelException(
            "MX checkpoint "
                + ckptFile
                + " holds weights the TorchScript module lacks: "
                + CheckpointLoader.preview(remaining.keySet()));
      }
      torchScript = pt;
      emulatedMxBytes = mxBytes;
      emulatedCount = count;
      block = new MxSymbolBlock(ptBlock);
      MxMemoryReport report = new MxMemoryReport(count, excluded, mxBytes, fp32Bytes, true);
      logger.info(
          "MX model {}: TorchScript runs inside libtorch, so this is MX EMULATION: {} 2-D weights"
              + " quantized to {} and dequantized in place; MX kernels are not used. {}",
          modelName,
          count,
          cfg.getWeights(),
          report);
    } catch (RuntimeException | IOException | MalformedModelException e) {
      pt.close();
      throw e;
    }
  }

  private Path findTorchScript(Path modelPath, String prefix) {
    if (Files.isRegularFile(modelPath)) {
      return modelPath.toString().endsWith(".pt") ? modelPath : null;
    }
    for (String candidate : new String[] {prefix, modelPath.toFile().getName(), "model"}) {
      String fileName = candidate.endsWith(".pt") ? candidate : candidate + ".pt";
      Path file = modelPath.resolve(fileName);
      if (Files.isRegularFile(file)) {
        return file;
      }
    }
    return null;
  }

  /**
   * Returns whether this model is a TorchScript module running MX emulation.
   *
   * @return true for a TorchScript model
   */
  public boolean isEmulation() {
    return torchScript != null;
  }

  /**
   * Packs every {@link Linear} weight of the block into MX now (a no-op for weights already packed
   * and unchanged) and reports the weight memory.
   *
   * @return the memory report
   * @throws IllegalArgumentException if a weight holds NaN or infinity (naming the parameter and
   *     the MX block)
   */
  public MxMemoryReport getMemoryReport() {
    if (torchScript != null) {
      long fp32 = 0;
      for (Pair<String, Parameter> p : block.getParameters()) {
        NDArray a = p.getValue().getArray();
        if (a.getShape().dimension() == 2 && p.getKey().endsWith("weight")) {
          fp32 += a.getShape().size() * Float.BYTES;
        }
      }
      return new MxMemoryReport(emulatedCount, 0, emulatedMxBytes, fp32, true);
    }
    if (block == null) {
      return new MxMemoryReport(0, 0, 0, 0, false);
    }
    MxConfig cfg = getConfig();
    long[] totals = new long[5];
    forEachLinearWeight(
        block,
        "",
        (name, a) -> {
          if (a instanceof MxCudaNDArray g) {
            // GPU weights: packed on the device now; the FP32 copy stays resident beside it.
            long fp32 = g.getShape().size() * Float.BYTES;
            if (cfg.getWeights() == null || cfg.isExcluded(name)) {
              totals[1]++;
            } else {
              totals[0]++;
              totals[2] += MxCudaLinear.packed(g, cfg.getWeights(), cfg, name).byteSize();
              totals[3] += fp32;
              totals[4] += fp32;
            }
            return;
          }
          MxNDArray w = (MxNDArray) a;
          MxWeight mx = MxLinear.prepare(w, name, cfg);
          if (mx.isExcluded()) {
            totals[1]++;
          } else {
            totals[0]++;
            totals[2] += mx.mxBytes();
            totals[3] += mx.fp32Bytes();
            if (!w.isFp32Released()) {
              totals[4] += mx.fp32Bytes();
            }
            if (mx.emulated() != null) {
              totals[4] += mx.fp32Bytes();
            }
          }
        });
    return new MxMemoryReport(
        (int) totals[0], (int) totals[1], totals[2], totals[3], false, totals[4]);
  }

  /**
   * Installs already-packed MX weights for this model's {@link Linear} weights (e.g. read from an
   * MX checkpoint), so they are not quantized again from FP32: each weight array for which {@code
   * packedFor} returns a tensor is packed from that tensor (see {@link MxLinear} adopt rules: its
   * FP32 storage is then released, so the array's own values need not have been written). Weights
   * it returns null for, and weights not eligible (excluded, {@code mx.keepFp32}, no kernel for
   * their device), keep the ordinary path. The tensors are not retained.
   *
   * @param packedFor the packed tensor of a weight array (looked up by identity), or null
   * @return how many weights were installed
   * @throws IllegalStateException if the model has no block
   * @throws IllegalArgumentException if a tensor's shape, block size or format does not match its
   *     parameter or the model's {@code mx.weights}
   */
  public int adoptPackedWeights(java.util.function.Function<NDArray, MxTensor> packedFor) {
    if (block == null) {
      throw new IllegalStateException("Model " + modelName + " has no block to install weights in");
    }
    MxConfig cfg = getConfig();
    int[] count = new int[1];
    forEachLinearWeight(
        block,
        "",
        (name, w) -> {
          MxTensor t = packedFor.apply(w);
          if (t != null && MxLinear.adopt(w, t, name, cfg)) {
            count[0]++;
          }
        });
    return count[0];
  }

  /** Calls {@code action} with the full parameter name of every MX {@link Linear} weight. */
  static void forEachLinearWeight(
      Block block, String prefix, java.util.function.BiConsumer<String, NDArray> action) {
    if (block instanceof Linear) {
      for (Pair<String, Parameter> p : block.getDirectParameters()) {
        Parameter param = p.getValue();
        if (param.getType() == Parameter.Type.WEIGHT
            && param.isInitialized()
            && (param.getArray() instanceof MxNDArray
                || param.getArray() instanceof MxCudaNDArray)) {
          action.accept(prefix + p.getKey(), param.getArray());
        }
      }
    }
    for (Pair<String, Block> child : block.getChildren()) {
      forEachLinearWeight(child.getValue(), prefix + child.getKey() + "_", action);
    }
  }

  /** {@inheritDoc} */
  @Override
  public <I, O> Predictor<I, O> newPredictor(Translator<I, O> translator, Device device) {
    return new MxPredictor<>(this, translator, device, false);
  }

  /** {@inheritDoc} */
  @Override
  public Trainer newTrainer(TrainingConfig trainingConfig) {
    if (block == null) {
      throw new IllegalStateException(
          "You must set a block for the model before creating a new trainer");
    }
    if (wasLoaded) {
      // Loaded parameters are frozen for inference; training unfreezes all but running stats.
      block.freezeParameters(
          false,
          p ->
              p.getType() != Parameter.Type.RUNNING_MEAN
                  && p.getType() != Parameter.Type.RUNNING_VAR);
    }
    PairList<Initializer, Predicate<Parameter>> initializers = trainingConfig.getInitializers();
    for (Pair<Initializer, Predicate<Parameter>> pair : initializers) {
      if (pair.getKey() != null && pair.getValue() != null) {
        block.setInitializer(pair.getKey(), pair.getValue());
      }
    }
    return new Trainer(this, trainingConfig);
  }

  /** {@inheritDoc} */
  @Override
  public void close() {
    super.close();
    if (torchScript != null) {
      torchScript.close();
      torchScript = null;
    }
  }
}

package io.djlmx.examples.cli;

import ai.djl.training.util.ProgressBar;
import io.djlmx.checkpoint.CheckpointTensor;
import io.djlmx.checkpoint.ModelCheckpoint;
import io.djlmx.checkpoint.ParamsConverter;
import io.djlmx.checkpoint.TorchScriptConverter;
import io.djlmx.format.MxFormat;
import io.djlmx.format.ScaleMode;
import io.djlmx.zoo.SentenceEncoderLoader;
import io.djlmx.zoo.SentenceEncoderSpec;
import io.djlmx.zoo.bert.BertWeights;
import io.djlmx.zoo.checkpoint.MxCheckpoint;
import io.djlmx.zoo.onnx.BertOnnxImporter;
import io.djlmx.zoo.onnx.OnnxModelFile;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code mx convert}: a model (BERT-family ONNX encoder, DJL {@code .params} block model, or
 * TorchScript module) to an MX checkpoint ({@code .mxckpt}).
 */
@Command(
    name = "convert",
    mixinStandardHelpOptions = true,
    description = {
      "Converts a model into an MX checkpoint (.mxckpt): linear weights packed in an MX format,"
          + " everything else FP32. Sources:",
      "  --model / --onnx: a BERT-family sentence encoder from ONNX (a zoo model, or your own"
          + " .onnx exported from Hugging Face); the zoo loads such checkpoints.",
      "  --params: a DJL block model (NAME-0000.params). A .params file holds parameters, not its"
          + " block: name an ai.djl.nn.BlockFactory class with --block-factory (on the class path,"
          + " in DIR/classes or in a jar in DIR); it is recorded in the checkpoint. Written to"
          + " DIR/NAME.mxckpt by default, where the MX engine finds it: load DIR with"
          + " optEngine(\"MX\") and no block, and its packed weights are used as they are.",
      "  --torchscript: a TorchScript module (.pt); its 2-D weights are packed, and written to"
          + " NAME.mxckpt next to the .pt by default, where the MX engine applies them as the"
          + " module's emulated weights."
    })
public final class ConvertCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Mixin VerboseOption verbose;

  static final class Source {
    @Option(
        names = "--model",
        paramLabel = "ARTIFACT",
        description = "A zoo encoder: all-MiniLM-L6-v2, bge-small-en-v1.5 or e5-small-v2.")
    String model;

    @Option(
        names = "--onnx",
        paramLabel = "FILE.onnx",
        description = "A BERT-family encoder in ONNX (FP32 initializers).")
    Path onnx;

    @Option(
        names = "--params",
        paramLabel = "DIR|FILE.params",
        description =
            "A DJL block model: its directory, or its NAME-0000.params file (needs"
                + " --block-factory).")
    Path params;

    @Option(names = "--torchscript", paramLabel = "FILE.pt", description = "A TorchScript module.")
    Path torchScript;
  }

  @ArgGroup(exclusive = true, multiplicity = "1")
  Source source;

  @Option(
      names = {"-w", "--weights"},
      paramLabel = "FORMAT",
      defaultValue = "MXFP6_E2M3",
      converter = FormatConverter.class,
      description = "MX format of the linear weights (default: ${DEFAULT-VALUE}).")
  MxFormat weights;

  @Option(
      names = {"-o", "--output"},
      paramLabel = "FILE.mxckpt",
      description =
          "The checkpoint to write (inspect it with 'mx inspect'). Required for --model and"
              + " --onnx; default for --params DIR/NAME.mxckpt, for --torchscript NAME.mxckpt next"
              + " to the .pt.")
  Path output;

  @Option(
      names = "--block-factory",
      paramLabel = "CLASS",
      description =
          "With --params: the ai.djl.nn.BlockFactory class that builds the model's block"
              + " (as DJL serving's blockFactory).")
  String blockFactory;

  @Option(
      names = "--arg",
      paramLabel = "KEY=VALUE",
      description = "With --params: an argument for the block factory (repeatable).")
  Map<String, String> arguments = new LinkedHashMap<>();

  @Option(
      names = "--model-name",
      paramLabel = "NAME",
      description = "With --params DIR: the .params file prefix (default: the directory's name).")
  String modelName;

  @Option(names = "--force", description = "Overwrite the output file if it exists.")
  boolean force;

  /** {@inheritDoc} */
  @Override
  public Integer call() throws Exception {
    if (source.params == null && (blockFactory != null || !arguments.isEmpty())) {
      throw new UserException("--block-factory and --arg apply to --params only");
    }
    if (source.params != null || source.torchScript != null) {
      return convertModel();
    }
    if (output == null) {
      throw new UserException("Missing -o FILE.mxckpt: where to write the encoder's checkpoint");
    }
    checkOutput(output);
    PrintWriter out = spec.commandLine().getOut();
    long start = System.nanoTime();
    BertWeights fp32;
    String from;
    if (source.model != null) {
      SentenceEncoderSpec s = SentenceEncoderSpec.of(source.model);
      from = s.artifactId() + " (zoo, " + s.onnxResource() + ")";
      out.println("Reading " + from);
      out.flush();
      fp32 = SentenceEncoderLoader.importOnnx(s);
    } else {
      if (!Files.isRegularFile(source.onnx)) {
        throw new UserException("No ONNX file at " + source.onnx + ": check the --onnx path");
      }
      from = source.onnx.toString();
      out.println("Reading " + from);
      out.flush();
      fp32 = BertOnnxImporter.importModel(OnnxModelFile.read(source.onnx));
    }
    MxCheckpoint ckpt = MxCheckpoint.quantize(fp32, weights, new ProgressBar());
    ckpt.write(output);
    long fp32Bytes = 0;
    long mxBytes = 0;
    for (var w : ckpt.mxWeights().values()) {
      fp32Bytes += 4L * w.rows() * w.cols();
      mxBytes += w.codes().length + w.scales().length;
    }
    printSummary(out, ckpt.mxWeights().size(), mxBytes, fp32Bytes, start);
    return 0;
  }

  private void checkOutput(Path file) {
    if (Files.exists(file) && !force) {
      throw new UserException(file + " exists: choose another --output or add --force");
    }
  }

  /** Converts a DJL .params block model or a TorchScript module. */
  private int convertModel() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    long start = System.nanoTime();
    Path target;
    ModelCheckpoint ckpt;
    if (source.params != null) {
      Path p = source.params;
      if (!Files.exists(p)) {
        throw new UserException("No model at " + p + ": give its directory or NAME-0000.params");
      }
      if (blockFactory == null) {
        throw new UserException(
            "A .params file holds parameters, not the block that uses them: name the"
                + " ai.djl.nn.BlockFactory class that builds it with --block-factory CLASS");
      }
      boolean dir = Files.isDirectory(p);
      String name =
          modelName != null
              ? modelName
              : dir
                  ? p.toAbsolutePath().getFileName().toString()
                  : p.getFileName().toString().replaceFirst("(-\\d{4})?\\.params$", "");
      target =
          output != null
              ? output
              : (dir ? p : p.toAbsolutePath().getParent()).resolve(name + ".mxckpt");
      checkOutput(target);
      out.println("Reading " + p + " (block from " + blockFactory + ")");
      out.flush();
      ParamsConverter.Builder b =
          ParamsConverter.builder()
              .setModelPath(p)
              .optBlockFactory(blockFactory)
              .optArguments(arguments)
              .optFormat(weights)
              .optProgress(new ProgressBar());
      if (dir) {
        b.optModelName(name);
      }
      ckpt = b.build().convert();
    } else {
      Path pt = source.torchScript;
      if (!Files.isRegularFile(pt)) {
        throw new UserException("No TorchScript file at " + pt + ": check the --torchscript path");
      }
      String file = pt.getFileName().toString();
      int dot = file.lastIndexOf('.');
      target =
          output != null
              ? output
              : pt.toAbsolutePath()
                  .resolveSibling((dot > 0 ? file.substring(0, dot) : file) + ".mxckpt");
      checkOutput(target);
      out.println("Reading " + pt + " (TorchScript)");
      out.flush();
      ckpt = TorchScriptConverter.convert(pt, weights, ScaleMode.FLOOR, new ProgressBar());
    }
    try (ckpt) {
      ckpt.write(target);
      long fp32Bytes = 0;
      long mxBytes = 0;
      int count = 0;
      for (CheckpointTensor t : ckpt.tensors().values()) {
        if (t.isMx()) {
          count++;
          fp32Bytes += 4 * t.elementCount();
          mxBytes += t.byteSize();
        }
      }
      output = target;
      printSummary(out, count, mxBytes, fp32Bytes, start);
    }
    return 0;
  }

  private void printSummary(PrintWriter out, int count, long mxBytes, long fp32Bytes, long start)
      throws java.io.IOException {
    out.printf(
        Locale.ROOT,
        "Wrote %s: %d linear weights in %s, %.1f MB instead of %.1f MB FP32 (%.2fx); file %.1f MB;"
            + " %.1f s%n",
        output,
        count,
        weights,
        mxBytes / 1e6,
        fp32Bytes / 1e6,
        fp32Bytes / (double) Math.max(1, mxBytes),
        Files.size(output) / 1e6,
        (System.nanoTime() - start) / 1e9);
    out.flush();
  }
}

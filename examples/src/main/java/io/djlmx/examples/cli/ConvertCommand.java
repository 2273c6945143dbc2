package io.djlmx.examples.cli;

import ai.djl.training.util.ProgressBar;
import io.djlmx.format.MxFormat;
import io.djlmx.zoo.SentenceEncoderLoader;
import io.djlmx.zoo.SentenceEncoderSpec;
import io.djlmx.zoo.bert.BertWeights;
import io.djlmx.zoo.checkpoint.MxCheckpoint;
import io.djlmx.zoo.onnx.BertOnnxImporter;
import io.djlmx.zoo.onnx.OnnxModelFile;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code mx convert}: a BERT-family ONNX encoder to an MX checkpoint ({@code .mxckpt}). */
@Command(
    name = "convert",
    mixinStandardHelpOptions = true,
    description =
        "Converts a BERT-family sentence encoder from ONNX (a zoo model, or your own .onnx file"
            + " exported from Hugging Face) into an MX checkpoint: linear weights packed in an MX"
            + " format, everything else FP32. DJL .params models need no conversion: load them"
            + " with optEngine(\"MX\") and the engine packs their linear weights at load.")
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
      required = true,
      description = "The checkpoint to write (inspect it with 'mx inspect').")
  Path output;

  @Option(names = "--force", description = "Overwrite the output file if it exists.")
  boolean force;

  /** {@inheritDoc} */
  @Override
  public Integer call() throws Exception {
    if (Files.exists(output) && !force) {
      throw new UserException(output + " exists: choose another --output or add --force");
    }
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
    out.printf(
        Locale.ROOT,
        "Wrote %s: %d linear weights in %s, %.1f MB instead of %.1f MB FP32 (%.2fx); file %.1f MB;"
            + " %.1f s%n",
        output,
        ckpt.mxWeights().size(),
        weights,
        mxBytes / 1e6,
        fp32Bytes / 1e6,
        fp32Bytes / (double) Math.max(1, mxBytes),
        Files.size(output) / 1e6,
        (System.nanoTime() - start) / 1e9);
    out.flush();
    return 0;
  }
}

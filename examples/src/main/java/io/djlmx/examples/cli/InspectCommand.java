package io.djlmx.examples.cli;

import io.djlmx.checkpoint.CheckpointTensor;
import io.djlmx.checkpoint.ModelCheckpoint;
import io.djlmx.examples.TextTable;
import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code mx inspect}: what an MX checkpoint or MX tensor file holds. */
@Command(
    name = "inspect",
    mixinStandardHelpOptions = true,
    description =
        "Shows what an MX checkpoint (.mxckpt, from 'mx convert' or the zoo cache: an encoder, a"
            + " DJL .params model or a TorchScript module) or an MX tensor file (from 'mx"
            + " quantize') holds: layers, formats, bytes, bits per element, and a"
            + " histogram of the E8M0 block scales.")
public final class InspectCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Mixin VerboseOption verbose;

  @Parameters(paramLabel = "FILE", description = "A .mxckpt checkpoint or an MX tensor file.")
  Path file;

  @Option(
      names = "--layers",
      paramLabel = "N",
      defaultValue = "-1",
      description = "List at most N tensors (default: all).")
  int maxLayers;

  /** {@inheritDoc} */
  @Override
  public Integer call() throws Exception {
    if (!Files.isRegularFile(file)) {
      throw new UserException("No file at " + file + ": give a .mxckpt or an MX tensor file");
    }
    PrintWriter out = spec.commandLine().getOut();
    if (startsWithCheckpointPrefix(file)) {
      try (ModelCheckpoint ckpt = ModelCheckpoint.read(file)) {
        inspectModelCheckpoint(ckpt, out);
      }
    } else {
      try (InputStream in = new BufferedInputStream(Files.newInputStream(file));
          MxTensor t = MxTensor.readFrom(in)) {
        inspectTensor(t, out);
      } catch (IOException | RuntimeException e) {
        throw new UserException(
            file
                + " is neither an MX checkpoint (.mxckpt) nor an MX tensor file: "
                + e.getMessage(),
            e);
      }
    }
    out.flush();
    return 0;
  }

  /**
   * Whether the file starts like a checkpoint ("DJLMXCK" and a version): the reader then accepts
   * the current version and names an older one.
   */
  private static boolean startsWithCheckpointPrefix(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      return new String(in.readNBytes(7), StandardCharsets.US_ASCII).equals("DJLMXCK");
    }
  }

  /**
   * A model checkpoint: from {@code mx convert --params / --torchscript}, or a zoo encoder cache.
   */
  private void inspectModelCheckpoint(ModelCheckpoint ckpt, PrintWriter out) throws IOException {
    out.printf(Locale.ROOT, "MX model checkpoint %s (%.1f MB)%n", file, Files.size(file) / 1e6);
    for (Map.Entry<String, String> e : ckpt.metadata().entrySet()) {
      out.printf(Locale.ROOT, "%s: %s%n", e.getKey(), e.getValue());
    }
    out.println();
    TextTable t = new TextTable("tensor", "format", "shape", " bytes", " bits/element");
    long mxBytes = 0;
    long mxFp32 = 0;
    long otherBytes = 0;
    int mxCount = 0;
    long[] histogram = new long[256];
    int listed = 0;
    java.util.List<CheckpointTensor> tensors = new java.util.ArrayList<>(ckpt.tensors().values());
    // MX weights first: they are what the checkpoint is about
    tensors.sort(java.util.Comparator.comparing(x -> x.isMx() ? 0 : 1));
    for (CheckpointTensor x : tensors) {
      long bytes = x.byteSize();
      if (x.isMx()) {
        mxCount++;
        mxBytes += bytes;
        mxFp32 += 4 * x.elementCount();
        MemorySegment scales = x.mx().scales();
        for (long i = 0; i < scales.byteSize(); i++) {
          histogram[scales.get(ValueLayout.JAVA_BYTE, i) & 0xFF]++;
        }
      } else {
        otherBytes += bytes;
      }
      if (maxLayers < 0 || listed < maxLayers) {
        t.addRow(
            x.name(),
            x.isMx() ? x.mx().format().name() : "FP32",
            Arrays.toString(x.shape()),
            bytes,
            String.format(Locale.ROOT, "%.2f", 8.0 * bytes / Math.max(1, x.elementCount())));
        listed++;
      }
    }
    out.print(t.render());
    if (listed < tensors.size()) {
      out.printf(Locale.ROOT, "... %d more (use --layers)%n", tensors.size() - listed);
    }
    out.printf(
        Locale.ROOT,
        "%n%d MX weights: %.2f MB (%.2f MB in FP32, %.2fx smaller); other tensors (FP32): %.2f MB%n",
        mxCount,
        mxBytes / 1e6,
        mxFp32 / 1e6,
        mxBytes == 0 ? 0 : mxFp32 / (double) mxBytes,
        otherBytes / 1e6);
    if (mxCount > 0) {
      printHistogram(histogram, out);
    }
  }

  private static void inspectTensor(MxTensor t, PrintWriter out) {
    MxFormat f = t.format();
    long elements = t.rows() * t.cols();
    out.printf(
        Locale.ROOT,
        "MX tensor: %s, shape %s, block %d, %d rows x %d blocks%n"
            + "bytes: %d (%.3f bits/element; FP32 would take %d)%n",
        f,
        Arrays.toString(t.shape()),
        t.blockSize(),
        t.rows(),
        t.blocksPerRow(),
        t.byteSize(),
        8.0 * t.byteSize() / elements,
        4 * elements);
    float[] v = t.dequantize();
    double min = Double.POSITIVE_INFINITY;
    double max = Double.NEGATIVE_INFINITY;
    double sumAbs = 0;
    long zeros = 0;
    long nan = 0;
    for (float x : v) {
      if (Float.isNaN(x)) {
        nan++;
        continue;
      }
      min = Math.min(min, x);
      max = Math.max(max, x);
      sumAbs += Math.abs(x);
      if (x == 0) {
        zeros++;
      }
    }
    out.printf(
        Locale.ROOT,
        "values: min %.6g, max %.6g, mean |x| %.6g, zeros %d, NaN %d (of %d)%n",
        min,
        max,
        sumAbs / Math.max(1, v.length - nan),
        zeros,
        nan,
        v.length);
    long[] histogram = new long[256];
    MemorySegment scales = t.scales();
    for (long i = 0; i < scales.byteSize(); i++) {
      histogram[scales.get(ValueLayout.JAVA_BYTE, i) & 0xFF]++;
    }
    printHistogram(histogram, out);
  }

  /** Prints the E8M0 scale histogram as {@code 2^e} rows with bars. */
  static void printHistogram(long[] histogram, PrintWriter out) {
    Map<Integer, Long> rows = new TreeMap<>();
    long max = 0;
    long total = 0;
    for (int b = 0; b < 256; b++) {
      if (histogram[b] > 0) {
        rows.put(b, histogram[b]);
        max = Math.max(max, histogram[b]);
        total += histogram[b];
      }
    }
    out.printf(Locale.ROOT, "%nblock scales (E8M0), %d blocks:%n", total);
    for (Map.Entry<Integer, Long> e : rows.entrySet()) {
      String scale = e.getKey() == 0xFF ? "NaN" : "2^" + (e.getKey() - 127);
      int bar = (int) Math.max(1, Math.round(40.0 * e.getValue() / max));
      out.printf(
          Locale.ROOT,
          "  %6s %10d %5.1f%% %s%n",
          scale,
          e.getValue(),
          100.0 * e.getValue() / total,
          "#".repeat(bar));
    }
  }
}

package io.djlmx.examples.cli;

import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.format.ScaleMode;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code mx quantize}: a raw FP32 file to a serialized MX tensor. */
@Command(
    name = "quantize",
    mixinStandardHelpOptions = true,
    description = {
      "Quantizes a raw little-endian FP32 file to an MX tensor file (the serialization of"
          + " docs/format.md), blocked along the last axis, and prints the error it made."
    })
public final class QuantizeCommand implements Callable<Integer> {

  private static final ValueLayout.OfFloat LE_FLOAT =
      ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  @Spec picocli.CommandLine.Model.CommandSpec spec;

  /** Creates the command; picocli fills in its options. */
  public QuantizeCommand() {}

  @Parameters(index = "0", paramLabel = "INPUT", description = "raw little-endian FP32 values")
  Path input;

  @Parameters(index = "1", paramLabel = "OUTPUT", description = "the MX tensor file to write")
  Path output;

  @Option(
      names = {"-f", "--format"},
      required = true,
      description =
          "MXFP8_E4M3, MXFP8_E5M2, MXFP6_E3M2, MXFP6_E2M3, MXFP4_E2M1 or MXINT8"
              + " (also fp8_e4m3..., MXFP8, MXFP6, MXFP4)")
  String format;

  @Option(
      names = {"-s", "--scale"},
      defaultValue = "floor",
      description = "scale rule: floor (OCP MX v1.0) or rceil (default: ${DEFAULT-VALUE})")
  String scale;

  @Option(
      names = {"-b", "--block-size"},
      defaultValue = "32",
      description = "elements per block (default: ${DEFAULT-VALUE})")
  int blockSize;

  @Option(
      names = "--shape",
      description = "the shape, e.g. 4,4096 (default: one dimension, the whole file)")
  String shape;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    try {
      MxFormat f = MxFormat.parse(format);
      ScaleMode mode = ScaleMode.parse(scale);
      if (blockSize < 1) {
        throw new IllegalArgumentException("--block-size must be >= 1, got " + blockSize);
      }
      try (FileChannel ch = FileChannel.open(input, StandardOpenOption.READ);
          Arena arena = Arena.ofConfined()) {
        long size = ch.size();
        if (size % Float.BYTES != 0) {
          throw new IllegalArgumentException(
              input + " has " + size + " bytes, not a whole number of FP32 values");
        }
        long n = size / Float.BYTES;
        long[] dims = RawFloats.parseShape(shape, n, input);
        MemorySegment raw = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
        MemorySegment values = arena.allocate(size, 64);
        for (long i = 0; i < n; i++) {
          values.setAtIndex(ValueLayout.JAVA_FLOAT, i, raw.getAtIndex(LE_FLOAT, i));
        }
        try (MxTensor t = MxTensor.quantize(values, dims, f, mode, blockSize)) {
          try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(output))) {
            t.writeTo(os);
          }
          MemorySegment back = arena.allocate(size, 64);
          t.dequantizeInto(back);
          double sq = 0;
          double ref = 0;
          double maxErr = 0;
          for (long i = 0; i < n; i++) {
            double a = values.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            double d = back.getAtIndex(ValueLayout.JAVA_FLOAT, i) - a;
            if (Double.isFinite(a)) {
              sq += d * d;
              ref += a * a;
              maxErr = Math.max(maxErr, Math.abs(d));
            }
          }
          out.printf(
              Locale.ROOT,
              "%s: %s, shape %s, block %d, scale %s: %d values in %d bytes (%.3f bits each)%n",
              output,
              f,
              Arrays.toString(dims),
              blockSize,
              mode,
              n,
              t.byteSize(),
              n == 0 ? 0.0 : t.byteSize() * 8.0 / n);
          out.printf(
              Locale.ROOT,
              "rmse %.6g, relative rmse %.6g, max abs error %.6g%n",
              n == 0 ? 0.0 : Math.sqrt(sq / n),
              ref == 0 ? 0.0 : Math.sqrt(sq / ref),
              maxErr);
        }
      }
      out.flush();
      return 0;
    } catch (IOException | RuntimeException e) {
      err.println("error: " + e.getMessage());
      err.flush();
      return 1;
    }
  }
}

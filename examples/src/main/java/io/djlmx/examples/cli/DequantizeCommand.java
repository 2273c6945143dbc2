package io.djlmx.examples.cli;

import io.djlmx.format.MxTensor;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code mx dequantize}: a serialized MX tensor back to a raw FP32 file. */
@Command(
    name = "dequantize",
    mixinStandardHelpOptions = true,
    description = {
      "Reads an MX tensor file (written by 'mx quantize') and writes its values as raw"
          + " little-endian FP32, row-major in the tensor's shape."
    })
public final class DequantizeCommand implements Callable<Integer> {

  @Spec picocli.CommandLine.Model.CommandSpec spec;

  /** Creates the command; picocli fills in its options. */
  public DequantizeCommand() {}

  @Parameters(index = "0", paramLabel = "INPUT", description = "the MX tensor file")
  Path input;

  @Parameters(index = "1", paramLabel = "OUTPUT", description = "raw little-endian FP32 to write")
  Path output;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    try (InputStream in = new BufferedInputStream(Files.newInputStream(input));
        MxTensor t = MxTensor.readFrom(in);
        Arena arena = Arena.ofConfined()) {
      long n = t.elementCount();
      MemorySegment values = arena.allocate(n * Float.BYTES, 64);
      t.dequantizeInto(values);
      ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
      try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(output))) {
        for (long i = 0; i < n; i++) {
          if (buf.remaining() < Float.BYTES) {
            os.write(buf.array(), 0, buf.position());
            buf.clear();
          }
          buf.putFloat(values.getAtIndex(ValueLayout.JAVA_FLOAT, i));
        }
        os.write(buf.array(), 0, buf.position());
      }
      out.println(
          output
              + ": "
              + n
              + " FP32 values, shape "
              + Arrays.toString(t.shape())
              + " (from "
              + t.format()
              + ", block "
              + t.blockSize()
              + ", scale "
              + t.scaleMode()
              + ")");
      out.flush();
      return 0;
    } catch (IOException | RuntimeException e) {
      err.println("error: " + input + ": " + e.getMessage());
      err.flush();
      return 1;
    }
  }
}

package io.djlmx.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The format subcommands of {@code mx}: check-vectors, quantize, dequantize. */
class FormatCommandsTest {

  static final Path GOLDEN =
      Path.of(
          "..", "mx-engine", "src", "test", "resources", "testdata", "mx-golden-public.jsonl.gz");

  /** Runs {@code mx args...}; returns exit code, stdout, stderr. */
  static Object[] run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = MxCommand.newCommandLine();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int code = cl.execute(args);
    return new Object[] {code, out.toString(), err.toString()};
  }

  private static String lastLine(String text) {
    String[] lines = text.strip().split("\\R");
    return lines[lines.length - 1];
  }

  @Test
  void checkVectorsPassesOnTheGoldenFile() {
    Object[] r = run("check-vectors", GOLDEN.toString());
    assertEquals(0, r[0], (String) r[2]);
    assertEquals("4200 passed, 0 failed", lastLine((String) r[1]));
  }

  @Test
  void checkVectorsFailsOnACorruptedPlainCopy(@TempDir Path dir) throws IOException {
    List<String> lines = new ArrayList<>();
    try (BufferedReader in =
        new BufferedReader(
            new InputStreamReader(
                new GZIPInputStream(Files.newInputStream(GOLDEN)), StandardCharsets.UTF_8))) {
      in.lines().forEach(lines::add);
    }
    // Line 2 (a normal fp8_e4m3 block): change the first expected value's bit pattern.
    String line = lines.get(1);
    int at = line.indexOf("\"expected\": [") + "\"expected\": [".length();
    int end = line.indexOf(',', at);
    long value = Long.parseLong(line.substring(at, end));
    lines.set(1, line.substring(0, at) + (value ^ 1) + line.substring(end));
    lines.set(2, "{\"format\": \"fp7_e9m9\", \"input\": [], \"expected\": []}");
    Path copy = dir.resolve("corrupt.jsonl");
    Files.write(copy, lines);
    Object[] r = run("check-vectors", copy.toString());
    String out = (String) r[1];
    assertEquals(1, r[0]);
    assertEquals("4198 passed, 2 failed", lastLine(out));
    assertTrue(out.contains("FAIL line 2 (fp8_e4m3, block 32): 1 of 32 elements differ"), out);
    assertTrue(out.contains("element 0: input"), out);
    assertTrue(out.contains("line 3") && out.contains("fp7_e9m9"), out);
  }

  @Test
  void checkVectorsReportsAMissingFile(@TempDir Path dir) {
    Object[] r = run("check-vectors", dir.resolve("nope.jsonl").toString());
    assertEquals(2, r[0]);
    assertTrue(((String) r[2]).contains("no such file"), (String) r[2]);
  }

  @Test
  void quantizeThenDequantizeRoundTrips(@TempDir Path dir) throws IOException {
    long seed = new Random().nextLong();
    Random rnd = new Random(seed);
    int n = 3 * 100;
    ByteBuffer buf = ByteBuffer.allocate(n * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < n; i++) {
      buf.putFloat((float) rnd.nextGaussian());
    }
    Path raw = dir.resolve("x.f32");
    Files.write(raw, buf.array());
    Path mx = dir.resolve("x.mxt");
    Object[] r =
        run(
            "quantize",
            "--format",
            "mxint8",
            "--scale",
            "rceil",
            "--shape",
            "3,100",
            raw + "",
            mx + "");
    assertEquals(0, r[0], (String) r[2]);
    assertTrue(((String) r[1]).contains("MXINT8, shape [3, 100]"), (String) r[1]);
    Path back = dir.resolve("y.f32");
    r = run("dequantize", mx.toString(), back.toString());
    assertEquals(0, r[0], (String) r[2]);
    ByteBuffer y = ByteBuffer.wrap(Files.readAllBytes(back)).order(ByteOrder.LITTLE_ENDIAN);
    assertEquals(n * 4, y.capacity());
    for (int i = 0; i < n; i++) {
      float a = buf.getFloat(i * 4);
      float b = y.getFloat(i * 4);
      // MXINT8 with RCEIL: at most half a step of 2^-6 times the block scale (< 2 * block max).
      assertTrue(Math.abs(a - b) <= 4.0 / 128 * 4, "seed " + seed + " element " + i);
    }
  }

  @Test
  void badArgumentsAreNamed(@TempDir Path dir) throws IOException {
    Path raw = dir.resolve("x.f32");
    Files.write(raw, new byte[40]);
    Object[] r = run("quantize", "--format", "fp5", raw + "", dir.resolve("o") + "");
    assertEquals(1, r[0]);
    assertTrue(((String) r[2]).contains("Unknown MX format 'fp5'"), (String) r[2]);
    r = run("quantize", "--format", "mxfp4", "--shape", "3,4", raw + "", dir.resolve("o") + "");
    assertEquals(1, r[0]);
    assertTrue(((String) r[2]).contains("holds 12 values") && ((String) r[2]).contains("10"));
    r = run("dequantize", raw + "", dir.resolve("o") + "");
    assertEquals(1, r[0]);
    assertTrue(((String) r[2]).contains("'magic'"), (String) r[2]);
    for (String cmd : new String[] {"check-vectors", "quantize", "dequantize"}) {
      r = run(cmd, "--help");
      assertEquals(0, r[0]);
      assertTrue(((String) r[1]).startsWith("Usage: mx " + cmd), (String) r[1]);
    }
  }
}

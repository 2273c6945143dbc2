package io.djlmx.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The {@code mx} command line: help everywhere, user errors without traces, convert + inspect. */
class CliTest {

  /** A finished command: exit code, standard output, standard error. */
  record Run(int rc, String out, String err) {}

  /** Runs {@code mx ARGS} in this JVM, as {@code main} would, capturing its output. */
  static Run run(String... args) {
    CommandLine cl = MxCommand.newCommandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    // re-install the recording writer over the test's writer, as main() does over stdout
    RecordingWriter rec = new RecordingWriter(cl.getOut());
    cl.setOut(rec);
    cl.setExecutionStrategy(new ChartingStrategy(rec));
    int rc = cl.execute(args);
    return new Run(rc, out.toString(), err.toString());
  }

  @Test
  void everyCommandHasHelp() {
    Run root = run("--help");
    assertEquals(0, root.rc());
    for (String c : new String[] {"demo", "convert", "inspect", "eval", "bench", "check-vectors"}) {
      assertTrue(root.out().contains(c), "root help lacks " + c + ":\n" + root.out());
    }
    checkHelp(MxCommand.newCommandLine(), new String[0]);
  }

  private static void checkHelp(CommandLine cl, String[] path) {
    for (var e : cl.getSubcommands().entrySet()) {
      if (e.getKey().equals("help")) {
        continue;
      }
      String[] args = new String[path.length + 2];
      System.arraycopy(path, 0, args, 0, path.length);
      args[path.length] = e.getKey();
      args[path.length + 1] = "--help";
      Run r = run(args);
      assertEquals(0, r.rc(), String.join(" ", args));
      assertTrue(r.out().startsWith("Usage: mx"), String.join(" ", args) + ":\n" + r.out());
      String[] sub = new String[path.length + 1];
      System.arraycopy(args, 0, sub, 0, sub.length);
      checkHelp(e.getValue(), sub);
    }
  }

  @Test
  void lmCommandsRefuseBadInputWithoutAStackTrace(@TempDir Path dir) {
    Run noCorpus = run("eval", "lm", "--corpus", dir.resolve("none").toString());
    assertEquals(UserErrorHandler.USER_ERROR, noCorpus.rc());
    assertTrue(noCorpus.err().contains("No fortune directory"), noCorpus.err());
    assertFalse(noCorpus.err().contains("\tat "), noCorpus.err());
    Run empty = run("eval", "lm", "--corpus", dir.toString());
    assertEquals(UserErrorHandler.USER_ERROR, empty.rc());
    assertTrue(empty.err().contains("No fortunes in"), empty.err());
    Run format = run("eval", "lm", "--formats", "FP7", "--corpus", dir.toString());
    assertEquals(UserErrorHandler.USER_ERROR, format.rc());
    assertTrue(format.err().contains("FP7"), format.err());
    Run tokens = run("bench", "lm", "--tokens", "0");
    assertEquals(UserErrorHandler.USER_ERROR, tokens.rc());
    assertTrue(tokens.err().contains("--tokens"), tokens.err());
  }

  @Test
  void userErrorsSayWhatToDoWithoutAStackTrace(@TempDir Path dir) throws Exception {
    Run missing = run("inspect", dir.resolve("nope.mxckpt").toString());
    assertEquals(UserErrorHandler.USER_ERROR, missing.rc());
    assertTrue(missing.err().contains("No file at"), missing.err());
    assertFalse(missing.err().contains("\tat "), missing.err());

    Path junk = Files.writeString(dir.resolve("junk.bin"), "not a tensor");
    Run bad = run("inspect", junk.toString());
    assertEquals(UserErrorHandler.USER_ERROR, bad.rc());
    assertTrue(bad.err().contains("neither an MX checkpoint"), bad.err());
    assertFalse(bad.err().contains("\tat "), bad.err());

    Run format = run("convert", "--model", "all-MiniLM-L6-v2", "-w", "FP7", "-o", "x.mxckpt");
    assertEquals(2, format.rc());
    assertTrue(format.err().contains("valid: MXFP8_E4M3"), format.err());

    Run chart = run("bench", "linear", "--chart", "speed.jpg");
    assertEquals(UserErrorHandler.USER_ERROR, chart.rc());
    assertTrue(chart.err().contains("ending in .png"), chart.err());

    Run model = run("convert", "--model", "no-such-model", "-o", dir.resolve("m").toString());
    assertEquals(UserErrorHandler.USER_ERROR, model.rc());
    assertTrue(model.err().contains("known: [all-MiniLM-L6-v2"), model.err());
  }

  @Test
  void inspectShowsAQuantizedTensor(@TempDir Path dir) throws Exception {
    int rows = 3;
    int cols = 70; // ragged last block
    ByteBuffer b = ByteBuffer.allocate(4 * rows * cols).order(ByteOrder.LITTLE_ENDIAN);
    SplittableRandom rnd = new SplittableRandom();
    for (int i = 0; i < rows * cols; i++) {
      b.putFloat((float) rnd.nextGaussian());
    }
    Path raw = Files.write(dir.resolve("w.f32"), b.array());
    Path mx = dir.resolve("w.mx");
    Run q = run("quantize", raw.toString(), mx.toString(), "-f", "MXFP4_E2M1", "--shape", "3,70");
    assertEquals(0, q.rc(), q.err());
    Run r = run("inspect", mx.toString());
    assertEquals(0, r.rc(), r.err());
    assertTrue(r.out().contains("MXFP4_E2M1, shape [3, 70], block 32, 3 rows x 3 blocks"), r.out());
    assertTrue(r.out().contains("block scales (E8M0), 9 blocks"), r.out());
  }

  @Test
  void convertWritesACheckpointThatInspectReads(@TempDir Path dir) throws Exception {
    Path out = dir.resolve("minilm-fp4.mxckpt");
    Run c = run("convert", "--model", "all-MiniLM-L6-v2", "-w", "MXFP4_E2M1", "-o", out.toString());
    assertEquals(0, c.rc(), c.err());
    assertTrue(c.out().contains("36 linear weights in MXFP4_E2M1"), c.out());
    Run again = run("convert", "--model", "all-MiniLM-L6-v2", "-o", out.toString());
    assertEquals(UserErrorHandler.USER_ERROR, again.rc());
    assertTrue(again.err().contains("--force"), again.err());

    Run r = run("inspect", out.toString(), "--layers", "3");
    assertEquals(0, r.rc(), r.err());
    // a zoo encoder checkpoint is a model checkpoint: its metadata carries the encoder's shape
    assertTrue(r.out().contains("source: bert-onnx"), r.out());
    assertTrue(r.out().contains("weights: MXFP4_E2M1"), r.out());
    assertTrue(r.out().contains("bert.numLayers: 6"), r.out());
    // 4 bits per element + one 8-bit scale per 32 elements
    assertTrue(
        r.out().contains("encoder.layer.0.attention.self.query.weight  MXFP4_E2M1"), r.out());
    assertTrue(r.out().contains("4.25"), r.out());
    assertTrue(r.out().contains("block scales (E8M0), 331776 blocks"), r.out());
  }
}

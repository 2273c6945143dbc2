package io.djlmx.examples.cli;

import io.djlmx.format.ReferenceVector;
import io.djlmx.format.ReferenceVectorFile;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code mx check-vectors FILE}: reproduces every block of a reference-vector file bit for bit. */
@Command(
    name = "check-vectors",
    mixinStandardHelpOptions = true,
    description = {
      "Quantizes and dequantizes every block of a file of MX reference vectors (JSON lines, gzip"
          + " or plain) and compares the result bit for bit (+0 and -0 equal).",
      "Prints the failures (the first few in detail) and ends with the line 'N passed, M failed'."
          + " Exit status 0 only when M is 0."
    })
public final class CheckVectorsCommand implements Callable<Integer> {

  private static final int MAX_SHORT_LINES = 100;

  @Spec picocli.CommandLine.Model.CommandSpec spec;

  /** Creates the command; picocli fills in its options. */
  public CheckVectorsCommand() {}

  @Parameters(index = "0", paramLabel = "FILE", description = "the reference vectors")
  Path file;

  @Option(
      names = "--details",
      defaultValue = "5",
      description = "failures described element by element (default: ${DEFAULT-VALUE})")
  int details;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    long passed = 0;
    long failed = 0;
    BufferedReader reader;
    try {
      reader = ReferenceVectorFile.openLines(Files.newInputStream(file));
    } catch (NoSuchFileException e) {
      err.println("error: no such file: " + file);
      return 2;
    } catch (IOException e) {
      err.println("error: cannot read " + file + ": " + e.getMessage());
      return 2;
    }
    try (reader) {
      String line;
      long number = 0;
      while ((line = reader.readLine()) != null) {
        number++;
        if (line.isBlank()) {
          continue;
        }
        String failure = check(line, number, failed < details);
        if (failure == null) {
          passed++;
        } else {
          failed++;
          if (failed <= details + MAX_SHORT_LINES) {
            out.println(failure);
          } else if (failed == details + MAX_SHORT_LINES + 1) {
            out.println("(further failures not listed)");
          }
        }
      }
    } catch (IOException e) {
      failed++;
      out.println("FAIL " + file + ": read error after " + (passed + failed - 1) + " blocks: " + e);
    }
    if (passed + failed == 0) {
      out.println("FAIL " + file + ": no reference vectors in the file");
      failed = 1;
    }
    out.println(passed + " passed, " + failed + " failed");
    out.flush();
    return failed == 0 ? 0 : 1;
  }

  /** Returns null when the line's block is reproduced, else a description of the failure. */
  private String check(String line, long number, boolean detailed) {
    ReferenceVector v;
    try {
      v = ReferenceVector.parse(line, number);
    } catch (IllegalArgumentException e) {
      return "FAIL " + e.getMessage();
    }
    float[] got;
    try {
      got = v.reproduce();
    } catch (RuntimeException e) {
      return "FAIL line " + number + " (" + v.format().elementName() + "): " + e;
    }
    int[] bad = v.mismatches(got);
    if (bad.length == 0) {
      return null;
    }
    StringBuilder sb = new StringBuilder();
    sb.append("FAIL line ")
        .append(number)
        .append(" (")
        .append(v.format().elementName())
        .append(", block ")
        .append(v.blockSize())
        .append("): ")
        .append(bad.length)
        .append(" of ")
        .append(got.length)
        .append(" elements differ");
    if (detailed) {
      for (int k = 0; k < Math.min(bad.length, 4); k++) {
        int i = bad[k];
        int in = v.inputBits()[i];
        int want = v.expectedBits()[i];
        int have = Float.floatToRawIntBits(got[i]);
        sb.append(
            String.format(
                "%n    element %d: input 0x%08x (%s) expected 0x%08x (%s) got 0x%08x (%s)",
                i, in, Float.intBitsToFloat(in), want, Float.intBitsToFloat(want), have, got[i]));
      }
      if (bad.length > 4) {
        sb.append(String.format("%n    ... and %d more", bad.length - 4));
      }
    }
    return sb.toString();
  }
}

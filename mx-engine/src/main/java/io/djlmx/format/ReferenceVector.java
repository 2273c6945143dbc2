package io.djlmx.format;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * One block of the MX reference vectors (the {@code mx-golden} JSON-lines format): an element type,
 * the FP32 inputs and the FP32 values expected after quantizing and dequantizing them, both as
 * IEEE-754 bit patterns.
 *
 * <p>A line looks like {@code {"format": "fp6_e3m2", "block": 32, "rounding": "even", "input":
 * [u32...], "expected": [u32...]}}. The parser is deliberately small: it reads exactly these keys
 * (in any order, others ignored if they hold a number, string or array of numbers) and reports the
 * line and the field of any problem.
 *
 * @param format the element type
 * @param blockSize the block size
 * @param rounding the rounding mode the vector was made with ({@code even} is the only one checked)
 * @param inputBits the inputs as FP32 bit patterns
 * @param expectedBits the expected dequantized values as FP32 bit patterns
 */
public record ReferenceVector(
    MxFormat format, int blockSize, String rounding, int[] inputBits, int[] expectedBits) {

  /**
   * Returns the inputs as floats.
   *
   * @return the input values
   */
  public float[] input() {
    float[] v = new float[inputBits.length];
    for (int i = 0; i < v.length; i++) {
      v[i] = Float.intBitsToFloat(inputBits[i]);
    }
    return v;
  }

  /**
   * Quantizes the input as one row with the FLOOR scale and this vector's block size, and
   * dequantizes it: what {@link #expectedBits()} should equal.
   *
   * @return the reproduced values
   */
  public float[] reproduce() {
    try (MxTensor t =
        MxTensor.quantize(
            java.lang.foreign.MemorySegment.ofArray(input()),
            new long[] {inputBits.length},
            format,
            ScaleMode.FLOOR,
            blockSize)) {
      return t.dequantize();
    }
  }

  /**
   * Lists the positions of {@code reproduced} whose bit pattern differs from the expected one (+0
   * and -0 equal).
   *
   * @param reproduced the values from {@link #reproduce()}
   * @return the indices that differ, empty when the block is reproduced exactly
   */
  public int[] mismatches(float[] reproduced) {
    int[] bad = new int[reproduced.length];
    int n = 0;
    for (int i = 0; i < reproduced.length; i++) {
      if (!sameValue(Float.floatToRawIntBits(reproduced[i]), expectedBits[i])) {
        bad[n++] = i;
      }
    }
    return Arrays.copyOf(bad, n);
  }

  /**
   * Reproduces the block and lists the positions that differ from the expected values.
   *
   * @return the indices that differ, empty when the block is reproduced exactly
   */
  public int[] mismatches() {
    return mismatches(reproduce());
  }

  /**
   * Returns whether two FP32 bit patterns are the same, treating +0 and -0 as equal.
   *
   * @param a the first pattern
   * @param b the second pattern
   * @return true when equal
   */
  public static boolean sameValue(int a, int b) {
    return a == b || ((a & 0x7FFFFFFF) == 0 && (b & 0x7FFFFFFF) == 0);
  }

  /**
   * Parses one JSON line.
   *
   * @param line the line's text
   * @param lineNumber its 1-based number, for messages
   * @return the vector
   * @throws IllegalArgumentException naming the line and the field when the line is malformed
   */
  public static ReferenceVector parse(String line, long lineNumber) {
    return new LineParser(line, lineNumber).parse();
  }

  /** A strict reader for the flat JSON object of one reference-vector line. */
  private static final class LineParser {
    private final String s;
    private final long lineNumber;
    private int pos;

    LineParser(String s, long lineNumber) {
      this.s = s;
      this.lineNumber = lineNumber;
    }

    ReferenceVector parse() {
      String formatName = null;
      Integer block = null;
      String rounding = "even";
      int[] input = null;
      int[] expected = null;
      skipSpace();
      expect('{');
      skipSpace();
      if (peek() != '}') {
        while (true) {
          skipSpace();
          String key = readString();
          skipSpace();
          expect(':');
          skipSpace();
          switch (key) {
            case "format" -> formatName = readString();
            case "block" -> block = (int) readLong(key);
            case "rounding" -> rounding = readString();
            case "input" -> input = readU32Array(key);
            case "expected" -> expected = readU32Array(key);
            default -> skipValue(key);
          }
          skipSpace();
          if (peek() == ',') {
            pos++;
            continue;
          }
          break;
        }
      }
      expect('}');
      skipSpace();
      if (pos != s.length()) {
        throw error("unexpected text after the object at column " + (pos + 1));
      }
      if (formatName == null) {
        throw error("missing field 'format'");
      }
      if (input == null) {
        throw error("missing field 'input'");
      }
      if (expected == null) {
        throw error("missing field 'expected'");
      }
      MxFormat format;
      try {
        format = MxFormat.parse(formatName);
      } catch (IllegalArgumentException e) {
        throw error("field 'format': " + e.getMessage());
      }
      int blockSize = block == null ? MxFormat.DEFAULT_BLOCK_SIZE : block;
      if (blockSize < 1) {
        throw error("field 'block' must be >= 1, got " + blockSize);
      }
      if (input.length != expected.length) {
        throw error(
            "field 'expected' has "
                + expected.length
                + " values, expected "
                + input.length
                + " (as many as 'input')");
      }
      if (!rounding.toLowerCase(Locale.ROOT).equals("even")) {
        throw error("field 'rounding' is '" + rounding + "', only 'even' is supported");
      }
      return new ReferenceVector(format, blockSize, rounding, input, expected);
    }

    private int[] readU32Array(String key) {
      expect('[');
      List<Long> values = new ArrayList<>();
      skipSpace();
      if (peek() == ']') {
        pos++;
        return new int[0];
      }
      while (true) {
        skipSpace();
        long v = readLong(key);
        if (v < 0 || v > 0xFFFFFFFFL) {
          throw error("field '" + key + "' holds " + v + ", not an unsigned 32-bit value");
        }
        values.add(v);
        skipSpace();
        char c = next();
        if (c == ']') {
          break;
        }
        if (c != ',') {
          throw error(
              "field '" + key + "': expected ',' or ']' at column " + pos + ", got '" + c + "'");
        }
      }
      int[] out = new int[values.size()];
      for (int i = 0; i < out.length; i++) {
        out[i] = (int) (long) values.get(i);
      }
      return out;
    }

    private long readLong(String key) {
      int start = pos;
      if (pos < s.length() && s.charAt(pos) == '-') {
        pos++;
      }
      while (pos < s.length() && Character.isDigit(s.charAt(pos))) {
        pos++;
      }
      if (pos == start || pos - start > 18) {
        throw error("field '" + key + "': expected an integer at column " + (start + 1));
      }
      return Long.parseLong(s, start, pos, 10);
    }

    private String readString() {
      expect('"');
      int start = pos;
      while (pos < s.length() && s.charAt(pos) != '"') {
        if (s.charAt(pos) == '\\') {
          throw error("escapes in strings are not supported (column " + (pos + 1) + ")");
        }
        pos++;
      }
      if (pos >= s.length()) {
        throw error("unterminated string starting at column " + start);
      }
      return s.substring(start, pos++);
    }

    private void skipValue(String key) {
      char c = peek();
      if (c == '"') {
        readString();
      } else if (c == '[') {
        readU32Array(key);
      } else {
        readLong(key);
      }
    }

    private void skipSpace() {
      while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) {
        pos++;
      }
    }

    private char peek() {
      if (pos >= s.length()) {
        throw error("line ends early at column " + (pos + 1));
      }
      return s.charAt(pos);
    }

    private char next() {
      char c = peek();
      pos++;
      return c;
    }

    private void expect(char c) {
      char got = next();
      if (got != c) {
        throw error("expected '" + c + "' at column " + pos + ", got '" + got + "'");
      }
    }

    private IllegalArgumentException error(String what) {
      return new IllegalArgumentException("Reference vector line " + lineNumber + ": " + what);
    }
  }
}

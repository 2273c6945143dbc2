package io.djlmx.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The reference-vector line parser: good lines and named errors. */
class ReferenceVectorTest {

  private static String error(String line) {
    return assertThrows(IllegalArgumentException.class, () -> ReferenceVector.parse(line, 7))
        .getMessage();
  }

  @Test
  void parsesALineInAnyKeyOrder() {
    ReferenceVector v =
        ReferenceVector.parse(
            "{\"expected\": [1065353216, 0], \"note\": \"x\", \"input\": [1065353216, 2147483648],"
                + " \"block\": 2, \"format\": \"fp4_e2m1\", \"rounding\": \"even\"}",
            1);
    assertEquals(MxFormat.MXFP4_E2M1, v.format());
    assertEquals(2, v.blockSize());
    assertArrayEquals(new int[] {0x3F800000, 0x80000000}, v.inputBits());
    assertEquals(0, v.mismatches().length); // 1.0 and -0.0 (equal to +0)
  }

  @Test
  void malformedLinesNameTheLineAndTheField() {
    String msg = error("{\"format\": \"fp8_e4m3\", \"input\": [1]}");
    assertTrue(msg.contains("line 7") && msg.contains("'expected'"), msg);
    msg = error("{\"format\": \"fp8_e4m3\", \"input\": [1, 2], \"expected\": [1]}");
    assertTrue(msg.contains("'expected' has 1 values, expected 2"), msg);
    msg = error("{\"format\": \"fp9\", \"input\": [], \"expected\": []}");
    assertTrue(msg.contains("'format'") && msg.contains("fp9"), msg);
    msg = error("{\"format\": \"int8\", \"input\": [4294967296], \"expected\": [0]}");
    assertTrue(msg.contains("'input'") && msg.contains("4294967296"), msg);
    msg =
        error("{\"format\": \"int8\", \"rounding\": \"nearest\", \"input\": [], \"expected\": []}");
    assertTrue(msg.contains("'rounding'") && msg.contains("nearest"), msg);
    msg = error("{\"format\": \"int8\", \"input\": [1, 2");
    assertTrue(msg.contains("line 7") && msg.contains("ends early"), msg);
    msg = error("not json");
    assertTrue(msg.contains("expected '{'"), msg);
  }
}

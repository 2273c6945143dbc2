package io.djlmx.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Loads MiniLM from the zoo in its default format and in MXFP8, and compares both with FP32. */
class ZooFormatsExampleTest {

  @Test
  void defaultIsMxfp6AndAnotherFormatIsOneOptionAway() throws Exception {
    List<ZooFormatsExample.FormatRow> rows =
        ZooFormatsExample.compare(Arrays.asList(null, "MXFP8_E4M3"), TestCache.dir());
    ZooFormatsExample.FormatRow fp6 = rows.get(0);
    ZooFormatsExample.FormatRow fp8 = rows.get(1);
    assertEquals("MXFP6_E2M3", fp6.format());
    assertEquals("MXFP8_E4M3", fp8.format());
    double bits6 = fp6.memory().linearBitsPerElement();
    double bits8 = fp8.memory().linearBitsPerElement();
    assertTrue(bits6 >= 6.25 && bits6 < 7, "MXFP6 bits per weight " + bits6);
    assertTrue(bits8 >= 8.25 && bits8 < 9, "MXFP8 bits per weight " + bits8);
    assertTrue(fp6.meanCosine() > 0.995, "MXFP6 mean cosine " + fp6.meanCosine());
    assertTrue(fp8.meanCosine() > 0.995, "MXFP8 mean cosine " + fp8.meanCosine());
  }
}

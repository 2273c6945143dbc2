package io.djlmx.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Reproduces every block of the public reference vectors bit for bit. */
class GoldenVectorsTest {

  static List<ReferenceVector> load() throws IOException {
    try (InputStream in =
        GoldenVectorsTest.class.getResourceAsStream("/testdata/mx-golden-public.jsonl.gz")) {
      return ReferenceVectorFile.read(in, "mx-golden-public.jsonl.gz");
    }
  }

  @Test
  void everyBlockBitExact() throws IOException {
    List<ReferenceVector> vectors = load();
    assertEquals(4200, vectors.size());
    Map<MxFormat, Integer> perFormat = new EnumMap<>(MxFormat.class);
    StringBuilder failures = new StringBuilder();
    int failed = 0;
    for (int k = 0; k < vectors.size(); k++) {
      ReferenceVector v = vectors.get(k);
      perFormat.merge(v.format(), 1, Integer::sum);
      int[] bad = v.mismatches();
      if (bad.length > 0) {
        failed++;
        if (failed <= 5) {
          int i = bad[0];
          failures.append(
              String.format(
                  "block %d (%s) element %d: input %s expected %s%n",
                  k + 1,
                  v.format(),
                  i,
                  Float.intBitsToFloat(v.inputBits()[i]),
                  Float.intBitsToFloat(v.expectedBits()[i])));
        }
      }
    }
    assertEquals(0, failed, failed + " blocks differ:\n" + failures);
    assertEquals(MxFormat.values().length, perFormat.size());
    for (int count : perFormat.values()) {
      assertTrue(count == 700, "700 blocks per format: " + perFormat);
    }
  }
}

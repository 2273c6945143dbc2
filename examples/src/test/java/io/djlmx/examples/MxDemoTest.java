package io.djlmx.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.djlmx.format.MxFormat;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Runs the main demo on a small slice of the corpus and checks what it reports. */
class MxDemoTest {

  @Test
  void mxfp6AgreesWithFp32AndSavesMemory() throws Exception {
    MxDemo.Options options =
        new MxDemo.Options(
            64,
            List.of("a car for driving on roads", "an airplane"),
            3,
            32,
            MxFormat.MXFP6_E2M3,
            TestCache.dir(),
            0);
    MxDemo.Result r = new MxDemo(options).run();

    assertEquals(64, r.fp32().corpus().length);
    // MXFP6 weights: 6.25 bits per element (+ kernel layout) against 32
    assertTrue(r.mx().memory().linearBitsPerElement() < 7, "bits " + r.mx().memory());
    assertEquals(32.0, r.fp32().memory().linearBitsPerElement(), 1e-9);
    assertTrue(r.meanCosine() > 0.99, "mean cosine " + r.meanCosine());
    assertTrue(r.minCosine() > 0.97, "min cosine " + r.minCosine());
    assertEquals("automobile", title(r, r.fp32().answers().get(0).get(0)));
    assertEquals("aircraft", title(r, r.fp32().answers().get(1).get(0)));
    assertEquals(2, r.sameTop1(), "best answers differ");
    assertTrue(r.fp32().corpusPerSecond() > 0 && r.mx().queriesPerSecond() > 0);

    StringWriter text = new StringWriter();
    MxDemo.print(r, new PrintWriter(text));
    String out = text.toString();
    assertTrue(out.contains("linear weights (MB)"), out);
    assertTrue(out.contains("same best answer"), out);
    assertTrue(out.contains("MXFP6_E2M3 (MX)"), out);
  }

  private static String title(MxDemo.Result r, SemanticIndex.Hit h) {
    return r.corpus().entries().get(h.index()).title();
  }
}

package io.djlmx.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tables read back from command output, and the PNG charts drawn from them. */
class ChartsTest {

  static {
    System.setProperty("java.awt.headless", "true");
  }

  // The shape of 'mx eval embeddings' output (values here only exercise the drawing).
  private static final String EVAL =
      """
      some log line
      | model | weights | activations | mean cosine | min cosine | top-10 agreement |
      |---|---|---|---|---|---|
      | m | MXFP8_E4M3 | FP32 | 0.99791 | 0.99568 | 0.9467 |
      | m | MXFP8_E4M3 | MXFP8_E4M3 | 0.99700 | 0.99400 | 0.9300 |
      | m | MXFP6_E2M3 | FP32 | 0.99650 | 0.99200 | 0.9200 |
      | m | MXFP4_E2M1 | FP32 | 0.95000 | 0.90000 | 0.7000 |
      | m | ONNX Runtime INT8 (-q) | INT8 (dynamic) | 0.99100 | 0.98100 | 0.9000 |
      """;

  @Test
  void parsesTablesAndReadsNumbersInCells() {
    MarkdownTable t = MarkdownTable.parse(EVAL);
    assertEquals(6, t.headers().size());
    assertEquals(5, t.rows().size());
    assertEquals(0.99791, t.number(t.rows().get(0), t.column("mean cosine")), 1e-12);
    assertEquals(3.9, t.number(List.of("3.9×"), 0), 1e-12);
    assertEquals(Double.NaN, t.number(List.of("n/a"), 0));
    assertThrows(IllegalArgumentException.class, () -> MarkdownTable.parse("no table here"));
    assertThrows(IllegalArgumentException.class, () -> t.column("latency"));
  }

  @Test
  void bitsPerElementOfTableNames() {
    assertEquals(32, Charts.bitsPerElement("FP32"));
    assertEquals(6.25, Charts.bitsPerElement("MXFP6_E2M3"));
    assertEquals(4.25, Charts.bitsPerElement("MXFP4_E2M1"));
    assertEquals(8.25, Charts.bitsPerElement("MXINT8"));
    assertEquals(8, Charts.bitsPerElement("ONNX Runtime INT8 (-q)"));
  }

  @Test
  void drawsPngCharts(@TempDir Path dir) throws Exception {
    Path eval = dir.resolve("eval.png");
    Charts.evalChart(MarkdownTable.parse(EVAL), "mean cosine", "test", eval);
    BufferedImage img = ImageIO.read(eval.toFile());
    assertEquals(1100, img.getWidth());
    assertEquals(640, img.getHeight());

    String bench =
        """
        | configuration | batch 1 sentences/s | batch 32 sentences/s |
        |---|---|---|
        | PyTorch FP32 | 100.0 | 300.0 |
        | MX MXFP6_E2M3 | 150.0 | 280.0 |
        """;
    Path speed = dir.resolve("speed.png");
    Charts.tableBars(
        MarkdownTable.parse(bench),
        "configuration",
        List.of("batch 1", "batch 32"),
        "t",
        null,
        "sentences / s",
        speed);
    assertEquals(1100, ImageIO.read(speed.toFile()).getWidth());
  }
}

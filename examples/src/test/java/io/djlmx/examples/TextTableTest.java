package io.djlmx.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Text and Markdown rendering of tables, and reading the Markdown back. */
class TextTableTest {

  @Test
  void alignsColumnsAndRoundTripsThroughMarkdown() {
    TextTable t = new TextTable("format", " MB").addRow("FP32", "42.5").addRow("MXFP6_E2M3", "8.3");
    assertEquals(
        "format        MB\n----------  ----\nFP32        42.5\nMXFP6_E2M3   8.3\n", t.render());
    MarkdownTable back = MarkdownTable.parse(t.toMarkdown());
    assertEquals(List.of("format", "MB"), back.headers());
    assertEquals(8.3, back.number(back.rows().get(1), back.column("mb")), 1e-12);
    assertThrows(IllegalArgumentException.class, () -> t.addRow("only one cell"));
  }
}

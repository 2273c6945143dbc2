package io.djlmx.examples;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A plain-text table with aligned columns, for terminal output and Markdown.
 *
 * <p>Columns whose header starts with a space are right-aligned (numbers); others left-aligned.
 */
public final class TextTable {

  private final String[] headers;
  private final boolean[] right;
  private final List<String[]> rows = new ArrayList<>();

  /**
   * Creates a table.
   *
   * @param headers the column headers; a leading space right-aligns the column
   */
  public TextTable(String... headers) {
    this.headers = new String[headers.length];
    this.right = new boolean[headers.length];
    for (int i = 0; i < headers.length; i++) {
      right[i] = headers[i].startsWith(" ");
      this.headers[i] = headers[i].strip();
    }
  }

  /**
   * Adds a row.
   *
   * @param cells one cell per column
   * @return this table
   * @throws IllegalArgumentException if the cell count differs from the column count
   */
  public TextTable addRow(Object... cells) {
    if (cells.length != headers.length) {
      throw new IllegalArgumentException(
          "Row has " + cells.length + " cells, table has " + headers.length + " columns");
    }
    rows.add(Arrays.stream(cells).map(String::valueOf).toArray(String[]::new));
    return this;
  }

  /**
   * Returns the number of rows.
   *
   * @return the row count
   */
  public int rowCount() {
    return rows.size();
  }

  /**
   * Renders the table with a header underline, columns separated by two spaces.
   *
   * @return the text, one line per row, ending with a newline
   */
  public String render() {
    return layout("  ", "", false);
  }

  /**
   * Renders the table as GitHub Markdown.
   *
   * @return the Markdown text
   */
  public String toMarkdown() {
    return layout(" | ", "| ", true);
  }

  private String layout(String sep, String edge, boolean markdown) {
    int[] w = widths();
    StringBuilder sb = new StringBuilder();
    appendLine(sb, headers, w, sep, edge);
    String[] rule = new String[headers.length];
    for (int i = 0; i < rule.length; i++) {
      rule[i] = markdown && right[i] ? "-".repeat(Math.max(1, w[i] - 1)) + ":" : "-".repeat(w[i]);
    }
    appendLine(sb, rule, w, sep, edge);
    for (String[] r : rows) {
      appendLine(sb, r, w, sep, edge);
    }
    return sb.toString();
  }

  private int[] widths() {
    int[] w = new int[headers.length];
    for (int i = 0; i < w.length; i++) {
      w[i] = headers[i].length();
      for (String[] r : rows) {
        w[i] = Math.max(w[i], r[i].length());
      }
    }
    return w;
  }

  private void appendLine(StringBuilder sb, String[] cells, int[] w, String sep, String edge) {
    StringBuilder line = new StringBuilder(edge);
    for (int i = 0; i < cells.length; i++) {
      if (i > 0) {
        line.append(sep);
      }
      String pad = " ".repeat(w[i] - cells[i].length());
      line.append(right[i] ? pad + cells[i] : cells[i] + pad);
    }
    if (!edge.isEmpty()) {
      line.append(edge.strip().isEmpty() ? "" : " " + edge.strip());
    }
    sb.append(line.toString().stripTrailing()).append('\n');
  }
}

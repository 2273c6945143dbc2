package io.djlmx.examples;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A GitHub Markdown table read back from text (what the benchmark and evaluation commands print),
 * so charts can be drawn from the same rows a person reads.
 *
 * @param headers the column headers
 * @param rows the cells of each row
 */
public record MarkdownTable(List<String> headers, List<List<String>> rows) {

  private static final Pattern NUMBER = Pattern.compile("-?\\d+(?:\\.\\d+)?(?:[eE][-+]?\\d+)?");

  /**
   * Parses the first Markdown table in a text: a header line, a {@code |---|} line, then rows.
   *
   * @param text any text holding a table
   * @return the table
   * @throws IllegalArgumentException if the text holds no table
   */
  public static MarkdownTable parse(String text) {
    List<String> lines = text.lines().map(String::strip).toList();
    for (int i = 0; i + 1 < lines.size(); i++) {
      if (lines.get(i).startsWith("|") && lines.get(i + 1).matches("\\|[-:| ]+\\|?")) {
        List<String> headers = cells(lines.get(i));
        List<List<String>> rows = new ArrayList<>();
        for (int j = i + 2; j < lines.size() && lines.get(j).startsWith("|"); j++) {
          rows.add(cells(lines.get(j)));
        }
        return new MarkdownTable(headers, rows);
      }
    }
    throw new IllegalArgumentException("No Markdown table found in the command's output");
  }

  private static List<String> cells(String line) {
    String s = line.strip();
    s = s.substring(1, s.endsWith("|") ? s.length() - 1 : s.length());
    return Arrays.stream(s.split("\\|", -1)).map(String::strip).toList();
  }

  /**
   * Returns the index of the first column whose header contains a text (case-insensitive).
   *
   * @param part the text
   * @return the column index
   * @throws IllegalArgumentException naming the headers when none matches
   */
  public int column(String part) {
    for (int i = 0; i < headers.size(); i++) {
      if (headers.get(i).toLowerCase(Locale.ROOT).contains(part.toLowerCase(Locale.ROOT))) {
        return i;
      }
    }
    throw new IllegalArgumentException("No column '" + part + "' in " + headers);
  }

  /**
   * Reads the first number in a cell ({@code "3.9×"} is 3.9).
   *
   * @param row the row
   * @param column the column
   * @return the number, or NaN when the cell holds none
   */
  public double number(List<String> row, int column) {
    if (column >= row.size()) {
      return Double.NaN;
    }
    Matcher m = NUMBER.matcher(row.get(column));
    return m.find() ? Double.parseDouble(m.group()) : Double.NaN;
  }
}

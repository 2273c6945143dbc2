package io.djlmx.examples;

import io.djlmx.format.MxFormat;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.CategoryLabelPositions;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.labels.StandardCategoryItemLabelGenerator;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.title.TextTitle;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * PNG charts of measured tables, drawn headless with JFreeChart: speed per format against the
 * baselines, and accuracy against bits per element.
 */
public final class Charts {

  private static final int WIDTH = 1100;
  private static final int HEIGHT = 640;

  private Charts() {}

  /**
   * Draws a grouped bar chart: one group per category, one bar per series.
   *
   * @param title the chart title
   * @param subtitle a line under the title (machine, command), or null
   * @param valueLabel the value axis label
   * @param data the values
   * @param file the PNG to write
   * @throws IOException if the file cannot be written
   */
  public static void bars(
      String title, String subtitle, String valueLabel, DefaultCategoryDataset data, Path file)
      throws IOException {
    JFreeChart chart =
        ChartFactory.createBarChart(
            title, null, valueLabel, data, PlotOrientation.VERTICAL, true, false, false);
    style(chart, subtitle);
    CategoryPlot plot = chart.getCategoryPlot();
    BarRenderer r = (BarRenderer) plot.getRenderer();
    r.setBarPainter(new StandardBarPainter());
    r.setShadowVisible(false);
    r.setItemMargin(0.04);
    r.setDefaultItemLabelGenerator(
        new StandardCategoryItemLabelGenerator(
            "{2}",
            new java.text.DecimalFormat(
                "0.##", java.text.DecimalFormatSymbols.getInstance(Locale.ROOT))));
    r.setDefaultItemLabelsVisible(true);
    r.setDefaultItemLabelFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
    if (data.getColumnCount() > 4) {
      plot.getDomainAxis().setCategoryLabelPositions(CategoryLabelPositions.UP_45);
    }
    save(chart, file);
  }

  /**
   * Draws accuracy against bits per element: one series per configuration kind, points labelled.
   *
   * @param title the chart title
   * @param subtitle a line under the title, or null
   * @param yLabel the accuracy measure
   * @param series the points
   * @param labels point labels keyed {@code "series:item"}, or null for none
   * @param file the PNG to write
   * @throws IOException if the file cannot be written
   */
  public static void accuracyVsBits(
      String title,
      String subtitle,
      String yLabel,
      XYSeriesCollection series,
      java.util.Map<String, String> labels,
      Path file)
      throws IOException {
    JFreeChart chart =
        ChartFactory.createXYLineChart(
            title,
            "bits per weight element (MX: element bits + 8/32 for the shared scale)",
            yLabel,
            series,
            PlotOrientation.VERTICAL,
            true,
            false,
            false);
    style(chart, subtitle);
    XYPlot plot = chart.getXYPlot();
    XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(false, true);
    for (int i = 0; i < series.getSeriesCount(); i++) {
      r.setSeriesStroke(i, new BasicStroke(2f));
      if (i % 2 == 1) { // alternate series label below their points, so neighbours stay legible
        r.setSeriesPositiveItemLabelPosition(
            i,
            new org.jfree.chart.labels.ItemLabelPosition(
                org.jfree.chart.labels.ItemLabelAnchor.OUTSIDE6,
                org.jfree.chart.ui.TextAnchor.TOP_CENTER));
      }
    }
    r.setDefaultItemLabelGenerator(
        (dataset, s, item) -> {
          Number key = ((XYSeriesCollection) dataset).getSeries(s).getDataItem(item).getX();
          String name = labels == null ? null : labels.get(s + ":" + item);
          return name != null ? name : String.valueOf(key);
        });
    r.setDefaultItemLabelsVisible(labels != null);
    r.setDefaultItemLabelFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
    plot.setRenderer(r);
    NumberAxis y = (NumberAxis) plot.getRangeAxis();
    y.setAutoRangeIncludesZero(false);
    NumberAxis x = (NumberAxis) plot.getDomainAxis();
    x.setAutoRangeIncludesZero(false);
    save(chart, file);
  }

  /**
   * Returns the storage bits per element of a weight format name as the tables print it.
   *
   * @param name {@code FP32}, an MX format, or an ONNX Runtime INT8 row
   * @return bits per element, or NaN when unknown
   */
  public static double bitsPerElement(String name) {
    String n = name.toUpperCase(Locale.ROOT);
    if (n.contains("FP32")) {
      return 32;
    }
    if (n.contains("INT8") && !n.contains("MXINT8")) {
      return 8; // ONNX Runtime dynamic INT8: one scale per tensor
    }
    for (MxFormat f : MxFormat.values()) {
      if (n.contains(f.name())) {
        return f.bits() + 8.0 / MxFormat.DEFAULT_BLOCK_SIZE;
      }
    }
    return Double.NaN;
  }

  private static void style(JFreeChart chart, String subtitle) {
    chart.setBackgroundPaint(Color.WHITE);
    chart.getPlot().setBackgroundPaint(new Color(0xF7F7F7));
    if (subtitle != null) {
      chart.addSubtitle(new TextTitle(subtitle, new Font(Font.SANS_SERIF, Font.PLAIN, 11)));
    }
  }

  private static void save(JFreeChart chart, Path file) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    ChartUtils.saveChartAsPNG(file.toFile(), chart, WIDTH, HEIGHT);
  }

  /**
   * Charts a speed table: one group per row label, one bar per numeric column.
   *
   * @param table the measured table
   * @param labelColumn the column naming each row
   * @param valueColumns the columns to plot, as header fragments
   * @param title the chart title
   * @param subtitle a line under the title, or null
   * @param valueLabel the value axis label
   * @param file the PNG
   * @throws IOException if the file cannot be written
   */
  public static void tableBars(
      MarkdownTable table,
      String labelColumn,
      List<String> valueColumns,
      String title,
      String subtitle,
      String valueLabel,
      Path file)
      throws IOException {
    DefaultCategoryDataset data = new DefaultCategoryDataset();
    int label = table.column(labelColumn);
    for (String vc : valueColumns) {
      int c = table.column(vc);
      for (List<String> row : table.rows()) {
        double v = table.number(row, c);
        if (!Double.isNaN(v)) {
          data.addValue(v, table.headers().get(c), row.get(label));
        }
      }
    }
    bars(title, subtitle, valueLabel, data, file);
  }

  /**
   * Charts an evaluation table (model, weights, activations, mean cosine...) as mean cosine to FP32
   * against bits per element: one series per model and activation mode.
   *
   * @param table the evaluation table
   * @param metric the column to plot, as a header fragment (e.g. {@code mean cosine})
   * @param subtitle a line under the title, or null
   * @param file the PNG
   * @throws IOException if the file cannot be written
   */
  public static void evalChart(MarkdownTable table, String metric, String subtitle, Path file)
      throws IOException {
    int model = table.column("model");
    int weights = table.column("weights");
    int acts = table.column("activations");
    int m = table.column(metric);
    XYSeriesCollection all = new XYSeriesCollection();
    java.util.Map<String, String> labels = new java.util.HashMap<>();
    for (List<String> row : table.rows()) {
      double bits = bitsPerElement(row.get(weights));
      double v = table.number(row, m);
      if (Double.isNaN(bits) || Double.isNaN(v) || bits >= 32) {
        continue;
      }
      String a = row.get(acts);
      String kind =
          row.get(weights).contains("ONNX")
              ? row.get(model) + ", ONNX Runtime INT8 peer"
              : row.get(model)
                  + (a.equalsIgnoreCase("FP32") ? ", weight-only" : ", weights + acts");
      XYSeries s;
      int idx = all.getSeriesIndex(kind);
      if (idx < 0) {
        s = new XYSeries(kind, false, true);
        all.addSeries(s);
      } else {
        s = all.getSeries(idx);
      }
      s.add(bits, v);
      String w = row.get(weights);
      labels.put(
          all.getSeriesIndex(kind) + ":" + (s.getItemCount() - 1),
          w.startsWith("MX") ? w : "ORT INT8");
    }
    if (all.getSeriesCount() == 0) {
      throw new IllegalArgumentException("No MX rows with a '" + metric + "' value to chart");
    }
    accuracyVsBits(
        "Fidelity to FP32 vs bits per element",
        subtitle,
        table.headers().get(m),
        all,
        labels,
        file);
  }

  /**
   * Draws the chart that fits a table printed by one of the {@code mx} commands: accuracy against
   * bits for {@code mx eval embeddings}, sentences/s for {@code mx bench embeddings}, speed-up over
   * PyTorch for {@code mx bench linear}.
   *
   * @param table the table
   * @param subtitle a line under the title (command, machine, date), or null
   * @param file the PNG
   * @throws IOException if the file cannot be written
   * @throws IllegalArgumentException if the table is none of those
   */
  public static void draw(MarkdownTable table, String subtitle, Path file) throws IOException {
    String h = String.join("|", table.headers()).toLowerCase(Locale.ROOT);
    if (h.contains("mean cosine")) {
      evalChart(table, "mean cosine", subtitle, file);
    } else if (h.contains("contender") && h.contains("vs pytorch")) {
      linearChart(table, subtitle, file);
    } else if (h.contains("configuration") && h.contains("batch 1")) {
      tableBars(
          table,
          "configuration",
          List.of("batch 1", "batch 32"),
          "all-MiniLM-L6-v2 sentences per second (higher is faster)",
          subtitle,
          "sentences / s",
          file);
    } else {
      throw new IllegalArgumentException(
          "Cannot chart a table with columns "
              + table.headers()
              + ": expected the output of mx eval embeddings, mx bench embeddings or mx bench"
              + " linear");
    }
  }

  /**
   * Charts the linear benchmark: each MX contender's speed-up over PyTorch FP32, one group per
   * shape.
   *
   * @param table the table of {@code mx bench linear}
   * @param subtitle a line under the title, or null
   * @param file the PNG
   * @throws IOException if the file cannot be written
   */
  public static void linearChart(MarkdownTable table, String subtitle, Path file)
      throws IOException {
    int shape = table.column("M×K");
    int who = table.column("contender");
    int ratio = table.column("vs PyTorch");
    DefaultCategoryDataset data = new DefaultCategoryDataset();
    for (List<String> row : table.rows()) {
      double v = table.number(row, ratio);
      if (!Double.isNaN(v)) {
        data.addValue(v, row.get(who), row.get(shape));
      }
    }
    bars(
        "MX linear vs PyTorch FP32 linear (speed-up, higher is faster; PyTorch FP32 = 1)",
        subtitle,
        "speed-up over PyTorch FP32",
        data,
        file);
  }
}

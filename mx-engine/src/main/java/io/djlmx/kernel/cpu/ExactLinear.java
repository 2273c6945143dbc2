package io.djlmx.kernel.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The simple exact path: each weight decoded by table lookup and scaled, one FP32 dot product per
 * output. The reference the fast kernels are checked against, and the fallback for the rows they
 * cannot compute (NaN/Inf codes or scales, scales whose folded factor is not a normal float).
 */
final class ExactLinear {

  private ExactLinear() {}

  /**
   * Computes every output of weight rows {@code [r0, r1)}.
   *
   * @param w the weight
   * @param x the (padded, possibly quantized) inputs, row stride {@code stride}
   * @param stride the row stride of {@code x}
   * @param m the input rows
   * @param bias the bias or null
   * @param y the output
   * @param r0 the first weight row
   * @param r1 one past the last weight row
   */
  static void rows(
      CpuPreparedWeight w,
      float[] x,
      int stride,
      int m,
      MemorySegment bias,
      MemorySegment y,
      long r0,
      long r1) {
    int k = (int) w.cols();
    long n = w.rows();
    float[] row = new float[k];
    for (long r = r0; r < r1; r++) {
      for (int c = 0; c < k; c++) {
        row[c] = w.value(r, c);
      }
      dot(row, x, stride, m, bias, y, n, r);
    }
  }

  /**
   * Recomputes the rows {@link CpuPreparedWeight#exactRows()} lists.
   *
   * @param w the weight
   * @param x the inputs
   * @param stride the row stride of {@code x}
   * @param m the input rows
   * @param bias the bias or null
   * @param y the output
   */
  static void exactRows(
      CpuPreparedWeight w, float[] x, int stride, int m, MemorySegment bias, MemorySegment y) {
    int[] rows = w.exactRows();
    if (rows.length == 0) {
      return;
    }
    int k = (int) w.cols();
    float[] row = new float[k];
    for (int i = 0; i < rows.length; i++) {
      for (int c = 0; c < k; c++) {
        row[c] = w.exactValue(i, c);
      }
      dot(row, x, stride, m, bias, y, w.rows(), rows[i]);
    }
  }

  private static void dot(
      float[] row,
      float[] x,
      int stride,
      int m,
      MemorySegment bias,
      MemorySegment y,
      long n,
      long r) {
    float b = bias == null ? 0f : bias.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, r);
    for (int i = 0; i < m; i++) {
      float acc = 0f;
      int base = i * stride;
      for (int c = 0; c < row.length; c++) {
        acc += row[c] * x[base + c];
      }
      y.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i * n + r, acc + b);
    }
  }
}

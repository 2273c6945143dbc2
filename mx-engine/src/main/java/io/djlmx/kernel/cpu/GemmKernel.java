package io.djlmx.kernel.cpu;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

/**
 * Batched kernel: multiplies a decoded FP32 panel of one 32-row unit ({@code kLen} columns, {@code
 * panel[32 kk + lane]}) with {@code m} input rows, accumulating into {@code y}. Eight input rows at
 * a time (then four, two, one): sixteen 16-lane accumulators, two panel loads and eight broadcasts
 * per step, so the fused multiply-adds, not the loads, set the pace.
 */
final class GemmKernel {

  private GemmKernel() {}

  /**
   * Accumulates {@code y[i, unit rows] += Σ_kk x[i, k0 + kk] · panel[kk]} for rows {@code i0 <= i <
   * m}.
   *
   * @param panel the decoded panel
   * @param pOff the panel's first float in {@code panel}
   * @param kLen the panel's columns
   * @param xt the inputs in blocks of eight rows interleaved: row {@code 8 b + r}, column {@code c}
   *     at {@code b * 8 * xStride + 8 c + r} (rows past a multiple of eight are not there)
   * @param x the inputs, row stride {@code xStride}
   * @param xStride the row stride of {@code x}
   * @param k0 the first column of the panel in {@code x}
   * @param i0 the first input row: a multiple of eight, unless fewer than eight rows follow it
   *     (then only the 4-, 2- and 1-row paths run, which read {@code x})
   * @param m the end of the input rows (exclusive)
   * @param y the output segment, row stride {@code n} floats
   * @param n the output features
   * @param u the unit
   * @param first whether this is the first chunk (y is overwritten, not accumulated)
   * @param bias the bias to add when {@code last}, or null
   * @param last whether this is the last chunk
   */
  static void run(
      float[] panel,
      int pOff,
      int kLen,
      float[] xt,
      float[] x,
      int xStride,
      int k0,
      int i0,
      int m,
      MemorySegment y,
      int n,
      long u,
      boolean first,
      MemorySegment bias,
      boolean last) {
    int r0 = (int) u * 32;
    int xtStride8 = 8 * xStride;
    VectorMask<Float> ma = Vec.F.indexInRange(r0, n);
    VectorMask<Float> mb = Vec.F.indexInRange(r0 + 16, n);
    FloatVector biasA = FloatVector.zero(Vec.F);
    FloatVector biasB = FloatVector.zero(Vec.F);
    if (last && bias != null) {
      biasA = FloatVector.fromMemorySegment(Vec.F, bias, 4L * r0, Vec.LE, ma);
      biasB = FloatVector.fromMemorySegment(Vec.F, bias, 4L * r0 + 64, Vec.LE, mb);
    }
    int i = i0;
    for (; i + 8 <= m; i += 8) {
      long y0 = 4L * ((long) i * n + r0);
      long y1 = y0 + 4L * n;
      long y2 = y1 + 4L * n;
      long y3 = y2 + 4L * n;
      long y4 = y3 + 4L * n;
      long y5 = y4 + 4L * n;
      long y6 = y5 + 4L * n;
      long y7 = y6 + 4L * n;
      FloatVector c0a;
      FloatVector c0b;
      FloatVector c1a;
      FloatVector c1b;
      FloatVector c2a;
      FloatVector c2b;
      FloatVector c3a;
      FloatVector c3b;
      FloatVector c4a;
      FloatVector c4b;
      FloatVector c5a;
      FloatVector c5b;
      FloatVector c6a;
      FloatVector c6b;
      FloatVector c7a;
      FloatVector c7b;
      if (first) {
        c0a = FloatVector.zero(Vec.F);
        c0b = FloatVector.zero(Vec.F);
        c1a = FloatVector.zero(Vec.F);
        c1b = FloatVector.zero(Vec.F);
        c2a = FloatVector.zero(Vec.F);
        c2b = FloatVector.zero(Vec.F);
        c3a = FloatVector.zero(Vec.F);
        c3b = FloatVector.zero(Vec.F);
        c4a = FloatVector.zero(Vec.F);
        c4b = FloatVector.zero(Vec.F);
        c5a = FloatVector.zero(Vec.F);
        c5b = FloatVector.zero(Vec.F);
        c6a = FloatVector.zero(Vec.F);
        c6b = FloatVector.zero(Vec.F);
        c7a = FloatVector.zero(Vec.F);
        c7b = FloatVector.zero(Vec.F);
      } else {
        c0a = FloatVector.fromMemorySegment(Vec.F, y, y0, Vec.LE, ma);
        c0b = FloatVector.fromMemorySegment(Vec.F, y, y0 + 64, Vec.LE, mb);
        c1a = FloatVector.fromMemorySegment(Vec.F, y, y1, Vec.LE, ma);
        c1b = FloatVector.fromMemorySegment(Vec.F, y, y1 + 64, Vec.LE, mb);
        c2a = FloatVector.fromMemorySegment(Vec.F, y, y2, Vec.LE, ma);
        c2b = FloatVector.fromMemorySegment(Vec.F, y, y2 + 64, Vec.LE, mb);
        c3a = FloatVector.fromMemorySegment(Vec.F, y, y3, Vec.LE, ma);
        c3b = FloatVector.fromMemorySegment(Vec.F, y, y3 + 64, Vec.LE, mb);
        c4a = FloatVector.fromMemorySegment(Vec.F, y, y4, Vec.LE, ma);
        c4b = FloatVector.fromMemorySegment(Vec.F, y, y4 + 64, Vec.LE, mb);
        c5a = FloatVector.fromMemorySegment(Vec.F, y, y5, Vec.LE, ma);
        c5b = FloatVector.fromMemorySegment(Vec.F, y, y5 + 64, Vec.LE, mb);
        c6a = FloatVector.fromMemorySegment(Vec.F, y, y6, Vec.LE, ma);
        c6b = FloatVector.fromMemorySegment(Vec.F, y, y6 + 64, Vec.LE, mb);
        c7a = FloatVector.fromMemorySegment(Vec.F, y, y7, Vec.LE, ma);
        c7b = FloatVector.fromMemorySegment(Vec.F, y, y7 + 64, Vec.LE, mb);
      }
      // Eight rows interleaved (xt[8 kk + r]): one base address, constant offsets.
      int xo = (i >> 3) * xtStride8 + 8 * k0;
      for (int kk = 0; kk < kLen; kk++) {
        FloatVector wa = FloatVector.fromArray(Vec.F, panel, pOff + 32 * kk);
        FloatVector wb = FloatVector.fromArray(Vec.F, panel, pOff + 32 * kk + 16);
        FloatVector v0 = FloatVector.broadcast(Vec.F, xt[xo + 8 * kk + 0]);
        c0a = wa.fma(v0, c0a);
        c0b = wb.fma(v0, c0b);
        FloatVector v1 = FloatVector.broadcast(Vec.F, xt[xo + 8 * kk + 1]);
        c1a = wa.fma(v1, c1a);
        c1b = wb.fma(v1, c1b);
        FloatVector v2 = FloatVector.broadcast(Vec.F, xt[xo + 8 * kk + 2]);
        c2a = wa.fma(v2, c2a);
        c2b = wb.fma(v2, c2b);
        FloatVector v3 = FloatVector.broadcast(Vec.F, xt[xo + 8 * kk + 3]);
        c3a = wa.fma(v3, c3a);
        c3b = wb.fma(v3, c3b);
        FloatVector v4 = FloatVector.broadcast(Vec.F, xt[xo + 8 * kk + 4]);
        c4a = wa.fma(v4, c4a);
        c4b = wb.fma(v4, c4b);
        FloatVector v5 = FloatVector.broadcast(Vec.F, xt[xo + 8 * kk + 5]);
        c5a = wa.fma(v5, c5a);
        c5b = wb.fma(v5, c5b);
        FloatVector v6 = FloatVector.broadcast(Vec.F, xt[xo + 8 * kk + 6]);
        c6a = wa.fma(v6, c6a);
        c6b = wb.fma(v6, c6b);
        FloatVector v7 = FloatVector.broadcast(Vec.F, xt[xo + 8 * kk + 7]);
        c7a = wa.fma(v7, c7a);
        c7b = wb.fma(v7, c7b);
      }
      c0a.add(biasA).intoMemorySegment(y, y0, Vec.LE, ma);
      c0b.add(biasB).intoMemorySegment(y, y0 + 64, Vec.LE, mb);
      c1a.add(biasA).intoMemorySegment(y, y1, Vec.LE, ma);
      c1b.add(biasB).intoMemorySegment(y, y1 + 64, Vec.LE, mb);
      c2a.add(biasA).intoMemorySegment(y, y2, Vec.LE, ma);
      c2b.add(biasB).intoMemorySegment(y, y2 + 64, Vec.LE, mb);
      c3a.add(biasA).intoMemorySegment(y, y3, Vec.LE, ma);
      c3b.add(biasB).intoMemorySegment(y, y3 + 64, Vec.LE, mb);
      c4a.add(biasA).intoMemorySegment(y, y4, Vec.LE, ma);
      c4b.add(biasB).intoMemorySegment(y, y4 + 64, Vec.LE, mb);
      c5a.add(biasA).intoMemorySegment(y, y5, Vec.LE, ma);
      c5b.add(biasB).intoMemorySegment(y, y5 + 64, Vec.LE, mb);
      c6a.add(biasA).intoMemorySegment(y, y6, Vec.LE, ma);
      c6b.add(biasB).intoMemorySegment(y, y6 + 64, Vec.LE, mb);
      c7a.add(biasA).intoMemorySegment(y, y7, Vec.LE, ma);
      c7b.add(biasB).intoMemorySegment(y, y7 + 64, Vec.LE, mb);
    }
    for (; i + 4 <= m; i += 4) {
      long y0 = 4L * ((long) i * n + r0);
      long y1 = y0 + 4L * n;
      long y2 = y1 + 4L * n;
      long y3 = y2 + 4L * n;
      FloatVector c0a;
      FloatVector c0b;
      FloatVector c1a;
      FloatVector c1b;
      FloatVector c2a;
      FloatVector c2b;
      FloatVector c3a;
      FloatVector c3b;
      if (first) {
        c0a = FloatVector.zero(Vec.F);
        c0b = FloatVector.zero(Vec.F);
        c1a = FloatVector.zero(Vec.F);
        c1b = FloatVector.zero(Vec.F);
        c2a = FloatVector.zero(Vec.F);
        c2b = FloatVector.zero(Vec.F);
        c3a = FloatVector.zero(Vec.F);
        c3b = FloatVector.zero(Vec.F);
      } else {
        c0a = FloatVector.fromMemorySegment(Vec.F, y, y0, Vec.LE, ma);
        c0b = FloatVector.fromMemorySegment(Vec.F, y, y0 + 64, Vec.LE, mb);
        c1a = FloatVector.fromMemorySegment(Vec.F, y, y1, Vec.LE, ma);
        c1b = FloatVector.fromMemorySegment(Vec.F, y, y1 + 64, Vec.LE, mb);
        c2a = FloatVector.fromMemorySegment(Vec.F, y, y2, Vec.LE, ma);
        c2b = FloatVector.fromMemorySegment(Vec.F, y, y2 + 64, Vec.LE, mb);
        c3a = FloatVector.fromMemorySegment(Vec.F, y, y3, Vec.LE, ma);
        c3b = FloatVector.fromMemorySegment(Vec.F, y, y3 + 64, Vec.LE, mb);
      }
      int x0 = i * xStride + k0;
      int x1 = x0 + xStride;
      int x2 = x1 + xStride;
      int x3 = x2 + xStride;
      for (int kk = 0; kk < kLen; kk++) {
        FloatVector wa = FloatVector.fromArray(Vec.F, panel, pOff + 32 * kk);
        FloatVector wb = FloatVector.fromArray(Vec.F, panel, pOff + 32 * kk + 16);
        FloatVector v0 = FloatVector.broadcast(Vec.F, x[x0 + kk]);
        FloatVector v1 = FloatVector.broadcast(Vec.F, x[x1 + kk]);
        FloatVector v2 = FloatVector.broadcast(Vec.F, x[x2 + kk]);
        FloatVector v3 = FloatVector.broadcast(Vec.F, x[x3 + kk]);
        c0a = wa.fma(v0, c0a);
        c0b = wb.fma(v0, c0b);
        c1a = wa.fma(v1, c1a);
        c1b = wb.fma(v1, c1b);
        c2a = wa.fma(v2, c2a);
        c2b = wb.fma(v2, c2b);
        c3a = wa.fma(v3, c3a);
        c3b = wb.fma(v3, c3b);
      }
      c0a.add(biasA).intoMemorySegment(y, y0, Vec.LE, ma);
      c0b.add(biasB).intoMemorySegment(y, y0 + 64, Vec.LE, mb);
      c1a.add(biasA).intoMemorySegment(y, y1, Vec.LE, ma);
      c1b.add(biasB).intoMemorySegment(y, y1 + 64, Vec.LE, mb);
      c2a.add(biasA).intoMemorySegment(y, y2, Vec.LE, ma);
      c2b.add(biasB).intoMemorySegment(y, y2 + 64, Vec.LE, mb);
      c3a.add(biasA).intoMemorySegment(y, y3, Vec.LE, ma);
      c3b.add(biasB).intoMemorySegment(y, y3 + 64, Vec.LE, mb);
    }
    if (i + 2 <= m) {
      // Two rows: four independent chains, enough to keep the multiply-add unit busy.
      long y0 = 4L * ((long) i * n + r0);
      long y1 = y0 + 4L * n;
      FloatVector c0a;
      FloatVector c0b;
      FloatVector c1a;
      FloatVector c1b;
      if (first) {
        c0a = FloatVector.zero(Vec.F);
        c0b = FloatVector.zero(Vec.F);
        c1a = FloatVector.zero(Vec.F);
        c1b = FloatVector.zero(Vec.F);
      } else {
        c0a = FloatVector.fromMemorySegment(Vec.F, y, y0, Vec.LE, ma);
        c0b = FloatVector.fromMemorySegment(Vec.F, y, y0 + 64, Vec.LE, mb);
        c1a = FloatVector.fromMemorySegment(Vec.F, y, y1, Vec.LE, ma);
        c1b = FloatVector.fromMemorySegment(Vec.F, y, y1 + 64, Vec.LE, mb);
      }
      int x0 = i * xStride + k0;
      int x1 = x0 + xStride;
      for (int kk = 0; kk < kLen; kk++) {
        FloatVector wa = FloatVector.fromArray(Vec.F, panel, pOff + 32 * kk);
        FloatVector wb = FloatVector.fromArray(Vec.F, panel, pOff + 32 * kk + 16);
        FloatVector v0 = FloatVector.broadcast(Vec.F, x[x0 + kk]);
        FloatVector v1 = FloatVector.broadcast(Vec.F, x[x1 + kk]);
        c0a = wa.fma(v0, c0a);
        c0b = wb.fma(v0, c0b);
        c1a = wa.fma(v1, c1a);
        c1b = wb.fma(v1, c1b);
      }
      c0a.add(biasA).intoMemorySegment(y, y0, Vec.LE, ma);
      c0b.add(biasB).intoMemorySegment(y, y0 + 64, Vec.LE, mb);
      c1a.add(biasA).intoMemorySegment(y, y1, Vec.LE, ma);
      c1b.add(biasB).intoMemorySegment(y, y1 + 64, Vec.LE, mb);
      i += 2;
    }
    if (i < m) {
      // One row: even and odd columns in separate chains (two chains would wait on latency).
      long y0 = 4L * ((long) i * n + r0);
      FloatVector ca =
          first ? FloatVector.zero(Vec.F) : FloatVector.fromMemorySegment(Vec.F, y, y0, Vec.LE, ma);
      FloatVector cb =
          first
              ? FloatVector.zero(Vec.F)
              : FloatVector.fromMemorySegment(Vec.F, y, y0 + 64, Vec.LE, mb);
      FloatVector da = FloatVector.zero(Vec.F);
      FloatVector db = FloatVector.zero(Vec.F);
      int x0 = i * xStride + k0;
      for (int kk = 0; kk < kLen; kk += 2) {
        FloatVector v0 = FloatVector.broadcast(Vec.F, x[x0 + kk]);
        FloatVector v1 = FloatVector.broadcast(Vec.F, x[x0 + kk + 1]);
        ca = FloatVector.fromArray(Vec.F, panel, pOff + 32 * kk).fma(v0, ca);
        cb = FloatVector.fromArray(Vec.F, panel, pOff + 32 * kk + 16).fma(v0, cb);
        da = FloatVector.fromArray(Vec.F, panel, pOff + 32 * kk + 32).fma(v1, da);
        db = FloatVector.fromArray(Vec.F, panel, pOff + 32 * kk + 48).fma(v1, db);
      }
      ca.add(da).add(biasA).intoMemorySegment(y, y0, Vec.LE, ma);
      cb.add(db).add(biasB).intoMemorySegment(y, y0 + 64, Vec.LE, mb);
    }
  }
}

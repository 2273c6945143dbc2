package io.djlmx.kernel.cpu;

import io.djlmx.format.MxFormat;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * Batch-1 kernel: {@code y[n] = Σ_k x[k]·W[n, k] (+ bias)} for the rows of units {@code [u0, u1)},
 * decoding each weight once straight into a fused multiply-add. Per tile, each sub-tile sums 32
 * broadcast-x products in two chains, then one multiply-add applies the 16 rows' block scales.
 *
 * <p>Each format has its own loop, kept in one method so that the JIT keeps every vector in
 * registers (a vector that escapes a method gets boxed, many times slower).
 */
final class GemvKernel {

  private static final int[] FP4 = Vec.fp4Table();
  private static final int[] E2M3 = Vec.fp6MagnitudeTable(MxFormat.MXFP6_E2M3);
  private static final int[] E3M2 = Vec.fp6MagnitudeTable(MxFormat.MXFP6_E3M2);

  private GemvKernel() {}

  /**
   * Computes the outputs of units {@code [u0, u1)}.
   *
   * @param w the weight
   * @param x the input row, padded with zeros to {@code blocksPerRow * 32}
   * @param bias the bias segment or null
   * @param y the output segment
   * @param yOff the byte offset of this output row in {@code y}
   * @param u0 the first unit
   * @param u1 one past the last unit
   */
  static void run(
      CpuPreparedWeight w,
      float[] x,
      MemorySegment bias,
      MemorySegment y,
      long yOff,
      long u0,
      long u1) {
    switch (w.format()) {
      case MXFP4_E2M1:
        fp4(w, x, bias, y, yOff, u0, u1);
        break;
      case MXFP6_E2M3:
        fp6(w, x, bias, y, yOff, u0, u1, E2M3);
        break;
      case MXFP6_E3M2:
        fp6(w, x, bias, y, yOff, u0, u1, E3M2);
        break;
      case MXFP8_E4M3:
        fp8(w, x, bias, y, yOff, u0, u1, 20, 0x87F00000);
        break;
      case MXFP8_E5M2:
        fp8(w, x, bias, y, yOff, u0, u1, 21, 0x8FE00000);
        break;
      case MXINT8:
        int8(w, x, bias, y, yOff, u0, u1);
        break;
      default:
        throw new IllegalStateException("unhandled format " + w.format());
    }
  }

  private static void fp4(
      CpuPreparedWeight w,
      float[] x,
      MemorySegment bias,
      MemorySegment y,
      long yOff,
      long u0,
      long u1) {
    MemorySegment codes = w.codes();
    MemorySegment scales = w.scales();
    int kb = w.blocksPerRow();
    int n = (int) w.rows();
    IntVector tab = IntVector.fromArray(Vec.I, FP4, 0);
    for (long u = u0; u < u1; u++) {
      FloatVector accA = FloatVector.zero(Vec.F);
      FloatVector accB = FloatVector.zero(Vec.F);
      long t = u * kb * 512L;
      long s = u * kb * 32L;
      for (int b = 0; b < kb; b++, t += 512, s += 32) {
        FloatVector a0 = FloatVector.zero(Vec.F);
        FloatVector a1 = FloatVector.zero(Vec.F);
        FloatVector b0 = FloatVector.zero(Vec.F);
        FloatVector b1 = FloatVector.zero(Vec.F);
        int xb = b * 32;
        for (int q = 0; q < 4; q++) {
          IntVector ia = IntVector.fromMemorySegment(Vec.I, codes, t + 64 * q, Vec.LE);
          IntVector ib = IntVector.fromMemorySegment(Vec.I, codes, t + 256 + 64 * q, Vec.LE);
          int xq = xb + 8 * q;
          for (int k = 0; k < 8; k += 2) {
            FloatVector x0 = FloatVector.broadcast(Vec.F, x[xq + k]);
            FloatVector x1 = FloatVector.broadcast(Vec.F, x[xq + k + 1]);
            int sh0 = 4 * k;
            int sh1 = 4 * k + 4;
            a0 =
                ia.lanewise(VectorOperators.LSHR, sh0)
                    .selectFrom(tab)
                    .reinterpretAsFloats()
                    .fma(x0, a0);
            b0 =
                ib.lanewise(VectorOperators.LSHR, sh0)
                    .selectFrom(tab)
                    .reinterpretAsFloats()
                    .fma(x0, b0);
            a1 =
                ia.lanewise(VectorOperators.LSHR, sh1)
                    .selectFrom(tab)
                    .reinterpretAsFloats()
                    .fma(x1, a1);
            b1 =
                ib.lanewise(VectorOperators.LSHR, sh1)
                    .selectFrom(tab)
                    .reinterpretAsFloats()
                    .fma(x1, b1);
          }
        }
        accA = a0.add(a1).fma(Vec.scales(scales, s), accA);
        accB = b0.add(b1).fma(Vec.scales(scales, s + 16), accB);
      }
      store(accA, accB, bias, y, yOff, u, n);
    }
  }

  private static void fp6(
      CpuPreparedWeight w,
      float[] x,
      MemorySegment bias,
      MemorySegment y,
      long yOff,
      long u0,
      long u1,
      int[] table) {
    MemorySegment codes = w.codes();
    MemorySegment scales = w.scales();
    int kb = w.blocksPerRow();
    int n = (int) w.rows();
    IntVector lo = IntVector.fromArray(Vec.I, table, 0);
    IntVector hi = IntVector.fromArray(Vec.I, table, 16);
    for (long u = u0; u < u1; u++) {
      FloatVector accA = FloatVector.zero(Vec.F);
      FloatVector accB = FloatVector.zero(Vec.F);
      long t = u * kb * 768L;
      long s = u * kb * 32L;
      for (int b = 0; b < kb; b++, t += 768, s += 32) {
        FloatVector a0 = FloatVector.zero(Vec.F);
        FloatVector a1 = FloatVector.zero(Vec.F);
        FloatVector b0 = FloatVector.zero(Vec.F);
        FloatVector b1 = FloatVector.zero(Vec.F);
        int xb = b * 32;
        for (int q = 0; q < 8; q++) {
          IntVector ia =
              ByteVector.fromMemorySegment(Vec.B, codes, t + 48 * q, Vec.LE)
                  .rearrange(Vec.SPREAD_3_TO_4)
                  .reinterpretAsInts();
          IntVector ib =
              ByteVector.fromMemorySegment(Vec.B, codes, t + 384 + 48 * q, Vec.LE)
                  .rearrange(Vec.SPREAD_3_TO_4)
                  .reinterpretAsInts();
          int xq = xb + 4 * q;
          FloatVector x0 = FloatVector.broadcast(Vec.F, x[xq]);
          FloatVector x1 = FloatVector.broadcast(Vec.F, x[xq + 1]);
          FloatVector x2 = FloatVector.broadcast(Vec.F, x[xq + 2]);
          FloatVector x3 = FloatVector.broadcast(Vec.F, x[xq + 3]);
          IntVector r;
          r = ia.lanewise(VectorOperators.ROR, 1);
          a0 = r.selectFrom(lo, hi).or(r.and(0x80000000)).reinterpretAsFloats().fma(x0, a0);
          r = ib.lanewise(VectorOperators.ROR, 1);
          b0 = r.selectFrom(lo, hi).or(r.and(0x80000000)).reinterpretAsFloats().fma(x0, b0);
          r = ia.lanewise(VectorOperators.ROR, 7);
          a1 = r.selectFrom(lo, hi).or(r.and(0x80000000)).reinterpretAsFloats().fma(x1, a1);
          r = ib.lanewise(VectorOperators.ROR, 7);
          b1 = r.selectFrom(lo, hi).or(r.and(0x80000000)).reinterpretAsFloats().fma(x1, b1);
          r = ia.lanewise(VectorOperators.ROR, 13);
          a0 = r.selectFrom(lo, hi).or(r.and(0x80000000)).reinterpretAsFloats().fma(x2, a0);
          r = ib.lanewise(VectorOperators.ROR, 13);
          b0 = r.selectFrom(lo, hi).or(r.and(0x80000000)).reinterpretAsFloats().fma(x2, b0);
          r = ia.lanewise(VectorOperators.ROR, 19);
          a1 = r.selectFrom(lo, hi).or(r.and(0x80000000)).reinterpretAsFloats().fma(x3, a1);
          r = ib.lanewise(VectorOperators.ROR, 19);
          b1 = r.selectFrom(lo, hi).or(r.and(0x80000000)).reinterpretAsFloats().fma(x3, b1);
        }
        accA = a0.add(a1).fma(Vec.scales(scales, s), accA);
        accB = b0.add(b1).fma(Vec.scales(scales, s + 16), accB);
      }
      store(accA, accB, bias, y, yOff, u, n);
    }
  }

  private static void fp8(
      CpuPreparedWeight w,
      float[] x,
      MemorySegment bias,
      MemorySegment y,
      long yOff,
      long u0,
      long u1,
      int shl,
      int keep) {
    MemorySegment codes = w.codes();
    MemorySegment scales = w.scales();
    int kb = w.blocksPerRow();
    int n = (int) w.rows();
    float[] fixPanel = new float[1024];
    for (long u = u0; u < u1; u++) {
      FloatVector accA = FloatVector.zero(Vec.F);
      FloatVector accB = FloatVector.zero(Vec.F);
      long tile = u * kb;
      long t = tile * 1024L;
      long s = tile * 32L;
      for (int b = 0; b < kb; b++, t += 1024, s += 32, tile++) {
        int xb = b * 32;
        if (w.tileNeedsFixup(tile)) {
          // Zero or subnormal codes: the exact decoder, scales already applied.
          TileDecoder.decode(w, tile, fixPanel, 0);
          for (int v = 0; v < 32; v++) {
            FloatVector xv = FloatVector.broadcast(Vec.F, x[xb + v]);
            accA = FloatVector.fromArray(Vec.F, fixPanel, 32 * v).fma(xv, accA);
            accB = FloatVector.fromArray(Vec.F, fixPanel, 32 * v + 16).fma(xv, accB);
          }
          continue;
        }
        FloatVector a0 = FloatVector.zero(Vec.F);
        FloatVector a1 = FloatVector.zero(Vec.F);
        FloatVector b0 = FloatVector.zero(Vec.F);
        FloatVector b1 = FloatVector.zero(Vec.F);
        for (int v = 0; v < 32; v += 2) {
          FloatVector x0 = FloatVector.broadcast(Vec.F, x[xb + v]);
          FloatVector x1 = FloatVector.broadcast(Vec.F, x[xb + v + 1]);
          long o = t + 16L * v;
          a0 = build(codes, o, shl, keep).fma(x0, a0);
          b0 = build(codes, o + 512, shl, keep).fma(x0, b0);
          a1 = build(codes, o + 16, shl, keep).fma(x1, a1);
          b1 = build(codes, o + 528, shl, keep).fma(x1, b1);
        }
        accA = a0.add(a1).fma(Vec.scales(scales, s), accA);
        accB = b0.add(b1).fma(Vec.scales(scales, s + 16), accB);
      }
      store(accA, accB, bias, y, yOff, u, n);
    }
  }

  /** Builds the float bits of 16 FP8 values times the folded power of two (normal codes only). */
  private static FloatVector build(MemorySegment codes, long off, int shl, int keep) {
    return ((IntVector)
            ByteVector.fromMemorySegment(Vec.B16, codes, off, Vec.LE)
                .convertShape(VectorOperators.B2I, Vec.I, 0))
        .lanewise(VectorOperators.LSHL, shl)
        .and(keep)
        .or(0x40000000)
        .reinterpretAsFloats();
  }

  private static void int8(
      CpuPreparedWeight w,
      float[] x,
      MemorySegment bias,
      MemorySegment y,
      long yOff,
      long u0,
      long u1) {
    MemorySegment codes = w.codes();
    MemorySegment scales = w.scales();
    int kb = w.blocksPerRow();
    int n = (int) w.rows();
    for (long u = u0; u < u1; u++) {
      FloatVector accA = FloatVector.zero(Vec.F);
      FloatVector accB = FloatVector.zero(Vec.F);
      long t = u * kb * 1024L;
      long s = u * kb * 32L;
      for (int b = 0; b < kb; b++, t += 1024, s += 32) {
        FloatVector a0 = FloatVector.zero(Vec.F);
        FloatVector a1 = FloatVector.zero(Vec.F);
        FloatVector b0 = FloatVector.zero(Vec.F);
        FloatVector b1 = FloatVector.zero(Vec.F);
        int xb = b * 32;
        for (int v = 0; v < 32; v += 2) {
          FloatVector x0 = FloatVector.broadcast(Vec.F, x[xb + v]);
          FloatVector x1 = FloatVector.broadcast(Vec.F, x[xb + v + 1]);
          long o = t + 16L * v;
          a0 = ints(codes, o).fma(x0, a0);
          b0 = ints(codes, o + 512).fma(x0, b0);
          a1 = ints(codes, o + 16).fma(x1, a1);
          b1 = ints(codes, o + 528).fma(x1, b1);
        }
        accA = a0.add(a1).fma(Vec.scales(scales, s), accA);
        accB = b0.add(b1).fma(Vec.scales(scales, s + 16), accB);
      }
      store(accA, accB, bias, y, yOff, u, n);
    }
  }

  /** Converts 16 INT8 codes to floats. */
  private static FloatVector ints(MemorySegment codes, long off) {
    return (FloatVector)
        ByteVector.fromMemorySegment(Vec.B16, codes, off, Vec.LE)
            .convertShape(VectorOperators.B2F, Vec.F, 0);
  }

  /** Adds the bias and stores the unit's 32 outputs, masked at the end of the row. */
  static void store(
      FloatVector accA,
      FloatVector accB,
      MemorySegment bias,
      MemorySegment y,
      long yOff,
      long u,
      int n) {
    int r0 = (int) u * 32;
    VectorMask<Float> ma = Vec.F.indexInRange(r0, n);
    VectorMask<Float> mb = Vec.F.indexInRange(r0 + 16, n);
    if (bias != null) {
      accA = accA.add(FloatVector.fromMemorySegment(Vec.F, bias, 4L * r0, Vec.LE, ma));
      accB = accB.add(FloatVector.fromMemorySegment(Vec.F, bias, 4L * r0 + 64, Vec.LE, mb));
    }
    accA.intoMemorySegment(y, yOff + 4L * r0, Vec.LE, ma);
    accB.intoMemorySegment(y, yOff + 4L * r0 + 64, Vec.LE, mb);
  }
}

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
          FloatVector xv;
          xv = FloatVector.broadcast(Vec.F, x[xq + 0]);
          a0 = ia.selectFrom(tab).reinterpretAsFloats().fma(xv, a0);
          b0 = ib.selectFrom(tab).reinterpretAsFloats().fma(xv, b0);
          xv = FloatVector.broadcast(Vec.F, x[xq + 1]);
          a1 =
              ia.lanewise(VectorOperators.LSHR, 4)
                  .selectFrom(tab)
                  .reinterpretAsFloats()
                  .fma(xv, a1);
          b1 =
              ib.lanewise(VectorOperators.LSHR, 4)
                  .selectFrom(tab)
                  .reinterpretAsFloats()
                  .fma(xv, b1);
          xv = FloatVector.broadcast(Vec.F, x[xq + 2]);
          a0 =
              ia.lanewise(VectorOperators.LSHR, 8)
                  .selectFrom(tab)
                  .reinterpretAsFloats()
                  .fma(xv, a0);
          b0 =
              ib.lanewise(VectorOperators.LSHR, 8)
                  .selectFrom(tab)
                  .reinterpretAsFloats()
                  .fma(xv, b0);
          xv = FloatVector.broadcast(Vec.F, x[xq + 3]);
          a1 =
              ia.lanewise(VectorOperators.LSHR, 12)
                  .selectFrom(tab)
                  .reinterpretAsFloats()
                  .fma(xv, a1);
          b1 =
              ib.lanewise(VectorOperators.LSHR, 12)
                  .selectFrom(tab)
                  .reinterpretAsFloats()
                  .fma(xv, b1);
          xv = FloatVector.broadcast(Vec.F, x[xq + 4]);
          a0 =
              ia.lanewise(VectorOperators.LSHR, 16)
                  .selectFrom(tab)
                  .reinterpretAsFloats()
                  .fma(xv, a0);
          b0 =
              ib.lanewise(VectorOperators.LSHR, 16)
                  .selectFrom(tab)
                  .reinterpretAsFloats()
                  .fma(xv, b0);
          xv = FloatVector.broadcast(Vec.F, x[xq + 5]);
          a1 =
              ia.lanewise(VectorOperators.LSHR, 20)
                  .selectFrom(tab)
                  .reinterpretAsFloats()
                  .fma(xv, a1);
          b1 =
              ib.lanewise(VectorOperators.LSHR, 20)
                  .selectFrom(tab)
                  .reinterpretAsFloats()
                  .fma(xv, b1);
          xv = FloatVector.broadcast(Vec.F, x[xq + 6]);
          a0 =
              ia.lanewise(VectorOperators.LSHR, 24)
                  .selectFrom(tab)
                  .reinterpretAsFloats()
                  .fma(xv, a0);
          b0 =
              ib.lanewise(VectorOperators.LSHR, 24)
                  .selectFrom(tab)
                  .reinterpretAsFloats()
                  .fma(xv, b0);
          xv = FloatVector.broadcast(Vec.F, x[xq + 7]);
          a1 =
              ia.lanewise(VectorOperators.LSHR, 28)
                  .selectFrom(tab)
                  .reinterpretAsFloats()
                  .fma(xv, a1);
          b1 =
              ib.lanewise(VectorOperators.LSHR, 28)
                  .selectFrom(tab)
                  .reinterpretAsFloats()
                  .fma(xv, b1);
        }
        accA =
            a0.add(a1)
                .fma(
                    ((IntVector)
                            ByteVector.fromMemorySegment(Vec.B16, scales, s, Vec.LE)
                                .convertShape(VectorOperators.B2I, Vec.I, 0))
                        .and(0xFF)
                        .lanewise(VectorOperators.LSHL, 23)
                        .reinterpretAsFloats(),
                    accA);
        accB =
            b0.add(b1)
                .fma(
                    ((IntVector)
                            ByteVector.fromMemorySegment(Vec.B16, scales, s + 16, Vec.LE)
                                .convertShape(VectorOperators.B2I, Vec.I, 0))
                        .and(0xFF)
                        .lanewise(VectorOperators.LSHL, 23)
                        .reinterpretAsFloats(),
                    accB);
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
        accA =
            a0.add(a1)
                .fma(
                    ((IntVector)
                            ByteVector.fromMemorySegment(Vec.B16, scales, s, Vec.LE)
                                .convertShape(VectorOperators.B2I, Vec.I, 0))
                        .and(0xFF)
                        .lanewise(VectorOperators.LSHL, 23)
                        .reinterpretAsFloats(),
                    accA);
        accB =
            b0.add(b1)
                .fma(
                    ((IntVector)
                            ByteVector.fromMemorySegment(Vec.B16, scales, s + 16, Vec.LE)
                                .convertShape(VectorOperators.B2I, Vec.I, 0))
                        .and(0xFF)
                        .lanewise(VectorOperators.LSHL, 23)
                        .reinterpretAsFloats(),
                    accB);
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
    int sra = 24 - shl;
    // E4M3: exponent field bits 0x78, mantissa 0x7, subnormal value * 2^8 = mantissa / 2;
    // E5M2: 0x7C, 0x3, subnormal value * 2^16 = mantissa.
    int fx = shl == 20 ? 0 : 1;
    float[] partial = new float[32];
    for (long u = u0; u < u1; u++) {
      FloatVector accA = FloatVector.zero(Vec.F);
      FloatVector accB = FloatVector.zero(Vec.F);
      long tile = u * kb;
      long t = tile * 1024L;
      long s = tile * 32L;
      for (int b = 0; b < kb; b++, t += 1024, s += 32, tile++) {
        int xb = b * 32;
        int fix = w.fixupMask(tile);
        if (fix != 0) {
          // Zero or subnormal codes in this tile: a separate, slower loop (a branch inside the
          // fast loop costs the fast loop several times its speed).
          fp8MixedTile(codes, t, x, xb, sra, keep, fx, fix, partial);
          accA =
              FloatVector.fromArray(Vec.F, partial, 0)
                  .fma(
                      ((IntVector)
                              ByteVector.fromMemorySegment(Vec.B16, scales, s, Vec.LE)
                                  .convertShape(VectorOperators.B2I, Vec.I, 0))
                          .and(0xFF)
                          .lanewise(VectorOperators.LSHL, 23)
                          .reinterpretAsFloats(),
                      accA);
          accB =
              FloatVector.fromArray(Vec.F, partial, 16)
                  .fma(
                      ((IntVector)
                              ByteVector.fromMemorySegment(Vec.B16, scales, s + 16, Vec.LE)
                                  .convertShape(VectorOperators.B2I, Vec.I, 0))
                          .and(0xFF)
                          .lanewise(VectorOperators.LSHL, 23)
                          .reinterpretAsFloats(),
                      accB);
          continue;
        }
        FloatVector a0 = FloatVector.zero(Vec.F);
        FloatVector a1 = FloatVector.zero(Vec.F);
        FloatVector b0 = FloatVector.zero(Vec.F);
        FloatVector b1 = FloatVector.zero(Vec.F);
        for (int q = 0; q < 8; q++) {
          IntVector ia = IntVector.fromMemorySegment(Vec.I, codes, t + 64 * q, Vec.LE);
          IntVector ib = IntVector.fromMemorySegment(Vec.I, codes, t + 512 + 64 * q, Vec.LE);
          int xq = xb + 4 * q;
          FloatVector x0 = FloatVector.broadcast(Vec.F, x[xq]);
          FloatVector x1 = FloatVector.broadcast(Vec.F, x[xq + 1]);
          FloatVector x2 = FloatVector.broadcast(Vec.F, x[xq + 2]);
          FloatVector x3 = FloatVector.broadcast(Vec.F, x[xq + 3]);
          // Code i moved to the top byte (sign in bit 31), then shifted arithmetically so that
          // the magnitude lands on the exponent/mantissa bits; the OR sets the exponent's top bit.
          a0 =
              ia.lanewise(VectorOperators.LSHL, 24)
                  .lanewise(VectorOperators.ASHR, sra)
                  .and(keep)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x0, a0);
          b0 =
              ib.lanewise(VectorOperators.LSHL, 24)
                  .lanewise(VectorOperators.ASHR, sra)
                  .and(keep)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x0, b0);
          a1 =
              ia.lanewise(VectorOperators.LSHL, 16)
                  .lanewise(VectorOperators.ASHR, sra)
                  .and(keep)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x1, a1);
          b1 =
              ib.lanewise(VectorOperators.LSHL, 16)
                  .lanewise(VectorOperators.ASHR, sra)
                  .and(keep)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x1, b1);
          a0 =
              ia.lanewise(VectorOperators.LSHL, 8)
                  .lanewise(VectorOperators.ASHR, sra)
                  .and(keep)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x2, a0);
          b0 =
              ib.lanewise(VectorOperators.LSHL, 8)
                  .lanewise(VectorOperators.ASHR, sra)
                  .and(keep)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x2, b0);
          a1 =
              ia.lanewise(VectorOperators.ASHR, sra)
                  .and(keep)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x3, a1);
          b1 =
              ib.lanewise(VectorOperators.ASHR, sra)
                  .and(keep)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x3, b1);
        }
        accA =
            a0.add(a1)
                .fma(
                    ((IntVector)
                            ByteVector.fromMemorySegment(Vec.B16, scales, s, Vec.LE)
                                .convertShape(VectorOperators.B2I, Vec.I, 0))
                        .and(0xFF)
                        .lanewise(VectorOperators.LSHL, 23)
                        .reinterpretAsFloats(),
                    accA);
        accB =
            b0.add(b1)
                .fma(
                    ((IntVector)
                            ByteVector.fromMemorySegment(Vec.B16, scales, s + 16, Vec.LE)
                                .convertShape(VectorOperators.B2I, Vec.I, 0))
                        .and(0xFF)
                        .lanewise(VectorOperators.LSHL, 23)
                        .reinterpretAsFloats(),
                    accB);
      }
      store(accA, accB, bias, y, yOff, u, n);
    }
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
        for (int q = 0; q < 8; q++) {
          IntVector ia = IntVector.fromMemorySegment(Vec.I, codes, t + 64 * q, Vec.LE);
          IntVector ib = IntVector.fromMemorySegment(Vec.I, codes, t + 512 + 64 * q, Vec.LE);
          int xq = xb + 4 * q;
          FloatVector x0 = FloatVector.broadcast(Vec.F, x[xq]);
          FloatVector x1 = FloatVector.broadcast(Vec.F, x[xq + 1]);
          FloatVector x2 = FloatVector.broadcast(Vec.F, x[xq + 2]);
          FloatVector x3 = FloatVector.broadcast(Vec.F, x[xq + 3]);
          // Code i in the top byte: as an int it is code * 2^24, converted exactly (the 2^-24 is
          // folded into the stored scale with MXINT8's 2^-6).
          a0 = top(ia.lanewise(VectorOperators.LSHL, 24)).fma(x0, a0);
          b0 = top(ib.lanewise(VectorOperators.LSHL, 24)).fma(x0, b0);
          a1 = top(ia.lanewise(VectorOperators.LSHL, 16)).fma(x1, a1);
          b1 = top(ib.lanewise(VectorOperators.LSHL, 16)).fma(x1, b1);
          a0 = top(ia.lanewise(VectorOperators.LSHL, 8)).fma(x2, a0);
          b0 = top(ib.lanewise(VectorOperators.LSHL, 8)).fma(x2, b0);
          a1 = top(ia).fma(x3, a1);
          b1 = top(ib).fma(x3, b1);
        }
        accA =
            a0.add(a1)
                .fma(
                    ((IntVector)
                            ByteVector.fromMemorySegment(Vec.B16, scales, s, Vec.LE)
                                .convertShape(VectorOperators.B2I, Vec.I, 0))
                        .and(0xFF)
                        .lanewise(VectorOperators.LSHL, 23)
                        .reinterpretAsFloats(),
                    accA);
        accB =
            b0.add(b1)
                .fma(
                    ((IntVector)
                            ByteVector.fromMemorySegment(Vec.B16, scales, s + 16, Vec.LE)
                                .convertShape(VectorOperators.B2I, Vec.I, 0))
                        .and(0xFF)
                        .lanewise(VectorOperators.LSHL, 23)
                        .reinterpretAsFloats(),
                    accB);
      }
      store(accA, accB, bias, y, yOff, u, n);
    }
  }

  /**
   * One FP8 tile with zero or subnormal codes: groups flagged in {@code fix} take the exact decode,
   * the others the fast one. Writes the two sub-tiles' unscaled sums to {@code out[0..32)}.
   */
  private static void fp8MixedTile(
      MemorySegment codes,
      long t,
      float[] x,
      int xb,
      int sra,
      int keep,
      int fx,
      int fix,
      float[] out) {
    FloatVector a0 = FloatVector.zero(Vec.F);
    FloatVector a1 = FloatVector.zero(Vec.F);
    FloatVector b0 = FloatVector.zero(Vec.F);
    FloatVector b1 = FloatVector.zero(Vec.F);
    for (int q = 0; q < 8; q++) {
      IntVector ia = IntVector.fromMemorySegment(Vec.I, codes, t + 64 * q, Vec.LE);
      IntVector ib = IntVector.fromMemorySegment(Vec.I, codes, t + 512 + 64 * q, Vec.LE);
      int xq = xb + 4 * q;
      FloatVector x0 = FloatVector.broadcast(Vec.F, x[xq]);
      FloatVector x1 = FloatVector.broadcast(Vec.F, x[xq + 1]);
      FloatVector x2 = FloatVector.broadcast(Vec.F, x[xq + 2]);
      FloatVector x3 = FloatVector.broadcast(Vec.F, x[xq + 3]);
      if ((fix >>> q & 1) != 0) {
        // Zero or subnormal codes among these: the exact (slower) decode.
        a0 = exact(ia.lanewise(VectorOperators.LSHL, 24), sra, keep, fx).fma(x0, a0);
        b0 = exact(ib.lanewise(VectorOperators.LSHL, 24), sra, keep, fx).fma(x0, b0);
        a1 = exact(ia.lanewise(VectorOperators.LSHL, 16), sra, keep, fx).fma(x1, a1);
        b1 = exact(ib.lanewise(VectorOperators.LSHL, 16), sra, keep, fx).fma(x1, b1);
        a0 = exact(ia.lanewise(VectorOperators.LSHL, 8), sra, keep, fx).fma(x2, a0);
        b0 = exact(ib.lanewise(VectorOperators.LSHL, 8), sra, keep, fx).fma(x2, b0);
        a1 = exact(ia, sra, keep, fx).fma(x3, a1);
        b1 = exact(ib, sra, keep, fx).fma(x3, b1);
        continue;
      }
      // Code i moved to the top byte (sign in bit 31), then shifted arithmetically so that
      // the magnitude lands on the exponent/mantissa bits; the OR sets the exponent's top bit.
      a0 =
          ia.lanewise(VectorOperators.LSHL, 24)
              .lanewise(VectorOperators.ASHR, sra)
              .and(keep)
              .or(0x40000000)
              .reinterpretAsFloats()
              .fma(x0, a0);
      b0 =
          ib.lanewise(VectorOperators.LSHL, 24)
              .lanewise(VectorOperators.ASHR, sra)
              .and(keep)
              .or(0x40000000)
              .reinterpretAsFloats()
              .fma(x0, b0);
      a1 =
          ia.lanewise(VectorOperators.LSHL, 16)
              .lanewise(VectorOperators.ASHR, sra)
              .and(keep)
              .or(0x40000000)
              .reinterpretAsFloats()
              .fma(x1, a1);
      b1 =
          ib.lanewise(VectorOperators.LSHL, 16)
              .lanewise(VectorOperators.ASHR, sra)
              .and(keep)
              .or(0x40000000)
              .reinterpretAsFloats()
              .fma(x1, b1);
      a0 =
          ia.lanewise(VectorOperators.LSHL, 8)
              .lanewise(VectorOperators.ASHR, sra)
              .and(keep)
              .or(0x40000000)
              .reinterpretAsFloats()
              .fma(x2, a0);
      b0 =
          ib.lanewise(VectorOperators.LSHL, 8)
              .lanewise(VectorOperators.ASHR, sra)
              .and(keep)
              .or(0x40000000)
              .reinterpretAsFloats()
              .fma(x2, b0);
      a1 =
          ia.lanewise(VectorOperators.ASHR, sra)
              .and(keep)
              .or(0x40000000)
              .reinterpretAsFloats()
              .fma(x3, a1);
      b1 =
          ib.lanewise(VectorOperators.ASHR, sra)
              .and(keep)
              .or(0x40000000)
              .reinterpretAsFloats()
              .fma(x3, b1);
    }
    a0.add(a1).intoArray(out, 0);
    b0.add(b1).intoArray(out, 16);
  }

  /**
   * Decodes 16 FP8 codes held in the top byte of each lane exactly, zero and subnormal codes
   * included, times the same power of two as the bit-built fast path.
   *
   * @param top the codes in bits 24..31
   * @param sra the arithmetic shift of the fast path
   * @param keep the fast path's mask
   * @param e5m2 0 for E4M3, 1 for E5M2
   * @return the values
   */
  private static FloatVector exact(IntVector top, int sra, int keep, int e5m2) {
    IntVector c = top.lanewise(VectorOperators.ASHR, 24);
    FloatVector built =
        top.lanewise(VectorOperators.ASHR, sra).and(keep).or(0x40000000).reinterpretAsFloats();
    int expMask = e5m2 == 0 ? 0x78 : 0x7C;
    int mantMask = e5m2 == 0 ? 0x7 : 0x3;
    float unit = e5m2 == 0 ? 0.5f : 1f;
    FloatVector small =
        ((FloatVector) c.and(mantMask).convert(VectorOperators.I2F, 0))
            .mul(unit)
            .reinterpretAsInts()
            .or(c.and(0x80000000))
            .reinterpretAsFloats();
    return built.blend(small, c.and(expMask).eq(0).cast(Vec.F));
  }

  /** Converts the top byte of each lane, as a signed integer times 2^24, to float (exact). */
  private static FloatVector top(IntVector v) {
    return (FloatVector) v.and(0xFF000000).convert(VectorOperators.I2F, 0);
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

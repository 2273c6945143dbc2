package io.djlmx.kernel.cpu;

import io.djlmx.format.MxFormat;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Batch-1 kernel for the 8-bit formats (MXFP8 E4M3 / E5M2, MXINT8): like {@link GemvKernel}, but
 * four 32-row units at a time, each with one multiply-add chain per 16-row sub-tile.
 *
 * <p>Why four units: the 8-bit decode is cheap (three vector operations and a multiply-add per 16
 * weights), so from DRAM the kernel waits on memory, and one sequential stream per core does not
 * keep enough reads in flight. Four units are four streams, 1024 bytes apart per block step and a
 * whole unit apart in memory, which the hardware prefetchers follow independently; the four x
 * broadcasts per step are shared by all of them. Measured on the 2-core machine, 16384×16384
 * (thread CPU time, weights from DRAM): 1.6–1.7× faster than one unit at a time.
 *
 * <p>FP8 zero and subnormal codes: the fast decode builds floats from the code bits, which is exact
 * for normal codes only. Rather than branching inside the fast loop, the loop decodes every tile
 * the fast way and {@link #fixups} afterwards adds, for each such code the weight lists ({@link
 * CpuPreparedWeight#fixEntries()}), the difference between its exact and its fast value times the
 * input, so the result is the exact dot product up to summation order. Weights with too many such
 * codes to list (e.g. mostly zeros) are not given to this kernel: see {@link #handles}.
 */
final class ByteGemvKernel {

  /** Units per pass. */
  static final int UNITS = 4;

  private ByteGemvKernel() {}

  /**
   * Returns whether this kernel handles the weight.
   *
   * @param w the weight
   * @return true for MXINT8, and for MXFP8 E4M3 / E5M2 whose zero/subnormal codes are listed
   */
  static boolean handles(CpuPreparedWeight w) {
    MxFormat f = w.format();
    return f == MxFormat.MXINT8
        || ((f == MxFormat.MXFP8_E4M3 || f == MxFormat.MXFP8_E5M2) && w.fixEntries() != null);
  }

  /**
   * Computes the outputs of units {@code [u0, u1)}: groups of four here, the rest with {@link
   * GemvKernel}.
   *
   * @param w the weight, in a format {@link #handles} accepts
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
    long done;
    switch (w.format()) {
      case MXFP8_E4M3:
        done = e4m3(w, x, bias, y, yOff, u0, u1);
        fixups(w, x, y, yOff, u0, done);
        break;
      case MXFP8_E5M2:
        done = e5m2(w, x, bias, y, yOff, u0, u1);
        fixups(w, x, y, yOff, u0, done);
        break;
      case MXINT8:
        done = int8(w, x, bias, y, yOff, u0, u1);
        break;
      default:
        throw new IllegalStateException("ByteGemvKernel does not handle " + w.format());
    }
    if (done < u1) {
      GemvKernel.run(w, x, bias, y, yOff, done, u1);
    }
  }

  /**
   * MXFP8 E4M3: each code's bits shifted into a float's exponent and mantissa (value times 2^8).
   * Returns the first unit not done (a multiple of 4 past {@code u0}).
   */
  private static long e4m3(
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
    long ut = 1024L * kb;
    long us = 32L * kb;
    long u = u0;
    for (; u + 4 <= u1; u += 4) {
      FloatVector acc0a = FloatVector.zero(Vec.F);
      FloatVector acc0b = FloatVector.zero(Vec.F);
      FloatVector acc1a = FloatVector.zero(Vec.F);
      FloatVector acc1b = FloatVector.zero(Vec.F);
      FloatVector acc2a = FloatVector.zero(Vec.F);
      FloatVector acc2b = FloatVector.zero(Vec.F);
      FloatVector acc3a = FloatVector.zero(Vec.F);
      FloatVector acc3b = FloatVector.zero(Vec.F);
      long t = u * ut;
      long s = u * us;
      for (int b = 0; b < kb; b++, t += 1024, s += 32) {
        FloatVector p0a = FloatVector.zero(Vec.F);
        FloatVector p0b = FloatVector.zero(Vec.F);
        FloatVector p1a = FloatVector.zero(Vec.F);
        FloatVector p1b = FloatVector.zero(Vec.F);
        FloatVector p2a = FloatVector.zero(Vec.F);
        FloatVector p2b = FloatVector.zero(Vec.F);
        FloatVector p3a = FloatVector.zero(Vec.F);
        FloatVector p3b = FloatVector.zero(Vec.F);
        for (int q = 0; q < 8; q++) {
          int xq = b * 32 + 4 * q;
          FloatVector x0 = FloatVector.broadcast(Vec.F, x[xq + 0]);
          FloatVector x1 = FloatVector.broadcast(Vec.F, x[xq + 1]);
          FloatVector x2 = FloatVector.broadcast(Vec.F, x[xq + 2]);
          FloatVector x3 = FloatVector.broadcast(Vec.F, x[xq + 3]);
          long o = t + 64 * q;
          IntVector c;
          c = IntVector.fromMemorySegment(Vec.I, codes, o, Vec.LE);
          p0a =
              c.lanewise(VectorOperators.LSHL, 24)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x0, p0a);
          p0a =
              c.lanewise(VectorOperators.LSHL, 16)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x1, p0a);
          p0a =
              c.lanewise(VectorOperators.LSHL, 8)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x2, p0a);
          p0a =
              c.lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x3, p0a);
          c = IntVector.fromMemorySegment(Vec.I, codes, o + 512, Vec.LE);
          p0b =
              c.lanewise(VectorOperators.LSHL, 24)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x0, p0b);
          p0b =
              c.lanewise(VectorOperators.LSHL, 16)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x1, p0b);
          p0b =
              c.lanewise(VectorOperators.LSHL, 8)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x2, p0b);
          p0b =
              c.lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x3, p0b);
          c = IntVector.fromMemorySegment(Vec.I, codes, o + 1 * ut, Vec.LE);
          p1a =
              c.lanewise(VectorOperators.LSHL, 24)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x0, p1a);
          p1a =
              c.lanewise(VectorOperators.LSHL, 16)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x1, p1a);
          p1a =
              c.lanewise(VectorOperators.LSHL, 8)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x2, p1a);
          p1a =
              c.lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x3, p1a);
          c = IntVector.fromMemorySegment(Vec.I, codes, o + 1 * ut + 512, Vec.LE);
          p1b =
              c.lanewise(VectorOperators.LSHL, 24)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x0, p1b);
          p1b =
              c.lanewise(VectorOperators.LSHL, 16)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x1, p1b);
          p1b =
              c.lanewise(VectorOperators.LSHL, 8)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x2, p1b);
          p1b =
              c.lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x3, p1b);
          c = IntVector.fromMemorySegment(Vec.I, codes, o + 2 * ut, Vec.LE);
          p2a =
              c.lanewise(VectorOperators.LSHL, 24)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x0, p2a);
          p2a =
              c.lanewise(VectorOperators.LSHL, 16)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x1, p2a);
          p2a =
              c.lanewise(VectorOperators.LSHL, 8)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x2, p2a);
          p2a =
              c.lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x3, p2a);
          c = IntVector.fromMemorySegment(Vec.I, codes, o + 2 * ut + 512, Vec.LE);
          p2b =
              c.lanewise(VectorOperators.LSHL, 24)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x0, p2b);
          p2b =
              c.lanewise(VectorOperators.LSHL, 16)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x1, p2b);
          p2b =
              c.lanewise(VectorOperators.LSHL, 8)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x2, p2b);
          p2b =
              c.lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x3, p2b);
          c = IntVector.fromMemorySegment(Vec.I, codes, o + 3 * ut, Vec.LE);
          p3a =
              c.lanewise(VectorOperators.LSHL, 24)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x0, p3a);
          p3a =
              c.lanewise(VectorOperators.LSHL, 16)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x1, p3a);
          p3a =
              c.lanewise(VectorOperators.LSHL, 8)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x2, p3a);
          p3a =
              c.lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x3, p3a);
          c = IntVector.fromMemorySegment(Vec.I, codes, o + 3 * ut + 512, Vec.LE);
          p3b =
              c.lanewise(VectorOperators.LSHL, 24)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x0, p3b);
          p3b =
              c.lanewise(VectorOperators.LSHL, 16)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x1, p3b);
          p3b =
              c.lanewise(VectorOperators.LSHL, 8)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x2, p3b);
          p3b =
              c.lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x3, p3b);
        }
        acc0a =
            p0a.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc0a);
        acc0b =
            p0b.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s + 16, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc0b);
        acc1a =
            p1a.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s + 1 * us, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc1a);
        acc1b =
            p1b.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s + 1 * us + 16, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc1b);
        acc2a =
            p2a.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s + 2 * us, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc2a);
        acc2b =
            p2b.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s + 2 * us + 16, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc2b);
        acc3a =
            p3a.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s + 3 * us, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc3a);
        acc3b =
            p3b.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s + 3 * us + 16, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc3b);
      }
      GemvKernel.store(acc0a, acc0b, bias, y, yOff, u, n);
      GemvKernel.store(acc1a, acc1b, bias, y, yOff, u + 1, n);
      GemvKernel.store(acc2a, acc2b, bias, y, yOff, u + 2, n);
      GemvKernel.store(acc3a, acc3b, bias, y, yOff, u + 3, n);
    }
    return u;
  }

  /**
   * MXFP8 E5M2: as {@link #e4m3} (value times 2^16). Returns the first unit not done (a multiple of
   * 4 past {@code u0}).
   */
  private static long e5m2(
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
    long ut = 1024L * kb;
    long us = 32L * kb;
    long u = u0;
    for (; u + 4 <= u1; u += 4) {
      FloatVector acc0a = FloatVector.zero(Vec.F);
      FloatVector acc0b = FloatVector.zero(Vec.F);
      FloatVector acc1a = FloatVector.zero(Vec.F);
      FloatVector acc1b = FloatVector.zero(Vec.F);
      FloatVector acc2a = FloatVector.zero(Vec.F);
      FloatVector acc2b = FloatVector.zero(Vec.F);
      FloatVector acc3a = FloatVector.zero(Vec.F);
      FloatVector acc3b = FloatVector.zero(Vec.F);
      long t = u * ut;
      long s = u * us;
      for (int b = 0; b < kb; b++, t += 1024, s += 32) {
        FloatVector p0a = FloatVector.zero(Vec.F);
        FloatVector p0b = FloatVector.zero(Vec.F);
        FloatVector p1a = FloatVector.zero(Vec.F);
        FloatVector p1b = FloatVector.zero(Vec.F);
        FloatVector p2a = FloatVector.zero(Vec.F);
        FloatVector p2b = FloatVector.zero(Vec.F);
        FloatVector p3a = FloatVector.zero(Vec.F);
        FloatVector p3b = FloatVector.zero(Vec.F);
        for (int q = 0; q < 8; q++) {
          int xq = b * 32 + 4 * q;
          FloatVector x0 = FloatVector.broadcast(Vec.F, x[xq + 0]);
          FloatVector x1 = FloatVector.broadcast(Vec.F, x[xq + 1]);
          FloatVector x2 = FloatVector.broadcast(Vec.F, x[xq + 2]);
          FloatVector x3 = FloatVector.broadcast(Vec.F, x[xq + 3]);
          long o = t + 64 * q;
          IntVector c;
          c = IntVector.fromMemorySegment(Vec.I, codes, o, Vec.LE);
          p0a =
              c.lanewise(VectorOperators.LSHL, 24)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x0, p0a);
          p0a =
              c.lanewise(VectorOperators.LSHL, 16)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x1, p0a);
          p0a =
              c.lanewise(VectorOperators.LSHL, 8)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x2, p0a);
          p0a =
              c.lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x3, p0a);
          c = IntVector.fromMemorySegment(Vec.I, codes, o + 512, Vec.LE);
          p0b =
              c.lanewise(VectorOperators.LSHL, 24)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x0, p0b);
          p0b =
              c.lanewise(VectorOperators.LSHL, 16)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x1, p0b);
          p0b =
              c.lanewise(VectorOperators.LSHL, 8)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x2, p0b);
          p0b =
              c.lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x3, p0b);
          c = IntVector.fromMemorySegment(Vec.I, codes, o + 1 * ut, Vec.LE);
          p1a =
              c.lanewise(VectorOperators.LSHL, 24)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x0, p1a);
          p1a =
              c.lanewise(VectorOperators.LSHL, 16)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x1, p1a);
          p1a =
              c.lanewise(VectorOperators.LSHL, 8)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x2, p1a);
          p1a =
              c.lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x3, p1a);
          c = IntVector.fromMemorySegment(Vec.I, codes, o + 1 * ut + 512, Vec.LE);
          p1b =
              c.lanewise(VectorOperators.LSHL, 24)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x0, p1b);
          p1b =
              c.lanewise(VectorOperators.LSHL, 16)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x1, p1b);
          p1b =
              c.lanewise(VectorOperators.LSHL, 8)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x2, p1b);
          p1b =
              c.lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x3, p1b);
          c = IntVector.fromMemorySegment(Vec.I, codes, o + 2 * ut, Vec.LE);
          p2a =
              c.lanewise(VectorOperators.LSHL, 24)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x0, p2a);
          p2a =
              c.lanewise(VectorOperators.LSHL, 16)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x1, p2a);
          p2a =
              c.lanewise(VectorOperators.LSHL, 8)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x2, p2a);
          p2a =
              c.lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x3, p2a);
          c = IntVector.fromMemorySegment(Vec.I, codes, o + 2 * ut + 512, Vec.LE);
          p2b =
              c.lanewise(VectorOperators.LSHL, 24)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x0, p2b);
          p2b =
              c.lanewise(VectorOperators.LSHL, 16)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x1, p2b);
          p2b =
              c.lanewise(VectorOperators.LSHL, 8)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x2, p2b);
          p2b =
              c.lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x3, p2b);
          c = IntVector.fromMemorySegment(Vec.I, codes, o + 3 * ut, Vec.LE);
          p3a =
              c.lanewise(VectorOperators.LSHL, 24)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x0, p3a);
          p3a =
              c.lanewise(VectorOperators.LSHL, 16)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x1, p3a);
          p3a =
              c.lanewise(VectorOperators.LSHL, 8)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x2, p3a);
          p3a =
              c.lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x3, p3a);
          c = IntVector.fromMemorySegment(Vec.I, codes, o + 3 * ut + 512, Vec.LE);
          p3b =
              c.lanewise(VectorOperators.LSHL, 24)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x0, p3b);
          p3b =
              c.lanewise(VectorOperators.LSHL, 16)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x1, p3b);
          p3b =
              c.lanewise(VectorOperators.LSHL, 8)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x2, p3b);
          p3b =
              c.lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(x3, p3b);
        }
        acc0a =
            p0a.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc0a);
        acc0b =
            p0b.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s + 16, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc0b);
        acc1a =
            p1a.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s + 1 * us, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc1a);
        acc1b =
            p1b.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s + 1 * us + 16, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc1b);
        acc2a =
            p2a.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s + 2 * us, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc2a);
        acc2b =
            p2b.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s + 2 * us + 16, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc2b);
        acc3a =
            p3a.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s + 3 * us, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc3a);
        acc3b =
            p3b.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s + 3 * us + 16, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc3b);
      }
      GemvKernel.store(acc0a, acc0b, bias, y, yOff, u, n);
      GemvKernel.store(acc1a, acc1b, bias, y, yOff, u + 1, n);
      GemvKernel.store(acc2a, acc2b, bias, y, yOff, u + 2, n);
      GemvKernel.store(acc3a, acc3b, bias, y, yOff, u + 3, n);
    }
    return u;
  }

  /**
   * MXINT8: each code in the top byte of an int, converted exactly (code times 2^24). Returns the
   * first unit not done (a multiple of 4 past {@code u0}).
   */
  private static long int8(
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
    long ut = 1024L * kb;
    long us = 32L * kb;
    long u = u0;
    for (; u + 4 <= u1; u += 4) {
      FloatVector acc0a = FloatVector.zero(Vec.F);
      FloatVector acc0b = FloatVector.zero(Vec.F);
      FloatVector acc1a = FloatVector.zero(Vec.F);
      FloatVector acc1b = FloatVector.zero(Vec.F);
      FloatVector acc2a = FloatVector.zero(Vec.F);
      FloatVector acc2b = FloatVector.zero(Vec.F);
      FloatVector acc3a = FloatVector.zero(Vec.F);
      FloatVector acc3b = FloatVector.zero(Vec.F);
      long t = u * ut;
      long s = u * us;
      for (int b = 0; b < kb; b++, t += 1024, s += 32) {
        FloatVector p0a = FloatVector.zero(Vec.F);
        FloatVector p0b = FloatVector.zero(Vec.F);
        FloatVector p1a = FloatVector.zero(Vec.F);
        FloatVector p1b = FloatVector.zero(Vec.F);
        FloatVector p2a = FloatVector.zero(Vec.F);
        FloatVector p2b = FloatVector.zero(Vec.F);
        FloatVector p3a = FloatVector.zero(Vec.F);
        FloatVector p3b = FloatVector.zero(Vec.F);
        for (int q = 0; q < 8; q++) {
          int xq = b * 32 + 4 * q;
          FloatVector x0 = FloatVector.broadcast(Vec.F, x[xq + 0]);
          FloatVector x1 = FloatVector.broadcast(Vec.F, x[xq + 1]);
          FloatVector x2 = FloatVector.broadcast(Vec.F, x[xq + 2]);
          FloatVector x3 = FloatVector.broadcast(Vec.F, x[xq + 3]);
          long o = t + 64 * q;
          IntVector c;
          c = IntVector.fromMemorySegment(Vec.I, codes, o, Vec.LE);
          p0a =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 24)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x0, p0a);
          p0a =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 16)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x1, p0a);
          p0a =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 8)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x2, p0a);
          p0a = ((FloatVector) c.and(0xFF000000).convert(VectorOperators.I2F, 0)).fma(x3, p0a);
          c = IntVector.fromMemorySegment(Vec.I, codes, o + 512, Vec.LE);
          p0b =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 24)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x0, p0b);
          p0b =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 16)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x1, p0b);
          p0b =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 8)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x2, p0b);
          p0b = ((FloatVector) c.and(0xFF000000).convert(VectorOperators.I2F, 0)).fma(x3, p0b);
          c = IntVector.fromMemorySegment(Vec.I, codes, o + 1 * ut, Vec.LE);
          p1a =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 24)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x0, p1a);
          p1a =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 16)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x1, p1a);
          p1a =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 8)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x2, p1a);
          p1a = ((FloatVector) c.and(0xFF000000).convert(VectorOperators.I2F, 0)).fma(x3, p1a);
          c = IntVector.fromMemorySegment(Vec.I, codes, o + 1 * ut + 512, Vec.LE);
          p1b =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 24)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x0, p1b);
          p1b =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 16)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x1, p1b);
          p1b =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 8)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x2, p1b);
          p1b = ((FloatVector) c.and(0xFF000000).convert(VectorOperators.I2F, 0)).fma(x3, p1b);
          c = IntVector.fromMemorySegment(Vec.I, codes, o + 2 * ut, Vec.LE);
          p2a =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 24)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x0, p2a);
          p2a =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 16)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x1, p2a);
          p2a =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 8)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x2, p2a);
          p2a = ((FloatVector) c.and(0xFF000000).convert(VectorOperators.I2F, 0)).fma(x3, p2a);
          c = IntVector.fromMemorySegment(Vec.I, codes, o + 2 * ut + 512, Vec.LE);
          p2b =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 24)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x0, p2b);
          p2b =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 16)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x1, p2b);
          p2b =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 8)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x2, p2b);
          p2b = ((FloatVector) c.and(0xFF000000).convert(VectorOperators.I2F, 0)).fma(x3, p2b);
          c = IntVector.fromMemorySegment(Vec.I, codes, o + 3 * ut, Vec.LE);
          p3a =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 24)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x0, p3a);
          p3a =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 16)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x1, p3a);
          p3a =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 8)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x2, p3a);
          p3a = ((FloatVector) c.and(0xFF000000).convert(VectorOperators.I2F, 0)).fma(x3, p3a);
          c = IntVector.fromMemorySegment(Vec.I, codes, o + 3 * ut + 512, Vec.LE);
          p3b =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 24)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x0, p3b);
          p3b =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 16)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x1, p3b);
          p3b =
              ((FloatVector)
                      c.lanewise(VectorOperators.LSHL, 8)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(x2, p3b);
          p3b = ((FloatVector) c.and(0xFF000000).convert(VectorOperators.I2F, 0)).fma(x3, p3b);
        }
        acc0a =
            p0a.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc0a);
        acc0b =
            p0b.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s + 16, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc0b);
        acc1a =
            p1a.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s + 1 * us, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc1a);
        acc1b =
            p1b.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s + 1 * us + 16, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc1b);
        acc2a =
            p2a.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s + 2 * us, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc2a);
        acc2b =
            p2b.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s + 2 * us + 16, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc2b);
        acc3a =
            p3a.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s + 3 * us, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc3a);
        acc3b =
            p3b.fma(
                ((IntVector)
                        ByteVector.fromMemorySegment(Vec.B16, scales, s + 3 * us + 16, Vec.LE)
                            .convertShape(VectorOperators.B2I, Vec.I, 0))
                    .and(0xFF)
                    .lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats(),
                acc3b);
      }
      GemvKernel.store(acc0a, acc0b, bias, y, yOff, u, n);
      GemvKernel.store(acc1a, acc1b, bias, y, yOff, u + 1, n);
      GemvKernel.store(acc2a, acc2b, bias, y, yOff, u + 2, n);
      GemvKernel.store(acc3a, acc3b, bias, y, yOff, u + 3, n);
    }
    return u;
  }

  /**
   * Corrects the outputs of units {@code [u0, u1)} for the FP8 zero and subnormal codes, which the
   * fast loop decoded wrongly: adds {@code (exact − fast) · scale · x} for each listed code.
   */
  static void fixups(CpuPreparedWeight w, float[] x, MemorySegment y, long yOff, long u0, long u1) {
    long[] entries = w.fixEntries();
    int[] start = w.fixStart();
    float[] delta = w.fixDelta();
    for (int i = start[(int) u0], end = start[(int) u1]; i < end; i++) {
      long e = entries[i];
      int row = (int) (e >>> 32);
      int col = (int) (e >>> 8) & 0xFFFFFF;
      float scale = Float.intBitsToFloat(w.storedScale(row, col >>> 5) << 23);
      long at = yOff + 4L * row;
      float v = y.get(ValueLayout.JAVA_FLOAT_UNALIGNED, at);
      y.set(ValueLayout.JAVA_FLOAT_UNALIGNED, at, v + delta[(int) e & 0xFF] * scale * x[col]);
    }
  }
}

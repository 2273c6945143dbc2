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
 * MXFP8_E4M3 quantized from Gaussian weights, 2 threads (CPU time per thread, weights from DRAM):
 * 13–15 ms against 23–25 ms one unit at a time; a plain read of the same bytes took 5–7.6 ms.
 *
 * <p>The four elements a lane's int holds are taken in a small loop (variable shifts) rather than
 * unrolled by hand: unrolled, the loop ran 1.4× faster in isolation, but it is too large for C1, so
 * it runs interpreted for seconds and C2 then compiles it without a type profile, which in a real
 * process (several memory segment kinds loaded) made it several times slower.
 *
 * <p>FP8 zero and subnormal codes: the fast decode builds floats from the code bits, which is exact
 * for normal codes only. Rather than branching inside the fast loop, the loop decodes every tile
 * the fast way and {@link #fixups} afterwards adds, for each such code the weight lists ({@link
 * CpuPreparedWeight#fixEntries()}), the difference between its exact and its fast value times the
 * input, so the result is the exact dot product up to summation order. Weights with too many such
 * codes to list (e.g. mostly zeros) are not given to this kernel: see {@link #handles}.
 *
 * <p>The three kernels differ only in the decode expression: keep them in step.
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
    long u = u0;
    for (; u + 4 <= u1; u += 4) {
      e4m3Group(codes, scales, kb, n, x, bias, y, yOff, u);
    }
    return u;
  }

  /**
   * Units {@code u .. u + 3}: one call per group, so that the JIT compiles it whole early (an
   * on-stack replacement of a long-running loop boxes the vectors live at its entry).
   */
  private static void e4m3Group(
      MemorySegment codes,
      MemorySegment scales,
      int kb,
      int n,
      float[] x,
      MemorySegment bias,
      MemorySegment y,
      long yOff,
      long u) {
    long ut = 1024L * kb;
    long us = 32L * kb;
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
        long o = t + 64 * q;
        IntVector c0a = IntVector.fromMemorySegment(Vec.I, codes, o, Vec.LE);
        IntVector c0b = IntVector.fromMemorySegment(Vec.I, codes, o + 512, Vec.LE);
        IntVector c1a = IntVector.fromMemorySegment(Vec.I, codes, o + ut, Vec.LE);
        IntVector c1b = IntVector.fromMemorySegment(Vec.I, codes, o + ut + 512, Vec.LE);
        IntVector c2a = IntVector.fromMemorySegment(Vec.I, codes, o + 2 * ut, Vec.LE);
        IntVector c2b = IntVector.fromMemorySegment(Vec.I, codes, o + 2 * ut + 512, Vec.LE);
        IntVector c3a = IntVector.fromMemorySegment(Vec.I, codes, o + 3 * ut, Vec.LE);
        IntVector c3b = IntVector.fromMemorySegment(Vec.I, codes, o + 3 * ut + 512, Vec.LE);
        // Element i of each lane's four, moved to the top byte; a small loop that C2 unrolls,
        // keeping the body small enough for C1 (which gives up on the unrolled form).
        for (int i = 0; i < 4; i++) {
          FloatVector xv = FloatVector.broadcast(Vec.F, x[b * 32 + 4 * q + i]);
          int sh = 24 - 8 * i;
          p0a =
              c0a.lanewise(VectorOperators.LSHL, sh)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(xv, p0a);
          p0b =
              c0b.lanewise(VectorOperators.LSHL, sh)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(xv, p0b);
          p1a =
              c1a.lanewise(VectorOperators.LSHL, sh)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(xv, p1a);
          p1b =
              c1b.lanewise(VectorOperators.LSHL, sh)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(xv, p1b);
          p2a =
              c2a.lanewise(VectorOperators.LSHL, sh)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(xv, p2a);
          p2b =
              c2b.lanewise(VectorOperators.LSHL, sh)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(xv, p2b);
          p3a =
              c3a.lanewise(VectorOperators.LSHL, sh)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(xv, p3a);
          p3b =
              c3b.lanewise(VectorOperators.LSHL, sh)
                  .lanewise(VectorOperators.ASHR, 4)
                  .and(0x87F00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(xv, p3b);
        }
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
                      ByteVector.fromMemorySegment(Vec.B16, scales, s + us, Vec.LE)
                          .convertShape(VectorOperators.B2I, Vec.I, 0))
                  .and(0xFF)
                  .lanewise(VectorOperators.LSHL, 23)
                  .reinterpretAsFloats(),
              acc1a);
      acc1b =
          p1b.fma(
              ((IntVector)
                      ByteVector.fromMemorySegment(Vec.B16, scales, s + us + 16, Vec.LE)
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
    long u = u0;
    for (; u + 4 <= u1; u += 4) {
      e5m2Group(codes, scales, kb, n, x, bias, y, yOff, u);
    }
    return u;
  }

  /**
   * Units {@code u .. u + 3}: one call per group, so that the JIT compiles it whole early (an
   * on-stack replacement of a long-running loop boxes the vectors live at its entry).
   */
  private static void e5m2Group(
      MemorySegment codes,
      MemorySegment scales,
      int kb,
      int n,
      float[] x,
      MemorySegment bias,
      MemorySegment y,
      long yOff,
      long u) {
    long ut = 1024L * kb;
    long us = 32L * kb;
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
        long o = t + 64 * q;
        IntVector c0a = IntVector.fromMemorySegment(Vec.I, codes, o, Vec.LE);
        IntVector c0b = IntVector.fromMemorySegment(Vec.I, codes, o + 512, Vec.LE);
        IntVector c1a = IntVector.fromMemorySegment(Vec.I, codes, o + ut, Vec.LE);
        IntVector c1b = IntVector.fromMemorySegment(Vec.I, codes, o + ut + 512, Vec.LE);
        IntVector c2a = IntVector.fromMemorySegment(Vec.I, codes, o + 2 * ut, Vec.LE);
        IntVector c2b = IntVector.fromMemorySegment(Vec.I, codes, o + 2 * ut + 512, Vec.LE);
        IntVector c3a = IntVector.fromMemorySegment(Vec.I, codes, o + 3 * ut, Vec.LE);
        IntVector c3b = IntVector.fromMemorySegment(Vec.I, codes, o + 3 * ut + 512, Vec.LE);
        // Element i of each lane's four, moved to the top byte; a small loop that C2 unrolls,
        // keeping the body small enough for C1 (which gives up on the unrolled form).
        for (int i = 0; i < 4; i++) {
          FloatVector xv = FloatVector.broadcast(Vec.F, x[b * 32 + 4 * q + i]);
          int sh = 24 - 8 * i;
          p0a =
              c0a.lanewise(VectorOperators.LSHL, sh)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(xv, p0a);
          p0b =
              c0b.lanewise(VectorOperators.LSHL, sh)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(xv, p0b);
          p1a =
              c1a.lanewise(VectorOperators.LSHL, sh)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(xv, p1a);
          p1b =
              c1b.lanewise(VectorOperators.LSHL, sh)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(xv, p1b);
          p2a =
              c2a.lanewise(VectorOperators.LSHL, sh)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(xv, p2a);
          p2b =
              c2b.lanewise(VectorOperators.LSHL, sh)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(xv, p2b);
          p3a =
              c3a.lanewise(VectorOperators.LSHL, sh)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(xv, p3a);
          p3b =
              c3b.lanewise(VectorOperators.LSHL, sh)
                  .lanewise(VectorOperators.ASHR, 3)
                  .and(0x8FE00000)
                  .or(0x40000000)
                  .reinterpretAsFloats()
                  .fma(xv, p3b);
        }
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
                      ByteVector.fromMemorySegment(Vec.B16, scales, s + us, Vec.LE)
                          .convertShape(VectorOperators.B2I, Vec.I, 0))
                  .and(0xFF)
                  .lanewise(VectorOperators.LSHL, 23)
                  .reinterpretAsFloats(),
              acc1a);
      acc1b =
          p1b.fma(
              ((IntVector)
                      ByteVector.fromMemorySegment(Vec.B16, scales, s + us + 16, Vec.LE)
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
    long u = u0;
    for (; u + 4 <= u1; u += 4) {
      int8Group(codes, scales, kb, n, x, bias, y, yOff, u);
    }
    return u;
  }

  /**
   * Units {@code u .. u + 3}: one call per group, so that the JIT compiles it whole early (an
   * on-stack replacement of a long-running loop boxes the vectors live at its entry).
   */
  private static void int8Group(
      MemorySegment codes,
      MemorySegment scales,
      int kb,
      int n,
      float[] x,
      MemorySegment bias,
      MemorySegment y,
      long yOff,
      long u) {
    long ut = 1024L * kb;
    long us = 32L * kb;
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
        long o = t + 64 * q;
        IntVector c0a = IntVector.fromMemorySegment(Vec.I, codes, o, Vec.LE);
        IntVector c0b = IntVector.fromMemorySegment(Vec.I, codes, o + 512, Vec.LE);
        IntVector c1a = IntVector.fromMemorySegment(Vec.I, codes, o + ut, Vec.LE);
        IntVector c1b = IntVector.fromMemorySegment(Vec.I, codes, o + ut + 512, Vec.LE);
        IntVector c2a = IntVector.fromMemorySegment(Vec.I, codes, o + 2 * ut, Vec.LE);
        IntVector c2b = IntVector.fromMemorySegment(Vec.I, codes, o + 2 * ut + 512, Vec.LE);
        IntVector c3a = IntVector.fromMemorySegment(Vec.I, codes, o + 3 * ut, Vec.LE);
        IntVector c3b = IntVector.fromMemorySegment(Vec.I, codes, o + 3 * ut + 512, Vec.LE);
        // Element i of each lane's four, moved to the top byte; a small loop that C2 unrolls,
        // keeping the body small enough for C1 (which gives up on the unrolled form).
        for (int i = 0; i < 4; i++) {
          FloatVector xv = FloatVector.broadcast(Vec.F, x[b * 32 + 4 * q + i]);
          int sh = 24 - 8 * i;
          p0a =
              ((FloatVector)
                      c0a.lanewise(VectorOperators.LSHL, sh)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(xv, p0a);
          p0b =
              ((FloatVector)
                      c0b.lanewise(VectorOperators.LSHL, sh)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(xv, p0b);
          p1a =
              ((FloatVector)
                      c1a.lanewise(VectorOperators.LSHL, sh)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(xv, p1a);
          p1b =
              ((FloatVector)
                      c1b.lanewise(VectorOperators.LSHL, sh)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(xv, p1b);
          p2a =
              ((FloatVector)
                      c2a.lanewise(VectorOperators.LSHL, sh)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(xv, p2a);
          p2b =
              ((FloatVector)
                      c2b.lanewise(VectorOperators.LSHL, sh)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(xv, p2b);
          p3a =
              ((FloatVector)
                      c3a.lanewise(VectorOperators.LSHL, sh)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(xv, p3a);
          p3b =
              ((FloatVector)
                      c3b.lanewise(VectorOperators.LSHL, sh)
                          .and(0xFF000000)
                          .convert(VectorOperators.I2F, 0))
                  .fma(xv, p3b);
        }
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
                      ByteVector.fromMemorySegment(Vec.B16, scales, s + us, Vec.LE)
                          .convertShape(VectorOperators.B2I, Vec.I, 0))
                  .and(0xFF)
                  .lanewise(VectorOperators.LSHL, 23)
                  .reinterpretAsFloats(),
              acc1a);
      acc1b =
          p1b.fma(
              ((IntVector)
                      ByteVector.fromMemorySegment(Vec.B16, scales, s + us + 16, Vec.LE)
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

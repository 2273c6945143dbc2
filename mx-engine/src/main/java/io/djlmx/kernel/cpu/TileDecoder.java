package io.djlmx.kernel.cpu;

import io.djlmx.format.MxFormat;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Decodes one tile (32 rows × one block of 32) into FP32 with the block scales applied: {@code
 * panel[off + 32 v + lane]} is element {@code v} of the unit's row {@code lane}. Exact: scales are
 * powers of two. Used by the batched kernel and by the FP8 tiles that hold zero/subnormal codes.
 */
final class TileDecoder {

  private static final int[] FP4 = Vec.fp4Table();
  private static final int[] E2M3 = Vec.fp6MagnitudeTable(MxFormat.MXFP6_E2M3);
  private static final int[] E3M2 = Vec.fp6MagnitudeTable(MxFormat.MXFP6_E3M2);

  private TileDecoder() {}

  /**
   * Decodes tile {@code tile} of {@code w} into {@code panel} at {@code off} (1024 floats).
   *
   * @param w the weight
   * @param tile the tile index {@code u * blocksPerRow + b}
   * @param panel the destination
   * @param off the first float written
   */
  static void decode(CpuPreparedWeight w, long tile, float[] panel, int off) {
    MemorySegment codes = w.codes();
    MemorySegment scales = w.scales();
    long t = tile * w.tileBytes();
    long s = tile * CpuPreparedWeight.UNIT_ROWS;
    switch (w.format()) {
      case MXFP4_E2M1:
        fp4(codes, t, scales, s, panel, off);
        break;
      case MXFP6_E2M3:
        fp6(codes, t, scales, s, panel, off, E2M3);
        break;
      case MXFP6_E3M2:
        fp6(codes, t, scales, s, panel, off, E3M2);
        break;
      case MXFP8_E4M3:
        fp8(codes, t, scales, s, panel, off, w.fixupMask(tile), 20, 0x87F00000, 0x78, 7, 0.5f);
        break;
      case MXFP8_E5M2:
        fp8(codes, t, scales, s, panel, off, w.fixupMask(tile), 21, 0x8FE00000, 0x7C, 3, 1f);
        break;
      case MXINT8:
        int8(codes, t, scales, s, panel, off);
        break;
      default:
        throw new IllegalStateException("unhandled format " + w.format());
    }
  }

  private static void fp4(
      MemorySegment codes, long t, MemorySegment scales, long s, float[] panel, int off) {
    IntVector tab = IntVector.fromArray(Vec.I, FP4, 0);
    for (int sub = 0; sub < 2; sub++) {
      FloatVector sc =
          ((IntVector)
                  ByteVector.fromMemorySegment(Vec.B16, scales, s + 16 * sub, Vec.LE)
                      .convertShape(VectorOperators.B2I, Vec.I, 0))
              .and(0xFF)
              .lanewise(VectorOperators.LSHL, 23)
              .reinterpretAsFloats();
      long base = t + 256L * sub;
      for (int q = 0; q < 4; q++) {
        IntVector iv = IntVector.fromMemorySegment(Vec.I, codes, base + 64L * q, Vec.LE);
        int p = off + 256 * q + 16 * sub;
        iv.selectFrom(tab).reinterpretAsFloats().mul(sc).intoArray(panel, p + 0);
        iv.lanewise(VectorOperators.LSHR, 4)
            .selectFrom(tab)
            .reinterpretAsFloats()
            .mul(sc)
            .intoArray(panel, p + 32);
        iv.lanewise(VectorOperators.LSHR, 8)
            .selectFrom(tab)
            .reinterpretAsFloats()
            .mul(sc)
            .intoArray(panel, p + 64);
        iv.lanewise(VectorOperators.LSHR, 12)
            .selectFrom(tab)
            .reinterpretAsFloats()
            .mul(sc)
            .intoArray(panel, p + 96);
        iv.lanewise(VectorOperators.LSHR, 16)
            .selectFrom(tab)
            .reinterpretAsFloats()
            .mul(sc)
            .intoArray(panel, p + 128);
        iv.lanewise(VectorOperators.LSHR, 20)
            .selectFrom(tab)
            .reinterpretAsFloats()
            .mul(sc)
            .intoArray(panel, p + 160);
        iv.lanewise(VectorOperators.LSHR, 24)
            .selectFrom(tab)
            .reinterpretAsFloats()
            .mul(sc)
            .intoArray(panel, p + 192);
        iv.lanewise(VectorOperators.LSHR, 28)
            .selectFrom(tab)
            .reinterpretAsFloats()
            .mul(sc)
            .intoArray(panel, p + 224);
      }
    }
  }

  private static void fp6(
      MemorySegment codes,
      long t,
      MemorySegment scales,
      long s,
      float[] panel,
      int off,
      int[] table) {
    IntVector lo = IntVector.fromArray(Vec.I, table, 0);
    IntVector hi = IntVector.fromArray(Vec.I, table, 16);
    for (int sub = 0; sub < 2; sub++) {
      FloatVector sc =
          ((IntVector)
                  ByteVector.fromMemorySegment(Vec.B16, scales, s + 16 * sub, Vec.LE)
                      .convertShape(VectorOperators.B2I, Vec.I, 0))
              .and(0xFF)
              .lanewise(VectorOperators.LSHL, 23)
              .reinterpretAsFloats();
      long base = t + 384L * sub;
      for (int q = 0; q < 8; q++) {
        IntVector iv =
            ByteVector.fromMemorySegment(Vec.B, codes, base + 48L * q, Vec.LE)
                .rearrange(Vec.SPREAD_3_TO_4)
                .reinterpretAsInts();
        int p = off + 128 * q + 16 * sub;
        IntVector r;
        r = iv.lanewise(VectorOperators.ROR, 1);
        r.selectFrom(lo, hi)
            .or(r.and(0x80000000))
            .reinterpretAsFloats()
            .mul(sc)
            .intoArray(panel, p + 0);
        r = iv.lanewise(VectorOperators.ROR, 7);
        r.selectFrom(lo, hi)
            .or(r.and(0x80000000))
            .reinterpretAsFloats()
            .mul(sc)
            .intoArray(panel, p + 32);
        r = iv.lanewise(VectorOperators.ROR, 13);
        r.selectFrom(lo, hi)
            .or(r.and(0x80000000))
            .reinterpretAsFloats()
            .mul(sc)
            .intoArray(panel, p + 64);
        r = iv.lanewise(VectorOperators.ROR, 19);
        r.selectFrom(lo, hi)
            .or(r.and(0x80000000))
            .reinterpretAsFloats()
            .mul(sc)
            .intoArray(panel, p + 96);
      }
    }
  }

  private static void fp8(
      MemorySegment codes,
      long t,
      MemorySegment scales,
      long s,
      float[] panel,
      int off,
      int fixMask,
      int shl,
      int keep,
      int expMask,
      int mantMask,
      float subnormalUnit) {
    int sra = 24 - shl;
    for (int sub = 0; sub < 2; sub++) {
      FloatVector sc =
          ((IntVector)
                  ByteVector.fromMemorySegment(Vec.B16, scales, s + 16 * sub, Vec.LE)
                      .convertShape(VectorOperators.B2I, Vec.I, 0))
              .and(0xFF)
              .lanewise(VectorOperators.LSHL, 23)
              .reinterpretAsFloats();
      long base = t + 512L * sub;
      for (int q = 0; q < 8; q++) {
        IntVector iv = IntVector.fromMemorySegment(Vec.I, codes, base + 64L * q, Vec.LE);
        int p = off + 128 * q + 16 * sub;
        if ((fixMask >>> q & 1) == 0) {
          // No zero or subnormal code among these four columns: the bits build every value.
          iv.lanewise(VectorOperators.LSHL, 24)
              .lanewise(VectorOperators.ASHR, sra)
              .and(keep)
              .or(0x40000000)
              .reinterpretAsFloats()
              .mul(sc)
              .intoArray(panel, p + 0);
          iv.lanewise(VectorOperators.LSHL, 16)
              .lanewise(VectorOperators.ASHR, sra)
              .and(keep)
              .or(0x40000000)
              .reinterpretAsFloats()
              .mul(sc)
              .intoArray(panel, p + 32);
          iv.lanewise(VectorOperators.LSHL, 8)
              .lanewise(VectorOperators.ASHR, sra)
              .and(keep)
              .or(0x40000000)
              .reinterpretAsFloats()
              .mul(sc)
              .intoArray(panel, p + 64);
          iv.lanewise(VectorOperators.ASHR, sra)
              .and(keep)
              .or(0x40000000)
              .reinterpretAsFloats()
              .mul(sc)
              .intoArray(panel, p + 96);
          continue;
        }
        IntVector top;
        IntVector c;
        // Code i sign-extended into the top byte, then down to the float's exponent field; zero
        // and subnormal codes: value times the folded power of two is mantissa * unit.
        top = iv.lanewise(VectorOperators.LSHL, 24);
        c = top.lanewise(VectorOperators.ASHR, 24);
        top.lanewise(VectorOperators.ASHR, sra)
            .and(keep)
            .or(0x40000000)
            .reinterpretAsFloats()
            .blend(
                ((FloatVector) c.and(mantMask).convert(VectorOperators.I2F, 0))
                    .mul(subnormalUnit)
                    .reinterpretAsInts()
                    .or(c.and(0x80000000))
                    .reinterpretAsFloats(),
                c.and(expMask).eq(0).cast(Vec.F))
            .mul(sc)
            .intoArray(panel, p + 0);
        top = iv.lanewise(VectorOperators.LSHL, 16);
        c = top.lanewise(VectorOperators.ASHR, 24);
        top.lanewise(VectorOperators.ASHR, sra)
            .and(keep)
            .or(0x40000000)
            .reinterpretAsFloats()
            .blend(
                ((FloatVector) c.and(mantMask).convert(VectorOperators.I2F, 0))
                    .mul(subnormalUnit)
                    .reinterpretAsInts()
                    .or(c.and(0x80000000))
                    .reinterpretAsFloats(),
                c.and(expMask).eq(0).cast(Vec.F))
            .mul(sc)
            .intoArray(panel, p + 32);
        top = iv.lanewise(VectorOperators.LSHL, 8);
        c = top.lanewise(VectorOperators.ASHR, 24);
        top.lanewise(VectorOperators.ASHR, sra)
            .and(keep)
            .or(0x40000000)
            .reinterpretAsFloats()
            .blend(
                ((FloatVector) c.and(mantMask).convert(VectorOperators.I2F, 0))
                    .mul(subnormalUnit)
                    .reinterpretAsInts()
                    .or(c.and(0x80000000))
                    .reinterpretAsFloats(),
                c.and(expMask).eq(0).cast(Vec.F))
            .mul(sc)
            .intoArray(panel, p + 64);
        top = iv;
        c = top.lanewise(VectorOperators.ASHR, 24);
        top.lanewise(VectorOperators.ASHR, sra)
            .and(keep)
            .or(0x40000000)
            .reinterpretAsFloats()
            .blend(
                ((FloatVector) c.and(mantMask).convert(VectorOperators.I2F, 0))
                    .mul(subnormalUnit)
                    .reinterpretAsInts()
                    .or(c.and(0x80000000))
                    .reinterpretAsFloats(),
                c.and(expMask).eq(0).cast(Vec.F))
            .mul(sc)
            .intoArray(panel, p + 96);
      }
    }
  }

  private static void int8(
      MemorySegment codes, long t, MemorySegment scales, long s, float[] panel, int off) {
    for (int sub = 0; sub < 2; sub++) {
      FloatVector sc =
          ((IntVector)
                  ByteVector.fromMemorySegment(Vec.B16, scales, s + 16 * sub, Vec.LE)
                      .convertShape(VectorOperators.B2I, Vec.I, 0))
              .and(0xFF)
              .lanewise(VectorOperators.LSHL, 23)
              .reinterpretAsFloats();
      long base = t + 512L * sub;
      for (int q = 0; q < 8; q++) {
        IntVector iv = IntVector.fromMemorySegment(Vec.I, codes, base + 64L * q, Vec.LE);
        int p = off + 128 * q + 16 * sub;
        ((FloatVector)
                iv.lanewise(VectorOperators.LSHL, 24)
                    .and(0xFF000000)
                    .convert(VectorOperators.I2F, 0))
            .mul(sc)
            .intoArray(panel, p + 0);
        ((FloatVector)
                iv.lanewise(VectorOperators.LSHL, 16)
                    .and(0xFF000000)
                    .convert(VectorOperators.I2F, 0))
            .mul(sc)
            .intoArray(panel, p + 32);
        ((FloatVector)
                iv.lanewise(VectorOperators.LSHL, 8)
                    .and(0xFF000000)
                    .convert(VectorOperators.I2F, 0))
            .mul(sc)
            .intoArray(panel, p + 64);
        ((FloatVector) iv.and(0xFF000000).convert(VectorOperators.I2F, 0))
            .mul(sc)
            .intoArray(panel, p + 96);
      }
    }
  }
}

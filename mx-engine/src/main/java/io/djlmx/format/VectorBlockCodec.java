package io.djlmx.format;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API paths for quantize and dequantize with blocks of 32, bit-identical to {@link
 * ScalarBlockCodec}. One block is two 16-lane vectors, so the path needs 512-bit vectors (AVX-512);
 * elsewhere {@link #isSupported()} is false and callers use the scalar path.
 *
 * <p>Encoding builds element codes from FP32 bits with integer arithmetic: round-to-nearest-even on
 * the FP32 mantissa for element normals, a magic-number add (which the FPU rounds to nearest even)
 * for element subnormals, then a clamp to the largest code (saturation). Decoding uses a lane
 * permute on a table (E2M1, FP6), exact bit construction (FP8) or an int conversion (INT8), then
 * one multiply by the block scale, the same single rounding as the scalar path.
 */
final class VectorBlockCodec {

  static final int BLOCK = 32;
  private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
  private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
  private static final VectorSpecies<Byte> B512 = ByteVector.SPECIES_512;
  private static final VectorSpecies<Byte> B128 = ByteVector.SPECIES_128;
  private static final VectorSpecies<Byte> B64 = ByteVector.SPECIES_64;
  private static final VectorSpecies<Byte> B256 = ByteVector.SPECIES_256;
  private static final VectorSpecies<Long> L256 = LongVector.SPECIES_256;
  private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
  private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
  private static final boolean SUPPORTED =
      FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512
          && !"false".equalsIgnoreCase(System.getProperty("djlmx.format.vector", "true"));

  /** Picks bytes {@code 0,1,2, 8,9,10, 16,17,18, 24,25,26} out of four 24-bit groups in longs. */
  private static final VectorShuffle<Byte> FP6_PACK;

  /** For 4-bit codes: lane {@code i} (of 16) takes bytes {@code half*8 + i/2} and the next one. */
  private static final VectorShuffle<Byte>[] FP4_SPREAD;

  /** For 6-bit codes: lane {@code i} takes the two bytes holding bits {@code [6i, 6i+6)}. */
  private static final VectorShuffle<Byte>[] FP6_SPREAD;

  private static final IntVector FP4_SHIFT;
  private static final IntVector FP6_SHIFT;
  private static final VectorMask<Byte> FIRST_12;
  private static final VectorMask<Byte> FIRST_16_OF_64;
  private static final VectorMask<Byte> FIRST_24_OF_64;

  static {
    int[] pack = new int[B256.length()];
    for (int k = 0; k < pack.length; k++) {
      pack[k] = k < 12 ? (k / 3) * 8 + k % 3 : 31;
    }
    FP6_PACK = VectorShuffle.fromArray(B256, pack, 0);
    @SuppressWarnings("unchecked")
    VectorShuffle<Byte>[] fp4 = new VectorShuffle[2];
    @SuppressWarnings("unchecked")
    VectorShuffle<Byte>[] fp6 = new VectorShuffle[2];
    int[] s4 = new int[16];
    int[] s6 = new int[16];
    for (int half = 0; half < 2; half++) {
      int[] i4 = new int[64];
      int[] i6 = new int[64];
      for (int i = 0; i < 16; i++) {
        int e = half * 16 + i;
        int b4 = (4 * e) / 8;
        int b6 = (6 * e) / 8;
        s4[i] = (4 * e) % 8;
        s6[i] = (6 * e) % 8;
        for (int k = 0; k < 4; k++) {
          i4[4 * i + k] = Math.min(b4 + (k & 1), 63);
          i6[4 * i + k] = Math.min(b6 + (k & 1), 63);
        }
      }
      fp4[half] = VectorShuffle.fromArray(B512, i4, 0);
      fp6[half] = VectorShuffle.fromArray(B512, i6, 0);
    }
    FP4_SPREAD = fp4;
    FP6_SPREAD = fp6;
    FP4_SHIFT = IntVector.fromArray(I, s4, 0);
    FP6_SHIFT = IntVector.fromArray(I, s6, 0);
    FIRST_12 = B128.indexInRange(0, 12);
    FIRST_16_OF_64 = B512.indexInRange(0, 16);
    FIRST_24_OF_64 = B512.indexInRange(0, 24);
  }

  private VectorBlockCodec() {}

  /**
   * Returns whether the vector path runs on this machine (512-bit vectors, not disabled by {@code
   * -Ddjlmx.format.vector=false}).
   *
   * @return true when usable
   */
  static boolean isSupported() {
    return SUPPORTED;
  }

  /** Quantizes rows {@code [r0, r1)} of FP32 {@code src} into {@code t} (block size 32). */
  static void quantizeRows(MemorySegment src, MxTensor t, long r0, long r1) {
    MxFormat f = t.format();
    ScaleMode mode = t.scaleMode();
    MemorySegment codes = t.codes();
    MemorySegment scales = t.scales();
    long cols = t.cols();
    long full = cols / BLOCK;
    int tail = (int) (cols % BLOCK);
    long bpr = t.blocksPerRow();
    long cbr = t.codeBytesPerRow();
    int blockBytes = BLOCK * f.bits() / 8;
    float[] pad = new float[BLOCK];
    int[] padCodes = new int[BLOCK];
    for (long r = r0; r < r1; r++) {
      long in = r * cols * Float.BYTES;
      long codeRow = r * cbr;
      long scaleRow = r * bpr;
      for (long b = 0; b < full; b++) {
        long off = in + b * BLOCK * Float.BYTES;
        FloatVector x0 = FloatVector.fromMemorySegment(F, src, off, NATIVE);
        FloatVector x1 = FloatVector.fromMemorySegment(F, src, off + 64, NATIVE);
        IntVector a0 = x0.reinterpretAsInts().and(0x7FFFFFFF);
        IntVector a1 = x1.reinterpretAsInts().and(0x7FFFFFFF);
        int maxBits = a0.max(a1).reduceLanes(VectorOperators.MAX);
        long codeOff = codeRow + b * blockBytes;
        if (maxBits >= 0x7F800000) {
          nanBlock(codes, codeOff, blockBytes, scales, scaleRow + b);
          continue;
        }
        int exp = E8M0.sharedExponent(Float.intBitsToFloat(maxBits), f, mode);
        scales.set(ValueLayout.JAVA_BYTE, scaleRow + b, (byte) (exp + E8M0.BIAS));
        float inv = Math.scalb(1f, -exp);
        IntVector c0 = encode(x0.mul(inv), f);
        IntVector c1 = encode(x1.mul(inv), f);
        store(c0, c1, f.bits(), codes, codeOff);
      }
      if (tail > 0) {
        MemorySegment.copy(
            src, ValueLayout.JAVA_FLOAT_UNALIGNED, in + full * BLOCK * Float.BYTES, pad, 0, tail);
        java.util.Arrays.fill(pad, tail, BLOCK, 0f);
        int scale = ScalarBlockCodec.quantizeBlock(pad, 0, BLOCK, f, mode, padCodes);
        scales.set(ValueLayout.JAVA_BYTE, scaleRow + full, (byte) scale);
        CodePacking.pack(padCodes, BLOCK, f.bits(), codes, codeRow + full * blockBytes);
      }
    }
  }

  private static void nanBlock(
      MemorySegment codes, long codeOff, int blockBytes, MemorySegment scales, long scaleOff) {
    codes.asSlice(codeOff, blockBytes).fill((byte) 0);
    scales.set(ValueLayout.JAVA_BYTE, scaleOff, (byte) E8M0.NAN);
  }

  /** Element codes (as ints, sign included) of 16 values already divided by the block scale. */
  private static IntVector encode(FloatVector x, MxFormat f) {
    if (f == MxFormat.MXINT8) {
      FloatVector y = x.mul(64f);
      // Adding 1.5 * 2^23 makes the FPU round to an integer, ties to even (|y| < 2^22 here).
      FloatVector r = y.add(12582912f).sub(12582912f);
      IntVector q = (IntVector) r.convert(VectorOperators.F2I, 0);
      return q.max(-127).min(127).and(0xFF);
    }
    int mbits = f.mantissaBits();
    int bias = f.bias();
    int shift = 23 - mbits;
    IntVector bits = x.reinterpretAsInts();
    IntVector sign =
        bits.lanewise(VectorOperators.LSHR, 31).lanewise(VectorOperators.LSHL, f.bits() - 1);
    IntVector abits = bits.and(0x7FFFFFFF);
    // Element normals: round the FP32 mantissa to mbits bits, ties to even, then rebias.
    IntVector odd = abits.lanewise(VectorOperators.LSHR, shift).and(1);
    IntVector rounded = abits.add((1 << (shift - 1)) - 1).add(odd);
    IntVector normal = rounded.lanewise(VectorOperators.LSHR, shift).sub((127 - bias) << mbits);
    // Element subnormals: adding 2^(emin - mbits + 23) leaves round(|x| / quantum) in the low bits.
    int magicBits = (127 + 1 - bias - mbits + 23) << 23;
    FloatVector a = abits.reinterpretAsFloats();
    IntVector sub = a.add(Float.intBitsToFloat(magicBits)).reinterpretAsInts().sub(magicBits);
    VectorMask<Integer> isSub = abits.compare(VectorOperators.LT, (127 + 1 - bias) << 23);
    IntVector mag = normal.blend(sub, isSub).min(maxMagnitudeCode(f));
    return mag.or(sign);
  }

  private static int maxMagnitudeCode(MxFormat f) {
    return switch (f) {
      case MXFP8_E4M3 -> 0x7E;
      case MXFP8_E5M2 -> 0x7B;
      case MXFP6_E3M2, MXFP6_E2M3 -> 0x1F;
      case MXFP4_E2M1 -> 0x7;
      case MXINT8 -> 0x7F;
    };
  }

  /** Packs 32 codes (two vectors of 16) at {@code off} in the canonical layout. */
  private static void store(IntVector c0, IntVector c1, int bits, MemorySegment codes, long off) {
    if (bits == 8) {
      ((ByteVector) c0.convertShape(VectorOperators.I2B, B128, 0))
          .intoMemorySegment(codes, off, LE);
      ((ByteVector) c1.convertShape(VectorOperators.I2B, B128, 0))
          .intoMemorySegment(codes, off + 16, LE);
    } else if (bits == 4) {
      LongVector l0 = c0.reinterpretAsLongs();
      LongVector l1 = c1.reinterpretAsLongs();
      l0 = l0.or(l0.lanewise(VectorOperators.LSHR, 28));
      l1 = l1.or(l1.lanewise(VectorOperators.LSHR, 28));
      ((ByteVector) l0.convertShape(VectorOperators.L2B, B64, 0)).intoMemorySegment(codes, off, LE);
      ((ByteVector) l1.convertShape(VectorOperators.L2B, B64, 0))
          .intoMemorySegment(codes, off + 8, LE);
    } else {
      fp6Half(c0).intoMemorySegment(codes, off, LE, FIRST_12);
      fp6Half(c1).intoMemorySegment(codes, off + 12, LE, FIRST_12);
    }
  }

  /** 16 six-bit codes to 12 bytes (in the low 12 lanes of the result). */
  private static ByteVector fp6Half(IntVector c) {
    LongVector l = c.reinterpretAsLongs();
    LongVector pairs = l.or(l.lanewise(VectorOperators.LSHR, 26)).and(0xFFF);
    IntVector p = (IntVector) pairs.convertShape(VectorOperators.L2I, IntVector.SPECIES_256, 0);
    LongVector q = p.reinterpretAsLongs();
    LongVector groups = q.or(q.lanewise(VectorOperators.LSHR, 20)).and(0xFFFFFF);
    ByteVector packed = groups.reinterpretAsBytes().rearrange(FP6_PACK);
    return packed.reinterpretShape(B128, 0).reinterpretAsBytes();
  }

  /** Dequantizes rows {@code [r0, r1)} of {@code t} into FP32 {@code dst} (block size 32). */
  static void dequantizeRows(MxTensor t, MemorySegment dst, long r0, long r1) {
    MxFormat f = t.format();
    MemorySegment codes = t.codes();
    MemorySegment scales = t.scales();
    long cols = t.cols();
    long full = cols / BLOCK;
    int tail = (int) (cols % BLOCK);
    long bpr = t.blocksPerRow();
    long cbr = t.codeBytesPerRow();
    int blockBytes = BLOCK * f.bits() / 8;
    float[] table = f.decodeTable();
    IntVector tableLo = null;
    IntVector tableHi = null;
    if (f == MxFormat.MXFP4_E2M1 || f.bits() == 6) {
      int[] t32 = new int[32];
      for (int i = 0; i < 32; i++) {
        t32[i] = Float.floatToRawIntBits(table[i % table.length]);
      }
      tableLo = IntVector.fromArray(I, t32, 0);
      tableHi = IntVector.fromArray(I, t32, 16);
    }
    int[] padCodes = new int[BLOCK];
    float[] pad = new float[BLOCK];
    for (long r = r0; r < r1; r++) {
      long out = r * cols * Float.BYTES;
      long codeRow = r * cbr;
      long scaleRow = r * bpr;
      for (long b = 0; b < full; b++) {
        long codeOff = codeRow + b * blockBytes;
        float scale = E8M0.toFloat(scales.get(ValueLayout.JAVA_BYTE, scaleRow + b) & 0xFF);
        long o = out + b * BLOCK * Float.BYTES;
        FloatVector v0;
        FloatVector v1;
        switch (f) {
          case MXINT8 -> {
            float s = scale * 0x1p-6f;
            v0 = int8(codes, codeOff).mul(s);
            v1 = int8(codes, codeOff + 16).mul(s);
          }
          case MXFP8_E4M3, MXFP8_E5M2 -> {
            v0 = fp8(codes, codeOff, f).mul(scale);
            v1 = fp8(codes, codeOff + 16, f).mul(scale);
          }
          case MXFP4_E2M1 -> {
            ByteVector raw = ByteVector.fromMemorySegment(B512, codes, codeOff, LE, FIRST_16_OF_64);
            v0 = lookup(spread(raw, FP4_SPREAD[0], FP4_SHIFT, 0xF), tableLo).mul(scale);
            v1 = lookup(spread(raw, FP4_SPREAD[1], FP4_SHIFT, 0xF), tableLo).mul(scale);
          }
          default -> {
            ByteVector raw = ByteVector.fromMemorySegment(B512, codes, codeOff, LE, FIRST_24_OF_64);
            v0 = fp6(spread(raw, FP6_SPREAD[0], FP6_SHIFT, 0x3F), tableLo, tableHi).mul(scale);
            v1 = fp6(spread(raw, FP6_SPREAD[1], FP6_SHIFT, 0x3F), tableLo, tableHi).mul(scale);
          }
        }
        v0.intoMemorySegment(dst, o, NATIVE);
        v1.intoMemorySegment(dst, o + 64, NATIVE);
      }
      if (tail > 0) {
        long codeOff = codeRow + full * blockBytes;
        CodePacking.unpack(codes, codeOff, f.bits(), padCodes, BLOCK);
        float scale = E8M0.toFloat(scales.get(ValueLayout.JAVA_BYTE, scaleRow + full) & 0xFF);
        for (int i = 0; i < tail; i++) {
          pad[i] = table[padCodes[i]] * scale;
        }
        MemorySegment.copy(
            pad, 0, dst, ValueLayout.JAVA_FLOAT_UNALIGNED, out + full * BLOCK * Float.BYTES, tail);
      }
    }
  }

  private static IntVector spread(
      ByteVector raw, VectorShuffle<Byte> shuffle, IntVector shift, int mask) {
    return raw.rearrange(shuffle)
        .reinterpretAsInts()
        .lanewise(VectorOperators.LSHR, shift)
        .and(mask);
  }

  private static FloatVector lookup(IntVector codes, IntVector table) {
    return codes.selectFrom(table).reinterpretAsFloats();
  }

  private static FloatVector fp6(IntVector codes, IntVector lo, IntVector hi) {
    IntVector sign = codes.and(0x20).lanewise(VectorOperators.LSHL, 26);
    return codes.and(0x1F).selectFrom(lo, hi).or(sign).reinterpretAsFloats();
  }

  private static FloatVector int8(MemorySegment codes, long off) {
    ByteVector b = ByteVector.fromMemorySegment(B128, codes, off, LE);
    IntVector c = (IntVector) b.convertShape(VectorOperators.B2I, I, 0);
    return (FloatVector) c.convert(VectorOperators.I2F, 0);
  }

  /** Exact FP8 values of 16 codes, built from their bits; special codes become Inf/NaN. */
  private static FloatVector fp8(MemorySegment codes, long off, MxFormat f) {
    ByteVector b = ByteVector.fromMemorySegment(B128, codes, off, LE);
    IntVector c = ((IntVector) b.convertShape(VectorOperators.B2I, I, 0)).and(0xFF);
    int mbits = f.mantissaBits();
    int bias = f.bias();
    int shift = 23 - mbits;
    IntVector sign = c.and(0x80).lanewise(VectorOperators.LSHL, 24);
    IntVector mag = c.and(0x7F);
    IntVector normal = mag.lanewise(VectorOperators.LSHL, shift).add((127 - bias) << 23);
    // Element subnormals m * 2^(1-bias-mbits): (1 + m/2^mbits) * 2^(1-bias) minus 2^(1-bias),
    // exact.
    int oneBits = (128 - bias) << 23;
    FloatVector subF =
        mag.and((1 << mbits) - 1)
            .lanewise(VectorOperators.LSHL, shift)
            .or(oneBits)
            .reinterpretAsFloats()
            .sub(Float.intBitsToFloat(oneBits));
    VectorMask<Integer> isSub = mag.compare(VectorOperators.LT, 1 << mbits);
    IntVector value = normal.blend(subF.reinterpretAsInts(), isSub);
    if (f == MxFormat.MXFP8_E4M3) {
      value = value.blend(0x7FC00000, mag.compare(VectorOperators.EQ, 0x7F));
    } else {
      VectorMask<Integer> special = mag.compare(VectorOperators.GE, 0x7C);
      if (special.anyTrue()) {
        value = value.blend(0x7FC00000, mag.compare(VectorOperators.GT, 0x7C));
        value = value.blend(0x7F800000, mag.compare(VectorOperators.EQ, 0x7C));
      }
    }
    return value.or(sign).reinterpretAsFloats();
  }
}

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
  private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
  private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
  private static final boolean SUPPORTED =
      FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512
          && !"false".equalsIgnoreCase(System.getProperty("djlmx.format.vector", "true"));

  /** FP6 packing: the shift of code {@code i} inside its 24-bit group ({@code 6 * (i % 4)}). */
  private static final IntVector FP6_PLACE = ints(i -> 6 * (i % 4));

  /** Lane {@code i} reads lane {@code i + 1} (wrapping), to OR neighbours together. */
  private static final IntVector NEXT_1 = ints(i -> (i + 1) % 16);

  /** Lane {@code i} reads lane {@code i + 2} (wrapping). */
  private static final IntVector NEXT_2 = ints(i -> (i + 2) % 16);

  /** Output word {@code w} of a block: its low part is group {@code g(w)} shifted down. */
  private static final IntVector WORD_LOW = ints(w -> w < 6 ? (w / 3) * 16 + (w % 3) * 4 : 0);

  private static final IntVector WORD_LOW_SHIFT = ints(w -> 8 * (w % 3));

  /** ...and its high part is the next group shifted up. */
  private static final IntVector WORD_HIGH = ints(w -> w < 6 ? (w / 3) * 16 + (w % 3) * 4 + 4 : 0);

  private static final IntVector WORD_HIGH_SHIFT = ints(w -> 24 - 8 * (w % 3));

  private static final VectorMask<Integer> FIRST_6_INTS = I.indexInRange(0, 6);

  /** For 4-bit codes: lane {@code i} (of 16) takes bytes {@code half*8 + i/2} and the next one. */
  private static final VectorShuffle<Byte>[] FP4_SPREAD;

  /** For 6-bit codes: lane {@code i} takes the two bytes holding bits {@code [6i, 6i+6)}. */
  private static final VectorShuffle<Byte>[] FP6_SPREAD;

  private static final IntVector FP4_SHIFT;
  private static final IntVector FP6_SHIFT;
  private static final VectorMask<Byte> FIRST_16_OF_64;
  private static final VectorMask<Byte> FIRST_24_OF_64;

  static {
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
    FIRST_16_OF_64 = B512.indexInRange(0, 16);
    FIRST_24_OF_64 = B512.indexInRange(0, 24);
  }

  private VectorBlockCodec() {}

  private static IntVector ints(java.util.function.IntUnaryOperator lane) {
    int[] a = new int[I.length()];
    for (int i = 0; i < a.length; i++) {
      a[i] = lane.applyAsInt(i);
    }
    return IntVector.fromArray(I, a, 0);
  }

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
    // One loop per packing, so that no vector value flows through a merge point (which would box).
    if (t.format() == MxFormat.MXINT8) {
      quantizeRowsInt8(src, t, r0, r1);
    } else {
      switch (t.format().bits()) {
        case 8 -> quantizeRowsFp8(src, t, r0, r1);
        case 6 -> quantizeRowsFp6(src, t, r0, r1);
        default -> quantizeRowsFp4(src, t, r0, r1);
      }
    }
    quantizeTails(src, t, r0, r1);
  }

  /**
   * Finds the block's scale, writes it, and returns the multiplier that divides by it; returns 0
   * for a block holding NaN or an infinity, whose codes it zeroes.
   */
  private static float blockScale(
      FloatVector x0,
      FloatVector x1,
      MxTensor t,
      long scaleOff,
      MemorySegment codes,
      long codeOff,
      int blockBytes) {
    int maxBits =
        x0.reinterpretAsInts()
            .and(0x7FFFFFFF)
            .max(x1.reinterpretAsInts().and(0x7FFFFFFF))
            .reduceLanes(VectorOperators.MAX);
    MemorySegment scales = t.scalesUnchecked();
    if (maxBits >= 0x7F800000) {
      codes.asSlice(codeOff, blockBytes).fill((byte) 0);
      scales.set(ValueLayout.JAVA_BYTE, scaleOff, (byte) E8M0.NAN);
      return 0f;
    }
    int exp = E8M0.sharedExponent(Float.intBitsToFloat(maxBits), t.format(), t.scaleMode());
    scales.set(ValueLayout.JAVA_BYTE, scaleOff, (byte) (exp + E8M0.BIAS));
    return Math.scalb(1f, -exp);
  }

  private static void quantizeRowsInt8(MemorySegment src, MxTensor t, long r0, long r1) {
    MemorySegment codes = t.codesUnchecked();
    long cols = t.cols();
    long full = cols / BLOCK;
    for (long r = r0; r < r1; r++) {
      for (long b = 0; b < full; b++) {
        long off = (r * cols + b * BLOCK) * Float.BYTES;
        long codeOff = r * t.codeBytesPerRow() + b * BLOCK;
        FloatVector x0 = FloatVector.fromMemorySegment(F, src, off, NATIVE);
        FloatVector x1 = FloatVector.fromMemorySegment(F, src, off + 64, NATIVE);
        float inv = blockScale(x0, x1, t, r * t.blocksPerRow() + b, codes, codeOff, BLOCK);
        if (inv == 0f) {
          continue;
        }
        ((ByteVector) encodeInt8(x0.mul(inv)).convertShape(VectorOperators.I2B, B128, 0))
            .intoMemorySegment(codes, codeOff, LE);
        ((ByteVector) encodeInt8(x1.mul(inv)).convertShape(VectorOperators.I2B, B128, 0))
            .intoMemorySegment(codes, codeOff + 16, LE);
      }
    }
  }

  private static void quantizeRowsFp8(MemorySegment src, MxTensor t, long r0, long r1) {
    MxFormat f = t.format();
    int mbits = f.mantissaBits();
    int bias = f.bias();
    int maxCode = maxMagnitudeCode(f);
    MemorySegment codes = t.codesUnchecked();
    long cols = t.cols();
    long full = cols / BLOCK;
    for (long r = r0; r < r1; r++) {
      for (long b = 0; b < full; b++) {
        long off = (r * cols + b * BLOCK) * Float.BYTES;
        long codeOff = r * t.codeBytesPerRow() + b * BLOCK;
        FloatVector x0 = FloatVector.fromMemorySegment(F, src, off, NATIVE);
        FloatVector x1 = FloatVector.fromMemorySegment(F, src, off + 64, NATIVE);
        float inv = blockScale(x0, x1, t, r * t.blocksPerRow() + b, codes, codeOff, BLOCK);
        if (inv == 0f) {
          continue;
        }
        IntVector c0 = encodeFp(x0.mul(inv), mbits, bias, 8, maxCode);
        IntVector c1 = encodeFp(x1.mul(inv), mbits, bias, 8, maxCode);
        ((ByteVector) c0.convertShape(VectorOperators.I2B, B128, 0))
            .intoMemorySegment(codes, codeOff, LE);
        ((ByteVector) c1.convertShape(VectorOperators.I2B, B128, 0))
            .intoMemorySegment(codes, codeOff + 16, LE);
      }
    }
  }

  private static void quantizeRowsFp6(MemorySegment src, MxTensor t, long r0, long r1) {
    MxFormat f = t.format();
    int mbits = f.mantissaBits();
    int bias = f.bias();
    int maxCode = maxMagnitudeCode(f);
    MemorySegment codes = t.codesUnchecked();
    long cols = t.cols();
    long full = cols / BLOCK;
    for (long r = r0; r < r1; r++) {
      for (long b = 0; b < full; b++) {
        long off = (r * cols + b * BLOCK) * Float.BYTES;
        long codeOff = r * t.codeBytesPerRow() + b * 24;
        FloatVector x0 = FloatVector.fromMemorySegment(F, src, off, NATIVE);
        FloatVector x1 = FloatVector.fromMemorySegment(F, src, off + 64, NATIVE);
        float inv = blockScale(x0, x1, t, r * t.blocksPerRow() + b, codes, codeOff, 24);
        if (inv == 0f) {
          continue;
        }
        IntVector c0 = encodeFp(x0.mul(inv), mbits, bias, 6, maxCode);
        IntVector c1 = encodeFp(x1.mul(inv), mbits, bias, 6, maxCode);
        storeFp6(c0, c1, codes, codeOff);
      }
    }
  }

  private static void quantizeRowsFp4(MemorySegment src, MxTensor t, long r0, long r1) {
    MxFormat f = t.format();
    int mbits = f.mantissaBits();
    int bias = f.bias();
    int maxCode = maxMagnitudeCode(f);
    MemorySegment codes = t.codesUnchecked();
    long cols = t.cols();
    long full = cols / BLOCK;
    for (long r = r0; r < r1; r++) {
      for (long b = 0; b < full; b++) {
        long off = (r * cols + b * BLOCK) * Float.BYTES;
        long codeOff = r * t.codeBytesPerRow() + b * 16;
        FloatVector x0 = FloatVector.fromMemorySegment(F, src, off, NATIVE);
        FloatVector x1 = FloatVector.fromMemorySegment(F, src, off + 64, NATIVE);
        float inv = blockScale(x0, x1, t, r * t.blocksPerRow() + b, codes, codeOff, 16);
        if (inv == 0f) {
          continue;
        }
        LongVector l0 = encodeFp(x0.mul(inv), mbits, bias, 4, maxCode).reinterpretAsLongs();
        LongVector l1 = encodeFp(x1.mul(inv), mbits, bias, 4, maxCode).reinterpretAsLongs();
        // Each long holds codes 2i (low int) and 2i+1 (high int): fold the high one into bits 4-7.
        ((ByteVector)
                l0.or(l0.lanewise(VectorOperators.LSHR, 28))
                    .convertShape(VectorOperators.L2B, B64, 0))
            .intoMemorySegment(codes, codeOff, LE);
        ((ByteVector)
                l1.or(l1.lanewise(VectorOperators.LSHR, 28))
                    .convertShape(VectorOperators.L2B, B64, 0))
            .intoMemorySegment(codes, codeOff + 8, LE);
      }
    }
  }

  /** The ragged last block of each row goes through the scalar codec. */
  private static void quantizeTails(MemorySegment src, MxTensor t, long r0, long r1) {
    int tail = (int) (t.cols() % BLOCK);
    if (tail == 0) {
      return;
    }
    MxFormat f = t.format();
    long full = t.cols() / BLOCK;
    int blockBytes = BLOCK * f.bits() / 8;
    float[] pad = new float[BLOCK];
    int[] padCodes = new int[BLOCK];
    for (long r = r0; r < r1; r++) {
      MemorySegment.copy(
          src,
          ValueLayout.JAVA_FLOAT_UNALIGNED,
          (r * t.cols() + full * BLOCK) * Float.BYTES,
          pad,
          0,
          tail);
      int scale = ScalarBlockCodec.quantizeBlock(pad, 0, BLOCK, f, t.scaleMode(), padCodes);
      t.scales().set(ValueLayout.JAVA_BYTE, r * t.blocksPerRow() + full, (byte) scale);
      CodePacking.pack(
          padCodes, BLOCK, f.bits(), t.codes(), r * t.codeBytesPerRow() + full * blockBytes);
    }
  }

  /** MXINT8 codes (two's complement bytes in int lanes) of 16 values divided by the scale. */
  private static IntVector encodeInt8(FloatVector x) {
    FloatVector y = x.mul(64f);
    // Adding 1.5 * 2^23 makes the FPU round to an integer, ties to even (|y| < 2^22 here).
    FloatVector r = y.add(12582912f).sub(12582912f);
    IntVector q = (IntVector) r.convert(VectorOperators.F2I, 0);
    return q.max(-127).min(127).and(0xFF);
  }

  /** FP element codes (sign included) of 16 values already divided by the block scale. */
  private static IntVector encodeFp(FloatVector x, int mbits, int bias, int codeBits, int maxCode) {
    int shift = 23 - mbits;
    IntVector bits = x.reinterpretAsInts();
    IntVector sign =
        bits.lanewise(VectorOperators.LSHR, 31).lanewise(VectorOperators.LSHL, codeBits - 1);
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
    IntVector mag = normal.blend(sub, isSub).min(maxCode);
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

  /**
   * Packs 32 six-bit codes (two vectors of 16) into 24 bytes: each code shifted to its place in its
   * 24-bit group, groups OR-ed together across lanes, then groups spliced into six 32-bit words.
   */
  private static void storeFp6(IntVector c0, IntVector c1, MemorySegment codes, long off) {
    IntVector t0 = c0.lanewise(VectorOperators.LSHL, FP6_PLACE);
    IntVector t1 = c1.lanewise(VectorOperators.LSHL, FP6_PLACE);
    t0 = t0.or(NEXT_1.selectFrom(t0));
    t1 = t1.or(NEXT_1.selectFrom(t1));
    t0 = t0.or(NEXT_2.selectFrom(t0));
    t1 = t1.or(NEXT_2.selectFrom(t1));
    // Lanes 4k of t0 and t1 now hold groups 0-3 and 4-7 (24 bits each).
    IntVector lowParts = WORD_LOW.selectFrom(t0, t1).lanewise(VectorOperators.LSHR, WORD_LOW_SHIFT);
    IntVector highParts =
        WORD_HIGH.selectFrom(t0, t1).lanewise(VectorOperators.LSHL, WORD_HIGH_SHIFT);
    lowParts.or(highParts).intoMemorySegment(codes, off, LE, FIRST_6_INTS);
  }

  /** Dequantizes rows {@code [r0, r1)} of {@code t} into FP32 {@code dst} (block size 32). */
  static void dequantizeRows(MxTensor t, MemorySegment dst, long r0, long r1) {
    switch (t.format()) {
      case MXINT8 -> dequantizeRowsInt8(t, dst, r0, r1);
      case MXFP8_E4M3, MXFP8_E5M2 -> dequantizeRowsFp8(t, dst, r0, r1);
      case MXFP6_E3M2, MXFP6_E2M3 -> dequantizeRowsFp6(t, dst, r0, r1);
      case MXFP4_E2M1 -> dequantizeRowsFp4(t, dst, r0, r1);
    }
    dequantizeTails(t, dst, r0, r1);
  }

  private static float scaleOf(MxTensor t, long r, long b) {
    return E8M0.toFloat(
        t.scalesUnchecked().get(ValueLayout.JAVA_BYTE, r * t.blocksPerRow() + b) & 0xFF);
  }

  private static void dequantizeRowsInt8(MxTensor t, MemorySegment dst, long r0, long r1) {
    MemorySegment codes = t.codesUnchecked();
    long cols = t.cols();
    long full = cols / BLOCK;
    for (long r = r0; r < r1; r++) {
      for (long b = 0; b < full; b++) {
        long codeOff = r * t.codeBytesPerRow() + b * BLOCK;
        long o = (r * cols + b * BLOCK) * Float.BYTES;
        // code/64 * scale is one rounding of the exact product, as is code * (scale/64).
        float s = scaleOf(t, r, b) * 0x1p-6f;
        int8(codes, codeOff).mul(s).intoMemorySegment(dst, o, NATIVE);
        int8(codes, codeOff + 16).mul(s).intoMemorySegment(dst, o + 64, NATIVE);
      }
    }
  }

  private static void dequantizeRowsFp8(MxTensor t, MemorySegment dst, long r0, long r1) {
    MxFormat f = t.format();
    MemorySegment codes = t.codesUnchecked();
    long cols = t.cols();
    long full = cols / BLOCK;
    for (long r = r0; r < r1; r++) {
      for (long b = 0; b < full; b++) {
        long codeOff = r * t.codeBytesPerRow() + b * BLOCK;
        long o = (r * cols + b * BLOCK) * Float.BYTES;
        float s = scaleOf(t, r, b);
        fp8(codes, codeOff, f).mul(s).intoMemorySegment(dst, o, NATIVE);
        fp8(codes, codeOff + 16, f).mul(s).intoMemorySegment(dst, o + 64, NATIVE);
      }
    }
  }

  private static void dequantizeRowsFp6(MxTensor t, MemorySegment dst, long r0, long r1) {
    int[] t32 = new int[32];
    for (int i = 0; i < 32; i++) {
      t32[i] = Float.floatToRawIntBits(t.format().decode(i));
    }
    IntVector lo = IntVector.fromArray(I, t32, 0);
    IntVector hi = IntVector.fromArray(I, t32, 16);
    MemorySegment codes = t.codesUnchecked();
    long cols = t.cols();
    long full = cols / BLOCK;
    for (long r = r0; r < r1; r++) {
      for (long b = 0; b < full; b++) {
        long codeOff = r * t.codeBytesPerRow() + b * 24;
        long o = (r * cols + b * BLOCK) * Float.BYTES;
        float s = scaleOf(t, r, b);
        ByteVector raw = load(codes, codeOff, FIRST_24_OF_64);
        fp6(spread(raw, FP6_SPREAD[0], FP6_SHIFT, 0x3F), lo, hi)
            .mul(s)
            .intoMemorySegment(dst, o, NATIVE);
        fp6(spread(raw, FP6_SPREAD[1], FP6_SHIFT, 0x3F), lo, hi)
            .mul(s)
            .intoMemorySegment(dst, o + 64, NATIVE);
      }
    }
  }

  private static void dequantizeRowsFp4(MxTensor t, MemorySegment dst, long r0, long r1) {
    int[] t16 = new int[16];
    for (int i = 0; i < 16; i++) {
      t16[i] = Float.floatToRawIntBits(t.format().decode(i));
    }
    IntVector table = IntVector.fromArray(I, t16, 0);
    MemorySegment codes = t.codesUnchecked();
    long cols = t.cols();
    long full = cols / BLOCK;
    for (long r = r0; r < r1; r++) {
      for (long b = 0; b < full; b++) {
        long codeOff = r * t.codeBytesPerRow() + b * 16;
        long o = (r * cols + b * BLOCK) * Float.BYTES;
        float s = scaleOf(t, r, b);
        ByteVector raw = load(codes, codeOff, FIRST_16_OF_64);
        spread(raw, FP4_SPREAD[0], FP4_SHIFT, 0xF)
            .selectFrom(table)
            .reinterpretAsFloats()
            .mul(s)
            .intoMemorySegment(dst, o, NATIVE);
        spread(raw, FP4_SPREAD[1], FP4_SHIFT, 0xF)
            .selectFrom(table)
            .reinterpretAsFloats()
            .mul(s)
            .intoMemorySegment(dst, o + 64, NATIVE);
      }
    }
  }

  /** Loads a block's packed bytes into the low lanes of a 64-byte vector. */
  private static ByteVector load(MemorySegment codes, long off, VectorMask<Byte> mask) {
    // A full 64-byte load is cheaper than a masked one; it is only safe away from the end.
    if (off + 64 <= codes.byteSize()) {
      return ByteVector.fromMemorySegment(B512, codes, off, LE);
    }
    return ByteVector.fromMemorySegment(B512, codes, off, LE, mask);
  }

  /** The ragged last block of each row goes through the scalar codec. */
  private static void dequantizeTails(MxTensor t, MemorySegment dst, long r0, long r1) {
    int tail = (int) (t.cols() % BLOCK);
    if (tail == 0) {
      return;
    }
    MxFormat f = t.format();
    float[] table = f.decodeTable();
    long full = t.cols() / BLOCK;
    int blockBytes = BLOCK * f.bits() / 8;
    int[] padCodes = new int[BLOCK];
    float[] pad = new float[BLOCK];
    for (long r = r0; r < r1; r++) {
      CodePacking.unpack(
          t.codesUnchecked(),
          r * t.codeBytesPerRow() + full * blockBytes,
          f.bits(),
          padCodes,
          BLOCK);
      float scale = scaleOf(t, r, full);
      for (int i = 0; i < tail; i++) {
        pad[i] = table[padCodes[i]] * scale;
      }
      MemorySegment.copy(
          pad,
          0,
          dst,
          ValueLayout.JAVA_FLOAT_UNALIGNED,
          (r * t.cols() + full * BLOCK) * Float.BYTES,
          tail);
    }
  }

  private static IntVector spread(
      ByteVector raw, VectorShuffle<Byte> shuffle, IntVector shift, int mask) {
    return raw.rearrange(shuffle)
        .reinterpretAsInts()
        .lanewise(VectorOperators.LSHR, shift)
        .and(mask);
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

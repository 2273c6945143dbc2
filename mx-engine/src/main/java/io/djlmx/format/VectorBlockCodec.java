package io.djlmx.format;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.function.IntUnaryOperator;
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
 * ScalarBlockCodec}. A block is two halves of 16 lanes, so the path needs 512-bit vectors
 * (AVX-512); elsewhere {@link #isSupported()} is false and callers use the scalar path.
 *
 * <p>Encoding builds element codes from FP32 bits with integer arithmetic: round-to-nearest-even on
 * the FP32 mantissa for element normals, a magic-number add (which the FPU rounds to nearest even)
 * for element subnormals, then a clamp to the largest code (saturation). Decoding uses a lane
 * permute on a table (E2M1, FP6), exact bit construction (FP8) or an int conversion (INT8), then
 * one multiply by the block scale: the same single rounding as the scalar path.
 *
 * <p>Why the loops look the way they do: every vector operation sits inside the loop body itself. A
 * helper that takes or returns vectors is only free when the JIT inlines it, which it refuses once
 * the helper has been compiled on its own into a large method; the vectors are then boxed and the
 * loop runs several times slower. Branches on the format are loop-invariant and never merge vector
 * values.
 */
final class VectorBlockCodec {

  static final int BLOCK = 32;
  private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
  private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
  private static final VectorSpecies<Integer> I128 = IntVector.SPECIES_128;
  private static final VectorSpecies<Byte> B512 = ByteVector.SPECIES_512;
  private static final VectorSpecies<Byte> B128 = ByteVector.SPECIES_128;
  private static final VectorSpecies<Byte> B64 = ByteVector.SPECIES_64;
  private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
  private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
  private static final boolean SUPPORTED =
      FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512
          && !"false".equalsIgnoreCase(System.getProperty("djlmx.format.vector", "true"));

  // FP6 packing of 16 codes into 12 bytes.
  /** Lane {@code i} reads lane {@code i + 2} (wrapping). */
  private static final IntVector NEXT_2 = ints(i -> (i + 2) % 16);

  /** Output word {@code w < 3}: group {@code w} shifted down by {@code 8w}... */
  private static final IntVector WORD_LOW = ints(w -> w < 3 ? w * 4 : 0);

  private static final IntVector WORD_LOW_SHIFT = ints(w -> 8 * (w % 3));

  /** ...OR group {@code w + 1} shifted up by {@code 24 - 8w}. */
  private static final IntVector WORD_HIGH = ints(w -> w < 3 ? w * 4 + 4 : 0);

  private static final IntVector WORD_HIGH_SHIFT = ints(w -> 24 - 8 * (w % 3));

  private static final VectorMask<Integer> FIRST_3_OF_4 = I128.indexInRange(0, 3);

  // Unpacking: int lane i of a half gathers the two bytes holding its code, then shifts.
  private static final VectorShuffle<Byte> FP4_SPREAD_0 = spread(4, 0);
  private static final VectorShuffle<Byte> FP4_SPREAD_1 = spread(4, 1);
  private static final VectorShuffle<Byte> FP6_SPREAD_0 = spread(6, 0);
  private static final VectorShuffle<Byte> FP6_SPREAD_1 = spread(6, 1);
  private static final IntVector FP4_SHIFT = ints(i -> (4 * i) % 8);
  private static final IntVector FP6_SHIFT = ints(i -> (6 * i) % 8);
  private static final VectorMask<Byte> FIRST_16_OF_64 = B512.indexInRange(0, 16);
  private static final VectorMask<Byte> FIRST_24_OF_64 = B512.indexInRange(0, 24);

  private VectorBlockCodec() {}

  private static IntVector ints(IntUnaryOperator lane) {
    int[] a = new int[I.length()];
    for (int i = 0; i < a.length; i++) {
      a[i] = lane.applyAsInt(i);
    }
    return IntVector.fromArray(I, a, 0);
  }

  private static VectorShuffle<Byte> spread(int bits, int half) {
    int[] idx = new int[B512.length()];
    for (int i = 0; i < 16; i++) {
      int first = (bits * (half * 16 + i)) / 8;
      for (int k = 0; k < 4; k++) {
        idx[4 * i + k] = Math.min(first + (k & 1), B512.length() - 1);
      }
    }
    return VectorShuffle.fromArray(B512, idx, 0);
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

  /** The largest magnitude code of a floating-point element type (saturation). */
  private static int maxMagnitudeCode(MxFormat f) {
    return switch (f) {
      case MXFP8_E4M3 -> 0x7E;
      case MXFP8_E5M2 -> 0x7B;
      case MXFP6_E3M2, MXFP6_E2M3 -> 0x1F;
      case MXFP4_E2M1 -> 0x7;
      case MXINT8 -> 0x7F;
    };
  }

  /** Quantizes rows {@code [r0, r1)} of FP32 {@code src} into {@code t} (block size 32). */
  static void quantizeRows(MemorySegment src, MxTensor t, long r0, long r1) {
    // One loop per packing: one method seeing every format compiles into slow code.
    switch (t.format()) {
      case MXINT8 -> quantizeInt8(src, t, r0, r1);
      case MXFP8_E4M3, MXFP8_E5M2 -> quantizeFp8(src, t, r0, r1);
      case MXFP6_E3M2, MXFP6_E2M3 -> quantizeFp6(src, t, r0, r1);
      case MXFP4_E2M1 -> quantizeFp4(src, t, r0, r1);
    }
    quantizeTails(src, t, r0, r1);
  }

  /**
   * Finds a block's scale from its 32 values at {@code off}, writes it, and returns the multiplier
   * that divides by it; returns 0 for a block holding NaN or an infinity, whose codes it zeroes.
   */
  private static float blockScale(
      MemorySegment src,
      long off,
      MxTensor t,
      long r,
      long b,
      MemorySegment codes,
      long codeOff,
      int blockBytes) {
    int maxBits =
        FloatVector.fromMemorySegment(F, src, off, NATIVE)
            .reinterpretAsInts()
            .and(0x7FFFFFFF)
            .max(
                FloatVector.fromMemorySegment(F, src, off + 64, NATIVE)
                    .reinterpretAsInts()
                    .and(0x7FFFFFFF))
            .reduceLanes(VectorOperators.MAX);
    long scaleOff = r * t.blocksPerRow() + b;
    if (maxBits >= 0x7F800000) {
      codes.asSlice(codeOff, blockBytes).fill((byte) 0);
      t.scalesUnchecked().set(ValueLayout.JAVA_BYTE, scaleOff, (byte) E8M0.NAN);
      return 0f;
    }
    int exp = E8M0.sharedExponent(Float.intBitsToFloat(maxBits), t.format(), t.scaleMode());
    t.scalesUnchecked().set(ValueLayout.JAVA_BYTE, scaleOff, (byte) (exp + E8M0.BIAS));
    return Math.scalb(1f, -exp); // exact: a power of two in [2^-127, 2^127]
  }

  /** MXINT8: round(64 * x) to nearest even, clamped to +-127. */
  private static void quantizeInt8(MemorySegment src, MxTensor t, long r0, long r1) {
    MemorySegment codes = t.codesUnchecked();
    long cols = t.cols();
    long full = cols / BLOCK;
    for (long r = r0; r < r1; r++) {
      for (long b = 0; b < full; b++) {
        long off = (r * cols + b * BLOCK) * Float.BYTES;
        long codeOff = r * t.codeBytesPerRow() + b * BLOCK;
        float inv = blockScale(src, off, t, r, b, codes, codeOff, BLOCK);
        if (inv == 0f) {
          continue;
        }
        for (int h = 0; h < 2; h++) {
          // Adding 1.5 * 2^23 makes the FPU round to an integer, ties to even (|y| < 2^22).
          FloatVector q =
              FloatVector.fromMemorySegment(F, src, off + 64 * h, NATIVE)
                  .mul(inv)
                  .mul(64f)
                  .add(12582912f)
                  .sub(12582912f);
          IntVector c = ((IntVector) q.convert(VectorOperators.F2I, 0)).max(-127).min(127);
          ((ByteVector) c.convertShape(VectorOperators.I2B, B128, 0))
              .intoMemorySegment(codes, codeOff + 16 * h, LE);
        }
      }
    }
  }

  // The three floating-point loops share their encoder; it is repeated in each loop body on
  // purpose (a shared helper taking vectors is not reliably inlined; see the class comment).

  /** FP8 codes, one byte each. */
  private static void quantizeFp8(MemorySegment src, MxTensor t, long r0, long r1) {
    MxFormat f = t.format();
    MemorySegment codes = t.codesUnchecked();
    long cols = t.cols();
    long full = cols / BLOCK;
    int mbits = f.mantissaBits();
    int shift = 23 - mbits;
    int roundBias = (1 << (shift - 1)) - 1;
    int rebias = (127 - f.bias()) << mbits;
    int magicBits = (127 + 1 - f.bias() - mbits + 23) << 23;
    float magic = Float.intBitsToFloat(magicBits);
    int minNormalBits = (127 + 1 - f.bias()) << 23;
    int maxCode = maxMagnitudeCode(f);
    int signShift = f.bits() - 1;
    for (long r = r0; r < r1; r++) {
      for (long b = 0; b < full; b++) {
        long off = (r * cols + b * BLOCK) * Float.BYTES;
        long codeOff = r * t.codeBytesPerRow() + b * 32;
        float inv = blockScale(src, off, t, r, b, codes, codeOff, 32);
        if (inv == 0f) {
          continue;
        }
        for (int h = 0; h < 2; h++) {
          long o = codeOff + h * 16;
          IntVector xb =
              FloatVector.fromMemorySegment(F, src, off + 64 * h, NATIVE)
                  .mul(inv)
                  .reinterpretAsInts();
          IntVector ab = xb.and(0x7FFFFFFF);
          // Element normals: round the FP32 mantissa to mbits bits (ties to even), rebias.
          IntVector normal =
              ab.add(roundBias)
                  .add(ab.lanewise(VectorOperators.LSHR, shift).and(1))
                  .lanewise(VectorOperators.LSHR, shift)
                  .sub(rebias);
          // Element subnormals: |x| + 2^(emin-mbits+23) leaves round(|x| / quantum) in the low
          // bits.
          IntVector sub = ab.reinterpretAsFloats().add(magic).reinterpretAsInts().sub(magicBits);
          IntVector c =
              normal
                  .blend(sub, ab.compare(VectorOperators.LT, minNormalBits))
                  .min(maxCode)
                  .or(
                      xb.lanewise(VectorOperators.LSHR, 31)
                          .lanewise(VectorOperators.LSHL, signShift));
          ((ByteVector) c.convertShape(VectorOperators.I2B, B128, 0))
              .intoMemorySegment(codes, o, LE);
        }
      }
    }
  }

  /** FP6 codes, four in three bytes. */
  private static void quantizeFp6(MemorySegment src, MxTensor t, long r0, long r1) {
    MxFormat f = t.format();
    MemorySegment codes = t.codesUnchecked();
    long cols = t.cols();
    long full = cols / BLOCK;
    int mbits = f.mantissaBits();
    int shift = 23 - mbits;
    int roundBias = (1 << (shift - 1)) - 1;
    int rebias = (127 - f.bias()) << mbits;
    int magicBits = (127 + 1 - f.bias() - mbits + 23) << 23;
    float magic = Float.intBitsToFloat(magicBits);
    int minNormalBits = (127 + 1 - f.bias()) << 23;
    int maxCode = maxMagnitudeCode(f);
    int signShift = f.bits() - 1;
    for (long r = r0; r < r1; r++) {
      for (long b = 0; b < full; b++) {
        long off = (r * cols + b * BLOCK) * Float.BYTES;
        long codeOff = r * t.codeBytesPerRow() + b * 24;
        float inv = blockScale(src, off, t, r, b, codes, codeOff, 24);
        if (inv == 0f) {
          continue;
        }
        for (int h = 0; h < 2; h++) {
          long o = codeOff + h * 12;
          IntVector xb =
              FloatVector.fromMemorySegment(F, src, off + 64 * h, NATIVE)
                  .mul(inv)
                  .reinterpretAsInts();
          IntVector ab = xb.and(0x7FFFFFFF);
          // Element normals: round the FP32 mantissa to mbits bits (ties to even), rebias.
          IntVector normal =
              ab.add(roundBias)
                  .add(ab.lanewise(VectorOperators.LSHR, shift).and(1))
                  .lanewise(VectorOperators.LSHR, shift)
                  .sub(rebias);
          // Element subnormals: |x| + 2^(emin-mbits+23) leaves round(|x| / quantum) in the low
          // bits.
          IntVector sub = ab.reinterpretAsFloats().add(magic).reinterpretAsInts().sub(magicBits);
          IntVector c =
              normal
                  .blend(sub, ab.compare(VectorOperators.LT, minNormalBits))
                  .min(maxCode)
                  .or(
                      xb.lanewise(VectorOperators.LSHR, 31)
                          .lanewise(VectorOperators.LSHL, signShift));
          // Pair codes 2j, 2j+1 inside each long (12 bits), then pairs 2k, 2k+1 across lanes...
          LongVector l = c.reinterpretAsLongs();
          IntVector p = l.or(l.lanewise(VectorOperators.LSHR, 26)).and(0xFFFL).reinterpretAsInts();
          IntVector g = p.or(NEXT_2.selectFrom(p).lanewise(VectorOperators.LSHL, 12));
          // ...lanes 4k now hold the groups: splice the four groups into three 32-bit words.
          IntVector w =
              WORD_LOW
                  .selectFrom(g)
                  .lanewise(VectorOperators.LSHR, WORD_LOW_SHIFT)
                  .or(WORD_HIGH.selectFrom(g).lanewise(VectorOperators.LSHL, WORD_HIGH_SHIFT))
                  .reinterpretShape(I128, 0)
                  .reinterpretAsInts();
          if (h == 0 || b + 1 < full) {
            // The 4th word spills into bytes of this row that are written next.
            w.intoMemorySegment(codes, o, LE);
          } else {
            w.intoMemorySegment(codes, o, LE, FIRST_3_OF_4);
          }
        }
      }
    }
  }

  /** E2M1 codes, two per byte. */
  private static void quantizeFp4(MemorySegment src, MxTensor t, long r0, long r1) {
    MxFormat f = t.format();
    MemorySegment codes = t.codesUnchecked();
    long cols = t.cols();
    long full = cols / BLOCK;
    int mbits = f.mantissaBits();
    int shift = 23 - mbits;
    int roundBias = (1 << (shift - 1)) - 1;
    int rebias = (127 - f.bias()) << mbits;
    int magicBits = (127 + 1 - f.bias() - mbits + 23) << 23;
    float magic = Float.intBitsToFloat(magicBits);
    int minNormalBits = (127 + 1 - f.bias()) << 23;
    int maxCode = maxMagnitudeCode(f);
    int signShift = f.bits() - 1;
    for (long r = r0; r < r1; r++) {
      for (long b = 0; b < full; b++) {
        long off = (r * cols + b * BLOCK) * Float.BYTES;
        long codeOff = r * t.codeBytesPerRow() + b * 16;
        float inv = blockScale(src, off, t, r, b, codes, codeOff, 16);
        if (inv == 0f) {
          continue;
        }
        for (int h = 0; h < 2; h++) {
          long o = codeOff + h * 8;
          IntVector xb =
              FloatVector.fromMemorySegment(F, src, off + 64 * h, NATIVE)
                  .mul(inv)
                  .reinterpretAsInts();
          IntVector ab = xb.and(0x7FFFFFFF);
          // Element normals: round the FP32 mantissa to mbits bits (ties to even), rebias.
          IntVector normal =
              ab.add(roundBias)
                  .add(ab.lanewise(VectorOperators.LSHR, shift).and(1))
                  .lanewise(VectorOperators.LSHR, shift)
                  .sub(rebias);
          // Element subnormals: |x| + 2^(emin-mbits+23) leaves round(|x| / quantum) in the low
          // bits.
          IntVector sub = ab.reinterpretAsFloats().add(magic).reinterpretAsInts().sub(magicBits);
          IntVector c =
              normal
                  .blend(sub, ab.compare(VectorOperators.LT, minNormalBits))
                  .min(maxCode)
                  .or(
                      xb.lanewise(VectorOperators.LSHR, 31)
                          .lanewise(VectorOperators.LSHL, signShift));
          // Each long holds codes 2i (low int) and 2i+1 (high int): fold the high one to bits 4-7.
          LongVector l = c.reinterpretAsLongs();
          ((ByteVector)
                  l.or(l.lanewise(VectorOperators.LSHR, 28))
                      .convertShape(VectorOperators.L2B, B64, 0))
              .intoMemorySegment(codes, o, LE);
        }
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
      t.scalesUnchecked().set(ValueLayout.JAVA_BYTE, r * t.blocksPerRow() + full, (byte) scale);
      CodePacking.pack(
          padCodes,
          BLOCK,
          f.bits(),
          t.codesUnchecked(),
          r * t.codeBytesPerRow() + full * blockBytes);
    }
  }

  /** Dequantizes rows {@code [r0, r1)} of {@code t} into FP32 {@code dst} (block size 32). */
  static void dequantizeRows(MxTensor t, MemorySegment dst, long r0, long r1) {
    // One loop per packing: one method seeing every format compiles into slow code.
    switch (t.format()) {
      case MXINT8 -> dequantizeInt8(t, dst, r0, r1);
      case MXFP8_E4M3, MXFP8_E5M2 -> dequantizeFp8(t, dst, r0, r1);
      case MXFP6_E3M2, MXFP6_E2M3 -> dequantizeFp6(t, dst, r0, r1);
      case MXFP4_E2M1 -> dequantizeFp4(t, dst, r0, r1);
    }
    dequantizeTails(t, dst, r0, r1);
  }

  private static float scaleOf(MxTensor t, long r, long b) {
    return E8M0.toFloat(
        t.scalesUnchecked().get(ValueLayout.JAVA_BYTE, r * t.blocksPerRow() + b) & 0xFF);
  }

  /** Table of decoded FP32 bits: E2M1's 16 codes, or FP6's 32 magnitudes, then repeats. */
  private static int[] tableBits(MxFormat f) {
    int[] bits = new int[32];
    for (int i = 0; i < 32; i++) {
      bits[i] = Float.floatToRawIntBits(f.decode(i % f.codeCount()));
    }
    return bits;
  }

  private static void dequantizeInt8(MxTensor t, MemorySegment dst, long r0, long r1) {
    MemorySegment codes = t.codesUnchecked();
    long cols = t.cols();
    long full = cols / BLOCK;
    for (long r = r0; r < r1; r++) {
      for (long b = 0; b < full; b++) {
        long codeOff = r * t.codeBytesPerRow() + b * BLOCK;
        long o = (r * cols + b * BLOCK) * Float.BYTES;
        // code/64 * scale is one rounding of the exact product, as is code * (scale/64).
        float s = scaleOf(t, r, b) * 0x1p-6f;
        for (int h = 0; h < 2; h++) {
          ((FloatVector)
                  ByteVector.fromMemorySegment(B128, codes, codeOff + 16 * h, LE)
                      .convertShape(VectorOperators.B2I, I, 0)
                      .convert(VectorOperators.I2F, 0))
              .mul(s)
              .intoMemorySegment(dst, o + 64 * h, NATIVE);
        }
      }
    }
  }

  /**
   * FP8: normals are the code's bits moved into FP32 position and rebiased; element subnormals are
   * {@code (1.m - 1) * 2^emin}, exact in FP32; NaN and infinity codes are patched in.
   */
  private static void dequantizeFp8(MxTensor t, MemorySegment dst, long r0, long r1) {
    MxFormat f = t.format();
    MemorySegment codes = t.codesUnchecked();
    long cols = t.cols();
    long full = cols / BLOCK;
    int mbits = f.mantissaBits();
    int shift = 23 - mbits;
    int rebias = (127 - f.bias()) << 23;
    int oneBits = (128 - f.bias()) << 23;
    float one = Float.intBitsToFloat(oneBits);
    // E4M3: 0x7F is NaN. E5M2: 0x7C is infinity, above it NaN.
    int nanFrom = f == MxFormat.MXFP8_E4M3 ? 0x7F : 0x7D;
    int infCode = f == MxFormat.MXFP8_E4M3 ? -1 : 0x7C;
    for (long r = r0; r < r1; r++) {
      for (long b = 0; b < full; b++) {
        long codeOff = r * t.codeBytesPerRow() + b * BLOCK;
        long o = (r * cols + b * BLOCK) * Float.BYTES;
        float scale = scaleOf(t, r, b);
        for (int h = 0; h < 2; h++) {
          IntVector c =
              ((IntVector)
                      ByteVector.fromMemorySegment(B128, codes, codeOff + 16 * h, LE)
                          .convertShape(VectorOperators.B2I, I, 0))
                  .and(0xFF);
          IntVector mag = c.and(0x7F);
          IntVector normal = mag.lanewise(VectorOperators.LSHL, shift).add(rebias);
          IntVector sub =
              mag.and((1 << mbits) - 1)
                  .lanewise(VectorOperators.LSHL, shift)
                  .or(oneBits)
                  .reinterpretAsFloats()
                  .sub(one)
                  .reinterpretAsInts();
          normal
              .blend(sub, mag.compare(VectorOperators.LT, 1 << mbits))
              .blend(0x7FC00000, mag.compare(VectorOperators.GE, nanFrom))
              .blend(0x7F800000, mag.compare(VectorOperators.EQ, infCode))
              .or(c.and(0x80).lanewise(VectorOperators.LSHL, 24))
              .reinterpretAsFloats()
              .mul(scale)
              .intoMemorySegment(dst, o + 64 * h, NATIVE);
        }
      }
    }
  }

  /** FP6: gather each code's two bytes, shift, look the magnitude up in a 32-entry table. */
  private static void dequantizeFp6(MxTensor t, MemorySegment dst, long r0, long r1) {
    int[] bits = tableBits(t.format());
    IntVector tableLo = IntVector.fromArray(I, bits, 0);
    IntVector tableHi = IntVector.fromArray(I, bits, 16);
    MemorySegment codes = t.codesUnchecked();
    long codeSize = codes.byteSize();
    long cols = t.cols();
    long full = cols / BLOCK;
    for (long r = r0; r < r1; r++) {
      for (long b = 0; b < full; b++) {
        long codeOff = r * t.codeBytesPerRow() + b * 24;
        long o = (r * cols + b * BLOCK) * Float.BYTES;
        float scale = scaleOf(t, r, b);
        // A full 64-byte load is cheaper than a masked one; it is only safe away from the end.
        ByteVector raw =
            codeOff + 64 <= codeSize
                ? ByteVector.fromMemorySegment(B512, codes, codeOff, LE)
                : ByteVector.fromMemorySegment(B512, codes, codeOff, LE, FIRST_24_OF_64);
        for (int h = 0; h < 2; h++) {
          IntVector c =
              raw.rearrange(h == 0 ? FP6_SPREAD_0 : FP6_SPREAD_1)
                  .reinterpretAsInts()
                  .lanewise(VectorOperators.LSHR, FP6_SHIFT)
                  .and(0x3F);
          c.and(0x1F)
              .selectFrom(tableLo, tableHi)
              .or(c.and(0x20).lanewise(VectorOperators.LSHL, 26))
              .reinterpretAsFloats()
              .mul(scale)
              .intoMemorySegment(dst, o + 64 * h, NATIVE);
        }
      }
    }
  }

  /** E2M1: gather each code's byte, shift, look it up in the 16-entry table. */
  private static void dequantizeFp4(MxTensor t, MemorySegment dst, long r0, long r1) {
    IntVector table = IntVector.fromArray(I, tableBits(t.format()), 0);
    MemorySegment codes = t.codesUnchecked();
    long codeSize = codes.byteSize();
    long cols = t.cols();
    long full = cols / BLOCK;
    for (long r = r0; r < r1; r++) {
      for (long b = 0; b < full; b++) {
        long codeOff = r * t.codeBytesPerRow() + b * 16;
        long o = (r * cols + b * BLOCK) * Float.BYTES;
        float scale = scaleOf(t, r, b);
        ByteVector raw =
            codeOff + 64 <= codeSize
                ? ByteVector.fromMemorySegment(B512, codes, codeOff, LE)
                : ByteVector.fromMemorySegment(B512, codes, codeOff, LE, FIRST_16_OF_64);
        for (int h = 0; h < 2; h++) {
          raw.rearrange(h == 0 ? FP4_SPREAD_0 : FP4_SPREAD_1)
              .reinterpretAsInts()
              .lanewise(VectorOperators.LSHR, FP4_SHIFT)
              .and(0xF)
              .selectFrom(table)
              .reinterpretAsFloats()
              .mul(scale)
              .intoMemorySegment(dst, o + 64 * h, NATIVE);
        }
      }
    }
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
      float scale =
          E8M0.toFloat(
              t.scalesUnchecked().get(ValueLayout.JAVA_BYTE, r * t.blocksPerRow() + full) & 0xFF);
      Arrays.fill(pad, 0f);
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
}

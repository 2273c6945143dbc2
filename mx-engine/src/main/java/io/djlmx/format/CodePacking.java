package io.djlmx.format;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Packs element codes into the canonical byte layout and back: 8-bit codes one per byte, 4-bit
 * codes two per byte (element {@code 2i} in the low nibble), 6-bit codes four per three bytes
 * (element {@code i} in bits {@code [6i, 6i+6)} of the little-endian 24-bit group). All three are
 * one rule: element {@code i} occupies bits {@code [bits*i, bits*i+bits)} of a little-endian bit
 * stream.
 */
final class CodePacking {

  private CodePacking() {}

  /**
   * Packs {@code count} codes into {@code dst} from byte {@code offset}, writing {@code
   * ceil(count*bits/8)} bytes; unused high bits of the last byte are zero.
   */
  static void pack(int[] codes, int count, int bits, MemorySegment dst, long offset) {
    if (bits == 8) {
      for (int i = 0; i < count; i++) {
        dst.set(ValueLayout.JAVA_BYTE, offset + i, (byte) codes[i]);
      }
      return;
    }
    long acc = 0;
    int held = 0;
    long pos = offset;
    for (int i = 0; i < count; i++) {
      acc |= (long) codes[i] << held;
      held += bits;
      while (held >= 8) {
        dst.set(ValueLayout.JAVA_BYTE, pos++, (byte) acc);
        acc >>>= 8;
        held -= 8;
      }
    }
    if (held > 0) {
      dst.set(ValueLayout.JAVA_BYTE, pos, (byte) acc);
    }
  }

  /** Unpacks {@code count} codes of {@code bits} bits from {@code src} at byte {@code offset}. */
  static void unpack(MemorySegment src, long offset, int bits, int[] codes, int count) {
    if (bits == 8) {
      for (int i = 0; i < count; i++) {
        codes[i] = src.get(ValueLayout.JAVA_BYTE, offset + i) & 0xFF;
      }
      return;
    }
    int mask = (1 << bits) - 1;
    long acc = 0;
    int held = 0;
    long pos = offset;
    for (int i = 0; i < count; i++) {
      if (held < bits) {
        acc |= (long) (src.get(ValueLayout.JAVA_BYTE, pos++) & 0xFF) << held;
        held += 8;
      }
      codes[i] = (int) (acc & mask);
      acc >>>= bits;
      held -= bits;
    }
  }
}

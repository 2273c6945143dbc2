package io.djlmx.format;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** The floating-point types that can be quantized to MX: FP32, BF16 and FP16, native byte order. */
public enum SourceType {
  /** IEEE-754 binary32. */
  FP32(4),
  /** bfloat16: the top 16 bits of an FP32 value. */
  BF16(2),
  /** IEEE-754 binary16. */
  FP16(2);

  private final int bytes;

  SourceType(int bytes) {
    this.bytes = bytes;
  }

  /**
   * Returns the bytes one value takes.
   *
   * @return 4 or 2
   */
  public int bytes() {
    return bytes;
  }

  /**
   * Reads the value at element index {@code i} as FP32 (exact: both 16-bit types widen exactly).
   *
   * @param seg the memory
   * @param i the element index
   * @return the value
   */
  public float get(MemorySegment seg, long i) {
    return switch (this) {
      case FP32 -> seg.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
      case BF16 ->
          Float.intBitsToFloat(
              (seg.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i) & 0xFFFF) << 16);
      case FP16 -> Float.float16ToFloat(seg.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
    };
  }

  /**
   * Parses a type name case-insensitively ({@code fp32}, {@code float32}, {@code bf16}, {@code
   * bfloat16}, {@code fp16}, {@code float16}, {@code half}).
   *
   * @param name the name
   * @return the type
   * @throws IllegalArgumentException naming the valid types when unknown
   */
  public static SourceType parse(String name) {
    String n = name == null ? "" : name.trim().toLowerCase(java.util.Locale.ROOT);
    return switch (n) {
      case "fp32", "float32", "float" -> FP32;
      case "bf16", "bfloat16" -> BF16;
      case "fp16", "float16", "half" -> FP16;
      default ->
          throw new IllegalArgumentException(
              "Unknown source type '" + name + "'; valid types: fp32, bf16, fp16");
    };
  }
}

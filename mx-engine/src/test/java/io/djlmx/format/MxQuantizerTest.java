package io.djlmx.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Quantizing along any axis, from FP32, BF16 and FP16. */
class MxQuantizerTest {

  /** Moves {@code axis} of a row-major tensor to the end, the reference for the packed layout. */
  private static float[] moveAxisLast(float[] x, long[] shape, int axis) {
    int outer = 1;
    for (int i = 0; i < axis; i++) {
      outer *= (int) shape[i];
    }
    int len = (int) shape[axis];
    int inner = x.length / outer / len;
    float[] out = new float[x.length];
    for (int o = 0; o < outer; o++) {
      for (int j = 0; j < len; j++) {
        for (int i = 0; i < inner; i++) {
          out[(o * inner + i) * len + j] = x[(o * len + j) * inner + i];
        }
      }
    }
    return out;
  }

  @Test
  void everyAxisOfARank3TensorMatchesQuantizingTheTransposedCopy() {
    long seed = new Random().nextLong();
    Random rnd = new Random(seed);
    long[] shape = {3, 37, 5};
    float[] x = new float[3 * 37 * 5];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) (rnd.nextGaussian() * Math.exp(rnd.nextGaussian() * 3));
    }
    for (MxFormat f : MxFormat.values()) {
      for (int axis = 0; axis < 3; axis++) {
        MxQuantizer q =
            MxQuantizer.builder()
                .setFormat(f)
                .optAxis(axis - 3)
                .optBlockSize(8)
                .optScaleMode(ScaleMode.RCEIL)
                .build();
        long[] packed = q.packedShape(shape);
        float[] moved = moveAxisLast(x, shape, axis);
        try (MxTensor t = q.quantize(x, shape);
            MxTensor ref =
                MxTensor.quantize(MemorySegment.ofArray(moved), packed, f, ScaleMode.RCEIL, 8)) {
          String what = "seed " + seed + " " + f + " axis " + axis;
          assertArrayEquals(packed, t.shape(), what);
          assertArrayEquals(
              ref.codes().toArray(ValueLayout.JAVA_BYTE),
              t.codes().toArray(ValueLayout.JAVA_BYTE),
              what);
          assertArrayEquals(
              ref.scales().toArray(ValueLayout.JAVA_BYTE),
              t.scales().toArray(ValueLayout.JAVA_BYTE),
              what);
          float[] back = q.dequantize(t);
          assertArrayEquals(moveAxisLast(back, shape, axis), ref.dequantize(), what);
          assertArrayEquals(shape, q.originalShape(t.shape()), what);
        }
      }
    }
  }

  @Test
  void bf16AndFp16InputWidenExactly() {
    long seed = new Random().nextLong();
    Random rnd = new Random(seed);
    int n = 100;
    short[] bf16 = new short[n];
    short[] fp16 = new short[n];
    float[] fromBf16 = new float[n];
    float[] fromFp16 = new float[n];
    for (int i = 0; i < n; i++) {
      float v = (float) rnd.nextGaussian() * 5;
      bf16[i] = (short) (Float.floatToRawIntBits(v) >>> 16);
      fromBf16[i] = Float.intBitsToFloat((bf16[i] & 0xFFFF) << 16);
      fp16[i] = Float.floatToFloat16(v);
      fromFp16[i] = Float.float16ToFloat(fp16[i]);
    }
    MxQuantizer q = MxQuantizer.builder().setFormat(MxFormat.MXFP8_E5M2).build();
    long[] shape = {4, 25};
    try (MxTensor a = q.quantize(MemorySegment.ofArray(bf16), SourceType.BF16, shape);
        MxTensor b = q.quantize(fromBf16, shape);
        MxTensor c = q.quantize(MemorySegment.ofArray(fp16), SourceType.FP16, shape);
        MxTensor d = q.quantize(fromFp16, shape)) {
      assertArrayEquals(b.dequantize(), a.dequantize(), "seed " + seed);
      assertArrayEquals(d.dequantize(), c.dequantize(), "seed " + seed);
    }
  }

  @Test
  void badArgumentsAreNamed() {
    MxQuantizer q = MxQuantizer.builder().setFormat(MxFormat.MXINT8).optAxis(2).build();
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> q.quantize(new float[6], new long[] {2, 3}));
    assertTrue(
        e.getMessage().contains("Axis 2") && e.getMessage().contains("rank 2"), e.getMessage());
    MxQuantizer last = MxQuantizer.builder().setFormat(MxFormat.MXINT8).build();
    e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                last.quantize(
                    MemorySegment.ofArray(new short[5]), SourceType.BF16, new long[] {6}));
    assertTrue(
        e.getMessage().contains("BF16") && e.getMessage().contains("needs 12"), e.getMessage());
    IllegalStateException s =
        assertThrows(IllegalStateException.class, () -> MxQuantizer.builder().build());
    assertTrue(s.getMessage().contains("setFormat"));
    e = assertThrows(IllegalArgumentException.class, () -> SourceType.parse("fp64"));
    assertTrue(e.getMessage().contains("fp64") && e.getMessage().contains("bf16"));
    assertEquals(SourceType.FP16, SourceType.parse("half"));
  }
}

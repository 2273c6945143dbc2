package io.djlmx.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** The packed tensor: layout, special blocks, lifecycle, bad arguments. */
class MxTensorTest {

  private static byte[] bytes(MemorySegment seg) {
    return seg.toArray(ValueLayout.JAVA_BYTE);
  }

  @Test
  void e2m1PackingExampleFromTheDesignDoc() {
    float[] data = {0f, 0.5f, 4f, -0f, -0f, 1f, -6f, 3f};
    try (MxTensor t = MxTensor.quantize(data, new long[] {2, 4}, MxFormat.MXFP4_E2M1)) {
      assertEquals(2, t.rows());
      assertEquals(4, t.cols());
      assertEquals(1, t.blocksPerRow());
      assertEquals(16, t.codeBytesPerRow()); // one ragged block of 32 4-bit codes
      byte[] codes = bytes(t.codes());
      assertEquals((byte) 0x10, codes[0]);
      assertEquals((byte) 0x86, codes[1]);
      assertEquals((byte) 0x28, codes[16]);
      assertEquals((byte) 0x5F, codes[17]);
      for (int i = 2; i < 16; i++) {
        assertEquals(0, codes[i], "padding byte " + i);
        assertEquals(0, codes[16 + i], "padding byte " + (16 + i));
      }
      assertArrayEquals(new byte[] {127, 127}, bytes(t.scales()));
      float[] back = t.dequantize();
      for (int i = 0; i < data.length; i++) {
        assertEquals(
            Float.floatToRawIntBits(data[i]), Float.floatToRawIntBits(back[i]), "element " + i);
      }
    }
  }

  @Test
  void e4m3TieAt400GivesScaleOneAnd384() {
    // max 400: floor(log2 400) - 8 = 0, so the scale is 1 and 400 is a tie between 384 and 416.
    try (MxTensor t = MxTensor.quantize(new float[] {400f}, new long[] {1}, MxFormat.MXFP8_E4M3)) {
      assertEquals(127, t.scales().get(ValueLayout.JAVA_BYTE, 0) & 0xFF);
      assertEquals(384f, t.dequantize()[0]);
    }
  }

  @Test
  void nonFiniteBlockGetsNanScaleAndDecodesToNan() {
    float[] data = new float[64];
    for (int i = 0; i < data.length; i++) {
      data[i] = i + 1;
    }
    data[40] = Float.POSITIVE_INFINITY;
    try (MxTensor t = MxTensor.quantize(data, new long[] {64}, MxFormat.MXFP6_E3M2)) {
      assertEquals(E8M0.NAN, t.scales().get(ValueLayout.JAVA_BYTE, 1) & 0xFF);
      float[] back = t.dequantize();
      for (int i = 32; i < 64; i++) {
        assertTrue(Float.isNaN(back[i]), "element " + i);
      }
      for (int i = 0; i < 32; i++) {
        assertTrue(Float.isFinite(back[i]), "element " + i);
      }
    }
  }

  @Test
  void useAfterCloseThrows() {
    MxTensor t = MxTensor.quantize(new float[] {1f, 2f}, new long[] {2}, MxFormat.MXINT8);
    t.close();
    t.close();
    assertThrows(IllegalStateException.class, t::codes);
    assertThrows(IllegalStateException.class, t::dequantize);
  }

  @Test
  void wrongLengthIsRejected() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> MxTensor.quantize(new float[5], new long[] {2, 3}, MxFormat.MXINT8));
    assertTrue(
        e.getMessage().contains("20 bytes") && e.getMessage().contains("[2, 3]"), e.getMessage());
  }

  @Test
  void emptyTensorsWork() throws java.io.IOException {
    for (long[] shape : new long[][] {{0}, {3, 0}, {0, 40}, {2, 0, 5}}) {
      try (MxTensor t = MxTensor.quantize(new float[0], shape, MxFormat.MXFP6_E2M3)) {
        assertEquals(0, t.elementCount());
        assertEquals(0, t.dequantize().length);
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        t.writeTo(out);
        try (MxTensor back =
            MxTensor.readFrom(new java.io.ByteArrayInputStream(out.toByteArray()))) {
          assertArrayEquals(shape, back.shape());
        }
      }
    }
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> MxTensor.quantize(new float[0], new long[0], MxFormat.MXINT8));
    assertTrue(e.getMessage().contains("rank"), e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                MxTensor.quantize(
                    MemorySegment.ofArray(new float[4]),
                    new long[] {4},
                    MxFormat.MXINT8,
                    ScaleMode.FLOOR,
                    0));
    assertTrue(e.getMessage().contains("blockSize"), e.getMessage());
  }
}

package io.djlmx.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/** Headers whose checksum is right but whose sizes lie must not make the reader allocate them. */
class CorruptHeaderTest {

  private static byte[] serialize(MxTensor t) throws Exception {
    ByteArrayOutputStream bos = new ByteArrayOutputStream();
    t.writeTo(bos);
    return bos.toByteArray();
  }

  /** Rewrites the header of a rank-2 tensor and recomputes its CRC. */
  private static byte[] rewrite(
      byte[] b, int blockSize, long rows, long cols, long codes, long scales) {
    ByteBuffer h = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    h.putInt(8, blockSize)
        .putLong(16, rows)
        .putLong(24, cols)
        .putLong(32, codes)
        .putLong(40, scales);
    CRC32C crc = new CRC32C();
    crc.update(b, 0, 48);
    h.putInt(48, (int) crc.getValue());
    return b;
  }

  @Test
  void hugeConsistentHeaderOnShortStreamFailsAsTruncatedWithoutAllocating() throws Exception {
    try (MxTensor t = MxTensor.quantize(new float[64], new long[] {2, 32}, MxFormat.MXFP8_E4M3)) {
      // 2^20 x 4096 E4M3 = 4 GiB of codes claimed, 64 bytes present.
      long rows = 1L << 20;
      byte[] b = rewrite(serialize(t), 32, rows, 4096, rows * 4096, rows * 128);
      long start = System.nanoTime();
      MxFormatException e =
          assertThrows(
              MxFormatException.class, () -> MxTensor.readFrom(new ByteArrayInputStream(b)));
      assertTrue(e.getMessage().contains("truncated in field 'codes'"), e.getMessage());
      assertTrue(System.nanoTime() - start < 2_000_000_000L, "the reader allocated the claim");
    }
  }

  @Test
  void countsThatDisagreeWithTheShapeAreRejectedBeforeAllocation() throws Exception {
    try (MxTensor t = MxTensor.quantize(new float[64], new long[] {2, 32}, MxFormat.MXFP4_E2M1)) {
      byte[] b = rewrite(serialize(t), 3 << 28, 2, 32, 32, 2);
      MxFormatException e =
          assertThrows(
              MxFormatException.class, () -> MxTensor.readFrom(new ByteArrayInputStream(b)));
      assertTrue(e.getMessage().contains("'code byte count'"), e.getMessage());
    }
  }

  @Test
  void emptyTensorWithHugeBlockSizeDequantizesWithoutScratchRows() throws Exception {
    try (MxTensor t = MxTensor.quantize(new float[0], new long[] {0, 8}, MxFormat.MXFP6_E2M3)) {
      byte[] b = rewrite(serialize(t), 3 << 28, 0, 8, 0, 0);
      try (MxTensor back = MxTensor.readFrom(new ByteArrayInputStream(b))) {
        assertEquals(3 << 28, back.blockSize());
        assertEquals(0, back.dequantize().length);
      }
    }
  }

  @Test
  void payloadAboveTheStagingThresholdRoundTrips() throws Exception {
    int rows = 300;
    int cols = 60_000; // 18 MB of E4M3 codes: read through the staged path
    float[] data = new float[rows * cols];
    java.util.Random r = new java.util.Random(5);
    for (int i = 0; i < data.length; i++) {
      data[i] = (float) r.nextGaussian();
    }
    try (MxTensor t = MxTensor.quantize(data, new long[] {rows, cols}, MxFormat.MXFP8_E4M3)) {
      assertTrue(t.byteSize() > MxTensorCodec.STAGE_ABOVE);
      byte[] b = serialize(t);
      try (MxTensor back = MxTensor.readFrom(new ByteArrayInputStream(b))) {
        assertEquals(t.codes().mismatch(back.codes()), -1L);
        assertEquals(t.scales().mismatch(back.scales()), -1L);
      }
      byte[] cut = java.util.Arrays.copyOf(b, b.length - 1000);
      MxFormatException e =
          assertThrows(
              MxFormatException.class, () -> MxTensor.readFrom(new ByteArrayInputStream(cut)));
      assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }
  }
}

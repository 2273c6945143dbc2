package io.djlmx.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The byte serialization: round trips and every kind of bad input. */
class SerializationTest {

  private static byte[] serialize(MxTensor t) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    t.writeTo(out);
    return out.toByteArray();
  }

  private static MxTensor sample(MxFormat f) {
    return sample(f, new long[] {3, 5, 70});
  }

  private static MxTensor sample(MxFormat f, long[] shape) {
    long seed = 20261127L; // content is irrelevant here: only the bytes must survive
    Random rnd = new Random(seed);
    float[] data = new float[(int) (shape[0] * shape[1] * shape[2])];
    for (int i = 0; i < data.length; i++) {
      data[i] = (float) rnd.nextGaussian() * 10;
    }
    return MxTensor.quantize(
        java.lang.foreign.MemorySegment.ofArray(data), shape, f, ScaleMode.RCEIL, 32);
  }

  @Test
  void roundTripIsLosslessForEveryFormat() throws IOException {
    for (MxFormat f : MxFormat.values()) {
      try (MxTensor t = sample(f)) {
        byte[] bytes = serialize(t);
        long header = 16 + 8 * 3 + 16 + 4;
        assertEquals(header + t.byteSize() + 4, bytes.length, f.toString());
        try (MxTensor back = MxTensor.readFrom(new ByteArrayInputStream(bytes))) {
          assertEquals(f, back.format());
          assertEquals(ScaleMode.RCEIL, back.scaleMode());
          assertEquals(32, back.blockSize());
          assertArrayEquals(t.shape(), back.shape());
          assertArrayEquals(
              t.codes().toArray(ValueLayout.JAVA_BYTE),
              back.codes().toArray(ValueLayout.JAVA_BYTE));
          assertArrayEquals(
              t.scales().toArray(ValueLayout.JAVA_BYTE),
              back.scales().toArray(ValueLayout.JAVA_BYTE));
          assertArrayEquals(t.dequantize(), back.dequantize());
        }
      }
    }
  }

  private static String readError(byte[] bytes) {
    MxFormatException e =
        assertThrows(
            MxFormatException.class,
            () -> MxTensor.readFrom(new ByteArrayInputStream(bytes)).close());
    return e.getMessage();
  }

  @Test
  void everyTruncationIsReportedNeverAnIndexError() throws IOException {
    try (MxTensor t = sample(MxFormat.MXFP6_E2M3, new long[] {1, 2, 40})) {
      byte[] bytes = serialize(t);
      for (int len = 0; len < bytes.length; len++) {
        String msg = readError(Arrays.copyOf(bytes, len));
        assertTrue(
            msg.contains("truncated") || (len < 4 && msg.contains("magic")),
            "length " + len + ": " + msg);
      }
    }
  }

  @Test
  void wrongMagicNamesTheField() {
    String msg = readError("hello, this is not a tensor at all".getBytes());
    assertTrue(msg.contains("'magic'") && msg.contains("4d 58 54 00"), msg);
  }

  @Test
  void corruptHeaderAndPayloadAreCaughtByTheChecksums() throws IOException {
    try (MxTensor t = sample(MxFormat.MXFP4_E2M1)) {
      byte[] bytes = serialize(t);
      byte[] badFormat = bytes.clone();
      badFormat[6] = 9;
      assertTrue(readError(badFormat).contains("'header checksum'"));
      byte[] badPayload = bytes.clone();
      badPayload[bytes.length - 10] ^= 1;
      assertTrue(readError(badPayload).contains("'payload checksum'"));
      byte[] badVersion = bytes.clone();
      badVersion[4] = 2;
      String msg = readError(badVersion);
      assertTrue(msg.contains("'version'") && msg.contains("expected 1, got 2"), msg);
    }
  }

  @Test
  void badRankIsReported() throws IOException {
    try (MxTensor t = sample(MxFormat.MXINT8)) {
      byte[] bytes = serialize(t);
      bytes[12] = 0;
      String msg = readError(bytes);
      assertTrue(msg.contains("'rank'") && msg.contains("got 0"), msg);
    }
  }
}

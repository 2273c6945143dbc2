package io.djlmx.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.djlmx.checkpoint.CheckpointTensor;
import io.djlmx.checkpoint.ModelCheckpoint;
import io.djlmx.format.MxFormat;
import io.djlmx.format.MxFormatException;
import io.djlmx.format.MxQuantizer;
import io.djlmx.format.MxTensor;
import io.djlmx.format.ScaleMode;
import io.djlmx.zoo.bert.BertConfig;
import io.djlmx.zoo.bert.BertWeights;
import io.djlmx.zoo.checkpoint.MxCheckpoint;
import io.djlmx.zoo.onnx.NamedTensor;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * Corrupt files: a seeded, time-bounded fuzz loop over serialized MX tensors and MX checkpoints.
 * Every mutated input must be rejected with the format's own exception (never an
 * ArrayIndexOutOfBounds, NullPointer, OutOfMemory or any other error) and never load as garbage.
 */
class CorruptFileTest {

  private static final String SECTION = "2. Corrupt files (fuzz)";

  /** Minimum mutated inputs per format, and the time bound of each loop. */
  private static final int MIN_INPUTS = 10_000;

  private static final long TIME_BOUND_NANOS = 20_000_000_000L;

  private static final long SEED = 0x5EED_F022L;

  /**
   * Label suffix of mutations whose checksum was recomputed: they may legitimately load (e.g. a
   * scale mode flipped from FLOOR to RCEIL), but then must be internally consistent.
   */
  private static final String FIXED = "CRC fixed";

  @AfterAll
  static void report() {
    ReliabilityReport.write();
  }

  // ---------------------------------------------------------------------------------------------
  // Serialized MxTensor

  private static List<byte[]> tensorSeeds() throws IOException {
    List<byte[]> seeds = new ArrayList<>();
    Random r = new Random(SEED);
    long[][] shapes = {{3, 70}, {40}, {2, 3, 33}, {0, 8}, {1, 1}, {4, 64}};
    int i = 0;
    for (MxFormat f : MxFormat.values()) {
      for (long[] shape : shapes) {
        int n = (int) Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        float[] data = new float[n];
        for (int j = 0; j < n; j++) {
          data[j] = (float) (r.nextGaussian() * Math.pow(2, r.nextInt(20) - 10));
        }
        MxQuantizer q =
            MxQuantizer.builder()
                .setFormat(f)
                .optScaleMode(i % 2 == 0 ? ScaleMode.FLOOR : ScaleMode.RCEIL)
                .optBlockSize(i % 3 == 0 ? 16 : 32)
                .build();
        i++;
        try (MxTensor t = q.quantize(data, shape)) {
          ByteArrayOutputStream bos = new ByteArrayOutputStream();
          t.writeTo(bos);
          seeds.add(bos.toByteArray());
        }
      }
    }
    return seeds;
  }

  /** Offset of the header CRC: 16 fixed bytes, 8 per dimension, two 8-byte counts. */
  private static int headerCrcOffset(byte[] b) {
    int rank = ByteBuffer.wrap(b, 12, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
    return 16 + 8 * rank + 16;
  }

  /**
   * Rewrites one header field to an edge or random value and recomputes the header checksum, so the
   * mutation gets past the checksum to the field validators (what a buggy writer would make).
   */
  private static byte[] mutateHeaderField(byte[] seed, Random r) {
    byte[] b = seed.clone();
    int crcAt = headerCrcOffset(b);
    ByteBuffer h = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    long[] edges = {
      0,
      1,
      -1,
      2,
      7,
      31,
      33,
      255,
      256,
      65_535,
      Integer.MAX_VALUE,
      Integer.MIN_VALUE,
      Long.MAX_VALUE,
      Long.MIN_VALUE,
      1L << 31,
      1L << 32,
      1L << 40,
      1L << 62,
      1L << 20,
      3L << 28
    };
    long v = r.nextInt(3) == 0 ? r.nextLong() : edges[r.nextInt(edges.length)];
    int field = r.nextInt(8);
    switch (field) {
      case 0 -> h.putShort(4, (short) v); // version
      case 1 -> b[6] = (byte) v; // format id
      case 2 -> b[7] = (byte) v; // scale mode
      case 3 -> h.putInt(8, (int) v); // block size
      case 4 -> {
        // rank: keep the CRC position of the original header
        h.putInt(12, (int) Math.min(Math.max(v, 0), 32));
      }
      case 5 -> {
        int rank = h.getInt(12);
        h.putLong(16 + 8 * r.nextInt(rank), v); // one dimension
      }
      case 6 -> h.putLong(crcAt - 16, v); // code byte count
      default -> h.putLong(crcAt - 8, v); // scale byte count
    }
    CRC32C crc = new CRC32C();
    crc.update(b, 0, crcAt);
    h.putInt(crcAt, (int) crc.getValue());
    return b;
  }

  private static byte[] wrongFormat(Random r, List<byte[]> others) {
    return switch (r.nextInt(6)) {
      case 0 -> new byte[0];
      case 1 -> {
        byte[] b = new byte[r.nextInt(300)];
        r.nextBytes(b);
        yield b;
      }
      case 2 -> "MXT\0 this is text, not a tensor\n".getBytes(StandardCharsets.ISO_8859_1);
      case 3 -> new byte[] {'P', 'K', 3, 4, 20, 0, 0, 0, 8, 0}; // a zip file
      case 4 -> others.get(r.nextInt(others.size())); // an MX checkpoint
      default -> new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13};
    };
  }

  /** Applies mutation {@code kind} to a random seed; returns the input and its label. */
  private static Object[] mutate(
      int kind,
      List<byte[]> seeds,
      List<byte[]> others,
      Random r,
      java.util.function.BiFunction<byte[], Random, Object[]> checksumFixed) {
    byte[] seed = seeds.get(r.nextInt(seeds.size()));
    switch (kind) {
      case 0 -> {
        return new Object[] {Arrays.copyOf(seed, r.nextInt(seed.length)), "truncated"};
      }
      case 1 -> {
        byte[] b = seed.clone();
        int bit = r.nextInt(b.length * 8);
        b[bit >> 3] ^= (byte) (1 << (bit & 7));
        return new Object[] {b, "1 bit flipped"};
      }
      case 2 -> {
        byte[] b = seed.clone();
        int flips = 2 + r.nextInt(7);
        for (int i = 0; i < flips; i++) {
          int bit = r.nextInt(b.length * 8);
          b[bit >> 3] ^= (byte) (1 << (bit & 7));
        }
        return new Object[] {b, "2-8 bits flipped"};
      }
      case 3 -> {
        byte[] b = seed.clone();
        int at = r.nextInt(b.length);
        int len = 1 + r.nextInt(Math.min(16, b.length - at));
        byte[] junk = new byte[len];
        r.nextBytes(junk);
        boolean changed = false;
        for (int i = 0; i < len; i++) {
          changed |= b[at + i] != junk[i];
          b[at + i] = junk[i];
        }
        return new Object[] {changed ? b : Arrays.copyOf(b, b.length - 1), "bytes overwritten"};
      }
      case 4 -> {
        return checksumFixed.apply(seed, r);
      }
      default -> {
        return new Object[] {wrongFormat(r, others), "wrong format"};
      }
    }
  }

  /** Outcome counts of one fuzz loop. */
  private static final class Tally {
    final Map<String, int[]> byKind = new TreeMap<>();
    final Map<String, Integer> messages = new TreeMap<>();
    int inputs;
    int rejected;
    int accepted;
    int noop;
    long nanos;

    void reject(String kind, String message) {
      inputs++;
      rejected++;
      byKind.computeIfAbsent(kind, k -> new int[2])[0]++;
      // Group messages by their first words so the report shows which checks fired.
      String key = message == null ? "null" : message.replaceAll("[0-9a-f]{8}|-?[0-9]+", "#");
      key = key.length() > 70 ? key.substring(0, 70) + "…" : key;
      messages.merge(key, 1, Integer::sum);
    }

    void accept(String kind) {
      inputs++;
      accepted++;
      byKind.computeIfAbsent(kind, k -> new int[2])[1]++;
    }
  }

  private static <T extends AutoCloseable> Tally fuzz(
      List<byte[]> seeds,
      List<byte[]> others,
      Class<? extends IOException> expected,
      java.util.function.BiFunction<byte[], Random, Object[]> checksumFixed,
      Function<byte[], T> reader,
      java.util.function.BiPredicate<byte[], T> acceptable)
      throws Exception {
    Random r = new Random(SEED);
    Tally tally = new Tally();
    long start = System.nanoTime();
    int i = 0;
    while (tally.inputs < MIN_INPUTS * 2
        && (tally.inputs < MIN_INPUTS || System.nanoTime() - start < TIME_BOUND_NANOS / 4)) {
      if (System.nanoTime() - start > TIME_BOUND_NANOS) {
        break;
      }
      Object[] m = mutate(i++ % 6, seeds, others, r, checksumFixed);
      byte[] input = (byte[]) m[0];
      String kind = (String) m[1];
      T result;
      try {
        result = reader.apply(input);
      } catch (UncheckedIOException e) {
        IOException cause = e.getCause();
        if (!expected.isInstance(cause)) {
          fail(kind + " input #" + i + " threw " + cause, cause);
        }
        tally.reject(kind, cause.getMessage());
        continue;
      } catch (Throwable t) {
        fail(kind + " input #" + i + " (" + input.length + " bytes) threw " + t, t);
        return tally;
      }
      try (T loaded = result) {
        if (seeds.stream().anyMatch(s -> Arrays.equals(s, input))) {
          tally.noop++; // the mutation cancelled out (same bit flipped twice): not counted
          continue;
        }
        if (!(kind.endsWith(FIXED) && acceptable.test(input, loaded))) {
          fail(kind + " input #" + i + " loaded as garbage instead of being rejected");
        }
        tally.accept(kind);
      }
    }
    tally.nanos = System.nanoTime() - start;
    return tally;
  }

  /** Wraps checked reads for the fuzz loop. */
  private static final class UncheckedIOException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    UncheckedIOException(IOException e) {
      super(e);
    }

    @Override
    public synchronized IOException getCause() {
      return (IOException) super.getCause();
    }
  }

  private static void recordTally(String what, Tally t) {
    ReliabilityReport.record(
        SECTION,
        what
            + ": mutated inputs tried / rejected / accepted, time (only mutations whose checksum"
            + " the fuzzer recomputed may load: they are well-formed files with changed values)",
        String.format(
            "%,d / %,d / %,d in %.1f s", t.inputs, t.rejected, t.accepted, t.nanos / 1e9));
    for (Map.Entry<String, int[]> e : t.byKind.entrySet()) {
      ReliabilityReport.record(
          SECTION,
          what + ", " + e.getKey() + ": rejected / accepted",
          e.getValue()[0] + " / " + e.getValue()[1]);
    }
    List<Map.Entry<String, Integer>> top = new ArrayList<>(t.messages.entrySet());
    top.sort((a, b) -> b.getValue() - a.getValue());
    for (Map.Entry<String, Integer> e : top.subList(0, Math.min(8, top.size()))) {
      ReliabilityReport.record(SECTION, what + " rejection: " + e.getKey(), e.getValue());
    }
  }

  @Test
  void fuzzedTensorsAreRejectedCleanly() throws Exception {
    List<byte[]> seeds = tensorSeeds();
    List<byte[]> others = List.of(checkpointBytes());
    // Every seed must still read back exactly: the fuzz starts from valid files.
    for (byte[] s : seeds) {
      try (MxTensor t = MxTensor.readFrom(new ByteArrayInputStream(s))) {
        ByteArrayOutputStream again = new ByteArrayOutputStream();
        t.writeTo(again);
        assertArrayEquals(s, again.toByteArray());
      }
    }
    long rssBefore = Fixtures.rssAfterGcKb();
    Tally t =
        fuzz(
            seeds,
            others,
            MxFormatException.class,
            (seed, rnd) ->
                new Object[] {mutateHeaderField(seed, rnd), "header field rewritten, " + FIXED},
            b -> {
              try {
                return MxTensor.readFrom(new ByteArrayInputStream(b));
              } catch (IOException e) {
                throw new UncheckedIOException(e);
              }
            },
            // A consistent header rewrite may load: then every element must decode.
            (b, tensor) -> tensor.dequantize().length == tensor.elementCount());
    long rssAfter = Fixtures.rssAfterGcKb();
    recordTally("serialized MxTensor (" + seeds.size() + " seeds, 6 formats)", t);
    ReliabilityReport.record(
        SECTION,
        "serialized MxTensor fuzz: RSS after GC before / after",
        rssBefore / 1024 + " MiB / " + rssAfter / 1024 + " MiB");
    assertTrue(t.inputs >= MIN_INPUTS, "only " + t.inputs + " inputs in the time bound");
    assertEquals(0, t.byKind.getOrDefault("1 bit flipped", new int[2])[1], "CRC missed a flip");
    assertEquals(0, t.byKind.getOrDefault("truncated", new int[2])[1], "truncation accepted");
  }

  // ---------------------------------------------------------------------------------------------
  // MX checkpoint (model-zoo)

  private static BertWeights tinyBert() {
    BertConfig c = new BertConfig(20, 32, 1, 2, 48, 16, 2, 1e-12f);
    Map<String, NamedTensor> tensors = new LinkedHashMap<>();
    Random r = new Random(SEED);
    for (String name : BertWeights.expectedNames(c)) {
      long[] shape = shapeOf(name, c);
      float[] data = new float[(int) Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
      for (int i = 0; i < data.length; i++) {
        data[i] = (float) r.nextGaussian() * 0.1f;
      }
      tensors.put(name, new NamedTensor(name, shape, data));
    }
    return new BertWeights(c, tensors);
  }

  private static long[] shapeOf(String name, BertConfig c) {
    long h = c.hiddenSize();
    if (name.startsWith("embeddings.word")) {
      return new long[] {c.vocabSize(), h};
    } else if (name.startsWith("embeddings.position")) {
      return new long[] {c.maxPositions(), h};
    } else if (name.startsWith("embeddings.token_type")) {
      return new long[] {c.typeVocabSize(), h};
    } else if (name.contains("intermediate.dense.weight")) {
      return new long[] {c.intermediateSize(), h};
    } else if (name.contains("intermediate.dense.bias")) {
      return new long[] {c.intermediateSize()};
    } else if (name.contains("output.dense.weight") && !name.contains("attention")) {
      return new long[] {h, c.intermediateSize()};
    } else if (name.endsWith(".weight") && !name.contains("LayerNorm")) {
      return new long[] {h, h};
    }
    return new long[] {h};
  }

  private static byte[] checkpointBytes() throws IOException {
    ByteArrayOutputStream bos = new ByteArrayOutputStream();
    MxCheckpoint.quantize(tinyBert(), MxFormat.MXFP4_E2M1, null).write(bos);
    return bos.toByteArray();
  }

  /**
   * Overwrites a few bytes of a checkpoint and recomputes its trailing CRC-32, so the mutation
   * reaches the reader's field checks instead of stopping at the checksum.
   */
  private static Object[] overwriteWithFixedCrc(byte[] seed, Random r) {
    byte[] b = seed.clone();
    int body = b.length - 8;
    int at = r.nextInt(Math.min(body, 400)); // the header and first tensor headers live here
    int len = 1 + r.nextInt(Math.min(4, body - at));
    for (int i = 0; i < len; i++) {
      b[at + i] = (byte) r.nextInt(256);
    }
    java.util.zip.CRC32 crc = new java.util.zip.CRC32();
    crc.update(b, 0, body);
    ByteBuffer.wrap(b).putLong(body, crc.getValue());
    return new Object[] {b, "bytes overwritten, " + FIXED};
  }

  /** An MxCheckpoint has nothing to close; this lets the fuzz loop treat it like a tensor. */
  private record Loaded(MxCheckpoint checkpoint) implements AutoCloseable {
    @Override
    public void close() {}
  }

  @Test
  void fuzzedCheckpointsAreRejectedCleanly() throws Exception {
    List<byte[]> seeds = new ArrayList<>();
    seeds.add(checkpointBytes());
    ByteArrayOutputStream fp32 = new ByteArrayOutputStream();
    MxCheckpoint.quantize(tinyBert(), null, null).write(fp32);
    seeds.add(fp32.toByteArray());
    ByteArrayOutputStream e4m3 = new ByteArrayOutputStream();
    MxCheckpoint.quantize(tinyBert(), MxFormat.MXFP8_E4M3, null).write(e4m3);
    seeds.add(e4m3.toByteArray());
    for (byte[] s : seeds) {
      MxCheckpoint.read(new ByteArrayInputStream(s), "seed");
    }
    List<byte[]> others = new ArrayList<>(tensorSeeds());
    // a model checkpoint of something else (mx convert --params) is not an encoder checkpoint
    others.add(modelCheckpointBytes(MxFormat.MXFP6_E2M3, 4));
    Tally t =
        fuzz(
            seeds,
            others,
            IOException.class,
            CorruptFileTest::overwriteWithFixedCrc,
            b -> {
              try {
                return new Loaded(MxCheckpoint.read(new ByteArrayInputStream(b), "fuzz.mxckpt"));
              } catch (IOException e) {
                throw new UncheckedIOException(e);
              }
            },
            (b, ckpt) -> ckpt.checkpoint().toBertWeights() != null);
    recordTally("MX checkpoint .mxckpt (tiny BERT, FP32 / MXFP4 / MXFP8 seeds)", t);
    assertTrue(t.inputs >= MIN_INPUTS, "only " + t.inputs + " inputs in the time bound");
    assertEquals(0, t.byKind.getOrDefault("1 bit flipped", new int[2])[1], "CRC missed a flip");
  }

  // ---------------------------------------------------------------------------------------------
  // MX model checkpoint (mx convert --params / --torchscript)

  private static byte[] modelCheckpointBytes(MxFormat format, long seed) throws IOException {
    Random r = new Random(seed);
    long[][] shapes = {{64, 70}, {64}, {10, 64}, {10}, {3, 5, 33}};
    List<CheckpointTensor> tensors = new ArrayList<>();
    for (int i = 0; i < shapes.length; i++) {
      long[] shape = shapes[i];
      float[] data = new float[(int) Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
      for (int j = 0; j < data.length; j++) {
        data[j] = (float) r.nextGaussian() * 0.1f;
      }
      String name =
          String.format(
              java.util.Locale.ROOT, "%02dLinear_%s", i, shape.length == 1 ? "bias" : "weight");
      tensors.add(
          shape.length == 1
              ? new CheckpointTensor(name, shape, data, null)
              : new CheckpointTensor(
                  name,
                  shape,
                  null,
                  MxTensor.quantize(
                      java.lang.foreign.MemorySegment.ofArray(data),
                      shape,
                      format,
                      ScaleMode.FLOOR,
                      MxFormat.DEFAULT_BLOCK_SIZE)));
    }
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put(ModelCheckpoint.SOURCE, ModelCheckpoint.SOURCE_PARAMS);
    meta.put(ModelCheckpoint.BLOCK_FACTORY, "com.example.MlpFactory");
    meta.put(ModelCheckpoint.INPUT_SHAPES, "1,70");
    meta.put(ModelCheckpoint.WEIGHTS, format.name());
    meta.put(ModelCheckpoint.SCALE, "floor");
    try (ModelCheckpoint ckpt = new ModelCheckpoint(meta, tensors)) {
      ByteArrayOutputStream bos = new ByteArrayOutputStream();
      ckpt.write(bos);
      return bos.toByteArray();
    }
  }

  @Test
  void fuzzedModelCheckpointsAreRejectedCleanly() throws Exception {
    List<byte[]> seeds = new ArrayList<>();
    seeds.add(modelCheckpointBytes(MxFormat.MXFP4_E2M1, 1));
    seeds.add(modelCheckpointBytes(MxFormat.MXFP6_E3M2, 2));
    seeds.add(modelCheckpointBytes(MxFormat.MXINT8, 3));
    for (byte[] s : seeds) {
      ModelCheckpoint.read(new ByteArrayInputStream(s), "seed").close();
    }
    List<byte[]> others = new ArrayList<>(tensorSeeds());
    Tally t =
        fuzz(
            seeds,
            others,
            IOException.class,
            CorruptFileTest::overwriteWithFixedCrc,
            b -> {
              try {
                return ModelCheckpoint.read(new ByteArrayInputStream(b), "fuzz.mxckpt");
              } catch (IOException e) {
                throw new UncheckedIOException(e);
              }
            },
            // A consistent rewrite may load: then every tensor must decode in full.
            (b, ckpt) ->
                ckpt.tensors().values().stream()
                    .allMatch(x -> x.values().length == x.elementCount()));
    recordTally("MX model checkpoint .mxckpt (DJLMXCK2; MXFP4 / MXFP6 / MXINT8 seeds)", t);
    assertTrue(t.inputs >= MIN_INPUTS, "only " + t.inputs + " inputs in the time bound");
    assertEquals(0, t.byKind.getOrDefault("1 bit flipped", new int[2])[1], "CRC missed a flip");
    assertEquals(0, t.byKind.getOrDefault("truncated", new int[2])[1], "truncation accepted");
  }
}

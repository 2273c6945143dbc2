package io.djlmx.zoo.bert;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.util.Utils;
import io.djlmx.format.MxFormat;
import io.djlmx.zoo.SentenceEncoderLoader;
import io.djlmx.zoo.SentenceEncoderSpec;
import io.djlmx.zoo.checkpoint.MxCheckpoint;
import io.djlmx.zoo.onnx.NamedTensor;
import io.djlmx.zoo.translator.SentenceBatchCodec;
import java.io.BufferedReader;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Prepares the real all-MiniLM-L6-v2 (the zoo's MXFP6_E2M3 checkpoint) for the GPU machine, where
 * the 56 MB checkpoint, the tokenizer's native library and PyTorch do not fit in the upload: the
 * first sentences of {@code sentences-en.txt} are tokenized here by the zoo's tokenizer, and the
 * checkpoint is written again with only the word-embedding rows those sentences use (ids renumbered
 * in the same order). Every other tensor is the zoo's, so the encoder computes exactly the zoo
 * model's hidden states for these sentences. Also writes the CPU MX engine's embeddings of the same
 * sentences (PyTorch + the CPU MX kernel, here) for the GPU run to compare with.
 *
 * <p>Output files in {@code outDir}: {@code minilm-compact.mxckpt}, {@code minilm-ids.bin} (int32
 * little-endian: count, then per sentence its length and its renumbered ids), {@code
 * minilm-cpu-emb.f32} (count x 384 floats, little-endian, unit length, mean pooling).
 *
 * <p>Usage: {@code MiniLmGpuFixture outDir [count]} (count default 256).
 */
public final class MiniLmGpuFixture {

  private MiniLmGpuFixture() {}

  /**
   * Writes the fixture files.
   *
   * @param args output directory, optional sentence count
   * @throws IOException on read or write failure
   */
  public static void main(String[] args) throws IOException {
    Path out = Path.of(args[0]);
    int count = args.length > 1 ? Integer.parseInt(args[1]) : 256;
    Files.createDirectories(out);
    SentenceEncoderSpec spec = SentenceEncoderSpec.ALL_MINILM_L6_V2;
    List<String> sentences = new ArrayList<>();
    try (InputStream in = MiniLmGpuFixture.class.getResourceAsStream("/sentences-en.txt");
        BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
      for (String line = r.readLine(); line != null && sentences.size() < count; ) {
        if (!line.isBlank()) {
          sentences.add(line.strip());
        }
        line = r.readLine();
      }
    }
    SentenceBatchCodec codec = SentenceEncoderLoader.newCodec(spec);
    List<long[]> ids = new ArrayList<>();
    TreeSet<Long> vocab = new TreeSet<>();
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager(Device.cpu())) {
      for (String s : sentences) {
        long[] e = codec.encode(m, List.of(s)).get(0).toLongArray();
        ids.add(e);
        for (long id : e) {
          vocab.add(id);
        }
      }
    }
    Map<Long, Integer> renumber = new LinkedHashMap<>();
    for (long id : vocab) {
      renumber.put(id, renumber.size());
    }
    MxCheckpoint full =
        SentenceEncoderLoader.loadOrConvert(
            spec, MxFormat.MXFP6_E2M3, Utils.getCacheDir().resolve("mx-zoo"), null);
    BertWeights w = full.toBertWeights();
    BertConfig c = w.config();
    int h = c.hiddenSize();
    NamedTensor words = w.get("embeddings.word_embeddings.weight");
    float[] rows = new float[vocab.size() * h];
    for (Map.Entry<Long, Integer> e : renumber.entrySet()) {
      System.arraycopy(words.data(), (int) (e.getKey() * h), rows, e.getValue() * h, h);
    }
    BertConfig small =
        new BertConfig(
            vocab.size(),
            h,
            c.numLayers(),
            c.numHeads(),
            c.intermediateSize(),
            c.maxPositions(),
            c.typeVocabSize(),
            c.layerNormEps());
    Map<String, NamedTensor> tensors = new LinkedHashMap<>(w.tensors());
    tensors.put(words.name(), new NamedTensor(words.name(), new long[] {vocab.size(), h}, rows));
    BertWeights compact = new BertWeights(small, tensors);
    // The MX values re-quantize to the same codes and scales (FLOOR is idempotent on MX values).
    MxCheckpoint.quantize(compact, MxFormat.MXFP6_E2M3, null)
        .write(out.resolve("minilm-compact.mxckpt"));
    try (DataOutputStream os =
        new DataOutputStream(Files.newOutputStream(out.resolve("minilm-ids.bin")))) {
      ByteBuffer bb = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
      writeInt(os, bb, ids.size());
      for (long[] e : ids) {
        writeInt(os, bb, e.length);
        for (long id : e) {
          writeInt(os, bb, renumber.get(id));
        }
      }
    }
    // The CPU MX engine's embeddings of the same inputs, batches of 32 as on the GPU.
    float[][] emb =
        MiniLmGpuBenchmark.embed(
            Engine.getEngine("MX").newBaseManager(Device.cpu()),
            MxCheckpoint.read(out.resolve("minilm-compact.mxckpt")),
            MiniLmGpuBenchmark.renumbered(ids, renumber),
            32);
    MiniLmGpuBenchmark.writeFloats(out.resolve("minilm-cpu-emb.f32"), emb);
    System.out.printf(
        "MiniLM fixture: %d sentences, %d distinct tokens (of %d), longest %d tokens, written to"
            + " %s%n",
        ids.size(),
        vocab.size(),
        c.vocabSize(),
        ids.stream().mapToInt(a -> a.length).max().orElse(0),
        out);
  }

  private static void writeInt(DataOutputStream os, ByteBuffer bb, int v) throws IOException {
    bb.clear();
    bb.putInt(v);
    os.write(bb.array());
  }
}

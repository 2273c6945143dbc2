package io.djlmx.zoo.bert;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import io.djlmx.engine.MxConfig;
import io.djlmx.engine.MxFallbacks;
import io.djlmx.engine.MxNDManager;
import io.djlmx.kernel.cuda.CudaMemoryPool;
import io.djlmx.kernel.cuda.KernelProfile;
import io.djlmx.zoo.checkpoint.MxCheckpoint;
import io.djlmx.zoo.translator.Pooling;
import io.djlmx.zoo.translator.SentenceBatchCodec;
import io.djlmx.zoo.translator.SentenceSimilarity;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Sentences per second of the real all-MiniLM-L6-v2 (the zoo's MXFP6_E2M3 weights, from the
 * checkpoint {@link MiniLmGpuFixture} writes) on MX GPU arrays, batch 1 and 32, with the token ids
 * tokenized beforehand: per batch, the ids padded to the batch's longest sentence go to the device,
 * the zoo's {@link BertEncoder} runs there, the hidden states come back and are mean-pooled and
 * normalized on the host (as the zoo's translator pools). One untimed pass, then 5 timed passes;
 * the median pass is reported. The batch-32 embeddings are written and compared with the CPU MX
 * engine's (cosine per sentence).
 *
 * <p>Usage: {@code MiniLmGpuBenchmark fixtureDir outDir label}.
 */
public final class MiniLmGpuBenchmark {

  private static final int BATCH1_SENTENCES = 64;
  private static final int PASSES = 5;

  /**
   * {@code -Dmx.bench.pooling=device}: mean-pool and normalize with the zoo translator's NDArray
   * ops ({@link SentenceBatchCodec#pool}) on the device, so only {@code [batch, 384]} comes back
   * (as the PyTorch reference does); the default copies the hidden states back and pools in Java.
   */
  private static final boolean DEVICE_POOLING =
      "device".equals(System.getProperty("mx.bench.pooling", "host"));

  private MiniLmGpuBenchmark() {}

  /**
   * Runs the benchmark and prints RESULT lines.
   *
   * @param args the fixture directory, the output directory, a label for this run
   * @throws IOException on read or write failure
   */
  public static void main(String[] args) throws IOException {
    Path fixture = Path.of(args[0]);
    Path out = Path.of(args[1]);
    String label = args.length > 2 ? args[2] : "gpu";
    MxCheckpoint ckpt = MxCheckpoint.read(fixture.resolve("minilm-compact.mxckpt"));
    int[][] ids = readIds(fixture.resolve("minilm-ids.bin"));
    MxFallbacks.reset();
    try (NDManager m = Engine.getEngine("MX").newBaseManager(Device.gpu())) {
      BertEncoder encoder = encoder(m, ckpt);
      for (int batch : new int[] {1, 32}) {
        int n = batch == 1 ? Math.min(BATCH1_SENTENCES, ids.length) : ids.length;
        int[][] set = Arrays.copyOf(ids, n);
        float[][] emb = null;
        double[] ms = new double[PASSES];
        for (int pass = -1; pass < PASSES; pass++) {
          long t0 = System.nanoTime();
          emb = run(m, encoder, set, batch);
          double t = (System.nanoTime() - t0) / 1e6;
          if (pass >= 0) {
            ms[pass] = t;
          }
        }
        Arrays.sort(ms);
        double med = ms[PASSES / 2];
        System.out.printf(
            "RESULT minilm-gpu %s all-MiniLM-L6-v2 MXFP6_E2M3 batch=%d sentences=%d: median pass"
                + " %.2f ms (min %.2f, max %.2f) = %.1f sentences/s, host fallbacks %d, pool"
                + " reserved %.1f MiB%n",
            label,
            batch,
            n,
            med,
            ms[0],
            ms[PASSES - 1],
            n * 1000.0 / med,
            MxFallbacks.total(),
            CudaMemoryPool.reservedBytes() / 1048576.0);
        if (Boolean.getBoolean("mx.cuda.profile")) { // one more, untimed pass with kernel events
          KernelProfile.start();
          long t0 = System.nanoTime();
          run(m, encoder, set, batch);
          double wall = (System.nanoTime() - t0) / 1e6;
          System.out.printf(
              "PROFILE %s batch=%d: one pass %.2f ms wall (with event overhead); %s",
              label, batch, wall, KernelProfile.stop());
        }
        if (batch == 32) {
          writeFloats(out.resolve("minilm-gpu-emb-" + label + ".f32"), emb);
          Path cpu = fixture.resolve("minilm-cpu-emb.f32");
          if (Files.exists(cpu)) {
            float[][] ref = readFloats(cpu, emb[0].length);
            double min = 1;
            double sum = 0;
            for (int i = 0; i < emb.length; i++) {
              double c = SentenceSimilarity.cosine(emb[i], ref[i]);
              min = Math.min(min, c);
              sum += c;
            }
            System.out.printf(
                "RESULT minilm-gpu %s vs CPU MX engine (same weights and ids, %d sentences):"
                    + " cosine min %.7f mean %.7f%n",
                label, emb.length, min, sum / emb.length);
          }
        }
      }
    }
  }

  /** The zoo's encoder on {@code m}, weights from the checkpoint, MXFP6_E2M3 linear weights. */
  static BertEncoder encoder(NDManager m, MxCheckpoint ckpt) {
    ((MxNDManager) m).setConfig(MxConfig.resolve(Map.of(MxConfig.WEIGHTS, "MXFP6_E2M3")));
    BertEncoder encoder = new BertEncoder(ckpt.config());
    encoder.setWeights(ckpt.toBertWeights(), m);
    // -Dmx.bench.tokenPacking=true: the real tokens packed on the GPU too (packed attention);
    // false: every padded position through every layer on any device; unset: the encoder's
    // defaults (packed on the CPU, every padded position on a GPU)
    String packing = System.getProperty("mx.bench.tokenPacking");
    if (packing != null) {
      boolean packed = Boolean.parseBoolean(packing);
      encoder.setTokenPacking(packed);
      encoder.setDeviceTokenPacking(packed);
    }
    return encoder;
  }

  /**
   * Embeds sentences on {@code manager} in batches (closes the manager).
   *
   * @param manager an MX manager (CPU or GPU)
   * @param ckpt the checkpoint
   * @param ids token ids per sentence
   * @param batch the batch size
   * @return unit-length mean-pooled embeddings
   */
  static float[][] embed(NDManager manager, MxCheckpoint ckpt, int[][] ids, int batch) {
    try (NDManager m = manager) {
      return run(m, encoder(m, ckpt), ids, batch);
    }
  }

  static float[][] run(NDManager m, BertEncoder encoder, int[][] ids, int batch) {
    int h = encoder.getConfig().hiddenSize();
    float[][] out = new float[ids.length][];
    for (int start = 0; start < ids.length; start += batch) {
      int b = Math.min(batch, ids.length - start);
      int len = 1;
      for (int i = 0; i < b; i++) {
        len = Math.max(len, ids[start + i].length);
      }
      long[] tok = new long[b * len];
      long[] types = new long[b * len];
      long[] mask = new long[b * len];
      for (int i = 0; i < b; i++) {
        int[] e = ids[start + i];
        for (int j = 0; j < e.length; j++) {
          tok[i * len + j] = e[j];
          mask[i * len + j] = 1;
        }
      }
      try (NDManager sub = m.newSubManager()) {
        Shape s = new Shape(b, len);
        NDList in =
            new NDList(sub.create(tok, s), sub.create(types, s), HostMask.create(sub, mask, s));
        NDArray hiddenStates =
            encoder.forward(new ParameterStore(sub, false), in, false).singletonOrThrow();
        if (DEVICE_POOLING) { // the zoo translator's pooling ops, on the device
          float[][] pooled = SentenceBatchCodec.pool(hiddenStates, in.get(2), Pooling.MEAN);
          System.arraycopy(pooled, 0, out, start, b);
          continue;
        }
        float[] hidden = hiddenStates.toFloatArray();
        for (int i = 0; i < b; i++) {
          float[] e = new float[h];
          int n = ids[start + i].length;
          for (int j = 0; j < n; j++) {
            for (int k = 0; k < h; k++) {
              e[k] += hidden[(i * len + j) * h + k];
            }
          }
          double norm = 0;
          for (int k = 0; k < h; k++) {
            e[k] /= n;
            norm += (double) e[k] * e[k];
          }
          float inv = (float) (1 / Math.max(Math.sqrt(norm), 1e-12));
          for (int k = 0; k < h; k++) {
            e[k] *= inv;
          }
          out[start + i] = e;
        }
      }
    }
    return out;
  }

  static int[][] renumbered(List<long[]> ids, Map<Long, Integer> renumber) {
    int[][] r = new int[ids.size()][];
    for (int i = 0; i < r.length; i++) {
      long[] e = ids.get(i);
      r[i] = new int[e.length];
      for (int j = 0; j < e.length; j++) {
        r[i][j] = renumber.get(e[j]);
      }
    }
    return r;
  }

  static int[][] readIds(Path file) throws IOException {
    ByteBuffer bb = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    int n = bb.getInt();
    List<int[]> all = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int[] e = new int[bb.getInt()];
      for (int j = 0; j < e.length; j++) {
        e[j] = bb.getInt();
      }
      all.add(e);
    }
    return all.toArray(new int[0][]);
  }

  static void writeFloats(Path file, float[][] rows) throws IOException {
    ByteBuffer bb =
        ByteBuffer.allocate(rows.length * rows[0].length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float[] r : rows) {
      for (float v : r) {
        bb.putFloat(v);
      }
    }
    Files.write(file, bb.array());
  }

  static float[][] readFloats(Path file, int width) throws IOException {
    ByteBuffer bb = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    float[][] r = new float[bb.remaining() / 4 / width][width];
    for (float[] row : r) {
      for (int k = 0; k < width; k++) {
        row[k] = bb.getFloat();
      }
    }
    return r;
  }
}

package io.djlmx.zoo.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.zoo.onnx.NamedTensor;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * A BERT encoder of all-MiniLM-L6-v2's layer structure (hidden 384, 12 heads of 32, intermediate
 * 1536, post-norm, exact GELU) with seeded random weights and inputs, and an FP64 host reference of
 * its forward pass on the MX-rounded linear weights (what an MX engine computes, without PyTorch).
 */
final class EncoderFixture {

  /** MiniLM's layer shape; 2 layers and a 1,000-token vocabulary keep it small. */
  static final BertConfig CONFIG = new BertConfig(1000, 384, 2, 12, 1536, 64, 2, 1e-12f);

  static final int BATCH = 2;
  static final int SEQ = 17;

  /** Tokens of the second sentence from this position on are padding. */
  static final int PAD_FROM = 12;

  static final MxFormat FORMAT = MxFormat.MXFP6_E2M3;

  private EncoderFixture() {}

  /**
   * Seeded random weights: N(0, 0.05) projections and embeddings, LayerNorm gamma 1 + N(0, 0.1).
   */
  static BertWeights weights(long seed) {
    Random r = new Random(seed);
    Map<String, NamedTensor> map = new LinkedHashMap<>();
    for (Map.Entry<String, long[]> e : BertWeights.expectedShapes(CONFIG).entrySet()) {
      long[] shape = e.getValue();
      float[] data = new float[(int) new Shape(shape).size()];
      boolean gamma = e.getKey().endsWith("LayerNorm.weight");
      boolean bias = e.getKey().endsWith(".bias");
      for (int i = 0; i < data.length; i++) {
        double g = r.nextGaussian();
        data[i] = (float) (gamma ? 1 + 0.1 * g : bias ? 0.02 * g : 0.05 * g);
      }
      map.put(e.getKey(), new NamedTensor(e.getKey(), shape, data));
    }
    return new BertWeights(CONFIG, map);
  }

  static long[] ids(long seed) {
    Random r = new Random(seed + 1);
    long[] ids = new long[BATCH * SEQ];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = r.nextInt(CONFIG.vocabSize());
    }
    return ids;
  }

  static long[] types() {
    long[] t = new long[BATCH * SEQ];
    for (int i = SEQ / 2; i < SEQ; i++) {
      t[i] = 1;
    }
    return t;
  }

  static long[] mask() {
    long[] m = new long[BATCH * SEQ];
    for (int i = 0; i < m.length; i++) {
      m[i] = (i >= SEQ + PAD_FROM) ? 0 : 1;
    }
    return m;
  }

  /**
   * Runs the encoder on {@code manager}'s device with weights made there; returns the hidden
   * states.
   */
  static float[] runOn(NDManager manager, BertWeights weights, long seed) {
    BertEncoder encoder = new BertEncoder(CONFIG);
    encoder.setWeights(weights, manager);
    Shape s = new Shape(BATCH, SEQ);
    NDList in =
        new NDList(
            manager.create(ids(seed), s), manager.create(types(), s), manager.create(mask(), s));
    NDArray hidden =
        encoder.forward(new ParameterStore(manager, false), in, false).singletonOrThrow();
    return hidden.toFloatArray();
  }

  // ------------------------------------------------------------------ FP64 host reference

  private static double[] mx(BertWeights w, String name) {
    NamedTensor t = w.get(name);
    try (MxTensor q = MxTensor.quantize(t.data(), t.shape(), FORMAT)) {
      float[] f = q.dequantize();
      double[] d = new double[f.length];
      for (int i = 0; i < f.length; i++) {
        d[i] = f[i];
      }
      return d;
    }
  }

  private static double[] plain(BertWeights w, String name) {
    float[] f = w.get(name).data();
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      d[i] = f[i];
    }
    return d;
  }

  /** y[rows, n] = x[rows, k]·Wᵀ + b. */
  private static double[] linear(double[] x, int rows, double[] w, double[] b, int n, int k) {
    double[] y = new double[rows * n];
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < n; j++) {
        double s = b[j];
        for (int q = 0; q < k; q++) {
          s += x[i * k + q] * w[j * k + q];
        }
        y[i * n + j] = s;
      }
    }
    return y;
  }

  private static double[] layerNorm(double[] x, int rows, int cols, double[] g, double[] b) {
    double[] y = new double[x.length];
    for (int i = 0; i < rows; i++) {
      double mean = 0;
      for (int j = 0; j < cols; j++) {
        mean += x[i * cols + j];
      }
      mean /= cols;
      double var = 0;
      for (int j = 0; j < cols; j++) {
        double d = x[i * cols + j] - mean;
        var += d * d;
      }
      double rstd = 1 / Math.sqrt(var / cols + CONFIG.layerNormEps());
      for (int j = 0; j < cols; j++) {
        y[i * cols + j] = (x[i * cols + j] - mean) * rstd * g[j] + b[j];
      }
    }
    return y;
  }

  /** erf to about 1e-15 (series for small x, continued fraction beyond). */
  static double erf(double x) {
    double ax = Math.abs(x);
    double r;
    if (ax < 3) {
      double term = ax;
      double sum = ax;
      for (int n = 1; n < 200; n++) {
        term *= -ax * ax / n;
        double add = term / (2 * n + 1);
        sum += add;
        if (Math.abs(add) < 1e-17) {
          break;
        }
      }
      r = 2 / Math.sqrt(Math.PI) * sum;
    } else {
      double f = 0;
      for (int n = 60; n >= 1; n--) {
        f = n / 2.0 / (ax + f);
      }
      r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
    }
    return x < 0 ? -r : r;
  }

  /** The encoder's forward pass in FP64 on MX-rounded linear weights. */
  static double[] reference(BertWeights w, long seed) {
    int h = CONFIG.hiddenSize();
    int heads = CONFIG.numHeads();
    int d = CONFIG.headSize();
    int inter = CONFIG.intermediateSize();
    int rows = BATCH * SEQ;
    long[] ids = ids(seed);
    long[] types = types();
    long[] mask = mask();
    double[] word = plain(w, "embeddings.word_embeddings.weight");
    double[] pos = plain(w, "embeddings.position_embeddings.weight");
    double[] typ = plain(w, "embeddings.token_type_embeddings.weight");
    double[] x = new double[rows * h];
    for (int r = 0; r < rows; r++) {
      int s = r % SEQ;
      for (int j = 0; j < h; j++) {
        x[r * h + j] =
            (float)
                ((float) (word[(int) ids[r] * h + j] + typ[(int) types[r] * h + j])
                    + pos[s * h + j]);
      }
    }
    x =
        layerNorm(
            x,
            rows,
            h,
            plain(w, "embeddings.LayerNorm.weight"),
            plain(w, "embeddings.LayerNorm.bias"));
    for (int l = 0; l < CONFIG.numLayers(); l++) {
      String p = "encoder.layer." + l + ".";
      double[] q =
          linear(
              x,
              rows,
              mx(w, p + "attention.self.query.weight"),
              plain(w, p + "attention.self.query.bias"),
              h,
              h);
      double[] k =
          linear(
              x,
              rows,
              mx(w, p + "attention.self.key.weight"),
              plain(w, p + "attention.self.key.bias"),
              h,
              h);
      double[] v =
          linear(
              x,
              rows,
              mx(w, p + "attention.self.value.weight"),
              plain(w, p + "attention.self.value.bias"),
              h,
              h);
      double[] ctx = new double[rows * h];
      double scale = 1 / Math.sqrt(d);
      for (int b = 0; b < BATCH; b++) {
        for (int hd = 0; hd < heads; hd++) {
          for (int i = 0; i < SEQ; i++) {
            double[] sc = new double[SEQ];
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < SEQ; j++) {
              double dot = 0;
              for (int c = 0; c < d; c++) {
                dot += q[(b * SEQ + i) * h + hd * d + c] * k[(b * SEQ + j) * h + hd * d + c];
              }
              sc[j] = dot * scale + (mask[b * SEQ + j] == 0 ? -Float.MAX_VALUE : 0);
              max = Math.max(max, sc[j]);
            }
            double sum = 0;
            for (int j = 0; j < SEQ; j++) {
              sc[j] = Math.exp(sc[j] - max);
              sum += sc[j];
            }
            for (int c = 0; c < d; c++) {
              double acc = 0;
              for (int j = 0; j < SEQ; j++) {
                acc += sc[j] / sum * v[(b * SEQ + j) * h + hd * d + c];
              }
              ctx[(b * SEQ + i) * h + hd * d + c] = acc;
            }
          }
        }
      }
      double[] a =
          linear(
              ctx,
              rows,
              mx(w, p + "attention.output.dense.weight"),
              plain(w, p + "attention.output.dense.bias"),
              h,
              h);
      for (int i = 0; i < a.length; i++) {
        a[i] += x[i];
      }
      double[] h1 =
          layerNorm(
              a,
              rows,
              h,
              plain(w, p + "attention.output.LayerNorm.weight"),
              plain(w, p + "attention.output.LayerNorm.bias"));
      double[] f =
          linear(
              h1,
              rows,
              mx(w, p + "intermediate.dense.weight"),
              plain(w, p + "intermediate.dense.bias"),
              inter,
              h);
      for (int i = 0; i < f.length; i++) {
        f[i] = 0.5 * f[i] * (1 + erf(f[i] / Math.sqrt(2)));
      }
      double[] o =
          linear(
              f,
              rows,
              mx(w, p + "output.dense.weight"),
              plain(w, p + "output.dense.bias"),
              h,
              inter);
      for (int i = 0; i < o.length; i++) {
        o[i] += h1[i];
      }
      x =
          layerNorm(
              o,
              rows,
              h,
              plain(w, p + "output.LayerNorm.weight"),
              plain(w, p + "output.LayerNorm.bias"));
    }
    return x;
  }

  /**
   * Smallest cosine similarity over the real tokens (rows of {@code hidden} floats; padding
   * skipped).
   */
  static double minTokenCosine(float[] actual, double[] expected) {
    int h = CONFIG.hiddenSize();
    long[] mask = mask();
    double min = 1;
    for (int r = 0; r < actual.length / h; r++) {
      if (mask[r] == 0) {
        continue; // padding: the encoder leaves it zero in inference (it packs the real tokens)
      }
      double dot = 0;
      double na = 0;
      double ne = 0;
      for (int j = 0; j < h; j++) {
        double a = actual[r * h + j];
        double e = expected[r * h + j];
        dot += a * e;
        na += a * a;
        ne += e * e;
      }
      double c = dot / Math.sqrt(na * ne);
      min = Double.isNaN(c) ? -1 : Math.min(min, c);
    }
    return min;
  }

  static double[] toDouble(float[] f) {
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      d[i] = f[i];
    }
    return d;
  }
}

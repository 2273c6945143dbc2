package io.djlmx.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.kernel.cuda.CudaBackend;
import io.djlmx.kernel.cuda.DeviceBuffer;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The fused GPU kernels behind {@link MxFusedOps} (residual add + layer norm, linear + GELU in the
 * linear epilogue, softmax attention on the merged layout) against FP64 host references on fresh
 * random data and odd shapes, and against the unfused ops they replace; every new device array is
 * poisoned (NaN) before a kernel writes it and every launch is synchronised and checked. Skipped
 * where no CUDA device is present.
 */
@Tag("gpu")
class MxFusedOpsGpuTest {

  private MxNDManager manager;
  private long liveBefore;
  private final Random rnd = new Random(20261128);

  @BeforeEach
  void setUp() {
    Assumptions.assumeTrue(
        CudaBackend.isAvailable(), () -> "no CUDA device: " + CudaBackend.unavailableReason());
    CudaBackend.get().setSynchronousChecks(true);
    MxCudaNDArray.poisonNewArrays = true;
    MxFusedOps.fusedGpu = true;
    liveBefore = DeviceBuffer.liveBuffers();
    manager = MxNDManager.getSystemManager().newSubManager(Device.gpu());
  }

  @AfterEach
  void tearDown() {
    MxFusedOps.fusedGpu = true;
    if (manager != null) {
      manager.close();
      MxCudaNDArray.poisonNewArrays = false;
      assertEquals(liveBefore, DeviceBuffer.liveBuffers(), "device buffers leaked");
    }
  }

  private float[] random(int n, double scale, double offset) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) (offset + scale * rnd.nextGaussian());
    }
    return a;
  }

  private NDArray dev(float[] data, long... shape) {
    NDArray a = manager.create(data, new Shape(shape));
    assertInstanceOf(MxCudaNDArray.class, a);
    return a;
  }

  private static void assertClose(double[] expected, float[] actual, double tol, String what) {
    assertEquals(expected.length, actual.length, what + ": length");
    for (int i = 0; i < actual.length; i++) {
      double e = expected[i];
      if (Double.isNaN(actual[i]) || Math.abs(actual[i] - e) > tol * (1 + Math.abs(e))) {
        fail(what + ": element " + i + " is " + actual[i] + ", expected " + e);
      }
    }
  }

  @Test
  void addLayerNormMatchesFp64AndTheUnfusedOps() {
    // widths below, at and above a warp, the register-cached limit (512) and beyond it; rows from 1
    long[][] shapes = {
      {1, 1}, {3, 17}, {2, 5, 384}, {7, 33}, {9, 512}, {4, 513}, {2, 3, 1000}, {1000, 7}
    };
    for (long[] s : shapes) {
      Shape shape = new Shape(s);
      int w = (int) s[s.length - 1];
      int n = (int) shape.size();
      int rows = n / w;
      float[] x = random(n, 2.0, 0.7); // an offset mean: the variance must cancel it
      float[] res = random(n, 1.0, 0.0);
      float[] g = random(w, 0.5, 1.0);
      float[] b = random(w, 0.3, 0.0);
      float eps = 1e-12f;
      double[] e = new double[n];
      for (int r = 0; r < rows; r++) {
        double mean = 0;
        for (int c = 0; c < w; c++) {
          mean += (double) x[r * w + c] + res[r * w + c];
        }
        mean /= w;
        double var = 0;
        for (int c = 0; c < w; c++) {
          double d = (double) x[r * w + c] + res[r * w + c] - mean;
          var += d * d;
        }
        double rstd = 1 / Math.sqrt(var / w + eps);
        for (int c = 0; c < w; c++) {
          double d = (double) x[r * w + c] + res[r * w + c] - mean;
          e[r * w + c] = d * rstd * g[c] + b[c];
        }
      }
      NDArray gg = dev(g, w);
      NDArray bb = dev(b, w);
      NDArray fused = MxFusedOps.addLayerNorm(dev(x, s), dev(res, s), gg, bb, eps);
      assertEquals(shape, fused.getShape());
      float[] f = fused.toFloatArray();
      // w = 1: the normalized value is 0 and y = beta (a single-element variance is 0)
      assertClose(e, f, 4e-6, "fused add+layerNorm " + shape);
      MxFusedOps.fusedGpu = false;
      float[] plain = MxFusedOps.addLayerNorm(dev(x, s), dev(res, s), gg, bb, eps).toFloatArray();
      MxFusedOps.fusedGpu = true;
      assertClose(toDouble(plain), f, 4e-6, "fused vs unfused " + shape);
    }
    // x and the residual one array: layerNorm(2x) = layerNorm(x) with gamma 1, beta 0
    float[] x = random(3 * 40, 1.0, 0.5);
    NDArray a = dev(x, 3, 40);
    float[] ones = new float[40];
    Arrays.fill(ones, 1f);
    float[] twice =
        MxFusedOps.addLayerNorm(a, a, dev(ones, 40), dev(new float[40], 40), 0f).toFloatArray();
    double[] e = new double[x.length];
    for (int r = 0; r < 3; r++) {
      double mean = 0;
      for (int c = 0; c < 40; c++) {
        mean += x[r * 40 + c] / 40.0;
      }
      double var = 0;
      for (int c = 0; c < 40; c++) {
        var += (x[r * 40 + c] - mean) * (x[r * 40 + c] - mean) / 40;
      }
      for (int c = 0; c < 40; c++) {
        e[r * 40 + c] = (x[r * 40 + c] - mean) / Math.sqrt(var);
      }
    }
    assertClose(e, twice, 4e-6, "x + x");
    assertThrows(
        IllegalArgumentException.class,
        () -> MxFusedOps.addLayerNorm(dev(x, 3, 40), dev(x, 40, 3), dev(x, 40), dev(x, 40), 1e-5f));
  }

  @Test
  void linearGeluEqualsLinearThenGeluAndFp64() {
    manager.setConfig(MxConfig.resolve(Map.of(MxConfig.WEIGHTS, "MXFP6_E2M3")));
    // GEMV (M < 32; M <= 64 at K >= 1024), tensor-core GEMM (M >= 32), odd K and N
    int[][] mnk = {{1, 384, 384}, {3, 257, 100}, {17, 65, 33}, {40, 96, 1537}, {100, 130, 70}};
    for (int[] s : mnk) {
      int m = s[0];
      int n = s[1];
      int k = s[2];
      float[] x = random(m * k, 1.0, 0.0);
      float[] w = random(n * k, 0.2, 0.0);
      float[] b = random(n, 0.5, 0.0);
      NDArray dw = dev(w, n, k);
      dw.setName("fc" + n);
      NDArray db = dev(b, n);
      NDArray dx = dev(x, m, k);
      float[] fused = MxFusedOps.linearGelu(dx, dw, db).toFloatArray();
      MxFusedOps.fusedGpu = false;
      float[] plain = MxFusedOps.linearGelu(dx, dw, db).toFloatArray();
      MxFusedOps.fusedGpu = true;
      // the same kernel sums and the same GELU formula: equal up to the compiler's contractions
      assertClose(
          toDouble(plain),
          fused,
          1e-6,
          "fused GELU epilogue vs separate map " + Arrays.toString(s));
      float[] wq;
      try (MxTensor t = MxTensor.quantize(w, new long[] {n, k}, MxFormat.MXFP6_E2M3)) {
        wq = t.dequantize();
      }
      double[] e = new double[m * n];
      for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
          double acc = b[j];
          for (int q = 0; q < k; q++) {
            acc += (double) x[i * k + q] * wq[j * k + q];
          }
          e[i * n + j] = 0.5 * acc * (1 + erf(acc / Math.sqrt(2)));
        }
      }
      assertClose(e, fused, 2e-4, "linear+GELU " + Arrays.toString(s));
    }
  }

  @Test
  void attentionMatchesFp64AndTheUnfusedOps() {
    // {batch, seq, heads, headSize}: one and several key tiles (32) and query tiles (16), head
    // sizes
    // from 1 to 128 across the 1-4 columns-per-lane variants
    int[][] cases = {
      {1, 1, 1, 1},
      {2, 5, 3, 7},
      {3, 33, 2, 32},
      {1, 70, 4, 33},
      {2, 17, 12, 32},
      {1, 40, 2, 64},
      {2, 31, 1, 100},
      {1, 65, 2, 128}
    };
    for (int[] c : cases) {
      int batch = c[0];
      int seq = c[1];
      int heads = c[2];
      int hs = c[3];
      int width = heads * hs;
      int n = batch * seq * width;
      float[] q = random(n, 1.0, 0.0);
      float[] k = random(n, 1.0, 0.0);
      float[] v = random(n, 1.0, 0.3);
      // the encoder's mask: 0 for tokens, -Float.MAX_VALUE for padding (at least one token each)
      float[] mask = new float[batch * seq];
      for (int b = 0; b < batch; b++) {
        int len = 1 + rnd.nextInt(seq);
        for (int j = len; j < seq; j++) {
          mask[b * seq + j] = -Float.MAX_VALUE;
        }
      }
      // a full per-head mask of small random biases (every axis strided)
      float[] full = random(batch * heads * seq * seq, 0.5, 0.0);
      Object[][] masks = {
        {null, null},
        {mask, new long[] {batch, 1, 1, seq}},
        {full, new long[] {batch, heads, seq, seq}}
      };
      for (Object[] mk : masks) {
        float[] mv = (float[]) mk[0];
        long[] ms = (long[]) mk[1];
        String what = "attention " + Arrays.toString(c) + " mask " + Arrays.toString(ms);
        double[] e = attentionReference(q, k, v, mv, ms, batch, seq, heads, hs);
        NDArray dq = dev(q, batch, seq, width);
        NDArray dk = dev(k, batch, seq, width);
        NDArray dv = dev(v, batch, seq, width);
        NDArray dm = mv == null ? null : dev(mv, ms);
        NDArray fused = MxFusedOps.attention(dq, dk, dv, dm, heads);
        assertNotNull(fused, what);
        assertEquals(new Shape(batch, seq, width), fused.getShape(), what);
        float[] f = fused.toFloatArray();
        assertClose(e, f, 2e-5, what);
        float[] plain = unfusedAttention(dq, dk, dv, dm, heads, hs);
        assertClose(toDouble(plain), f, 2e-5, what + " vs unfused ops");
      }
    }
    NDArray a = dev(random(2 * 3 * 8, 1, 0), 2, 3, 8);
    assertThrows(
        IllegalArgumentException.class,
        () -> MxFusedOps.attention(a, a, a, dev(new float[4], 4), 2),
        "a mask that does not broadcast");
    assertThrows(
        IllegalArgumentException.class,
        () -> MxFusedOps.attention(a, a, a, null, 3),
        "8 columns do not split into 3 heads");
    NDArray wide = dev(random(2 * 130, 1, 0), 1, 2, 130);
    assertEquals(null, MxFusedOps.attention(wide, wide, wide, null, 1), "head size above 128");
  }

  @Test
  void packedAttentionMatchesFp64PerSequence() {
    // {heads, headSize} and the sequences' lengths: single rows, one and several key/query tiles,
    // and more sequences than one launch carries (64)
    int[][] shapes = {{1, 1}, {3, 7}, {12, 32}, {2, 33}, {1, 128}};
    int[][] lengthSets = {{1}, {5, 1, 33, 17}, {70, 2}};
    for (int[] hs : shapes) {
      for (int[] lens0 : lengthSets) {
        check(hs[0], hs[1], lens0);
      }
    }
    int[] many = new int[150];
    for (int i = 0; i < many.length; i++) {
      many[i] = 1 + rnd.nextInt(20);
    }
    check(2, 32, many);
    // sequences that do not tile the rows: no fused route (the caller spreads them)
    NDArray a = dev(random(6 * 8, 1, 0), 6, 8);
    assertEquals(null, MxFusedOps.attentionPacked(a, a, a, new int[] {0, 3}, new int[] {2, 3}, 2));
    assertEquals(null, MxFusedOps.attentionPacked(a, a, a, new int[] {0}, new int[] {5}, 2));
  }

  private void check(int heads, int hs, int[] lengths) {
    int width = heads * hs;
    int[] starts = new int[lengths.length];
    int rows = 0;
    for (int i = 0; i < lengths.length; i++) {
      starts[i] = rows;
      rows += lengths[i];
    }
    float[] q = random(rows * width, 1.0, 0.0);
    float[] k = random(rows * width, 1.0, 0.0);
    float[] v = random(rows * width, 1.0, -0.2);
    double[] e = new double[rows * width];
    for (int s = 0; s < lengths.length; s++) {
      int off = starts[s] * width;
      int n = lengths[s] * width;
      double[] one =
          attentionReference(
              Arrays.copyOfRange(q, off, off + n),
              Arrays.copyOfRange(k, off, off + n),
              Arrays.copyOfRange(v, off, off + n),
              null,
              null,
              1,
              lengths[s],
              heads,
              hs);
      System.arraycopy(one, 0, e, off, n);
    }
    NDArray out =
        MxFusedOps.attentionPacked(
            dev(q, rows, width), dev(k, rows, width), dev(v, rows, width), starts, lengths, heads);
    assertNotNull(out);
    assertEquals(new Shape(rows, width), out.getShape());
    assertClose(
        e,
        out.toFloatArray(),
        2e-5,
        "packed attention heads " + heads + " x " + hs + ", " + lengths.length + " sequences");
  }

  @Test
  void concatAlongTheFirstAxisStaysOnTheDevice() {
    long fallbacks = MxFallbacks.total();
    float[] a = random(3 * 5, 1, 0);
    float[] b = random(1 * 5, 1, 0);
    float[] c = random(4 * 5, 1, 0);
    NDArray joined = dev(a, 3, 5).concat(dev(b, 1, 5), 0);
    assertEquals(new Shape(4, 5), joined.getShape());
    float[] expected = new float[20];
    System.arraycopy(a, 0, expected, 0, 15);
    System.arraycopy(b, 0, expected, 15, 5);
    assertClose(toDouble(expected), joined.toFloatArray(), 0, "concat of two");
    NDArray three =
        ai.djl.ndarray.NDArrays.concat(
            new ai.djl.ndarray.NDList(dev(a, 3, 5), dev(b, 1, 5), dev(c, 4, 5)), -2);
    float[] e3 = new float[40];
    System.arraycopy(a, 0, e3, 0, 15);
    System.arraycopy(b, 0, e3, 15, 5);
    System.arraycopy(c, 0, e3, 20, 20);
    assertClose(toDouble(e3), three.toFloatArray(), 0, "concat of three, axis -2");
    NDArray ids = manager.create(new long[] {4, 5}).concat(manager.create(new long[] {6}), 0);
    assertArrayEquals(new long[] {4, 5, 6}, ids.toLongArray());
    assertEquals(fallbacks, MxFallbacks.total(), "no host fallback");
  }

  @Test
  void euclideanNormAlongAxesStaysOnTheDevice() {
    long fallbacks = MxFallbacks.total();
    int b = 5;
    int n = 37;
    float[] x = random(b * n, 1, 0.2);
    NDArray a = dev(x, b, n);
    double[] e = new double[b];
    for (int i = 0; i < b; i++) {
      double s = 0;
      for (int j = 0; j < n; j++) {
        s += (double) x[i * n + j] * x[i * n + j];
      }
      e[i] = Math.sqrt(s);
    }
    NDArray kept = a.norm(new int[] {1}, true);
    assertEquals(new Shape(b, 1), kept.getShape());
    assertClose(e, kept.toFloatArray(), 1e-6, "norm along axis 1, kept");
    assertClose(e, a.norm(new int[] {-1}).toFloatArray(), 1e-6, "norm along axis -1");
    assertEquals(fallbacks, MxFallbacks.total(), "no host fallback");
  }

  /** The attention of the zoo's reference core, as ordinary ops on the device. */
  private static float[] unfusedAttention(
      NDArray q, NDArray k, NDArray v, NDArray mask, int heads, int hs) {
    Shape s = q.getShape();
    NDArray qh = q.reshape(s.get(0), s.get(1), heads, hs).transpose(0, 2, 1, 3);
    NDArray kh = k.reshape(s.get(0), s.get(1), heads, hs).transpose(0, 2, 1, 3);
    NDArray vh = v.reshape(s.get(0), s.get(1), heads, hs).transpose(0, 2, 1, 3);
    NDArray scores = qh.matMul(kh.transpose(0, 1, 3, 2)).divi(Math.sqrt(hs));
    if (mask != null) {
      scores = scores.addi(mask);
    }
    return scores
        .softmax(-1)
        .matMul(vh)
        .transpose(0, 2, 1, 3)
        .reshape(s.get(0), s.get(1), s.get(2))
        .toFloatArray();
  }

  private static double[] attentionReference(
      float[] q,
      float[] k,
      float[] v,
      float[] mask,
      long[] maskShape,
      int batch,
      int seq,
      int heads,
      int hs) {
    int width = heads * hs;
    double div = (float) Math.sqrt(hs);
    double[] out = new double[batch * seq * width];
    double[] sc = new double[seq];
    for (int b = 0; b < batch; b++) {
      for (int h = 0; h < heads; h++) {
        for (int i = 0; i < seq; i++) {
          double max = Double.NEGATIVE_INFINITY;
          for (int j = 0; j < seq; j++) {
            double d = 0;
            for (int t = 0; t < hs; t++) {
              d +=
                  (double) q[(b * seq + i) * width + h * hs + t]
                      * k[(b * seq + j) * width + h * hs + t];
            }
            d /= div;
            if (mask != null) {
              long mh = maskShape[1] == 1 ? 0 : h;
              long mi = maskShape[2] == 1 ? 0 : i;
              d += mask[(int) (((b * maskShape[1] + mh) * maskShape[2] + mi) * seq + j)];
            }
            sc[j] = d;
            max = Math.max(max, d);
          }
          double sum = 0;
          for (int j = 0; j < seq; j++) {
            sc[j] = Math.exp(sc[j] - max);
            sum += sc[j];
          }
          for (int t = 0; t < hs; t++) {
            double acc = 0;
            for (int j = 0; j < seq; j++) {
              acc += sc[j] / sum * v[(b * seq + j) * width + h * hs + t];
            }
            out[(b * seq + i) * width + h * hs + t] = acc;
          }
        }
      }
    }
    return out;
  }

  private static double[] toDouble(float[] a) {
    double[] d = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      d[i] = a[i];
    }
    return d;
  }

  /** erf to about 1e-16 (Abramowitz-Stegun would be too coarse for a 2e-4 check near 0). */
  private static double erf(double x) {
    double t = Math.abs(x);
    double sum;
    if (t < 3) { // Taylor series
      double term = t;
      sum = t;
      for (int n = 1; n < 200; n++) {
        term *= -t * t / n;
        double add = term / (2 * n + 1);
        sum += add;
        if (Math.abs(add) < 1e-18) {
          break;
        }
      }
      sum *= 2 / Math.sqrt(Math.PI);
    } else { // continued fraction for erfc
      double f = 0;
      for (int n = 60; n >= 1; n--) {
        f = n / 2.0 / (t + f);
      }
      sum = 1 - Math.exp(-t * t) / Math.sqrt(Math.PI) / (t + f);
    }
    return Math.copySign(sum, x);
  }
}

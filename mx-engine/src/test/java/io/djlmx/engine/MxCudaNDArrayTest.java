package io.djlmx.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.Device;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.kernel.cuda.CudaBackend;
import io.djlmx.kernel.cuda.CudaMemoryPool;
import io.djlmx.kernel.cuda.CudaOutOfMemoryException;
import io.djlmx.kernel.cuda.DeviceBuffer;
import java.util.Arrays;
import java.util.Random;
import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Every kernel behind {@link MxCudaNDArray} against a host FP64 reference on fresh random data and
 * odd shapes, with every new device array poisoned (NaN) before a kernel writes it and every launch
 * synchronised and checked. Also: views share memory, managers and scopes free device memory, an
 * allocation that does not fit is a clear exception, and ops without a kernel fall back (counted)
 * or, without PyTorch, fail naming the op. Skipped where no CUDA device is present.
 */
@Tag("gpu")
class MxCudaNDArrayTest {

  private MxNDManager manager;
  private long liveBefore;
  private final Random rnd = new Random(20261127);

  @BeforeEach
  void setUp() {
    Assumptions.assumeTrue(
        CudaBackend.isAvailable(), () -> "no CUDA device: " + CudaBackend.unavailableReason());
    CudaBackend.get().setSynchronousChecks(true);
    MxCudaNDArray.poisonNewArrays = true;
    liveBefore = DeviceBuffer.liveBuffers();
    manager = MxNDManager.getSystemManager().newSubManager(Device.gpu());
  }

  @AfterEach
  void tearDown() {
    if (manager != null) {
      manager.close();
      MxCudaNDArray.poisonNewArrays = false;
      assertEquals(liveBefore, DeviceBuffer.liveBuffers(), "device buffers leaked");
    }
  }

  private float[] random(int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) rnd.nextGaussian();
    }
    return a;
  }

  private float[] positive(int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = 0.1f + 3 * rnd.nextFloat();
    }
    return a;
  }

  private NDArray dev(float[] data, long... shape) {
    NDArray a = manager.create(data, new Shape(shape));
    assertInstanceOf(MxCudaNDArray.class, a);
    return a;
  }

  private static void assertClose(double[] expected, NDArray actual, double tol, String what) {
    assertEquals(DataType.FLOAT32, actual.getDataType(), what);
    float[] a = actual.toFloatArray();
    assertEquals(expected.length, a.length, what + ": length");
    for (int i = 0; i < a.length; i++) {
      double e = expected[i];
      if (Double.isNaN(a[i]) || Math.abs(a[i] - e) > tol * (1 + Math.abs(e))) {
        fail(what + ": element " + i + " is " + a[i] + ", expected " + e);
      }
    }
  }

  /** Row-major index of {@code idx} read through a shape broadcast to {@code out}. */
  private static int broadcastIndex(long[] shape, long[] out, long[] idx) {
    int lead = out.length - shape.length;
    long flat = 0;
    for (int d = 0; d < shape.length; d++) {
      long c = shape[d] == 1 ? 0 : idx[lead + d];
      flat = flat * shape[d] + c;
    }
    return (int) flat;
  }

  private static long[] unravel(long i, long[] shape) {
    long[] idx = new long[shape.length];
    for (int d = shape.length - 1; d >= 0; d--) {
      idx[d] = i % shape[d];
      i /= shape[d];
    }
    return idx;
  }

  private static double[] hostBinary(
      float[] a, long[] as, float[] b, long[] bs, long[] out, DoubleBinaryOperator op) {
    int n = (int) Arrays.stream(out).reduce(1, (x, y) -> x * y);
    double[] r = new double[n];
    for (int i = 0; i < n; i++) {
      long[] idx = unravel(i, out);
      r[i] = op.applyAsDouble(a[broadcastIndex(as, out, idx)], b[broadcastIndex(bs, out, idx)]);
    }
    return r;
  }

  @Test
  void binaryOpsBroadcast() {
    long[][][] cases = {
      {{3, 1, 5}, {4, 1}, {3, 4, 5}},
      {{2, 12, 7, 7}, {2, 1, 1, 7}, {2, 12, 7, 7}},
      {{17}, {1}, {17}},
      {{1, 33}, {5, 1}, {5, 33}},
      {{}, {6}, {6}}
    };
    for (long[][] c : cases) {
      int na = (int) new Shape(c[0]).size();
      int nb = (int) new Shape(c[1]).size();
      float[] a = random(na);
      float[] b = positive(nb);
      NDArray da = dev(a, c[0]);
      NDArray db = dev(b, c[1]);
      String s = Arrays.toString(c[0]) + " op " + Arrays.toString(c[1]);
      assertClose(hostBinary(a, c[0], b, c[1], c[2], Double::sum), da.add(db), 1e-6, "add " + s);
      assertClose(
          hostBinary(a, c[0], b, c[1], c[2], (x, y) -> x - y), da.sub(db), 1e-6, "sub " + s);
      assertClose(
          hostBinary(a, c[0], b, c[1], c[2], (x, y) -> x * y), da.mul(db), 1e-6, "mul " + s);
      assertClose(
          hostBinary(a, c[0], b, c[1], c[2], (x, y) -> x / y), da.div(db), 1e-6, "div " + s);
      assertClose(hostBinary(a, c[0], b, c[1], c[2], Math::max), da.maximum(db), 0, "max " + s);
      assertClose(hostBinary(a, c[0], b, c[1], c[2], Math::min), da.minimum(db), 0, "min " + s);
      assertClose(hostBinary(b, c[1], a, c[0], c[2], Math::pow), db.pow(da), 1e-5, "pow " + s);
    }
    // in place: the result is the receiver, with the right operand broadcast
    float[] a = random(2 * 3 * 4);
    float[] b = random(4);
    NDArray da = dev(a, 2, 3, 4);
    NDArray r = da.addi(dev(b, 4));
    assertSame(da, r);
    assertClose(
        hostBinary(a, new long[] {2, 3, 4}, b, new long[] {4}, new long[] {2, 3, 4}, Double::sum),
        da,
        1e-6,
        "addi");
    assertThrows(IllegalArgumentException.class, () -> dev(random(4), 4).addi(dev(a, 2, 3, 4)));
    assertThrows(IllegalArgumentException.class, () -> dev(random(3), 3).add(dev(random(4), 4)));
  }

  private void checkMap(
      String what,
      float[] x,
      java.util.function.Function<NDArray, NDArray> op,
      DoubleUnaryOperator f,
      double tol) {
    NDArray d = dev(x, 3, x.length / 3);
    double[] e = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      e[i] = f.applyAsDouble(x[i]);
    }
    assertClose(e, op.apply(d), tol, what);
  }

  private static double erf(double x) {
    // Abramowitz-Stegun 7.1.26 is too coarse for a 1e-6 check: integrate instead (Simpson).
    int n = 2000;
    double h = x / n;
    double s = 0;
    for (int i = 0; i <= n; i++) {
      double t = i * h;
      double w = (i == 0 || i == n) ? 1 : (i % 2 == 1 ? 4 : 2);
      s += w * Math.exp(-t * t);
    }
    return 2 / Math.sqrt(Math.PI) * s * h / 3;
  }

  @Test
  void unaryScalarAndActivations() {
    float[] x = random(3 * 1001);
    float[] p = positive(3 * 1001);
    checkMap("neg", x, NDArray::neg, v -> -v, 0);
    checkMap("abs", x, NDArray::abs, Math::abs, 0);
    checkMap("exp", x, NDArray::exp, Math::exp, 1e-6);
    checkMap("log", p, NDArray::log, Math::log, 1e-6);
    checkMap("sqrt", p, NDArray::sqrt, Math::sqrt, 1e-6);
    checkMap("square", x, NDArray::square, v -> v * v, 1e-6);
    checkMap("tanh", x, NDArray::tanh, Math::tanh, 1e-6);
    checkMap("sin", x, NDArray::sin, Math::sin, 1e-6);
    checkMap("cos", x, NDArray::cos, Math::cos, 1e-6);
    checkMap("floor", x, NDArray::floor, Math::floor, 0);
    checkMap("ceil", x, NDArray::ceil, Math::ceil, 0);
    checkMap("sign", x, NDArray::sign, Math::signum, 0);
    checkMap("add 2.5", x, a -> a.add(2.5f), v -> v + 2.5, 1e-6);
    checkMap("sub 2.5", x, a -> a.sub(2.5f), v -> v - 2.5, 1e-6);
    checkMap("mul -3", x, a -> a.mul(-3f), v -> v * -3, 1e-6);
    checkMap("div 7", x, a -> a.div(7), v -> v / 7, 1e-6);
    checkMap("pow 1.5", p, a -> a.pow(1.5f), v -> Math.pow(v, 1.5), 1e-5);
    checkMap("maximum 0.3", x, a -> a.maximum(0.3f), v -> Math.max(v, 0.3f), 0);
    checkMap("minimum 0.3", x, a -> a.minimum(0.3f), v -> Math.min(v, 0.3f), 0);
    checkMap("relu", x, a -> a.getNDArrayInternal().relu(), v -> Math.max(v, 0), 0);
    checkMap(
        "sigmoid", x, a -> a.getNDArrayInternal().sigmoid(), v -> 1 / (1 + Math.exp(-v)), 1e-6);
    checkMap("tanh (ex)", x, a -> a.getNDArrayInternal().tanh(), Math::tanh, 1e-6);
    checkMap(
        "gelu",
        x,
        a -> a.getNDArrayInternal().gelu(),
        v -> 0.5 * v * (1 + erf(v / Math.sqrt(2))),
        2e-6);
    NDArray d = dev(x, 3, 1001);
    assertSame(d, d.muli(2f).addi(1f).negi());
    double[] e = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      e[i] = -(x[i] * 2.0 + 1);
    }
    assertClose(e, d, 1e-6, "in-place chain");
  }

  private static double[] hostSoftmax(float[] x, int rows, int cols, boolean log) {
    double[] r = new double[x.length];
    for (int i = 0; i < rows; i++) {
      double m = Double.NEGATIVE_INFINITY;
      for (int j = 0; j < cols; j++) {
        m = Math.max(m, x[i * cols + j]);
      }
      double s = 0;
      for (int j = 0; j < cols; j++) {
        s += Math.exp(x[i * cols + j] - m);
      }
      for (int j = 0; j < cols; j++) {
        double v = x[i * cols + j] - m;
        r[i * cols + j] = log ? v - Math.log(s) : Math.exp(v) / s;
      }
    }
    return r;
  }

  @Test
  void softmaxAndLayerNorm() {
    for (int cols : new int[] {1, 7, 33, 384, 1537}) {
      int rows = 5;
      float[] x = random(rows * cols);
      for (int i = 0; i < x.length; i++) {
        x[i] *= 4;
      }
      NDArray d = dev(x, rows, cols);
      assertClose(hostSoftmax(x, rows, cols, false), d.softmax(-1), 1e-6, "softmax " + cols);
      assertClose(hostSoftmax(x, rows, cols, true), d.logSoftmax(1), 1e-5, "logSoftmax " + cols);
      // layer norm with gamma and beta, eps as BERT's
      float[] g = random(cols);
      float[] b = random(cols);
      double[] e = new double[x.length];
      for (int i = 0; i < rows; i++) {
        double mean = 0;
        for (int j = 0; j < cols; j++) {
          mean += x[i * cols + j];
        }
        mean /= cols;
        double var = 0;
        for (int j = 0; j < cols; j++) {
          var += (x[i * cols + j] - mean) * (x[i * cols + j] - mean);
        }
        var /= cols;
        for (int j = 0; j < cols; j++) {
          e[i * cols + j] = (x[i * cols + j] - mean) / Math.sqrt(var + 1e-12) * g[j] + b[j];
        }
      }
      NDList ln =
          d.getNDArrayInternal().layerNorm(d, new Shape(cols), dev(g, cols), dev(b, cols), 1e-12f);
      if (cols > 1) {
        assertClose(e, ln.singletonOrThrow(), 2e-5, "layerNorm " + cols);
      }
    }
    // softmax along a middle axis: permuted through the last one
    float[] x = random(2 * 5 * 3);
    NDArray d = dev(x, 2, 5, 3);
    double[] e = new double[x.length];
    for (int a = 0; a < 2; a++) {
      for (int c = 0; c < 3; c++) {
        double s = 0;
        for (int b = 0; b < 5; b++) {
          s += Math.exp(x[(a * 5 + b) * 3 + c]);
        }
        for (int b = 0; b < 5; b++) {
          e[(a * 5 + b) * 3 + c] = Math.exp(x[(a * 5 + b) * 3 + c]) / s;
        }
      }
    }
    assertClose(e, d.softmax(1), 1e-6, "softmax axis 1");
  }

  @Test
  void embeddingGather() {
    int vocab = 1001;
    int cols = 37;
    float[] table = random(vocab * cols);
    NDArray t = dev(table, vocab, cols);
    long[] ids = {0, 1000, 17, 17, 512, 3};
    for (DataType type : new DataType[] {DataType.INT64, DataType.INT32}) {
      NDArray idx =
          type == DataType.INT64
              ? manager.create(ids, new Shape(2, 3))
              : manager.create(
                  Arrays.stream(ids).mapToInt(v -> (int) v).toArray(), new Shape(2, 3));
      NDArray out =
          idx.getNDArrayInternal().embedding(idx, t, SparseFormat.DENSE).singletonOrThrow();
      assertEquals(new Shape(2, 3, cols), out.getShape());
      double[] e = new double[ids.length * cols];
      for (int i = 0; i < ids.length; i++) {
        for (int j = 0; j < cols; j++) {
          e[i * cols + j] = table[(int) ids[i] * cols + j];
        }
      }
      assertClose(e, out, 0, "embedding " + type);
    }
    NDArray bad = manager.create(new long[] {5, 1001}, new Shape(2));
    IndexOutOfBoundsException ex =
        assertThrows(
            IndexOutOfBoundsException.class,
            () -> bad.getNDArrayInternal().embedding(bad, t, SparseFormat.DENSE));
    assertTrue(ex.getMessage().contains("position 1"), ex.getMessage());
  }

  @Test
  void viewsCopiesAndCasts() {
    float[] x = random(2 * 3 * 4 * 5);
    NDArray d = dev(x, 2, 3, 4, 5);
    // reshape is a view: an in-place op through it is seen by the original
    NDArray v = d.reshape(6, -1);
    assertEquals(new Shape(6, 20), v.getShape());
    v.addi(1f);
    double[] plus = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      plus[i] = x[i] + 1f; // the device adds in FP32
    }
    assertClose(plus, d, 1e-6, "view write-through");
    v.close();
    assertClose(plus, d, 1e-6, "original outlives its view");
    // transpose(0, 2, 1, 3)
    NDArray t = d.transpose(0, 2, 1, 3);
    assertEquals(new Shape(2, 4, 3, 5), t.getShape());
    double[] e = new double[x.length];
    for (int a = 0; a < 2; a++) {
      for (int b = 0; b < 3; b++) {
        for (int c = 0; c < 4; c++) {
          for (int f = 0; f < 5; f++) {
            e[((a * 4 + c) * 3 + b) * 5 + f] = plus[((a * 3 + b) * 4 + c) * 5 + f];
          }
        }
      }
    }
    assertClose(e, t, 0, "transpose");
    assertClose(e, d.swapAxes(1, 2), 0, "swapAxes");
    // slices: fixed index, range, step
    NDArray s = d.get("1, 1:3, ::2");
    assertEquals(new Shape(2, 2, 5), s.getShape());
    double[] se = new double[2 * 2 * 5];
    int k = 0;
    for (int b = 1; b < 3; b++) {
      for (int c = 0; c < 4; c += 2) {
        for (int f = 0; f < 5; f++) {
          se[k++] = plus[((3 + b) * 4 + c) * 5 + f];
        }
      }
    }
    assertClose(se, s, 0, "slice");
    // broadcast, expandDims, squeeze
    float[] row = random(5);
    NDArray br = dev(row, 5).broadcast(new Shape(3, 5));
    double[] be = new double[15];
    for (int i = 0; i < 15; i++) {
      be[i] = row[i % 5];
    }
    assertClose(be, br, 0, "broadcast");
    assertEquals(new Shape(1, 5, 1), dev(row, 5).expandDims(0).expandDims(-1).getShape());
    assertEquals(new Shape(5), dev(row, 1, 5, 1).squeeze().getShape());
    // casts: INT64 -> FLOAT32 (the attention mask), FLOAT32 -> INT32 (truncation), duplicate
    NDArray ids = manager.create(new long[] {1, 0, -7, 123456789L}, new Shape(4));
    assertArrayEquals(
        new float[] {1, 0, -7, 123456789f}, ids.toType(DataType.FLOAT32, false).toFloatArray());
    assertArrayEquals(
        new int[] {1, -2, 0},
        dev(new float[] {1.9f, -2.7f, 0.2f}, 3).toType(DataType.INT32, false).toIntArray());
    NDArray dup = d.duplicate();
    dup.addi(1f);
    assertClose(plus, d, 1e-6, "duplicate is a copy");
  }

  @Test
  void reductions() {
    long[] shape = {3, 5, 7};
    float[] x = random(3 * 5 * 7);
    NDArray d = dev(x, shape);
    for (int axis = 0; axis < 3; axis++) {
      long[] outShape = shape.clone();
      outShape[axis] = 1;
      int n = (int) new Shape(outShape).size();
      double[] sum = new double[n];
      double[] max = new double[n];
      double[] min = new double[n];
      double[] prod = new double[n];
      Arrays.fill(max, Double.NEGATIVE_INFINITY);
      Arrays.fill(min, Double.POSITIVE_INFINITY);
      Arrays.fill(prod, 1);
      for (int i = 0; i < x.length; i++) {
        long[] idx = unravel(i, shape);
        idx[axis] = 0;
        int o = broadcastIndex(outShape, outShape, idx);
        sum[o] += x[i];
        max[o] = Math.max(max[o], x[i]);
        min[o] = Math.min(min[o], x[i]);
        prod[o] *= x[i];
      }
      double[] mean = new double[n];
      for (int i = 0; i < n; i++) {
        mean[i] = sum[i] / shape[axis];
      }
      int[] ax = {axis};
      assertClose(sum, d.sum(ax), 1e-5, "sum " + axis);
      assertClose(mean, d.mean(ax), 1e-5, "mean " + axis);
      assertClose(max, d.max(ax), 0, "max " + axis);
      assertClose(min, d.min(ax), 0, "min " + axis);
      assertClose(prod, d.prod(ax), 1e-5, "prod " + axis);
      assertEquals(new Shape(outShape), d.sum(ax, true).getShape());
    }
    double total = 0;
    for (float v : x) {
      total += v;
    }
    assertClose(new double[] {total}, d.sum(), 1e-5, "sum all");
    assertEquals(new Shape(5), d.sum(new int[] {0, 2}).getShape());
    assertClose(
        new double[] {total / x.length}, d.mean(new int[] {0, 1, 2}), 1e-5, "mean over every axis");
  }

  private static double[] hostMatMul(
      float[] a, float[] b, int batch, int m, int k, int n, boolean bcastA, boolean bcastB) {
    double[] c = new double[batch * m * n];
    for (int z = 0; z < batch; z++) {
      int oa = bcastA ? 0 : z * m * k;
      int ob = bcastB ? 0 : z * k * n;
      for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
          double s = 0;
          for (int q = 0; q < k; q++) {
            s += (double) a[oa + i * k + q] * b[ob + q * n + j];
          }
          c[(z * m + i) * n + j] = s;
        }
      }
    }
    return c;
  }

  @Test
  void matMulShapes() {
    int[][] mkn = {{1, 1, 1}, {17, 33, 65}, {3, 100, 7}, {64, 64, 64}, {130, 31, 129}};
    for (int[] s : mkn) {
      float[] a = random(s[0] * s[1]);
      float[] b = random(s[1] * s[2]);
      assertClose(
          hostMatMul(a, b, 1, s[0], s[1], s[2], false, false),
          dev(a, s[0], s[1]).matMul(dev(b, s[1], s[2])),
          1e-5,
          "matMul " + Arrays.toString(s));
    }
    // batched [2, 3, 17, 32]·[2, 3, 32, 17] (attention scores) and a broadcast right operand
    float[] a = random(6 * 17 * 32);
    float[] b = random(6 * 32 * 17);
    NDArray c = dev(a, 2, 3, 17, 32).matMul(dev(b, 2, 3, 32, 17));
    assertEquals(new Shape(2, 3, 17, 17), c.getShape());
    assertClose(hostMatMul(a, b, 6, 17, 32, 17, false, false), c, 1e-5, "batched");
    float[] w = random(32 * 9);
    assertClose(
        hostMatMul(a, w, 6, 17, 32, 9, false, true),
        dev(a, 2, 3, 17, 32).matMul(dev(w, 32, 9)),
        1e-5,
        "broadcast right");
    // [2, 1, m, k]·[3, k, n] broadcasts the batch to [2, 3]
    float[] l = random(2 * 4 * 5);
    float[] r = random(3 * 5 * 6);
    NDArray bc = dev(l, 2, 1, 4, 5).matMul(dev(r, 3, 5, 6));
    assertEquals(new Shape(2, 3, 4, 6), bc.getShape());
    double[] be = new double[2 * 3 * 4 * 6];
    for (int i = 0; i < 2; i++) {
      for (int j = 0; j < 3; j++) {
        double[] part =
            hostMatMul(
                Arrays.copyOfRange(l, i * 20, i * 20 + 20),
                Arrays.copyOfRange(r, j * 30, j * 30 + 30),
                1,
                4,
                5,
                6,
                false,
                false);
        System.arraycopy(part, 0, be, (i * 3 + j) * 24, 24);
      }
    }
    assertClose(be, bc, 1e-5, "batch broadcast");
    // vector · matrix
    float[] vec = random(5);
    NDArray vm = dev(vec, 5).matMul(dev(Arrays.copyOf(r, 30), 5, 6));
    assertEquals(new Shape(6), vm.getShape());
    assertClose(hostMatMul(vec, r, 1, 1, 5, 6, false, false), vm, 1e-5, "vector·matrix");
    assertThrows(IllegalArgumentException.class, () -> dev(a, 17, 192).matMul(dev(w, 32, 9)));
  }

  @Test
  void linearOnPackedMxWeights() {
    MxConfig config = MxConfig.resolve(java.util.Map.of(MxConfig.WEIGHTS, "MXFP6_E2M3"));
    manager.setConfig(config);
    int[][] mnk = {{1, 384, 384}, {3, 257, 100}, {17, 65, 33}, {40, 96, 1537}};
    for (int[] s : mnk) {
      int m = s[0];
      int n = s[1];
      int k = s[2];
      float[] x = random(m * k);
      float[] w = random(n * k);
      float[] b = random(n);
      NDArray dw = dev(w, n, k);
      dw.setName("w" + n);
      long packs = MxLinear.getPackCount();
      NDArray dx = dev(x, m, k);
      NDArray y1 = dx.getNDArrayInternal().linear(dx, dw, dev(b, n)).singletonOrThrow();
      NDArray y2 = dx.getNDArrayInternal().linear(dx, dw, dev(b, n)).singletonOrThrow();
      assertEquals(packs + 1, MxLinear.getPackCount(), "weight packed once");
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
          e[i * n + j] = acc;
        }
      }
      assertClose(e, y1, 2e-4, "linear " + Arrays.toString(s));
      assertArrayEquals(y1.toFloatArray(), y2.toFloatArray());
      // an in-place change of the weight repacks it
      dw.muli(0.5f);
      dx.getNDArrayInternal().linear(dx, dw, null);
      assertEquals(packs + 2, MxLinear.getPackCount(), "changed weight repacked");
    }
  }

  @Test
  void memoryIsFreedWithManagersAndScopes() {
    CudaBackend be = CudaBackend.get();
    // Freed blocks stay in the stream-ordered pool until released: start from an empty pool.
    CudaMemoryPool.release();
    long freeBefore = be.memoryInfo()[0];
    long live = DeviceBuffer.liveBuffers();
    MxNDManager sub = manager.newSubManager(manager.getDevice());
    NDArray big = sub.create(new Shape(64, 1024, 1024), DataType.FLOAT32); // 256 MiB
    big.reshape(-1).addi(1f);
    assertTrue(
        be.memoryInfo()[0] <= freeBefore - (256L << 20), "allocation visible in free memory");
    sub.close();
    assertTrue(big.isReleased());
    assertEquals(live, DeviceBuffer.liveBuffers(), "manager close frees its arrays");
    assertTrue(CudaMemoryPool.usedBytes() < (256L << 20), "the pool no longer counts it as used");
    CudaMemoryPool.release();
    assertTrue(
        be.memoryInfo()[0] >= freeBefore - (8L << 20),
        "free memory back after close: " + be.memoryInfo()[0] + " vs " + freeBefore);
    NDArray kept;
    try (NDScope scope = new NDScope()) {
      NDArray a = manager.create(random(1000), new Shape(1000));
      NDArray b = a.mul(2f);
      kept = a.add(b);
      NDScope.unregister(kept);
    }
    assertEquals(live + 1, DeviceBuffer.liveBuffers(), "scope freed its temporaries, kept one");
    kept.close();
    CudaOutOfMemoryException oom =
        assertThrows(
            CudaOutOfMemoryException.class,
            () -> manager.create(new Shape(1L << 40), DataType.FLOAT32));
    assertTrue(oom.getMessage().contains(String.valueOf(4L << 40)), oom.getMessage());
    assertEquals(live, DeviceBuffer.liveBuffers());
  }

  @Test
  void opsWithoutKernelFallBackOrFailClearly() {
    MxFallbacks.reset();
    NDArray a = dev(random(10), 10);
    if (HostEngine.isAvailable()) {
      NDArray sorted = a.sort();
      assertInstanceOf(MxCudaNDArray.class, sorted);
      float[] s = a.toFloatArray();
      Arrays.sort(s);
      assertArrayEquals(s, sorted.toFloatArray());
      assertEquals(1, MxFallbacks.count("sort"));
    } else {
      EngineException e = assertThrows(EngineException.class, a::sort);
      assertTrue(e.getMessage().contains("'sort'"), e.getMessage());
      assertTrue(e.getMessage().contains("host engine"), e.getMessage());
      assertEquals(1, MxFallbacks.count("sort"));
      assertFalse(HostEngine.isAvailable());
      assertThrows(EngineException.class, () -> a.toDevice(Device.cpu(), false));
    }
    assertEquals(1, MxFallbacks.total());
  }
}

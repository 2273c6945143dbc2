package io.djlmx.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.norm.LayerNorm;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link MxFusedOps} against PyTorch's own ops on random inputs. */
class MxFusedOpsTest {

  private static float[] random(Random r, long n, float scale, float offset) {
    float[] a = new float[(int) n];
    for (int i = 0; i < a.length; i++) {
      a[i] = (float) (offset + scale * r.nextGaussian());
    }
    return a;
  }

  /** PyTorch's layerNorm(x + residual) on PyTorch arrays (the reference). */
  private static float[] reference(
      float[] x, float[] res, float[] g, float[] b, Shape shape, float eps) {
    try (NDManager pt = Engine.getEngine("PyTorch").newBaseManager()) {
      long w = shape.get(shape.dimension() - 1);
      NDArray sum = pt.create(x, shape).add(pt.create(res, shape));
      return LayerNorm.layerNorm(
              sum, new Shape(w), pt.create(g, new Shape(w)), pt.create(b, new Shape(w)), eps)
          .singletonOrThrow()
          .toFloatArray();
    }
  }

  private static void assertClose(float[] expected, float[] actual, String what) {
    assertEquals(expected.length, actual.length, what);
    for (int i = 0; i < expected.length; i++) {
      // normalized values are O(1) times gamma: a few float roundings of the mean and variance
      float tol = 4e-6f * (1f + Math.abs(expected[i]));
      assertEquals(expected[i], actual[i], tol, what + " index " + i);
    }
  }

  @Test
  void addLayerNormMatchesPyTorchOnFreshArraysInPlace() {
    Random r = new Random(7);
    // widths below, at and off the vector length; rows from 1; an offset mean (variance cancels);
    // the last two are large enough to split their rows over threads
    long[][] shapes = {
      {1, 15, 384}, {3, 7, 50}, {2, 33}, {5}, {4, 1, 1}, {2, 3, 17}, {2, 400, 384}, {3, 700, 33}
    };
    try (NDManager m = Engine.getEngine("MX").newBaseManager()) {
      for (long[] dims : shapes) {
        Shape shape = new Shape(dims);
        long w = dims[dims.length - 1];
        float[] x = random(r, shape.size(), 2f, 3f);
        float[] res = random(r, shape.size(), 1f, -1f);
        float[] g = random(r, w, 0.5f, 1f);
        float[] b = random(r, w, 0.3f, 0f);
        float eps = 1e-12f;
        // an array with its own storage, as the MX linear returns: written in place
        NDArray xa = m.create(shape, DataType.FLOAT32);
        xa.set(x);
        long version = ((MxNDArray) xa).getVersion();
        NDArray out =
            MxFusedOps.addLayerNorm(
                xa,
                m.create(res, shape),
                m.create(g, new Shape(w)),
                m.create(b, new Shape(w)),
                eps);
        assertSame(xa, out, shape.toString());
        assertTrue(((MxNDArray) xa).getVersion() > version, "in-place write counted");
        assertInstanceOf(MxNDArray.class, out);
        assertEquals(shape, out.getShape());
        assertClose(reference(x, res, g, b, shape, eps), out.toFloatArray(), shape.toString());
      }
    }
  }

  @Test
  void addLayerNormOnViewsLeavesInputsAndMatches() {
    Random r = new Random(8);
    Shape shape = new Shape(6, 40);
    float[] x = random(r, shape.size(), 1f, 0.5f);
    float[] res = random(r, shape.size(), 1f, 0f);
    float[] g = random(r, 40, 0.5f, 1f);
    float[] b = random(r, 40, 0.3f, 0f);
    float[] expected = reference(x, res, g, b, shape, 1e-5f);
    try (NDManager m = Engine.getEngine("MX").newBaseManager()) {
      NDArray gamma = m.create(g, new Shape(40));
      NDArray beta = m.create(b, new Shape(40));
      // a non-contiguous view (transpose of a transpose's storage): not written, result fresh
      NDArray base = m.create(x, new Shape(40, 6));
      base.set(m.create(x, shape).transpose().toFloatArray());
      NDArray view = base.transpose();
      NDArray out = MxFusedOps.addLayerNorm(view, m.create(res, shape), gamma, beta, 1e-5f);
      assertNotSame(view, out);
      assertClose(expected, out.toFloatArray(), "transposed view");
      assertClose(x, view.toFloatArray(), "view untouched");
      // residual is the input itself: 2x normalized
      NDArray twice = m.create(shape, DataType.FLOAT32);
      twice.set(x);
      NDArray o2 = MxFusedOps.addLayerNorm(twice, twice, gamma, beta, 1e-5f);
      assertClose(reference(x, x, g, b, shape, 1e-5f), o2.toFloatArray(), "x + x");
      // a constant row has zero variance: the output is beta
      NDArray flat = m.create(shape, DataType.FLOAT32);
      flat.set(new float[(int) shape.size()]);
      float[] o3 = MxFusedOps.addLayerNorm(flat, m.zeros(shape), gamma, beta, 1e-5f).toFloatArray();
      for (int i = 0; i < o3.length; i++) {
        assertEquals(b[i % 40], o3[i], 1e-6f, "constant row index " + i);
      }
    }
  }

  @Test
  void addLayerNormOnOtherEnginesAndBadShapes() {
    Random r = new Random(9);
    Shape shape = new Shape(3, 24);
    float[] x = random(r, shape.size(), 1f, 0f);
    float[] res = random(r, shape.size(), 1f, 0f);
    float[] g = random(r, 24, 0.5f, 1f);
    float[] b = random(r, 24, 0.3f, 0f);
    try (NDManager pt = Engine.getEngine("PyTorch").newBaseManager()) {
      // PyTorch arrays take DJL's own ops
      NDArray out =
          MxFusedOps.addLayerNorm(
              pt.create(x, shape),
              pt.create(res, shape),
              pt.create(g, new Shape(24)),
              pt.create(b, new Shape(24)),
              1e-6f);
      assertClose(reference(x, res, g, b, shape, 1e-6f), out.toFloatArray(), "PyTorch arrays");
    }
    try (NDManager m = Engine.getEngine("MX").newBaseManager()) {
      NDArray xa = m.create(x, shape);
      NDArray gamma = m.create(g, new Shape(24));
      NDArray beta = m.create(b, new Shape(24));
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> MxFusedOps.addLayerNorm(xa, m.ones(new Shape(3, 23)), gamma, beta, 1e-6f));
      assertTrue(e.getMessage().contains("(3, 23)"), e.getMessage());
      assertThrows(
          IllegalArgumentException.class,
          () -> MxFusedOps.addLayerNorm(xa, xa, m.ones(new Shape(23)), beta, 1e-6f));
      // FP64 input: DJL's ops (PyTorch), same values
      NDArray x64 = m.create(x, shape).toType(DataType.FLOAT64, false);
      NDArray o64 =
          MxFusedOps.addLayerNorm(
              x64,
              m.create(res, shape).toType(DataType.FLOAT64, false),
              gamma.toType(DataType.FLOAT64, false),
              beta.toType(DataType.FLOAT64, false),
              1e-6f);
      assertEquals(DataType.FLOAT64, o64.getDataType());
      assertClose(
          reference(x, res, g, b, shape, 1e-6f),
          o64.toType(DataType.FLOAT32, false).toFloatArray(),
          "FP64");
    }
  }

  @Test
  void linearGeluOnHostArraysIsLinearThenGelu() {
    Random r = new Random(10);
    int m = 5;
    int k = 37;
    int n = 19;
    float[] x = random(r, (long) m * k, 1f, 0f);
    float[] w = random(r, (long) n * k, 0.3f, 0f);
    float[] b = random(r, n, 0.5f, 0f);
    for (String engine : new String[] {"MX", "PyTorch"}) {
      try (NDManager mm = Engine.getEngine(engine).newBaseManager()) {
        NDArray xa = mm.create(x, new Shape(m, k));
        NDArray wa = mm.create(w, new Shape(n, k));
        NDArray ba = mm.create(b, new Shape(n));
        float[] fused = MxFusedOps.linearGelu(xa, wa, ba).toFloatArray();
        NDArray y = xa.getNDArrayInternal().linear(xa, wa, ba).singletonOrThrow();
        float[] plain = y.getNDArrayInternal().gelu().toFloatArray();
        assertClose(plain, fused, engine + " linear + GELU");
        // and the GELU is PyTorch's exact (erf) one: gelu(0) = 0, gelu(large) = large
        float[] lin = y.toFloatArray();
        for (int i = 0; i < lin.length; i++) {
          double v = lin[i];
          double e = 0.5 * v * (1 + erfApprox(v / Math.sqrt(2)));
          assertEquals(e, fused[i], 1e-4 * (1 + Math.abs(e)), engine + " index " + i);
        }
      }
    }
  }

  @Test
  void attentionHasNoFusedKernelForHostArrays() {
    try (NDManager m = Engine.getEngine("MX").newBaseManager()) {
      NDArray q = m.create(random(new Random(11), 2 * 3 * 8, 1f, 0f), new Shape(2, 3, 8));
      // the caller then computes it with the ordinary ops
      assertEquals(null, MxFusedOps.attention(q, q, q, null, 2));
      assertThrows(IllegalArgumentException.class, () -> MxFusedOps.attention(q, q, q, null, 3));
      NDArray other = m.create(new Shape(2, 4, 8), DataType.FLOAT32);
      assertThrows(
          IllegalArgumentException.class, () -> MxFusedOps.attention(q, other, q, null, 2));
    }
  }

  /** erf within 1.5e-7 (Abramowitz and Stegun 7.1.26), enough for a 1e-4 check. */
  private static double erfApprox(double x) {
    double t = 1 / (1 + 0.3275911 * Math.abs(x));
    double y =
        1
            - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
                    + 0.254829592)
                * t
                * Math.exp(-x * x);
    return Math.copySign(y, x);
  }
}

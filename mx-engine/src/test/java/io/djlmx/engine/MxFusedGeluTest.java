package io.djlmx.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link MxFusedOps#gelu} and {@link CpuGelu}: against an FP64 reference of {@code x·Φ(x)} on a
 * dense sweep and random inputs (relative error), against PyTorch's exact GELU on random inputs of
 * every scale, special values, in place on fresh arrays, untouched views, other engines and types.
 */
class MxFusedGeluTest {

  /** Measured maximum is about 3e-7 (see the class comment of CpuGelu); asserted with margin. */
  private static final double MAX_RELATIVE_ERROR = 6e-7;

  /** {@code Φ(x)} in FP64: the erf series near 0, Laplace's continued fraction in the tails. */
  static double phi(double x) {
    double a = Math.abs(x);
    if (a < 3) {
      double z = x / Math.sqrt(2);
      double z2 = z * z;
      double term = z;
      double sum = z;
      for (int n = 1; n < 200 && Math.abs(term) > 1e-18 * Math.abs(sum); n++) {
        term *= -z2 / n;
        sum += term / (2 * n + 1);
      }
      return 0.5 * (1 + 2 / Math.sqrt(Math.PI) * sum);
    }
    // Mills ratio R(a) = 1/(a + 1/(a + 2/(a + 3/(a + ...)))), evaluated from the back
    double r = a;
    for (int n = 400; n >= 1; n--) {
      r = a + n / r;
    }
    double tail = Math.exp(-0.5 * a * a) / Math.sqrt(2 * Math.PI) / r;
    return x < 0 ? tail : 1 - tail;
  }

  /** Runs the vector path (whole vectors and a scalar tail) over {@code xs}. */
  private static float[] cpuGelu(float[] xs) {
    float[] out = new float[xs.length];
    CpuGelu.gelu(MemorySegment.ofArray(xs), MemorySegment.ofArray(out), xs.length);
    return out;
  }

  private static void assertRelative(float x, float got, String what) {
    double ref = x * phi(x);
    if (x < -13f) {
      // exp(-x²/2) is no longer a normal float: the result (below 1e-36) is good to an absolute
      // error far below the smallest normal float
      assertTrue(Math.abs(got - ref) <= 1e-40, what + " x=" + x + " got " + got + " ref " + ref);
      return;
    }
    if (ref == 0) {
      assertEquals(0f, got, what + " at 0");
      return;
    }
    double err = Math.abs(got - ref) / Math.abs(ref);
    assertTrue(
        err <= MAX_RELATIVE_ERROR,
        what + ": gelu(" + x + ") = " + got + ", FP64 " + ref + ", relative error " + err);
  }

  @Test
  void sweepAndRandomInputsMatchFp64Reference() {
    // every 1/4096 on [-20, 20] (both signs of the tails, 0, the cancellation region)
    int n = 40 * 4096 + 1;
    float[] xs = new float[n];
    for (int i = 0; i < n; i++) {
      xs[i] = -20f + i / 4096f;
    }
    float[] ys = cpuGelu(xs);
    double worst = 0;
    for (int i = 0; i < n; i++) {
      assertRelative(xs[i], ys[i], "sweep");
      double ref = xs[i] * phi(xs[i]);
      if (xs[i] >= -13f && ref != 0) {
        worst = Math.max(worst, Math.abs(ys[i] - ref) / Math.abs(ref));
      }
    }
    assertTrue(worst > 0, "the approximation is not exact: the reference must see an error");
    System.out.printf("CpuGelu: max relative error on the sweep of [-13, 20]: %.3g%n", worst);
    Random r = new Random(11);
    float[] rs = new float[100_003]; // off the vector length: the scalar tail runs too
    for (int i = 0; i < rs.length; i++) {
      rs[i] = (float) (r.nextGaussian() * (i % 3 == 0 ? 1 : i % 3 == 1 ? 4 : 0.01));
    }
    float[] ry = cpuGelu(rs);
    for (int i = 0; i < rs.length; i++) {
      assertRelative(rs[i], ry[i], "random");
    }
    for (float x : new float[] {-3.3f, 0.7f, 12.5f, -13f, 1e-20f}) {
      assertRelative(x, CpuGelu.scalar(x), "scalar");
    }
  }

  @Test
  void matchesPyTorchOnFreshArraysInPlace() {
    Random r = new Random(12);
    // shapes below, at and off the vector length, large enough to split over threads
    long[][] shapes = {{1, 15, 1536}, {3, 17}, {5}, {2, 1, 7}, {64, 1536}, {70001}};
    try (NDManager m = Engine.getEngine("MX").newBaseManager();
        NDManager pt = Engine.getEngine("PyTorch").newBaseManager()) {
      for (long[] dims : shapes) {
        Shape shape = new Shape(dims);
        float[] x = new float[(int) shape.size()];
        for (int i = 0; i < x.length; i++) {
          x[i] = (float) (r.nextGaussian() * (1 << (i % 5)));
        }
        float[] expected = pt.create(x, shape).getNDArrayInternal().gelu().toFloatArray();
        NDArray xa = m.create(shape, DataType.FLOAT32); // own storage, as linear returns
        xa.set(x);
        long version = ((MxNDArray) xa).getVersion();
        NDArray out = MxFusedOps.gelu(xa);
        assertSame(xa, out, shape.toString());
        assertTrue(((MxNDArray) xa).getVersion() > version, "in-place write counted");
        assertClose(x, expected, out.toFloatArray(), shape.toString());
      }
    }
  }

  /**
   * For the inputs that run PyTorch's own GELU: its contiguous and strided loops round differently
   * (by a few tenths of a millionth of |x|), so only the general bound applies.
   */
  private static void assertSameOp(float[] x, float[] expected, float[] actual, String what) {
    assertEquals(expected.length, actual.length, what);
    for (int i = 0; i < expected.length; i++) {
      double diff = Math.abs(expected[i] - actual[i]);
      assertTrue(
          diff <= 5e-7 * Math.abs(x[i]) + 1e-6 * Math.abs(expected[i]) + 1e-37,
          what + " index " + i + " x=" + x[i] + ": " + expected[i] + " vs " + actual[i]);
    }
  }

  /**
   * PyTorch computes {@code 0.5·x·(1 + erf(x/√2))} with a float erf: its absolute error is a few
   * tenths of a millionth of {@code |x|}, which in the negative tail is a large part of its result;
   * ours is relative. So the difference must be what PyTorch's own error (measured against FP64)
   * plus ours allows, and in any case below 5e-7·|x| plus 1e-6 of the value.
   */
  private static void assertClose(float[] x, float[] expected, float[] actual, String what) {
    assertEquals(expected.length, actual.length, what);
    for (int i = 0; i < expected.length; i++) {
      double ref = x[i] * phi(x[i]);
      double torchError = Math.abs(expected[i] - ref);
      double diff = Math.abs(expected[i] - actual[i]);
      String msg =
          what + " index " + i + " x=" + x[i] + ": PyTorch " + expected[i] + ", ours " + actual[i];
      assertTrue(diff <= torchError + MAX_RELATIVE_ERROR * Math.abs(ref) + 1e-37, msg);
      assertTrue(diff <= 5e-7 * Math.abs(x[i]) + 1e-6 * Math.abs(ref) + 1e-37, msg);
    }
  }

  @Test
  void specialValuesAsPyTorch() {
    float[] x = {
      Float.NaN,
      Float.POSITIVE_INFINITY,
      Float.NEGATIVE_INFINITY,
      0f,
      -0f,
      Float.MIN_VALUE,
      -Float.MIN_VALUE,
      Float.MAX_VALUE,
      -Float.MAX_VALUE,
      1e30f,
      -1e30f,
      50f,
      -50f,
      16f,
      -16f,
      -13.5f
    };
    float[] expected;
    try (NDManager pt = Engine.getEngine("PyTorch").newBaseManager()) {
      expected = pt.create(x).getNDArrayInternal().gelu().toFloatArray();
    }
    // a vector's worth and the scalar tail
    float[] padded = new float[x.length * 3];
    for (int i = 0; i < padded.length; i++) {
      padded[i] = x[i % x.length];
    }
    float[] got = cpuGelu(padded);
    for (int i = 0; i < padded.length; i++) {
      float e = expected[i % x.length];
      float g = got[i];
      String what = "gelu(" + padded[i] + "): PyTorch " + e + ", ours " + g;
      if (Math.abs(padded[i]) > Float.MAX_VALUE / 2 && Float.isFinite(padded[i])) {
        // PyTorch's x·(1 + erf) overflows to ±∞ (or gives ±0 for -x); ours stays exact
        assertEquals(padded[i] > 0 ? padded[i] : -0f, g, what);
      } else if (Float.isNaN(e) || Float.isInfinite(e)) {
        assertEquals(e, g, what); // NaN equals NaN in assertEquals(float, float)
      } else {
        assertEquals(e, g, 5e-7 * Math.abs(padded[i]) + 1e-37, what);
      }
    }
    assertEquals(-0f, CpuGelu.scalar(-0f));
    assertTrue(Float.isNaN(CpuGelu.scalar(Float.NaN)));
  }

  @Test
  void viewsOtherEnginesAndTypesTakeDjlsGelu() {
    Random r = new Random(13);
    Shape shape = new Shape(6, 40);
    float[] x = new float[240];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextGaussian() * 3;
    }
    float[] expected;
    try (NDManager pt = Engine.getEngine("PyTorch").newBaseManager()) {
      expected = pt.create(x, shape).getNDArrayInternal().gelu().toFloatArray();
      // PyTorch arrays: DJL's op
      NDArray o = MxFusedOps.gelu(pt.create(x, shape));
      assertEquals(0, java.util.Arrays.compare(expected, o.toFloatArray()), "PyTorch arrays");
    }
    try (NDManager m = Engine.getEngine("MX").newBaseManager()) {
      // an array made from values (no fresh storage of its own) is not overwritten
      NDArray made = m.create(x, shape);
      NDArray o1 = MxFusedOps.gelu(made);
      assertNotSame(made, o1);
      assertEquals(0, java.util.Arrays.compare(x, made.toFloatArray()), "input untouched");
      assertSameOp(x, expected, o1.toFloatArray(), "made from values");
      // a transposed view: DJL's op, view untouched
      NDArray base = m.create(new Shape(40, 6), DataType.FLOAT32);
      base.set(m.create(x, shape).transpose().toFloatArray());
      NDArray view = base.transpose();
      NDArray o2 = MxFusedOps.gelu(view);
      assertNotSame(view, o2);
      assertSameOp(x, expected, o2.toFloatArray(), "view");
      // FP64: DJL's op
      NDArray d = m.create(x, shape).toType(DataType.FLOAT64, true);
      NDArray o3 = MxFusedOps.gelu(d);
      assertEquals(DataType.FLOAT64, o3.getDataType());
      assertSameOp(x, expected, o3.toType(DataType.FLOAT32, true).toFloatArray(), "FP64");
      // empty arrays
      NDArray empty = m.create(new Shape(0, 4), DataType.FLOAT32);
      assertEquals(new Shape(0, 4), MxFusedOps.gelu(empty).getShape());
    }
  }
}

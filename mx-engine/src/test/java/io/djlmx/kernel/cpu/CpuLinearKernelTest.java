package io.djlmx.kernel.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.format.ScaleMode;
import io.djlmx.kernel.PreparedWeight;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The CPU MX linear kernel against an FP64 reference computed from the weight's own dequantization
 * (and the activations' MxTensor quantization in W+A mode), on fresh random data.
 */
class CpuLinearKernelTest {

  private static final long SEED = System.nanoTime();
  private static final int[] KS = {1, 31, 33, 100, 1000};
  private static final int[] MS = {1, 3, 17, 64};
  private static final int[] NS = {1, 33, 67, 45};

  private static CpuLinearKernel kernel;
  private static CpuLinearKernel exact;

  @BeforeAll
  static void setUp() {
    System.out.println("CpuLinearKernelTest seed = " + SEED);
    kernel = CpuLinearKernel.builder().optThreads(2).build();
    exact = CpuLinearKernel.builder().optThreads(1).optExactOnly(true).build();
  }

  @AfterAll
  static void tearDown() {
    kernel.close();
    exact.close();
  }

  /** Fills a weight with random codes of every kind the format has (NaN/Inf codes excepted). */
  static MxTensor randomCodes(Random rnd, MxFormat f, int n, int k, int scaleLo, int scaleHi) {
    MxTensor t =
        MxTensor.allocate(new long[] {n, k}, f, ScaleMode.FLOOR, MxFormat.DEFAULT_BLOCK_SIZE);
    float[] table = f.decodeTable();
    long cbpr = t.codeBytesPerRow();
    MemorySegment codes = t.codes();
    for (int r = 0; r < n; r++) {
      for (int c = 0; c < k; c++) {
        int code;
        do {
          code = rnd.nextInt(f.codeCount());
        } while (!Float.isFinite(table[code]));
        putCode(f, codes, r * cbpr, c, code);
      }
    }
    MemorySegment scales = t.scales();
    for (long i = 0; i < scales.byteSize(); i++) {
      scales.set(ValueLayout.JAVA_BYTE, i, (byte) (scaleLo + rnd.nextInt(scaleHi - scaleLo + 1)));
    }
    return t;
  }

  /**
   * Like {@link #randomCodes}, but FP8 zero/subnormal codes are rare (about one in 300, the way
   * real weights have them), so the kernels list them one by one instead of flagging whole tiles.
   */
  static MxTensor fewSmallCodes(Random rnd, MxFormat f, int n, int k) {
    MxTensor t = randomCodes(rnd, f, n, k, 112, 136);
    if (f == MxFormat.MXFP8_E4M3 || f == MxFormat.MXFP8_E5M2) {
      int expMask = f == MxFormat.MXFP8_E4M3 ? 0x78 : 0x7C;
      MemorySegment codes = t.codes();
      for (long i = 0; i < codes.byteSize(); i++) {
        int code = codes.get(ValueLayout.JAVA_BYTE, i) & 0xFF;
        if ((code & expMask) == 0 && rnd.nextInt(20) != 0) {
          codes.set(ValueLayout.JAVA_BYTE, i, (byte) (code | 0x40)); // a normal code instead
        }
      }
    }
    return t;
  }

  static void putCode(MxFormat f, MemorySegment codes, long rowOff, int c, int code) {
    if (f.bits() == 8) {
      codes.set(ValueLayout.JAVA_BYTE, rowOff + c, (byte) code);
    } else if (f.bits() == 4) {
      long at = rowOff + c / 2;
      int old = codes.get(ValueLayout.JAVA_BYTE, at);
      int shift = (c & 1) * 4;
      codes.set(ValueLayout.JAVA_BYTE, at, (byte) (old & ~(0xF << shift) | code << shift));
    } else {
      long g = rowOff + (c / 4) * 3L;
      int word = 0;
      for (int i = 0; i < 3; i++) {
        word |= (codes.get(ValueLayout.JAVA_BYTE, g + i) & 0xFF) << (8 * i);
      }
      int bit = 6 * (c & 3);
      word = word & ~(0x3F << bit) | code << bit;
      for (int i = 0; i < 3; i++) {
        codes.set(ValueLayout.JAVA_BYTE, g + i, (byte) (word >>> (8 * i)));
      }
    }
  }

  static float[] gaussian(Random rnd, int count) {
    float[] v = new float[count];
    for (int i = 0; i < count; i++) {
      float g = (float) rnd.nextGaussian();
      v[i] = g == 0f ? 1e-3f : g;
    }
    return v;
  }

  /** Runs one case and checks every output against the FP64 reference. */
  private static void check(
      String what,
      CpuLinearKernel kern,
      MxTensor weight,
      float[] x,
      int m,
      float[] bias,
      MxFormat act,
      ScaleMode mode) {
    int n = (int) weight.rows();
    int k = (int) weight.cols();
    float[] w = weight.dequantize();
    float[] xq = x;
    if (act != null) {
      try (MxTensor xt =
          MxTensor.quantize(
              MemorySegment.ofArray(x),
              new long[] {m, k},
              act,
              mode,
              MxFormat.DEFAULT_BLOCK_SIZE)) {
        xq = xt.dequantize();
      }
    }
    try (Arena arena = Arena.ofConfined();
        PreparedWeight pw = kern.prepare(weight)) {
      MemorySegment xs = arena.allocate(4L * m * k);
      MemorySegment.copy(x, 0, xs, ValueLayout.JAVA_FLOAT, 0, x.length);
      MemorySegment bs = null;
      if (bias != null) {
        bs = arena.allocate(4L * n);
        MemorySegment.copy(bias, 0, bs, ValueLayout.JAVA_FLOAT, 0, n);
      }
      MemorySegment ys = arena.allocate(4L * m * n);
      ys.fill((byte) 0x7F); // garbage the kernel must overwrite
      kern.linear(xs, m, pw, bs, ys, act, mode);
      for (int i = 0; i < m; i++) {
        for (int r = 0; r < n; r++) {
          double ref = bias == null ? 0 : bias[r];
          double mag = bias == null ? 0 : Math.abs(bias[r]);
          for (int c = 0; c < k; c++) {
            double p = (double) w[r * k + c] * xq[i * k + c];
            ref += p;
            mag += Math.abs(p);
          }
          float got = ys.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * n + r);
          double tol = 1e-5 * mag + 1e-30;
          boolean ok =
              Double.isFinite(ref)
                  ? Math.abs(got - ref) <= tol
                  : Double.isNaN(ref) ? Float.isNaN(got) : got == ref;
          if (!ok) {
            throw new AssertionError(
                String.format(
                    "%s: y[%d,%d] = %s, FP64 reference %s (tol %s, seed %d)",
                    what, i, r, got, ref, tol, SEED));
          }
        }
      }
    }
  }

  @Test
  void allFormatsWeightOnlyOddShapes() {
    Random rnd = new Random(SEED);
    int ni = 0;
    for (MxFormat f : MxFormat.values()) {
      for (int k : KS) {
        for (int m : MS) {
          int n = NS[ni++ % NS.length];
          boolean withBias = (ni & 1) == 0;
          try (MxTensor w = randomCodes(rnd, f, n, k, 112, 136)) {
            float[] x = gaussian(rnd, m * k);
            float[] b = withBias ? gaussian(rnd, n) : null;
            check(f + " m=" + m + " k=" + k + " n=" + n, kernel, w, x, m, b, null, null);
          }
        }
      }
    }
  }

  @Test
  void allFormatsWeightAndActivationMixed() {
    Random rnd = new Random(SEED + 1);
    MxFormat[] all = MxFormat.values();
    int ni = 0;
    for (int fi = 0; fi < all.length; fi++) {
      for (int k : KS) {
        for (int m : MS) {
          int n = NS[ni++ % NS.length];
          // Same format and each other format in turn as the activation format.
          MxFormat act = all[(fi + ni) % all.length];
          ScaleMode mode = (ni % 3 == 0) ? ScaleMode.RCEIL : ScaleMode.FLOOR;
          try (MxTensor w = randomCodes(rnd, all[fi], n, k, 112, 136)) {
            float[] x = gaussian(rnd, m * k);
            float[] b = (ni & 1) == 0 ? gaussian(rnd, n) : null;
            String what = all[fi] + " x " + act + "/" + mode + " m=" + m + " k=" + k + " n=" + n;
            check(what, kernel, w, x, m, b, act, mode);
          }
        }
      }
    }
  }

  @Test
  void quantizedRealisticWeightsLargerShapes() {
    Random rnd = new Random(SEED + 2);
    for (MxFormat f : MxFormat.values()) {
      int n = 97;
      int k = 1100;
      float[] wf = gaussian(rnd, n * k);
      try (MxTensor w = MxTensor.quantize(wf, new long[] {n, k}, f)) {
        check(f + " gemv", kernel, w, gaussian(rnd, k), 1, gaussian(rnd, n), null, null);
        check(f + " gemm", kernel, w, gaussian(rnd, 5 * k), 5, null, null, null);
        check(f + " W+A", kernel, w, gaussian(rnd, 2 * k), 2, null, f, ScaleMode.FLOOR);
      }
    }
  }

  @Test
  void exactPathMatchesReference() {
    Random rnd = new Random(SEED + 3);
    for (MxFormat f : MxFormat.values()) {
      try (MxTensor w = randomCodes(rnd, f, 19, 70, 100, 150)) {
        check(f + " exact", exact, w, gaussian(rnd, 3 * 70), 3, gaussian(rnd, 19), null, null);
        check(
            f + " exact W+A",
            exact,
            w,
            gaussian(rnd, 70),
            1,
            null,
            MxFormat.MXFP8_E4M3,
            ScaleMode.FLOOR);
      }
    }
  }

  @Test
  void extremeScalesFallBackToTheExactPath() {
    Random rnd = new Random(SEED + 4);
    for (MxFormat f : MxFormat.values()) {
      // Scales 0 and 3 cannot be folded into a normal float factor for FP8 and MXINT8; 0 not for
      // any format.
      try (MxTensor w = randomCodes(rnd, f, 40, 64, 120, 130)) {
        w.scales().set(ValueLayout.JAVA_BYTE, 0, (byte) 0);
        w.scales().set(ValueLayout.JAVA_BYTE, 2 * 5 + 1, (byte) 200);
        w.scales().set(ValueLayout.JAVA_BYTE, 2 * 33, (byte) 3);
        for (int m = 1; m <= 2; m++) {
          float[] x = gaussian(rnd, m * 64);
          // Keep products moderate where the weight scale is 2^73.
          for (int i = 0; i < m; i++) {
            for (int c = 32; c < 64; c++) {
              x[i * 64 + c] *= 0x1p-60f;
            }
          }
          check(f + " extreme scales m=" + m, kernel, w, x, m, null, null, null);
        }
      }
    }
  }

  @Test
  void nanBlockGivesNanRowOnly() {
    Random rnd = new Random(SEED + 5);
    for (MxFormat f : MxFormat.values()) {
      int n = 35;
      int k = 64;
      try (MxTensor w = randomCodes(rnd, f, n, k, 120, 130);
          Arena arena = Arena.ofConfined()) {
        w.scales().set(ValueLayout.JAVA_BYTE, 2L * 7 + 1, (byte) 0xFF); // row 7, block 1
        for (int m : new int[] {1, 3}) {
          try (PreparedWeight pw = kernel.prepare(w)) {
            MemorySegment x = arena.allocate(4L * m * k);
            for (int i = 0; i < m * k; i++) {
              x.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextGaussian() + 2f);
            }
            MemorySegment y = arena.allocate(4L * m * n);
            kernel.linear(x, m, pw, null, y, null, null);
            for (int i = 0; i < m; i++) {
              for (int r = 0; r < n; r++) {
                float v = y.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * n + r);
                assertEquals(r == 7, Float.isNaN(v), f + " row " + r + " = " + v);
              }
            }
          }
        }
      }
    }
  }

  @Test
  void nanActivationBlockGivesNan() {
    try (MxTensor w = randomCodes(new Random(SEED + 6), MxFormat.MXFP4_E2M1, 3, 40, 120, 130);
        PreparedWeight pw = kernel.prepare(w);
        Arena arena = Arena.ofConfined()) {
      MemorySegment x = arena.allocate(4L * 40);
      for (int i = 0; i < 40; i++) {
        x.setAtIndex(ValueLayout.JAVA_FLOAT, i, 1f + i);
      }
      x.setAtIndex(ValueLayout.JAVA_FLOAT, 35, Float.POSITIVE_INFINITY);
      MemorySegment y = arena.allocate(4L * 3);
      kernel.linear(x, 1, pw, null, y, MxFormat.MXFP8_E4M3, ScaleMode.FLOOR);
      for (int r = 0; r < 3; r++) {
        assertTrue(Float.isNaN(y.getAtIndex(ValueLayout.JAVA_FLOAT, r)), "row " + r);
      }
    }
  }

  @Test
  void badSizesNameTheParameter() {
    try (MxTensor w = randomCodes(new Random(SEED + 7), MxFormat.MXFP6_E2M3, 5, 40, 120, 130);
        PreparedWeight pw = kernel.prepare(w);
        Arena arena = Arena.ofConfined()) {
      MemorySegment x = arena.allocate(4L * 2 * 40);
      MemorySegment y = arena.allocate(4L * 2 * 5);
      MemorySegment bias = arena.allocate(4L * 5);
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> kernel.linear(x.asSlice(0, 4L * 79), 2, pw, bias, y, null, null));
      assertTrue(e.getMessage().startsWith("x ") && e.getMessage().contains("320"), e.getMessage());
      e =
          assertThrows(
              IllegalArgumentException.class,
              () -> kernel.linear(x, 2, pw, bias, y.asSlice(4), null, null));
      assertTrue(e.getMessage().startsWith("y ") && e.getMessage().contains("40"), e.getMessage());
      e =
          assertThrows(
              IllegalArgumentException.class,
              () -> kernel.linear(x, 2, pw, bias.asSlice(0, 8), y, null, null));
      assertTrue(e.getMessage().startsWith("bias ") && e.getMessage().contains("got 8"));
      e =
          assertThrows(
              IllegalArgumentException.class, () -> kernel.linear(x, 3, pw, null, y, null, null));
      assertTrue(e.getMessage().contains("m*k"), e.getMessage());
      assertThrows(
          IllegalArgumentException.class, () -> kernel.linear(x, -1, pw, null, y, null, null));
      assertThrows(
          IllegalArgumentException.class,
          () -> kernel.linear(x, 2, pw, null, y.asReadOnly(), null, null));
      assertThrows(
          NullPointerException.class, () -> kernel.linear(null, 2, pw, null, y, null, null));
      PreparedWeight foreign =
          new PreparedWeight() {
            @Override
            public MxFormat format() {
              return MxFormat.MXINT8;
            }

            @Override
            public long rows() {
              return 5;
            }

            @Override
            public long cols() {
              return 40;
            }

            @Override
            public long byteSize() {
              return 0;
            }

            @Override
            public void close() {}
          };
      e =
          assertThrows(
              IllegalArgumentException.class,
              () -> kernel.linear(x, 2, foreign, null, y, null, null));
      assertTrue(e.getMessage().contains("CpuLinearKernel"), e.getMessage());
    }
  }

  @Test
  void useAfterCloseFailsClearly() {
    try (MxTensor w = randomCodes(new Random(SEED + 8), MxFormat.MXINT8, 4, 32, 120, 130);
        Arena arena = Arena.ofConfined()) {
      PreparedWeight pw = kernel.prepare(w);
      assertTrue(pw.byteSize() > 0);
      pw.close();
      pw.close(); // twice is allowed
      MemorySegment x = arena.allocate(4L * 32);
      MemorySegment y = arena.allocate(4L * 4);
      IllegalStateException e =
          assertThrows(
              IllegalStateException.class, () -> kernel.linear(x, 1, pw, null, y, null, null));
      assertTrue(e.getMessage().contains("closed"), e.getMessage());
      w.close();
      assertThrows(IllegalStateException.class, () -> kernel.prepare(w));
    }
  }

  @Test
  void preparedWeightWritesBackExactlyTheCanonicalValues() {
    Random rnd = new Random(SEED + 10);
    for (MxFormat f : MxFormat.values()) {
      // Scales from the extremes too: those rows take the exact path's own layout.
      try (MxTensor w = randomCodes(rnd, f, 45, 100, 0, 254);
          PreparedWeight pw = kernel.prepare(w);
          Arena arena = Arena.ofConfined()) {
        assertTrue(pw.canDequantize());
        float[] expected = w.dequantize();
        MemorySegment out = arena.allocate(4L * expected.length);
        pw.dequantizeInto(out);
        for (int i = 0; i < expected.length; i++) {
          assertEquals(
              Float.floatToRawIntBits(expected[i]),
              Float.floatToRawIntBits(out.getAtIndex(ValueLayout.JAVA_FLOAT, i)),
              f + " element " + i);
        }
        IllegalArgumentException e =
            assertThrows(
                IllegalArgumentException.class,
                () -> pw.dequantizeInto(arena.allocate(4L * expected.length - 4)));
        assertTrue(e.getMessage().contains("[45, 100]"), e.getMessage());
        pw.close();
        assertThrows(IllegalStateException.class, () -> pw.dequantizeInto(out));
      }
    }
  }

  @Test
  void emptyBatchIsANoOp() {
    try (MxTensor w = randomCodes(new Random(SEED + 9), MxFormat.MXFP4_E2M1, 4, 32, 120, 130);
        PreparedWeight pw = kernel.prepare(w)) {
      kernel.linear(MemorySegment.NULL, 0, pw, null, MemorySegment.NULL, null, null);
      assertFalse(pw.byteSize() == 0);
    }
  }

  @Test
  void resultsDoNotDependOnSegmentKindOrThreadCount() {
    Random rnd = new Random(SEED + 10);
    int n = 70;
    int k = 300;
    for (int m : new int[] {1, 9}) {
      try (MxTensor w =
              MxTensor.quantize(gaussian(rnd, n * k), new long[] {n, k}, MxFormat.MXFP6_E2M3);
          CpuLinearKernel single = CpuLinearKernel.builder().optThreads(1).build();
          PreparedWeight pw = kernel.prepare(w);
          Arena shared = Arena.ofShared();
          Arena confined = Arena.ofConfined()) {
        float[] x = gaussian(rnd, m * k);
        float[] bias = gaussian(rnd, n);
        float[][] outs = new float[4][];
        for (int variant = 0; variant < 4; variant++) {
          // 0: shared native, 1: confined native (staged), 2: heap, 3: shared with one thread
          Arena a = variant == 1 ? confined : shared;
          MemorySegment xs;
          MemorySegment bs;
          MemorySegment ys;
          if (variant == 2) {
            xs = MemorySegment.ofArray(x.clone());
            bs = MemorySegment.ofArray(bias.clone());
            ys = MemorySegment.ofArray(new float[m * n]);
          } else {
            xs = a.allocate(4L * m * k);
            MemorySegment.copy(x, 0, xs, ValueLayout.JAVA_FLOAT, 0, x.length);
            bs = a.allocate(4L * n);
            MemorySegment.copy(bias, 0, bs, ValueLayout.JAVA_FLOAT, 0, n);
            ys = a.allocate(4L * m * n);
          }
          CpuLinearKernel kern = variant == 3 ? single : kernel;
          kern.linear(xs, m, pw, bs, ys, MxFormat.MXFP8_E5M2, ScaleMode.RCEIL);
          outs[variant] = ys.toArray(ValueLayout.JAVA_FLOAT);
        }
        for (int variant = 1; variant < 4; variant++) {
          for (int i = 0; i < m * n; i++) {
            assertEquals(
                Float.floatToRawIntBits(outs[0][i]),
                Float.floatToRawIntBits(outs[variant][i]),
                "variant " + variant + " m=" + m + " element " + i + " (seed " + SEED + ")");
          }
        }
      }
    }
  }

  /**
   * Batch 1 with enough rows for the grouped 8-bit kernel (four 32-row units per pass, FP8
   * zero/subnormal tiles corrected afterwards) and a remainder of single units; all formats, so the
   * other kernels see these shapes too.
   */
  @Test
  void batchOneManyRowsAllFormats() {
    Random rnd = new Random(SEED + 11);
    int[][] kn = {{33, 517}, {100, 643}, {7, 515}, {1000, 2048}};
    for (MxFormat f : MxFormat.values()) {
      for (int[] shape : kn) {
        int k = shape[0];
        int n = shape[1];
        try (MxTensor w = fewSmallCodes(rnd, f, n, k)) {
          float[] b = (n & 1) == 1 ? gaussian(rnd, n) : null;
          check(f + " gemv k=" + k + " n=" + n, kernel, w, gaussian(rnd, k), 1, b, null, null);
          check(
              f + " gemv W+A k=" + k + " n=" + n,
              kernel,
              w,
              gaussian(rnd, k),
              1,
              null,
              MxFormat.MXFP8_E4M3,
              ScaleMode.FLOOR);
        }
      }
      int n = 800;
      int k = 290;
      try (MxTensor w = MxTensor.quantize(gaussian(rnd, n * k), new long[] {n, k}, f)) {
        check(f + " gemv realistic", kernel, w, gaussian(rnd, k), 1, gaussian(rnd, n), null, null);
      }
    }
  }

  /**
   * Small and medium batches: every remainder of the eight-row tile (the four-, two- and one-row
   * tails), M = 15, 17, 33 and 1000, K not a multiple of 32, weight-only and W+A, all six formats;
   * FP8 weights with rare zero/subnormal codes, so tiles mix the bit-built and the exact decode.
   */
  @Test
  void smallAndMediumBatchesAllFormats() {
    Random rnd = new Random(SEED + 13);
    int[] ms = {2, 3, 5, 6, 7, 9, 13, 15, 17, 33};
    int[][] kn = {{33, 45}, {200, 70}, {391, 33}};
    int ci = 0;
    for (MxFormat f : MxFormat.values()) {
      for (int[] shape : kn) {
        int k = shape[0];
        int n = shape[1];
        try (MxTensor w = fewSmallCodes(rnd, f, n, k)) {
          for (int m : ms) {
            ci++;
            float[] b = (ci & 1) == 0 ? gaussian(rnd, n) : null;
            String what = f + " m=" + m + " k=" + k + " n=" + n;
            if (ci % 3 == 0) {
              MxFormat act = MxFormat.values()[ci % MxFormat.values().length];
              ScaleMode mode = (ci & 2) == 0 ? ScaleMode.FLOOR : ScaleMode.RCEIL;
              check(what + " W+A " + act, kernel, w, gaussian(rnd, m * k), m, b, act, mode);
            } else {
              check(what, kernel, w, gaussian(rnd, m * k), m, b, null, null);
            }
          }
        }
      }
      try (MxTensor w = fewSmallCodes(rnd, f, 70, 100)) {
        check(f + " m=1000", kernel, w, gaussian(rnd, 1000 * 100), 1000, null, null, null);
      }
    }
  }

  /**
   * The batched paths for many rows: row counts that end a block of eight in every tail (8, 4, 2
   * and 1 rows), k off the block size, bias or none, W+A; and the same bits on one thread and on
   * three. With the small k the inputs fit in cache (the unit-major path); with k = 700, 130 and
   * 199 rows do not (the large-batch path: whole weight decoded, blocks of 64 rows, a partial last
   * block).
   */
  @Test
  void largeBatchesAllFormatsAndThreadCounts() {
    Random rnd = new Random(SEED + 14);
    int[] ms = {64, 71, 77, 130, 199};
    int ci = 0;
    try (CpuLinearKernel single = CpuLinearKernel.builder().optThreads(1).build();
        CpuLinearKernel three = CpuLinearKernel.builder().optThreads(3).build();
        Arena arena = Arena.ofShared()) {
      for (MxFormat f : MxFormat.values()) {
        boolean wide = ci % 10 >= 5;
        int k = wide ? 700 : 72 + 33 * (ci % 3);
        int n = 50 + 7 * (ci % 5);
        try (MxTensor w = fewSmallCodes(rnd, f, n, k)) {
          for (int m : ms) {
            ci++;
            float[] b = (ci & 1) == 0 ? gaussian(rnd, n) : null;
            float[] x = gaussian(rnd, m * k);
            String what = f + " large m=" + m + " k=" + k + " n=" + n;
            MxFormat act = ci % 4 == 0 ? MxFormat.MXFP8_E4M3 : null;
            check(what, kernel, w, x, m, b, act, act == null ? null : ScaleMode.FLOOR);
            try (PreparedWeight pw = kernel.prepare(w)) {
              MemorySegment xs = arena.allocate(4L * m * k);
              MemorySegment.copy(x, 0, xs, ValueLayout.JAVA_FLOAT, 0, m * k);
              MemorySegment bs = null;
              if (b != null) {
                bs = arena.allocate(4L * n);
                MemorySegment.copy(b, 0, bs, ValueLayout.JAVA_FLOAT, 0, n);
              }
              MemorySegment y1 = arena.allocate(4L * m * n);
              MemorySegment y3 = arena.allocate(4L * m * n);
              single.linear(xs, m, pw, bs, y1, act, ScaleMode.FLOOR);
              three.linear(xs, m, pw, bs, y3, act, ScaleMode.FLOOR);
              assertArrayEquals(
                  y1.toArray(ValueLayout.JAVA_FLOAT),
                  y3.toArray(ValueLayout.JAVA_FLOAT),
                  what + ": 1 vs 3 threads (seed " + SEED + ")");
            }
          }
        }
      }
    }
  }

  /** The grouped 8-bit batch-1 kernel gives the same bits whatever the thread count. */
  @Test
  void groupedBatchOneDoesNotDependOnThreadCount() {
    Random rnd = new Random(SEED + 12);
    int n = 1000;
    int k = 200;
    for (MxFormat f : new MxFormat[] {MxFormat.MXFP8_E4M3, MxFormat.MXFP8_E5M2, MxFormat.MXINT8}) {
      try (MxTensor w = fewSmallCodes(rnd, f, n, k);
          CpuLinearKernel single = CpuLinearKernel.builder().optThreads(1).build();
          CpuLinearKernel three = CpuLinearKernel.builder().optThreads(3).build();
          PreparedWeight pw = kernel.prepare(w);
          Arena arena = Arena.ofShared()) {
        assertTrue(ByteGemvKernel.handles((CpuPreparedWeight) pw), f + " takes the grouped kernel");
        MemorySegment xs = arena.allocate(4L * k);
        MemorySegment.copy(gaussian(rnd, k), 0, xs, ValueLayout.JAVA_FLOAT, 0, k);
        float[][] outs = new float[3][];
        CpuLinearKernel[] kernels = {kernel, single, three};
        for (int i = 0; i < 3; i++) {
          MemorySegment ys = arena.allocate(4L * n);
          kernels[i].linear(xs, 1, pw, null, ys, null, null);
          outs[i] = ys.toArray(ValueLayout.JAVA_FLOAT);
        }
        for (int i = 1; i < 3; i++) {
          for (int r = 0; r < n; r++) {
            assertEquals(
                Float.floatToRawIntBits(outs[0][r]),
                Float.floatToRawIntBits(outs[i][r]),
                f + " kernel " + i + " row " + r + " (seed " + SEED + ")");
          }
        }
      }
    }
  }
}

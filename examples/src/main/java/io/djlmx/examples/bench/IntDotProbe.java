package io.djlmx.examples.bench;

import java.util.Arrays;
import java.util.Locale;
import java.util.Random;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Asks whether pure Java on this JDK can multiply-add faster in integers than in FP32: one thread,
 * MiniLM's batch-1 feed-forward shape ({@code 24 × 384 → 1536}), multiply-adds per second of four
 * loops that compute the same products.
 *
 * <ul>
 *   <li>{@code fp32 vector FMA}: the Vector API's register-blocked FMA (8 rows × 32 outputs), the
 *       shape of the engine's GEMM micro-kernel: the FP32 rate to beat.
 *   <li>{@code int16 reduction}: the {@code a[2i]·b[2i] + a[2i+1]·b[2i+1]} idiom summed into an
 *       {@code int}, the loop shape C2 can lower to {@code vpdpwssd} (AVX-512 VNNI) when it
 *       vectorizes the reduction.
 *   <li>{@code int16 store form}: the same idiom accumulated into an {@code int[]} (C2 vectorizes
 *       this one; each step loads and stores the accumulators).
 *   <li>{@code int16 vector API}: {@code ShortVector} multiply, the pairs widened to {@code int}
 *       lanes with shifts (the API has no widening multiply-add).
 * </ul>
 *
 * <p>Every integer loop's results are checked against a scalar {@code long} reference and the FP32
 * loop's against the same sums (its inputs are exact small integers, so FP32 is exact too). The
 * figure is the median of {@code rounds} timed rounds after as many untimed ones.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -XX:-TieredCompilation -cp
 * examples/target/mx.jar io.djlmx.examples.bench.IntDotProbe [rounds [loop]]} ({@code loop}: the
 * index of one loop to run alone). {@code -XX:-TieredCompilation}: with tiered compilation, C2
 * sometimes left this harness's vector operations unintrinsified (every loop 10–25× slower in such
 * a run); compiling from the interpreter's profile did not.
 */
public final class IntDotProbe {

  private static final VectorSpecies<Float> FS = FloatVector.SPECIES_512;
  private static final VectorSpecies<Short> SS = ShortVector.SPECIES_512;
  private static final VectorSpecies<Integer> IS = IntVector.SPECIES_512;

  private static final int M = 24;
  private static final int K = 384;
  private static final int N = 1536;
  private static final int PANEL = 32;

  private IntDotProbe() {}

  /**
   * Prints the rates.
   *
   * @param args optional number of timed rounds (default 9), then optionally the index of the one
   *     loop to run
   */
  public static void main(String[] args) {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 9;
    Random r = new Random(42);
    short[] a = new short[M * K];
    short[] w = new short[N * K];
    for (int i = 0; i < a.length; i++) {
      a[i] = (short) (r.nextInt(255) - 127); // an MXINT8 activation code
    }
    for (int i = 0; i < w.length; i++) {
      w[i] = (short) (r.nextInt(121) - 60); // an MXFP6 E2M3 weight times 8
    }
    long[] ref = new long[M * N];
    for (int m = 0; m < M; m++) {
      for (int n = 0; n < N; n++) {
        long s = 0;
        for (int k = 0; k < K; k++) {
          s += a[m * K + k] * w[n * K + k];
        }
        ref[m * N + n] = s;
      }
    }
    float[] af = new float[a.length];
    for (int i = 0; i < a.length; i++) {
      af[i] = a[i];
    }
    // Weights in 32-output panels, each K-contiguous: [N/32][K][32] floats for the FMA loop and
    // [N/32][K/2][32][2] shorts (K pairs interleaved) for the store form and the vector API, so
    // every loop reads its weights from cache and the probe measures arithmetic, not memory.
    float[] wkn = new float[K * N];
    short[] wpair = new short[K * N];
    for (int n = 0; n < N; n++) {
      int panel = n / PANEL;
      int j = n % PANEL;
      for (int k = 0; k < K; k++) {
        wkn[panel * K * PANEL + k * PANEL + j] = w[n * K + k];
        wpair[panel * K * PANEL + (k / 2) * PANEL * 2 + j * 2 + (k & 1)] = w[n * K + k];
      }
    }
    String[] names = {
      "fp32 vector FMA",
      "int16 reduction",
      "int16 store form",
      "int16 vector API",
      "int16 API, 16-bit sums",
    };
    double[][] rates = new double[names.length][rounds];
    float[] yf = new float[M * N];
    int[] yi = new int[M * N];
    int[] pairs = new int[M * K / 2];
    for (int i = 0; i < pairs.length; i++) {
      pairs[i] = (a[2 * i] & 0xFFFF) | (a[2 * i + 1] << 16);
    }
    int only = args.length > 1 ? Integer.parseInt(args[1]) : -1;
    for (int round = -rounds; round < rounds; round++) {
      for (int v = 0; v < names.length; v++) {
        if (only >= 0 && v != only) {
          continue;
        }
        int reps = v == 1 ? 4 : 40;
        long t0 = System.nanoTime();
        for (int rep = 0; rep < reps; rep++) {
          switch (v) {
            case 0 -> fmaKernel(af, wkn, yf);
            case 1 -> reductionKernel(a, w, yi);
            case 2 -> storeFormKernel(a, wpair, yi);
            case 3 -> vectorShortKernel(pairs, wpair, yi);
            default -> vectorShortSumKernel(pairs, wpair, yi);
          }
        }
        long ns = System.nanoTime() - t0;
        check(names[v], v == 0 ? toInts(yf) : yi, ref);
        if (round >= 0) {
          rates[v][round] = (double) M * N * K * reps / ns;
        }
      }
    }
    System.out.printf(
        Locale.ROOT, "%d x %d -> %d, one thread, median of %d rounds:%n", M, K, N, rounds);
    for (int v = 0; v < names.length; v++) {
      double[] s = rates[v].clone();
      Arrays.sort(s);
      if (only >= 0 && v != only) {
        continue;
      }
      String ratio =
          only < 0
              ? String.format(
                  Locale.ROOT, "  (%.2fx the FP32 FMA loop)", s[rounds / 2] / median(rates[0]))
              : "";
      System.out.printf(
          Locale.ROOT, "%-24s %6.1f G multiply-adds/s%s%n", names[v], s[rounds / 2], ratio);
    }
  }

  private static double median(double[] x) {
    double[] s = x.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }

  private static int[] toInts(float[] y) {
    int[] out = new int[y.length];
    for (int i = 0; i < y.length; i++) {
      out[i] = (int) y[i];
    }
    return out;
  }

  private static void check(String name, int[] y, long[] ref) {
    for (int i = 0; i < ref.length; i++) {
      if (y[i] != ref[i]) {
        throw new IllegalStateException(name + ": output " + i + " is " + y[i] + ", not " + ref[i]);
      }
    }
  }

  /**
   * Eight rows × two 16-lane column vectors of FMA accumulators, the activation broadcast: the
   * register blocking of the engine's GEMM micro-kernel.
   */
  static void fmaKernel(float[] a, float[] wkn, float[] y) {
    int h = FS.length();
    for (int n = 0; n < N; n += PANEL) {
      int po = n * K;
      for (int m = 0; m < M; m += 8) {
        FloatVector c0a = FloatVector.zero(FS);
        FloatVector c0b = FloatVector.zero(FS);
        FloatVector c1a = FloatVector.zero(FS);
        FloatVector c1b = FloatVector.zero(FS);
        FloatVector c2a = FloatVector.zero(FS);
        FloatVector c2b = FloatVector.zero(FS);
        FloatVector c3a = FloatVector.zero(FS);
        FloatVector c3b = FloatVector.zero(FS);
        FloatVector c4a = FloatVector.zero(FS);
        FloatVector c4b = FloatVector.zero(FS);
        FloatVector c5a = FloatVector.zero(FS);
        FloatVector c5b = FloatVector.zero(FS);
        FloatVector c6a = FloatVector.zero(FS);
        FloatVector c6b = FloatVector.zero(FS);
        FloatVector c7a = FloatVector.zero(FS);
        FloatVector c7b = FloatVector.zero(FS);
        for (int k = 0; k < K; k++) {
          FloatVector wa = FloatVector.fromArray(FS, wkn, po + k * PANEL);
          FloatVector wb = FloatVector.fromArray(FS, wkn, po + k * PANEL + h);
          FloatVector x0 = FloatVector.broadcast(FS, a[(m + 0) * K + k]);
          c0a = wa.fma(x0, c0a);
          c0b = wb.fma(x0, c0b);
          FloatVector x1 = FloatVector.broadcast(FS, a[(m + 1) * K + k]);
          c1a = wa.fma(x1, c1a);
          c1b = wb.fma(x1, c1b);
          FloatVector x2 = FloatVector.broadcast(FS, a[(m + 2) * K + k]);
          c2a = wa.fma(x2, c2a);
          c2b = wb.fma(x2, c2b);
          FloatVector x3 = FloatVector.broadcast(FS, a[(m + 3) * K + k]);
          c3a = wa.fma(x3, c3a);
          c3b = wb.fma(x3, c3b);
          FloatVector x4 = FloatVector.broadcast(FS, a[(m + 4) * K + k]);
          c4a = wa.fma(x4, c4a);
          c4b = wb.fma(x4, c4b);
          FloatVector x5 = FloatVector.broadcast(FS, a[(m + 5) * K + k]);
          c5a = wa.fma(x5, c5a);
          c5b = wb.fma(x5, c5b);
          FloatVector x6 = FloatVector.broadcast(FS, a[(m + 6) * K + k]);
          c6a = wa.fma(x6, c6a);
          c6b = wb.fma(x6, c6b);
          FloatVector x7 = FloatVector.broadcast(FS, a[(m + 7) * K + k]);
          c7a = wa.fma(x7, c7a);
          c7b = wb.fma(x7, c7b);
        }
        int o = m * N + n;
        c0a.intoArray(y, o + 0 * N);
        c0b.intoArray(y, o + 0 * N + h);
        c1a.intoArray(y, o + 1 * N);
        c1b.intoArray(y, o + 1 * N + h);
        c2a.intoArray(y, o + 2 * N);
        c2b.intoArray(y, o + 2 * N + h);
        c3a.intoArray(y, o + 3 * N);
        c3b.intoArray(y, o + 3 * N + h);
        c4a.intoArray(y, o + 4 * N);
        c4b.intoArray(y, o + 4 * N + h);
        c5a.intoArray(y, o + 5 * N);
        c5b.intoArray(y, o + 5 * N + h);
        c6a.intoArray(y, o + 6 * N);
        c6b.intoArray(y, o + 6 * N + h);
        c7a.intoArray(y, o + 7 * N);
        c7b.intoArray(y, o + 7 * N + h);
      }
    }
  }

  /** One output at a time: the multiply-add-pairs idiom reduced into an {@code int}. */
  static void reductionKernel(short[] a, short[] w, int[] y) {
    for (int m = 0; m < M; m++) {
      for (int n = 0; n < N; n++) {
        int s = 0;
        int ao = m * K;
        int wo = n * K;
        for (int i = 0; i < K; i += 2) {
          s += a[ao + i] * w[wo + i] + a[ao + i + 1] * w[wo + i + 1];
        }
        y[m * N + n] = s;
      }
    }
  }

  /** The multiply-add-pairs idiom into a panel's {@code int} accumulators, one K pair a step. */
  static void storeFormKernel(short[] a, short[] wpair, int[] y) {
    short[] x = new short[2 * PANEL];
    int[] acc = new int[PANEL];
    for (int n = 0; n < N; n += PANEL) {
      int po = n * K;
      for (int m = 0; m < M; m++) {
        Arrays.fill(acc, 0);
        for (int k = 0; k < K; k += 2) {
          short x0 = a[m * K + k];
          short x1 = a[m * K + k + 1];
          for (int i = 0; i < 2 * PANEL; i += 2) {
            x[i] = x0;
            x[i + 1] = x1;
          }
          int wo = po + (k / 2) * PANEL * 2;
          for (int j = 0; j < PANEL; j++) {
            acc[j] += wpair[wo + 2 * j] * x[2 * j] + wpair[wo + 2 * j + 1] * x[2 * j + 1];
          }
        }
        System.arraycopy(acc, 0, y, m * N + n, PANEL);
      }
    }
  }

  /**
   * {@code ShortVector} products of a broadcast activation pair with 16 outputs' weight pairs; the
   * two 16-bit products in each 32-bit lane are sign-extended with shifts and added in {@code int}.
   */
  static void vectorShortKernel(int[] pairs, short[] wpair, int[] y) {
    int lanes = IS.length();
    for (int n = 0; n < N; n += PANEL) {
      int po = n * K;
      for (int m = 0; m < M; m++) {
        IntVector c0 = IntVector.zero(IS);
        IntVector c1 = IntVector.zero(IS);
        for (int kp = 0; kp < K / 2; kp++) {
          ShortVector x = IntVector.broadcast(IS, pairs[m * K / 2 + kp]).reinterpretAsShorts();
          int wo = po + kp * PANEL * 2;
          IntVector p0 = ShortVector.fromArray(SS, wpair, wo).mul(x).reinterpretAsInts();
          IntVector p1 =
              ShortVector.fromArray(SS, wpair, wo + SS.length()).mul(x).reinterpretAsInts();
          c0 =
              c0.add(p0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                  .add(p0.lanewise(VectorOperators.ASHR, 16));
          c1 =
              c1.add(p1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                  .add(p1.lanewise(VectorOperators.ASHR, 16));
        }
        c0.intoArray(y, m * N + n);
        c1.intoArray(y, m * N + n + lanes);
      }
    }
  }

  /**
   * As {@link #vectorShortKernel}, but four K pairs' products are summed in the 16-bit lanes before
   * the widening (|product| ≤ 127 · 60 = 7,620, so four fit in a {@code short}).
   */
  static void vectorShortSumKernel(int[] pairs, short[] wpair, int[] y) {
    int lanes = IS.length();
    int s = SS.length();
    for (int n = 0; n < N; n += PANEL) {
      int po = n * K;
      for (int m = 0; m < M; m++) {
        IntVector c0 = IntVector.zero(IS);
        IntVector c1 = IntVector.zero(IS);
        int xo = m * K / 2;
        for (int kp = 0; kp < K / 2; kp += 4) {
          int wo = po + kp * PANEL * 2;
          ShortVector x0 = IntVector.broadcast(IS, pairs[xo + kp]).reinterpretAsShorts();
          ShortVector x1 = IntVector.broadcast(IS, pairs[xo + kp + 1]).reinterpretAsShorts();
          ShortVector x2 = IntVector.broadcast(IS, pairs[xo + kp + 2]).reinterpretAsShorts();
          ShortVector x3 = IntVector.broadcast(IS, pairs[xo + kp + 3]).reinterpretAsShorts();
          ShortVector s0 =
              ShortVector.fromArray(SS, wpair, wo)
                  .mul(x0)
                  .add(ShortVector.fromArray(SS, wpair, wo + 2 * PANEL).mul(x1))
                  .add(ShortVector.fromArray(SS, wpair, wo + 4 * PANEL).mul(x2))
                  .add(ShortVector.fromArray(SS, wpair, wo + 6 * PANEL).mul(x3));
          ShortVector s1 =
              ShortVector.fromArray(SS, wpair, wo + s)
                  .mul(x0)
                  .add(ShortVector.fromArray(SS, wpair, wo + s + 2 * PANEL).mul(x1))
                  .add(ShortVector.fromArray(SS, wpair, wo + s + 4 * PANEL).mul(x2))
                  .add(ShortVector.fromArray(SS, wpair, wo + s + 6 * PANEL).mul(x3));
          IntVector p0 = s0.reinterpretAsInts();
          IntVector p1 = s1.reinterpretAsInts();
          c0 =
              c0.add(p0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                  .add(p0.lanewise(VectorOperators.ASHR, 16));
          c1 =
              c1.add(p1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                  .add(p1.lanewise(VectorOperators.ASHR, 16));
        }
        c0.intoArray(y, m * N + n);
        c1.intoArray(y, m * N + n + lanes);
      }
    }
  }
}

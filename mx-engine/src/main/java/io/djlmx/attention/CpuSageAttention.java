package io.djlmx.attention;

import io.djlmx.kernel.cpu.LaneSum;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The low-bit attention kernel for CPUs (Vector API), for head dimensions 32, 64, 96 and 128
 * (MiniLM-class encoders use 32; 64 and 128 are the common ones).
 *
 * <p>Per (batch, head) K is smoothed (its token mean subtracted, which shifts every row of S by a
 * constant and leaves softmax unchanged), quantized per tile of {@link #KEY_TILE} keys and stored
 * transposed; V is rounded to FP8 E4M3 with one scale per channel. Per (batch, head, tile of {@link
 * #QUERY_TILE} queries) Q is quantized, then every key tile runs: S = Q·Kᵀ with FP32 accumulation
 * (INT8 codes are kept as FP32 integers, so their products and sums of up to 128 of them are
 * exact), the block scales, softmax scale and log2(e) applied once, the additive mask, online
 * softmax in base 2, P rounded to E4M3 with the fixed scale 448, and P·V accumulated in FP32.
 * Quantization is emulated on the FP32 grid; the arithmetic is the one a low-precision unit with
 * FP32 accumulation performs.
 *
 * <p>Semantics shared with {@link ExactAttention}: causal means key j is visible to query i when j
 * ≤ i (top-left aligned, as PyTorch's {@code is_causal}); a row whose every score is -∞ yields
 * zeros; NaN in an input makes NaN every output that depends on it through a quantization block.
 */
final class CpuSageAttention {

  static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
  private static final int L = F.length();

  /** Keys per tile, also the K quantization block: four vectors. */
  static final int KEY_TILE = 4 * L;

  /**
   * Keys per tile when every key fits in two vectors (a short sentence): one tile then holds all
   * keys in either width, so the K quantization block and every result are the same as with {@link
   * #KEY_TILE}; the narrower tile skips the padded lanes' Q·Kᵀ, mask and softmax work.
   */
  static final int NARROW_KEY_TILE = 2 * L;

  /** Query rows per task. */
  static final int QUERY_TILE = 64;

  /**
   * Query tokens sharing one INT8 scale: one (as SageAttention2's fine Q granularity; a per-row
   * scale costs one multiply per row and tile here).
   */
  static final int Q_BLOCK = 1;

  private static final int GROUP = 4;
  private static final float LOG2E = 1.4426950408889634f;
  private static final float INT8_MAX = 127f;

  /** P lies in [0, 1] after the max is subtracted: 448 maps it onto the whole E4M3 range. */
  private static final float P_SCALE = 448f;

  private static final float ROUND_MAGIC = 12582912f; // 1.5·2^23: adding it rounds to an integer
  private static final int ROUND_MAGIC_BITS = 0x4B400000;
  private static final float EXP2_UNDERFLOW = -125f;
  private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
  private static final ByteOrder ORDER = ByteOrder.nativeOrder();

  // Taylor coefficients of 2^f = e^(f·ln2) on [-0.5, 0.5]: degree 6, relative error < 2e-7.
  private static final float C1 = 0.6931471806f;
  private static final float C2 = 0.2402265070f;
  private static final float C3 = 0.0555041087f;
  private static final float C4 = 0.0096181291f;
  private static final float C5 = 0.0013333558f;
  private static final float C6 = 0.0001540353f;

  /** Below this many multiply-adds (Q·Kᵀ and P·V) a call runs on the calling thread alone. */
  static final double MIN_PARALLEL_MACS = 1 << 20;

  private static final ThreadLocal<Workspace> WORKSPACE = ThreadLocal.withInitial(Workspace::new);

  private CpuSageAttention() {}

  /**
   * Returns whether the kernel takes head dimension {@code d}.
   *
   * @param d the head dimension
   * @return true for 32, 64, 96 and 128 (when a multiple of two vectors)
   */
  static boolean supports(int d) {
    return (d == 32 || d == 64 || d == 96 || d == 128) && d % (2 * L) == 0;
  }

  /**
   * Computes attention into {@code out}.
   *
   * @param shape sizes
   * @param q queries
   * @param k keys
   * @param v values
   * @param out output, same shape and layout as q
   * @param mask additive mask view broadcast to [B, H, Sq, Sk], or null
   * @param causal whether key j is hidden from query i when j &gt; i
   * @param scale the softmax scale
   * @param cfg quantization choices
   */
  static void compute(
      AttentionShape shape,
      TensorView q,
      TensorView k,
      TensorView v,
      TensorView out,
      TensorView mask,
      boolean causal,
      float scale,
      AttentionConfig cfg) {
    int width = shape.keyLength() <= NARROW_KEY_TILE ? NARROW_KEY_TILE : KEY_TILE;
    compute(shape, q, k, v, out, mask, causal, scale, cfg, width);
  }

  /**
   * Computes attention with a given key tile width: {@link #KEY_TILE}, or {@link #NARROW_KEY_TILE}
   * when the keys fit in it (package-private so tests compare the two).
   */
  static void compute(
      AttentionShape shape,
      TensorView q,
      TensorView k,
      TensorView v,
      TensorView out,
      TensorView mask,
      boolean causal,
      float scale,
      AttentionConfig cfg,
      int width) {
    if (width != KEY_TILE && !(width == NARROW_KEY_TILE && shape.keyLength() <= width)) {
      throw new IllegalArgumentException(
          "Key tile " + width + " does not fit key length " + shape.keyLength());
    }
    int bh = shape.batch() * shape.heads();
    // Small problems (a short sentence at batch 1) run on the calling thread: handing tasks to the
    // pool and waking its workers costs more than the work.
    double macs = 2.0 * bh * shape.queryLength() * shape.keyLength() * shape.headDim();
    int parallelism = macs < MIN_PARALLEL_MACS ? 1 : cfg.parallelism();
    PreparedHead[] heads = new PreparedHead[bh];
    Parallel.forEach(
        bh,
        parallelism,
        i -> heads[i] = prepare(shape, k, v, i / shape.heads(), i % shape.heads(), cfg, width));
    int qTiles = (shape.queryLength() + QUERY_TILE - 1) / QUERY_TILE;
    Parallel.forEach(
        bh * qTiles,
        parallelism,
        task -> {
          int head = task / qTiles;
          queryTile(
              shape,
              heads[head],
              q,
              out,
              mask,
              causal,
              scale,
              cfg,
              head / shape.heads(),
              head % shape.heads(),
              (task % qTiles) * QUERY_TILE,
              width);
        });
  }

  /** K (transposed, quantized) and V (quantized) of one (batch, head), padded to whole tiles. */
  private record PreparedHead(
      float[] kt, float[] kScale, float[] v, float[] outScale, float[] vMean) {}

  /** Per-thread scratch memory of one query tile. */
  private static final class Workspace {
    final float[] q = new float[QUERY_TILE * 128];
    final float[] o = new float[QUERY_TILE * 128];
    final float[] m = new float[QUERY_TILE];
    final float[] l = new float[QUERY_TILE];
    final float[] qScale = new float[QUERY_TILE];
    final float[] s = new float[GROUP * KEY_TILE];
    final float[] alpha = new float[GROUP];
  }

  private static PreparedHead prepare(
      AttentionShape shape,
      TensorView k,
      TensorView v,
      int b,
      int h,
      AttentionConfig cfg,
      int width) {
    final int sk = shape.keyLength();
    final int d = shape.headDim();
    final int tiles = (sk + width - 1) / width;
    final int padded = tiles * width;

    // K: gather, smooth, quantize per tile, store transposed [tile][channel][key].
    float[] kr = gather(k, b, h, sk, d, padded);
    if (cfg.smoothK()) {
      subtractChannelMean(kr, sk, d, null);
    }
    float[] kt = new float[tiles * d * width];
    float[] kScale = new float[tiles];
    for (int t = 0; t < tiles; t++) {
      int from = t * width * d;
      int to = Math.min(sk, (t + 1) * width) * d;
      float inv = 1f;
      kScale[t] = 1f;
      if (cfg.qkPrecision() == QkPrecision.INT8) {
        float amax = absMax(kr, from, to);
        inv = amax == 0f ? 0f : INT8_MAX / amax;
        kScale[t] = amax / INT8_MAX;
      }
      quantizeRows(kr, from, to, d, cfg.qkPrecision(), inv);
      int base = t * d * width;
      for (int j = 0; j < width; j++) {
        int src = from + j * d;
        for (int c = 0; c < d; c++) {
          kt[base + c * width + j] = kr[src + c];
        }
      }
    }

    return prepareV(v, b, h, sk, d, padded, cfg, kt, kScale);
  }

  /**
   * V of one (batch, head): gathered, optionally smoothed, rounded to E4M3 with one scale per
   * channel; completes the head with its prepared K. (Separate from the K part so that C2 compiles
   * each with its vector ops intrinsified.)
   */
  private static PreparedHead prepareV(
      TensorView v,
      int b,
      int h,
      int sk,
      int d,
      int padded,
      AttentionConfig cfg,
      float[] kt,
      float[] kScale) {
    // V: gather, optionally smooth, round to E4M3 with one scale per channel.
    float[] vq = gather(v, b, h, sk, d, padded);
    float[] vMean = null;
    if (cfg.smoothV()) {
      vMean = new float[d];
      subtractChannelMean(vq, sk, d, vMean);
    }
    float[] outScale = new float[d];
    java.util.Arrays.fill(outScale, 1f);
    if (cfg.pvFp8()) {
      float[] inv = new float[d];
      for (int c = 0; c < d; c += L) {
        FloatVector amax = FloatVector.zero(F);
        for (int j = 0; j < sk; j++) {
          amax = amax.max(FloatVector.fromArray(F, vq, j * d + c).abs());
        }
        for (int i = 0; i < L; i++) {
          float a = amax.lane(i);
          inv[c + i] = a == 0f ? 0f : E4M3Rounding.MAX / a;
          // Undo both the per-channel V scale and the fixed P scale in the final normalization.
          outScale[c + i] = (a == 0f ? 1f : a / E4M3Rounding.MAX) / P_SCALE;
        }
      }
      for (int j = 0; j < sk; j++) {
        for (int c = 0; c < d; c += L) {
          E4M3Rounding.round(
                  FloatVector.fromArray(F, vq, j * d + c).mul(FloatVector.fromArray(F, inv, c)))
              .intoArray(vq, j * d + c);
        }
      }
    }
    return new PreparedHead(kt, kScale, vq, outScale, vMean);
  }

  /** Copies rows [0, len) of one (batch, head) into a zero-padded [padded, d] array. */
  private static float[] gather(TensorView view, int b, int h, int len, int d, int padded) {
    float[] out = new float[padded * d];
    MemorySegment seg = view.data();
    for (int j = 0; j < len; j++) {
      long off = view.offset(b, h, j) * Float.BYTES;
      for (int c = 0; c < d; c += L) {
        FloatVector.fromMemorySegment(F, seg, off + (long) c * Float.BYTES, ORDER)
            .intoArray(out, j * d + c);
      }
    }
    return out;
  }

  /**
   * Subtracts each channel's mean over rows [0, len). Any per-channel constant keeps softmax exact,
   * so a float sum is precise enough.
   */
  private static void subtractChannelMean(float[] a, int len, int d, float[] meanOut) {
    // Row by row into an array of channel sums (the same additions in the same order as one
    // running vector per channel chunk, which C2 left on the Vector API's slow fallback here).
    float[] mean = meanOut != null ? meanOut : new float[d];
    java.util.Arrays.fill(mean, 0, d, 0f);
    for (int j = 0; j < len; j++) {
      for (int c = 0; c < d; c += L) {
        FloatVector.fromArray(F, mean, c)
            .add(FloatVector.fromArray(F, a, j * d + c))
            .intoArray(mean, c);
      }
    }
    for (int c = 0; c < d; c += L) {
      FloatVector.fromArray(F, mean, c).div(len).intoArray(mean, c);
    }
    for (int j = 0; j < len; j++) {
      for (int c = 0; c < d; c += L) {
        FloatVector.fromArray(F, a, j * d + c)
            .sub(FloatVector.fromArray(F, mean, c))
            .intoArray(a, j * d + c);
      }
    }
  }

  /** Largest |a[i]| over [from, to) (a multiple of L long); NaN when any element is NaN. */
  private static float absMax(float[] a, int from, int to) {
    FloatVector m = FloatVector.zero(F);
    for (int i = from; i < to; i += L) {
      m = m.max(FloatVector.fromArray(F, a, i).abs());
    }
    return m.reduceLanes(VectorOperators.MAX);
  }

  /**
   * Replaces rows of Q or K in {@code a[from, to)} (whole rows of d) by their quantized values:
   * INT8 codes of x·inv (nearest-even), or MXFP8 E4M3 values with their power-of-two 32-channel
   * block scale applied, or unchanged for FP32.
   */
  private static void quantizeRows(float[] a, int from, int to, int d, QkPrecision p, float inv) {
    switch (p) {
      case INT8 -> {
        FloatVector vi = FloatVector.broadcast(F, inv);
        for (int i = from; i < to; i += L) {
          FloatVector.fromArray(F, a, i).mul(vi).add(ROUND_MAGIC).sub(ROUND_MAGIC).intoArray(a, i);
        }
      }
      case MXFP8_E4M3 -> {
        final int block = 32;
        for (int i0 = from; i0 < to; i0 += block) {
          float amax = absMax(a, i0, i0 + block);
          if (!Float.isFinite(amax)) {
            // E8M0 NaN scale: the whole block is NaN.
            java.util.Arrays.fill(a, i0, i0 + block, Float.NaN);
            continue;
          }
          // OCP MX FLOOR rule: shared exponent = floor(log2(amax)) - emax_elem (8 for E4M3).
          int e = amax == 0f ? 0 : Math.max(-127, Math.getExponent(amax) - 8);
          float down = Math.scalb(1f, -e);
          float up = Math.scalb(1f, e);
          for (int i = i0; i < i0 + block; i += L) {
            E4M3Rounding.round(FloatVector.fromArray(F, a, i).mul(down)).mul(up).intoArray(a, i);
          }
        }
      }
      case FP32 -> {}
    }
  }

  private static void queryTile(
      AttentionShape shape,
      PreparedHead ph,
      TensorView qv,
      TensorView outv,
      TensorView maskv,
      boolean causal,
      float scale,
      AttentionConfig cfg,
      int b,
      int h,
      int q0,
      int width) {
    final int d = shape.headDim();
    final int sk = shape.keyLength();
    final int rowsValid = Math.min(QUERY_TILE, shape.queryLength() - q0);
    final int groups = (rowsValid + GROUP - 1) / GROUP;
    final Workspace ws = WORKSPACE.get();
    final float[] qc = ws.q;
    final float[] oAcc = ws.o;
    final float[] m = ws.m;
    final float[] l = ws.l;
    final float[] qs = ws.qScale;
    final float[] st = ws.s;
    final float[] alpha = ws.alpha;
    final float[] kt = ph.kt();
    final float[] vq = ph.v();
    final float[] kScale = ph.kScale();
    final boolean pvFp8 = cfg.pvFp8();
    final boolean hasMask = maskv != null;
    final MemorySegment maskSeg = hasMask ? maskv.data() : null;

    loadQueries(shape, qv, cfg, b, h, q0, rowsValid, groups, scale, qc, qs);
    java.util.Arrays.fill(oAcc, 0, groups * GROUP * d, 0f);
    java.util.Arrays.fill(m, Float.NEGATIVE_INFINITY);
    java.util.Arrays.fill(l, 0f);

    int tiles = (sk + width - 1) / width;
    if (causal) {
      tiles = Math.min(tiles, (q0 + rowsValid - 1) / width + 1);
    }
    final FloatVector zero = FloatVector.zero(F);
    for (int t = 0; t < tiles; t++) {
      final int j0 = t * width;
      final int kBase = t * d * width;
      final boolean tail = j0 + width > sk;
      for (int g = 0; g < groups; g++) {
        final int r0 = g * GROUP;
        final int a0 = q0 + r0;
        if (causal && a0 + GROUP - 1 < j0) {
          // Every key of this tile lies after every query of the group.
          for (int i = 0; i < GROUP; i++) {
            alpha[i] = 1f;
          }
          continue;
        }
        // ---- S = Q·Kᵀ for 4 query rows × KEY_TILE keys ----
        if (width == KEY_TILE) {
          FloatVector c00 = zero, c01 = zero, c02 = zero, c03 = zero;
          FloatVector c10 = zero, c11 = zero, c12 = zero, c13 = zero;
          FloatVector c20 = zero, c21 = zero, c22 = zero, c23 = zero;
          FloatVector c30 = zero, c31 = zero, c32 = zero, c33 = zero;
          final int qo = r0 * d;
          for (int c = 0; c < d; c++) {
            final int ko = kBase + c * width;
            FloatVector k0 = FloatVector.fromArray(F, kt, ko);
            FloatVector k1 = FloatVector.fromArray(F, kt, ko + L);
            FloatVector k2 = FloatVector.fromArray(F, kt, ko + 2 * L);
            FloatVector k3 = FloatVector.fromArray(F, kt, ko + 3 * L);
            FloatVector x = FloatVector.broadcast(F, qc[qo + c]);
            c00 = x.fma(k0, c00);
            c01 = x.fma(k1, c01);
            c02 = x.fma(k2, c02);
            c03 = x.fma(k3, c03);
            x = FloatVector.broadcast(F, qc[qo + d + c]);
            c10 = x.fma(k0, c10);
            c11 = x.fma(k1, c11);
            c12 = x.fma(k2, c12);
            c13 = x.fma(k3, c13);
            x = FloatVector.broadcast(F, qc[qo + 2 * d + c]);
            c20 = x.fma(k0, c20);
            c21 = x.fma(k1, c21);
            c22 = x.fma(k2, c22);
            c23 = x.fma(k3, c23);
            x = FloatVector.broadcast(F, qc[qo + 3 * d + c]);
            c30 = x.fma(k0, c30);
            c31 = x.fma(k1, c31);
            c32 = x.fma(k2, c32);
            c33 = x.fma(k3, c33);
          }
          final float ks = kScale[t];
          final float sc0 = qs[r0] * ks;
          final float sc1 = qs[r0 + 1] * ks;
          final float sc2 = qs[r0 + 2] * ks;
          final float sc3 = qs[r0 + 3] * ks;
          c00.mul(sc0).intoArray(st, 0);
          c01.mul(sc0).intoArray(st, L);
          c02.mul(sc0).intoArray(st, 2 * L);
          c03.mul(sc0).intoArray(st, 3 * L);
          c10.mul(sc1).intoArray(st, width);
          c11.mul(sc1).intoArray(st, width + L);
          c12.mul(sc1).intoArray(st, width + 2 * L);
          c13.mul(sc1).intoArray(st, width + 3 * L);
          c20.mul(sc2).intoArray(st, 2 * width);
          c21.mul(sc2).intoArray(st, 2 * width + L);
          c22.mul(sc2).intoArray(st, 2 * width + 2 * L);
          c23.mul(sc2).intoArray(st, 2 * width + 3 * L);
          c30.mul(sc3).intoArray(st, 3 * width);
          c31.mul(sc3).intoArray(st, 3 * width + L);
          c32.mul(sc3).intoArray(st, 3 * width + 2 * L);
          c33.mul(sc3).intoArray(st, 3 * width + 3 * L);
        } else {
          // narrow tile: 4 query rows × 2 vectors of keys
          FloatVector c00 = zero, c01 = zero;
          FloatVector c10 = zero, c11 = zero;
          FloatVector c20 = zero, c21 = zero;
          FloatVector c30 = zero, c31 = zero;
          final int qo = r0 * d;
          for (int c = 0; c < d; c++) {
            final int ko = kBase + c * width;
            FloatVector k0 = FloatVector.fromArray(F, kt, ko);
            FloatVector k1 = FloatVector.fromArray(F, kt, ko + L);
            FloatVector x = FloatVector.broadcast(F, qc[qo + c]);
            c00 = x.fma(k0, c00);
            c01 = x.fma(k1, c01);
            x = FloatVector.broadcast(F, qc[qo + d + c]);
            c10 = x.fma(k0, c10);
            c11 = x.fma(k1, c11);
            x = FloatVector.broadcast(F, qc[qo + 2 * d + c]);
            c20 = x.fma(k0, c20);
            c21 = x.fma(k1, c21);
            x = FloatVector.broadcast(F, qc[qo + 3 * d + c]);
            c30 = x.fma(k0, c30);
            c31 = x.fma(k1, c31);
          }
          final float ks = kScale[t];
          final float sc0 = qs[r0] * ks;
          final float sc1 = qs[r0 + 1] * ks;
          final float sc2 = qs[r0 + 2] * ks;
          final float sc3 = qs[r0 + 3] * ks;
          c00.mul(sc0).intoArray(st, 0);
          c01.mul(sc0).intoArray(st, L);
          c10.mul(sc1).intoArray(st, width);
          c11.mul(sc1).intoArray(st, width + L);
          c20.mul(sc2).intoArray(st, 2 * width);
          c21.mul(sc2).intoArray(st, 2 * width + L);
          c30.mul(sc3).intoArray(st, 3 * width);
          c31.mul(sc3).intoArray(st, 3 * width + L);
        }

        // ---- additive mask (scores are in base-2 units: mask·log2 e), key tail, causal ----
        final int jValid = Math.min(width, sk - j0);
        for (int i = 0; i < GROUP; i++) {
          final int so = i * width;
          final int a = a0 + i;
          if (hasMask) {
            // Padded query rows (a >= Sq) read the last real row; their results are discarded.
            final long mo =
                maskv.offset(b, h, Math.min(a, shape.queryLength() - 1)) * Float.BYTES
                    + (long) j0 * Float.BYTES;
            if (!tail) {
              for (int c = 0; c < width; c += L) {
                FloatVector.fromArray(F, st, so + c)
                    .add(
                        FloatVector.fromMemorySegment(
                                F, maskSeg, mo + (long) c * Float.BYTES, ORDER)
                            .mul(LOG2E))
                    .intoArray(st, so + c);
              }
            } else {
              for (int j = 0; j < jValid; j++) {
                st[so + j] += maskSeg.get(FLOAT, mo + (long) j * Float.BYTES) * LOG2E;
              }
            }
          }
          for (int j = jValid; j < width; j++) {
            st[so + j] = Float.NEGATIVE_INFINITY;
          }
          if (causal) {
            for (int j = Math.max(0, a - j0 + 1); j < jValid; j++) {
              st[so + j] = Float.NEGATIVE_INFINITY;
            }
          }
        }

        // ---- online softmax (base 2), P rounded to E4M3 ----
        softmaxGroup(st, width, r0, m, l, alpha, pvFp8);

        // ---- O = alpha·O + P·V ----
        accumulatePv(oAcc, vq, st, alpha, width, r0, d, j0, jValid);
      }
    }
    storeOutput(outv, ph, b, h, q0, rowsValid, d, oAcc, l);
  }

  /**
   * Online softmax (base 2) of one group of {@link #GROUP} score rows in {@code st} (row stride
   * {@code width}): updates the running max {@code m} and sum {@code l} of rows {@code r0..},
   * writes P (rounded to E4M3 when {@code pvFp8}) over the scores and each row's rescale factor
   * into {@code alpha}. A method of its own: inside the large tile loop C2 ran out of inlining
   * budget and left these vector ops on the Vector API's slow Java fallback.
   */
  private static void softmaxGroup(
      float[] st, int width, int r0, float[] m, float[] l, float[] alpha, boolean pvFp8) {
    final FloatVector zero = FloatVector.zero(F);
    final FloatVector one = FloatVector.broadcast(F, 1f);
    final FloatVector vc1 = FloatVector.broadcast(F, C1);
    final FloatVector vc2 = FloatVector.broadcast(F, C2);
    final FloatVector vc3 = FloatVector.broadcast(F, C3);
    final FloatVector vc4 = FloatVector.broadcast(F, C4);
    for (int i = 0; i < GROUP; i++) {
      final int so = i * width;
      final int row = r0 + i;
      FloatVector mx = FloatVector.fromArray(F, st, so);
      for (int c = L; c < width; c += L) {
        mx = mx.max(FloatVector.fromArray(F, st, so + c));
      }
      final float mOld = m[row];
      final float mNew = Math.max(mOld, mx.reduceLanes(VectorOperators.MAX));
      if (mNew == Float.NEGATIVE_INFINITY) {
        // Nothing visible yet in this row: P is zero and the accumulators stay untouched.
        java.util.Arrays.fill(st, so, so + width, 0f);
        alpha[i] = 1f;
        continue;
      }
      final float al = (float) Math.exp((double) (mOld - mNew) * Math.log(2.0));
      final FloatVector mv = FloatVector.broadcast(F, mNew);
      FloatVector sum = zero;
      for (int c = 0; c < width; c += L) {
        FloatVector x = FloatVector.fromArray(F, st, so + c).sub(mv);
        VectorMask<Float> under = x.compare(VectorOperators.LT, EXP2_UNDERFLOW);
        FloatVector tr = x.add(ROUND_MAGIC);
        FloatVector f = x.sub(tr.sub(ROUND_MAGIC));
        FloatVector pow2 =
            tr.reinterpretAsInts()
                .sub(ROUND_MAGIC_BITS - 127)
                .lanewise(VectorOperators.LSHL, 23)
                .reinterpretAsFloats();
        FloatVector poly =
            f.fma(C6, C5).fma(f, vc4).fma(f, vc3).fma(f, vc2).fma(f, vc1).fma(f, one);
        FloatVector p = poly.mul(pow2).blend(zero, under);
        sum = sum.add(p);
        if (pvFp8) {
          FloatVector y = p.mul(P_SCALE);
          IntVector yb = y.reinterpretAsInts();
          FloatVector normal =
              yb.add(yb.lanewise(VectorOperators.LSHR, E4M3Rounding.DROPPED_BITS).and(1))
                  .add((1 << (E4M3Rounding.DROPPED_BITS - 1)) - 1)
                  .and(-1 << E4M3Rounding.DROPPED_BITS)
                  .reinterpretAsFloats();
          FloatVector sub = y.add(E4M3Rounding.SUBNORMAL_MAGIC).sub(E4M3Rounding.SUBNORMAL_MAGIC);
          p = normal.blend(sub, y.compare(VectorOperators.LT, E4M3Rounding.MIN_NORMAL));
        }
        p.intoArray(st, so + c);
      }
      l[row] = l[row] * al + LaneSum.of(sum); // one order, JIT-compiled or not
      m[row] = mNew;
      alpha[i] = al;
    }
  }

  /**
   * {@code O = alpha·O + P·V} for one group of {@link #GROUP} query rows from {@code r0} and the
   * {@code jValid} keys of the tile at {@code j0}: 4 rows × 4 vectors of channels at a time, then 4
   * rows × 2 vectors for head dims that leave half a chunk.
   */
  private static void accumulatePv(
      float[] oAcc,
      float[] vq,
      float[] st,
      float[] alpha,
      int width,
      int r0,
      int d,
      int j0,
      int jValid) {
    final FloatVector al0 = FloatVector.broadcast(F, alpha[0]);
    final FloatVector al1 = FloatVector.broadcast(F, alpha[1]);
    final FloatVector al2 = FloatVector.broadcast(F, alpha[2]);
    final FloatVector al3 = FloatVector.broadcast(F, alpha[3]);
    for (int c0 = 0; c0 + KEY_TILE <= d; c0 += KEY_TILE) {
      final int o0 = r0 * d + c0;
      final int o1 = o0 + d;
      final int o2 = o1 + d;
      final int o3 = o2 + d;
      FloatVector a00 = FloatVector.fromArray(F, oAcc, o0).mul(al0);
      FloatVector a01 = FloatVector.fromArray(F, oAcc, o0 + L).mul(al0);
      FloatVector a02 = FloatVector.fromArray(F, oAcc, o0 + 2 * L).mul(al0);
      FloatVector a03 = FloatVector.fromArray(F, oAcc, o0 + 3 * L).mul(al0);
      FloatVector a10 = FloatVector.fromArray(F, oAcc, o1).mul(al1);
      FloatVector a11 = FloatVector.fromArray(F, oAcc, o1 + L).mul(al1);
      FloatVector a12 = FloatVector.fromArray(F, oAcc, o1 + 2 * L).mul(al1);
      FloatVector a13 = FloatVector.fromArray(F, oAcc, o1 + 3 * L).mul(al1);
      FloatVector a20 = FloatVector.fromArray(F, oAcc, o2).mul(al2);
      FloatVector a21 = FloatVector.fromArray(F, oAcc, o2 + L).mul(al2);
      FloatVector a22 = FloatVector.fromArray(F, oAcc, o2 + 2 * L).mul(al2);
      FloatVector a23 = FloatVector.fromArray(F, oAcc, o2 + 3 * L).mul(al2);
      FloatVector a30 = FloatVector.fromArray(F, oAcc, o3).mul(al3);
      FloatVector a31 = FloatVector.fromArray(F, oAcc, o3 + L).mul(al3);
      FloatVector a32 = FloatVector.fromArray(F, oAcc, o3 + 2 * L).mul(al3);
      FloatVector a33 = FloatVector.fromArray(F, oAcc, o3 + 3 * L).mul(al3);
      for (int j = 0; j < jValid; j++) {
        final int vo = (j0 + j) * d + c0;
        FloatVector v0 = FloatVector.fromArray(F, vq, vo);
        FloatVector v1 = FloatVector.fromArray(F, vq, vo + L);
        FloatVector v2 = FloatVector.fromArray(F, vq, vo + 2 * L);
        FloatVector v3 = FloatVector.fromArray(F, vq, vo + 3 * L);
        FloatVector p = FloatVector.broadcast(F, st[j]);
        a00 = p.fma(v0, a00);
        a01 = p.fma(v1, a01);
        a02 = p.fma(v2, a02);
        a03 = p.fma(v3, a03);
        p = FloatVector.broadcast(F, st[width + j]);
        a10 = p.fma(v0, a10);
        a11 = p.fma(v1, a11);
        a12 = p.fma(v2, a12);
        a13 = p.fma(v3, a13);
        p = FloatVector.broadcast(F, st[2 * width + j]);
        a20 = p.fma(v0, a20);
        a21 = p.fma(v1, a21);
        a22 = p.fma(v2, a22);
        a23 = p.fma(v3, a23);
        p = FloatVector.broadcast(F, st[3 * width + j]);
        a30 = p.fma(v0, a30);
        a31 = p.fma(v1, a31);
        a32 = p.fma(v2, a32);
        a33 = p.fma(v3, a33);
      }
      a00.intoArray(oAcc, o0);
      a01.intoArray(oAcc, o0 + L);
      a02.intoArray(oAcc, o0 + 2 * L);
      a03.intoArray(oAcc, o0 + 3 * L);
      a10.intoArray(oAcc, o1);
      a11.intoArray(oAcc, o1 + L);
      a12.intoArray(oAcc, o1 + 2 * L);
      a13.intoArray(oAcc, o1 + 3 * L);
      a20.intoArray(oAcc, o2);
      a21.intoArray(oAcc, o2 + L);
      a22.intoArray(oAcc, o2 + 2 * L);
      a23.intoArray(oAcc, o2 + 3 * L);
      a30.intoArray(oAcc, o3);
      a31.intoArray(oAcc, o3 + L);
      a32.intoArray(oAcc, o3 + 2 * L);
      a33.intoArray(oAcc, o3 + 3 * L);
    }
    // Head dims that leave half a chunk (32, 96): 4 rows × 2 vectors.
    for (int c0 = d - d % KEY_TILE; c0 < d; c0 += 2 * L) {
      final int o0 = r0 * d + c0;
      final int o1 = o0 + d;
      final int o2 = o1 + d;
      final int o3 = o2 + d;
      FloatVector a00 = FloatVector.fromArray(F, oAcc, o0).mul(al0);
      FloatVector a01 = FloatVector.fromArray(F, oAcc, o0 + L).mul(al0);
      FloatVector a10 = FloatVector.fromArray(F, oAcc, o1).mul(al1);
      FloatVector a11 = FloatVector.fromArray(F, oAcc, o1 + L).mul(al1);
      FloatVector a20 = FloatVector.fromArray(F, oAcc, o2).mul(al2);
      FloatVector a21 = FloatVector.fromArray(F, oAcc, o2 + L).mul(al2);
      FloatVector a30 = FloatVector.fromArray(F, oAcc, o3).mul(al3);
      FloatVector a31 = FloatVector.fromArray(F, oAcc, o3 + L).mul(al3);
      for (int j = 0; j < jValid; j++) {
        final int vo = (j0 + j) * d + c0;
        FloatVector v0 = FloatVector.fromArray(F, vq, vo);
        FloatVector v1 = FloatVector.fromArray(F, vq, vo + L);
        FloatVector p = FloatVector.broadcast(F, st[j]);
        a00 = p.fma(v0, a00);
        a01 = p.fma(v1, a01);
        p = FloatVector.broadcast(F, st[width + j]);
        a10 = p.fma(v0, a10);
        a11 = p.fma(v1, a11);
        p = FloatVector.broadcast(F, st[2 * width + j]);
        a20 = p.fma(v0, a20);
        a21 = p.fma(v1, a21);
        p = FloatVector.broadcast(F, st[3 * width + j]);
        a30 = p.fma(v0, a30);
        a31 = p.fma(v1, a31);
      }
      a00.intoArray(oAcc, o0);
      a01.intoArray(oAcc, o0 + L);
      a10.intoArray(oAcc, o1);
      a11.intoArray(oAcc, o1 + L);
      a20.intoArray(oAcc, o2);
      a21.intoArray(oAcc, o2 + L);
      a30.intoArray(oAcc, o3);
      a31.intoArray(oAcc, o3 + L);
    }
  }

  /**
   * Quantizes the tile's query rows into {@code qc} and their combined S scales into {@code qs}.
   */
  private static void loadQueries(
      AttentionShape shape,
      TensorView qv,
      AttentionConfig cfg,
      int b,
      int h,
      int q0,
      int rowsValid,
      int groups,
      float scale,
      float[] qc,
      float[] qs) {
    final int d = shape.headDim();
    final MemorySegment seg = qv.data();
    final float base = scale * LOG2E;
    java.util.Arrays.fill(qc, 0, groups * GROUP * d, 0f);
    for (int r = 0; r < rowsValid; r++) {
      final long off = qv.offset(b, h, q0 + r);
      for (int c = 0; c < d; c += L) {
        FloatVector.fromMemorySegment(F, seg, (off + c) * Float.BYTES, ORDER)
            .intoArray(qc, r * d + c);
      }
    }
    for (int r0 = 0; r0 < groups * GROUP; r0 += Q_BLOCK) {
      int r1 = Math.min(groups * GROUP, r0 + Q_BLOCK);
      float inv = 1f;
      float blockScale = 1f;
      if (cfg.qkPrecision() == QkPrecision.INT8) {
        float amax = absMax(qc, r0 * d, r1 * d);
        inv = amax == 0f ? 0f : INT8_MAX / amax;
        blockScale = amax / INT8_MAX;
      }
      quantizeRows(qc, r0 * d, r1 * d, d, cfg.qkPrecision(), inv);
      for (int r = r0; r < r1; r++) {
        qs[r] = blockScale * base;
      }
    }
  }

  private static void storeOutput(
      TensorView outv,
      PreparedHead ph,
      int b,
      int h,
      int q0,
      int rowsValid,
      int d,
      float[] oAcc,
      float[] l) {
    final MemorySegment seg = outv.data();
    final float[] outScale = ph.outScale();
    final float[] vMean = ph.vMean();
    for (int r = 0; r < rowsValid; r++) {
      final long off = outv.offset(b, h, q0 + r) * Float.BYTES;
      final float lr = l[r];
      if (lr == 0f) {
        // Every score of the row was -inf: defined as a zero row.
        for (int c = 0; c < d; c += L) {
          FloatVector.zero(F).intoMemorySegment(seg, off + (long) c * Float.BYTES, ORDER);
        }
        continue;
      }
      final FloatVector inv = FloatVector.broadcast(F, 1f / lr);
      for (int c = 0; c < d; c += L) {
        FloatVector o =
            FloatVector.fromArray(F, oAcc, r * d + c)
                .mul(inv)
                .mul(FloatVector.fromArray(F, outScale, c));
        if (vMean != null) {
          o = o.add(FloatVector.fromArray(F, vMean, c));
        }
        o.intoMemorySegment(seg, off + (long) c * Float.BYTES, ORDER);
      }
    }
  }
}

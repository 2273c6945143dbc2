package io.djlmx.attention;

import java.lang.foreign.MemorySegment;
import java.util.Random;

/**
 * Random Q, K, V (and optional mask) of one shape in BHSD layout, with helpers to run and check.
 */
final class AttentionCase {
  final AttentionShape shape;
  final float[] q;
  final float[] k;
  final float[] v;
  float[] mask;
  long[] maskShape;
  boolean causal;

  AttentionCase(int b, int h, int sq, int sk, int d, long seed) {
    shape = new AttentionShape(b, h, sq, sk, d);
    Random r = new Random(seed);
    q = gaussian(r, b * h * sq * d);
    k = gaussian(r, b * h * sk * d);
    v = gaussian(r, b * h * sk * d);
  }

  static float[] gaussian(Random r, int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) r.nextGaussian();
    }
    return a;
  }

  /** Adds a per-(head, channel) offset of the given spread to K, the case smoothing targets. */
  AttentionCase withKeyOffset(float spread, long seed) {
    Random r = new Random(seed);
    int d = shape.headDim();
    int sk = shape.keyLength();
    for (int bh = 0; bh < shape.batch() * shape.heads(); bh++) {
      float[] off = new float[d];
      for (int c = 0; c < d; c++) {
        off[c] = (float) (spread * r.nextGaussian());
      }
      for (int j = 0; j < sk; j++) {
        for (int c = 0; c < d; c++) {
          k[(bh * sk + j) * d + c] += off[c];
        }
      }
    }
    return this;
  }

  AttentionCase withMask(long[] mShape, float[] m) {
    this.maskShape = mShape;
    this.mask = m;
    return this;
  }

  AttentionCase causal() {
    this.causal = true;
    return this;
  }

  private TensorView view(float[] a, int seq) {
    return TensorView.of(
        MemorySegment.ofArray(a),
        TensorLayout.BHSD,
        shape.batch(),
        shape.heads(),
        seq,
        shape.headDim());
  }

  private TensorView maskView() {
    return mask == null ? null : TensorView.ofMask(MemorySegment.ofArray(mask), maskShape, shape);
  }

  float[] run(AttentionConfig cfg) {
    float[] out = new float[q.length];
    CpuAttention.compute(
        shape,
        view(q, shape.queryLength()),
        view(k, shape.keyLength()),
        view(v, shape.keyLength()),
        view(out, shape.queryLength()),
        maskView(),
        causal,
        null,
        cfg);
    return out;
  }

  /** Runs the low-bit kernel with a given key tile width (bypassing the width it would pick). */
  float[] runWithTile(AttentionConfig cfg, int width) {
    float[] out = new float[q.length];
    CpuSageAttention.compute(
        shape,
        view(q, shape.queryLength()),
        view(k, shape.keyLength()),
        view(v, shape.keyLength()),
        view(out, shape.queryLength()),
        maskView(),
        causal,
        (float) (1.0 / Math.sqrt(shape.headDim())),
        cfg,
        width);
    return out;
  }

  double[] reference() {
    return ReferenceAttention.compute(
        shape,
        view(q, shape.queryLength()),
        view(k, shape.keyLength()),
        view(v, shape.keyLength()),
        maskView(),
        causal,
        null);
  }

  AccuracyMetrics measure(AttentionConfig cfg) {
    return AccuracyMetrics.of(run(cfg), reference());
  }
}

package io.djlmx.attention.djl;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.djlmx.attention.AccuracyMetrics;
import io.djlmx.attention.AttentionConfig;
import io.djlmx.attention.AttentionShape;
import io.djlmx.attention.TensorLayout;
import io.djlmx.engine.MxCudaNDArray;
import io.djlmx.kernel.cuda.CudaAttention;
import io.djlmx.kernel.cuda.CudaAttentionMask;
import io.djlmx.kernel.cuda.CudaBackend;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * What DJL's transformer blocks get on MX GPU arrays: {@link MxAttention} on BSHD views with a [B,
 * 1, 1, S] padding mask (as {@link MxScaledDotProductAttentionBlock} passes them): the CUDA MX
 * kernel (head dims 64 and 128), the one-launch exact kernel ({@code CudaExactAttention}, the path
 * of other head dims up to 256) and the exact FP32 path from the device ops (matMul, softmax) that
 * both replaced; for the MX kernel also its FP8 P·V variant ({@code mx.attention=fp8}), the kernel
 * on one reused instance and with a scratch created per call (what {@link GpuAttention} did before
 * {@link GpuAttentionScratch}). Wall-clock medians of synchronized calls (each call allocates its
 * output and frees its temporaries, as in a model), interleaved rounds; the outputs' cosines to the
 * device-ops path are printed. Usage: {@code GpuAttentionBenchmark [ROUNDS]}.
 */
public final class GpuAttentionBenchmark {

  private GpuAttentionBenchmark() {}

  private static float medianMillis(Supplier<NDArray> call, int warmup, int reps) {
    CudaBackend be = CudaBackend.get();
    for (int i = 0; i < warmup; i++) {
      call.get().close();
    }
    be.synchronize();
    float[] t = new float[reps];
    for (int i = 0; i < reps; i++) {
      long t0 = System.nanoTime();
      NDArray out = call.get();
      be.synchronize();
      t[i] = (System.nanoTime() - t0) / 1e6f;
      out.close();
    }
    Arrays.sort(t);
    return t[reps / 2];
  }

  private static float[] normal(Random r, int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) r.nextGaussian();
    }
    return a;
  }

  /**
   * Runs the comparison.
   *
   * @param args optional number of rounds (default 5)
   */
  public static void main(String[] args) {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
    System.out.println("device: " + CudaBackend.get().deviceName());
    // B, S, H, D: BERT-base and larger at the MX kernel's head dims, then MiniLM's 32 and other
    // head dims that take the one-launch exact kernel
    int[][] shapes = {
      {32, 128, 12, 64},
      {8, 512, 12, 64},
      {4, 512, 16, 128},
      {4, 4096, 32, 128},
      {32, 128, 12, 32},
      {8, 512, 12, 32},
      {4, 512, 16, 96},
      {2, 2048, 12, 96},
      {2, 1024, 8, 256}
    };
    AttentionConfig bshd =
        AttentionConfig.defaults().toBuilder().optLayout(TensorLayout.BSHD).build();
    AttentionConfig bshdFp8 = bshd.toBuilder().optPvFp8(true).build();
    for (int[] sh : shapes) {
      int b = sh[0];
      int s = sh[1];
      int h = sh[2];
      int d = sh[3];
      Random r = new Random(5);
      float[] pad = new float[b * s];
      for (int bi = 1; bi < b; bi += 2) {
        Arrays.fill(pad, bi * s + s * 3 / 4, (bi + 1) * s, -100000f); // DJL's offset
      }
      try (NDManager m = NDManager.newBaseManager(Device.gpu(), "MX")) {
        NDArray q = m.create(normal(r, b * s * h * d), new Shape(b, s, h, d));
        NDArray k = m.create(normal(r, b * s * h * d), new Shape(b, s, h, d));
        NDArray v = m.create(normal(r, b * s * h * d), new Shape(b, s, h, d));
        NDArray mask = m.create(pad, new Shape(b, 1, 1, s));
        double sc = 1 / Math.sqrt(d);
        AttentionShape shape = new AttentionShape(b, h, s, s, d);
        boolean mxDim = d == 64 || d == 128;
        Supplier<NDArray> mx = () -> MxAttention.attention(q, k, v, mask, false, null, bshd);
        Supplier<NDArray> mx8 = () -> MxAttention.attention(q, k, v, mask, false, null, bshdFp8);
        Supplier<NDArray> exact1 =
            () ->
                GpuAttention.kernel(
                    q, k, v, mask, false, (float) sc, TensorLayout.BSHD, shape, false, false);
        Supplier<NDArray> ops = () -> GpuAttention.exact(q, k, v, mask, false, sc, true, false);
        // the MX kernel alone on one reused instance: what creating and closing one per call costs
        CudaAttention att = mxDim ? CudaAttention.create(shape, true) : null;
        CudaAttentionMask cm =
            CudaAttentionMask.of(((MxCudaNDArray) mask).buffer(), new long[] {b, 1, 1, s}, shape);
        Function<CudaAttention, NDArray> onDevice =
            a -> {
              MxCudaNDArray out = (MxCudaNDArray) m.create(q.getShape(), DataType.FLOAT32);
              a.forward(
                  ((MxCudaNDArray) q).buffer(),
                  ((MxCudaNDArray) k).buffer(),
                  ((MxCudaNDArray) v).buffer(),
                  out.buffer(),
                  TensorLayout.BSHD,
                  cm,
                  false,
                  null);
              return out;
            };
        Supplier<NDArray> reused = () -> onDevice.apply(att);
        // what GpuAttention did until 2026-11-29: a scratch created and closed per call
        Supplier<NDArray> perCall =
            () -> {
              try (CudaAttention one = CudaAttention.create(shape, true)) {
                return onDevice.apply(one);
              }
            };
        double cosMx = Double.NaN;
        double cosMx8 = Double.NaN;
        double cosExact;
        try (NDArray e1 = exact1.get();
            NDArray e = ops.get()) {
          cosExact = AccuracyMetrics.of(e1.toFloatArray(), e.toFloatArray()).cosine();
          if (mxDim) {
            try (NDArray a = mx.get();
                NDArray a8 = mx8.get()) {
              cosMx = AccuracyMetrics.of(a.toFloatArray(), e.toFloatArray()).cosine();
              cosMx8 = AccuracyMetrics.of(a8.toFloatArray(), e.toFloatArray()).cosine();
            }
          }
        }
        float[] tm = new float[rounds];
        float[] t8 = new float[rounds];
        float[] t1 = new float[rounds];
        float[] te = new float[rounds];
        float[] tr = new float[rounds];
        float[] tp = new float[rounds];
        for (int i = 0; i < rounds; i++) {
          if (mxDim) {
            tm[i] = medianMillis(mx, 3, 20);
            t8[i] = medianMillis(mx8, 3, 20);
            tr[i] = medianMillis(reused, 3, 20);
            tp[i] = medianMillis(perCall, 3, 20);
          }
          t1[i] = medianMillis(exact1, 3, 20);
          te[i] = medianMillis(ops, 3, 20);
        }
        if (att != null) {
          att.close();
        }
        String head =
            String.format(
                Locale.ROOT, "RESULT gpu_attention_bshd_padmask B%d S%d H%d D%d", b, s, h, d);
        float opsMs = median(te);
        String exact =
            String.format(
                Locale.ROOT,
                "exact one launch %.3f ms (%.3f-%.3f)   exact device ops %.3f ms (%.3f-%.3f)"
                    + "   one launch %.2fx   cosine one launch vs ops %.7f",
                median(t1),
                t1[0],
                t1[rounds - 1],
                opsMs,
                te[0],
                te[rounds - 1],
                opsMs / median(t1),
                cosExact);
        if (mxDim) {
          System.out.printf(
              Locale.ROOT,
              "%s   MX kernel %.3f ms (%.3f-%.3f)   %.2fx of device ops   cosine MX vs ops %.6f"
                  + "   MX FP8 P·V (mx.attention=fp8) %.3f ms (%.3f-%.3f)   %.2fx of FP16 P·V"
                  + "   cosine FP8 P·V vs ops %.6f"
                  + "   (MX kernel on a reused instance %.3f ms; with a scratch created per call %.3f"
                  + " ms (%.3f-%.3f))   %s%n",
              head,
              median(tm),
              tm[0],
              tm[rounds - 1],
              opsMs / median(tm),
              cosMx,
              median(t8),
              t8[0],
              t8[rounds - 1],
              median(tm) / median(t8),
              cosMx8,
              median(tr),
              median(tp),
              tp[0],
              tp[rounds - 1],
              exact);
        } else {
          System.out.printf(Locale.ROOT, "%s   %s%n", head, exact);
        }
      }
    }
  }

  /** Sorts {@code t} in place and returns its median. */
  private static float median(float[] t) {
    Arrays.sort(t);
    return t[t.length / 2];
  }
}

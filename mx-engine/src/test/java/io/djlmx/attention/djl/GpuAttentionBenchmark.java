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
import java.util.function.Supplier;

/**
 * What DJL's transformer blocks get on MX GPU arrays: {@link MxAttention} on BSHD views with a [B,
 * 1, 1, S] padding mask (as {@link MxScaledDotProductAttentionBlock} passes them), the CUDA MX
 * kernel against the exact FP32 path (device matMul and softmax) that ran before masks and BSHD
 * reached the kernel. Wall-clock medians of synchronized calls (each call allocates its output and
 * frees its temporaries, as in a model), interleaved rounds; the two outputs' cosine is printed.
 * Usage: {@code GpuAttentionBenchmark [ROUNDS]}.
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
    int[][] shapes = {{32, 128, 12, 64}, {8, 512, 12, 64}, {4, 512, 16, 128}};
    AttentionConfig bshd =
        AttentionConfig.defaults().toBuilder().optLayout(TensorLayout.BSHD).build();
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
        Supplier<NDArray> mx = () -> MxAttention.attention(q, k, v, mask, false, null, bshd);
        Supplier<NDArray> exact = () -> GpuAttention.exact(q, k, v, mask, false, sc, true);
        // the kernel alone on one reused instance: what creating and closing one per call costs
        AttentionShape shape = new AttentionShape(b, h, s, s, d);
        CudaAttention att = CudaAttention.create(shape, true);
        CudaAttentionMask cm =
            CudaAttentionMask.of(((MxCudaNDArray) mask).buffer(), new long[] {b, 1, 1, s}, shape);
        Supplier<NDArray> reused =
            () -> {
              MxCudaNDArray out = (MxCudaNDArray) m.create(q.getShape(), DataType.FLOAT32);
              att.forward(
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
        double cos;
        try (NDArray a = mx.get();
            NDArray e = exact.get()) {
          cos = AccuracyMetrics.of(a.toFloatArray(), e.toFloatArray()).cosine();
        }
        float[] tm = new float[rounds];
        float[] te = new float[rounds];
        float[] tr = new float[rounds];
        for (int i = 0; i < rounds; i++) {
          tm[i] = medianMillis(mx, 3, 20);
          te[i] = medianMillis(exact, 3, 20);
          tr[i] = medianMillis(reused, 3, 20);
        }
        att.close();
        Arrays.sort(tr);
        Arrays.sort(tm);
        Arrays.sort(te);
        float mxMs = tm[rounds / 2];
        float exMs = te[rounds / 2];
        System.out.printf(
            Locale.ROOT,
            "RESULT gpu_attention_bshd_padmask B%d S%d H%d D%d   MX kernel %.3f ms (%.3f-%.3f)   exact FP32"
                + " %.3f ms (%.3f-%.3f)   %.2fx   cosine %.6f   (kernel on a reused instance %.3f ms)%n",
            b,
            s,
            h,
            d,
            mxMs,
            tm[0],
            tm[rounds - 1],
            exMs,
            te[0],
            te[rounds - 1],
            exMs / mxMs,
            cos,
            tr[rounds / 2]);
      }
    }
  }
}

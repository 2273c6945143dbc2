package io.djlmx.kernel.cuda;

import io.djlmx.attention.AttentionShape;
import io.djlmx.attention.TensorLayout;
import java.util.Arrays;
import java.util.Locale;

/**
 * {@link CudaExactAttention} with 8 against 16 query rows per warp and the default choice, side by
 * side: BSHD tensors and a [B, 1, 1, S] padding mask (half the batches lose their last eighth of
 * keys), as DJL's transformer blocks pass them, at the head dims the MX kernels leave to it (32,
 * 96) and at 64 and 128 for scale. Medians of 15 CUDA-event timings after 3 warm-ups, in
 * interleaved rounds; TFLOP/s = 4·B·H·S²·D / time; the two outputs' largest relative difference.
 * Usage: {@code CudaExactAttentionBenchmark [ROUNDS]}.
 */
public final class CudaExactAttentionBenchmark {

  private CudaExactAttentionBenchmark() {}

  public static void main(String[] args) {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 7;
    CudaBackend be = CudaBackend.get();
    be.setSynchronousChecks(false);
    System.out.println("device: " + be.deviceName());
    int[][] shapes = {
      {32, 128, 12, 32},
      {8, 512, 12, 32},
      {4, 512, 16, 96},
      {2, 2048, 12, 96},
      {4, 1024, 16, 64},
      {2, 1024, 8, 128},
      {1, 4096, 8, 32},
      {2, 1024, 8, 256}
    };
    for (int[] sh : shapes) {
      int b = sh[0];
      int s = sh[1];
      int h = sh[2];
      int d = sh[3];
      AttentionShape shape = new AttentionShape(b, h, s, s, d);
      long n = (long) b * s * h * d;
      float[] pad = new float[b * s];
      for (int bi = 1; bi < b; bi += 2) {
        Arrays.fill(pad, bi * s + s * 7 / 8, (bi + 1) * s, -10000f);
      }
      try (DeviceBuffer q = CudaAttentionBenchmark.random(n, 21);
          DeviceBuffer k = CudaAttentionBenchmark.random(n, 22);
          DeviceBuffer v = CudaAttentionBenchmark.random(n, 23);
          DeviceBuffer o8 = DeviceBuffer.allocate(4 * n);
          DeviceBuffer o16 = DeviceBuffer.allocate(4 * n);
          DeviceBuffer m = DeviceBuffer.of(pad)) {
        CudaAttentionMask mask = CudaAttentionMask.of(m, new long[] {b, 1, 1, s}, shape);
        float scale = (float) (1 / Math.sqrt(d));
        int[] variants = d <= 128 ? new int[] {8, 16, 0} : new int[] {8, 0};
        float[][] ms = new float[variants.length][rounds];
        for (int r = 0; r < rounds; r++) {
          for (int i = 0; i < variants.length; i++) {
            int rows = variants[i];
            DeviceBuffer o = i == 0 ? o8 : o16;
            ms[i][r] =
                CudaAttentionBenchmark.medianMillis(
                    () ->
                        CudaExactAttention.forward(
                            q, k, v, o, shape, TensorLayout.BSHD, mask, false, scale, rows),
                    3,
                    15);
          }
        }
        be.synchronize();
        float[] a = new float[Math.toIntExact(n)];
        float[] c = new float[a.length];
        o8.copyTo(a);
        o16.copyTo(c);
        double maxRel = 0;
        for (int i = 0; i < a.length; i++) {
          maxRel = Math.max(maxRel, Math.abs(a[i] - c[i]) / Math.max(1e-6, Math.abs(a[i])));
        }
        double flops = 4.0 * b * h * (double) s * s * d;
        StringBuilder line =
            new StringBuilder(
                String.format(Locale.ROOT, "RESULT exact B%d S%d H%d D%d:", b, s, h, d));
        float base = 0;
        for (int i = 0; i < variants.length; i++) {
          float[] t = ms[i].clone();
          Arrays.sort(t);
          float med = t[rounds / 2];
          if (i == 0) {
            base = med;
          }
          line.append(
              String.format(
                  Locale.ROOT,
                  " %s %.3f ms (%.1f TFLOP/s, %.2fx of 8 rows, %.3f-%.3f);",
                  variants[i] == 0
                      ? "default (" + CudaExactAttention.rowsPerWarp(shape) + " rows)"
                      : variants[i] + " rows",
                  med,
                  flops / (med * 1e-3) / 1e12,
                  base / med,
                  t[0],
                  t[rounds - 1]));
        }
        line.append(String.format(Locale.ROOT, " max rel diff, 8 rows vs default %.1e", maxRel));
        System.out.println(line);
      }
    }
  }
}

package io.djlmx.kernel.cuda;

import io.djlmx.attention.AttentionShape;
import io.djlmx.attention.TensorLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Locale;
import jcuda.driver.CUevent;
import jcuda.driver.JCudaDriver;

/**
 * GPU benchmark of {@link CudaAttention}: B = 4, H = 32, S = 4096, D = 128, causal and not, random
 * inputs generated on the device, both fused kernels (wgmma where the device is sm_90, mma) and
 * both P·V precisions. Medians of CUDA-event timings after warm-up, for the whole call
 * (quantization + attention) and for the fused attention kernel alone. TOPS = 4·B·H·S²·D / time,
 * halved for causal; the default kernels also with BF16 inputs (the random values rounded), the
 * input SDPA BF16 reads. Prints one {@code RESULT} line per case (see {@code scripts/gpu-run.sh}).
 * With {@code masks [ROUNDS]}: what a padding mask and the BSHD layout cost the whole forward, at
 * this shape and at BERT-base's (B = 32, H = 12, S = 512, D = 64, FP16 P·V as {@code GpuAttention}
 * runs it), interleaved rounds. With the argument {@code profile}: one non-causal and one causal
 * forward of the default kernel (pv8) only, for a profiler (see {@code
 * scripts/gpu-attention-profile.sh}).
 */
public final class CudaAttentionBenchmark {

  /** Extra dynamic shared memory that leaves room for one CTA of the default kernel per SM. */
  private static final int ONE_CTA_PAD = 20 * 1024;

  private CudaAttentionBenchmark() {}

  /** A timed body (the exact-attention benchmark shares the timing). */
  interface Body {
    void run();
  }

  /** The median of {@code reps} CUDA-event timings of {@code body} after {@code warmup} calls. */
  static float medianMillis(Body body, int warmup, int reps) {
    CUevent start = new CUevent();
    CUevent stop = new CUevent();
    CudaBackend.check(JCudaDriver.cuEventCreate(start, 0), "cuEventCreate");
    CudaBackend.check(JCudaDriver.cuEventCreate(stop, 0), "cuEventCreate");
    try {
      for (int i = 0; i < warmup; i++) {
        body.run();
      }
      CudaBackend.get().synchronize();
      float[] t = new float[reps];
      float[] ms = new float[1];
      for (int i = 0; i < reps; i++) {
        CudaBackend.check(JCudaDriver.cuEventRecord(start, null), "cuEventRecord");
        body.run();
        CudaBackend.check(JCudaDriver.cuEventRecord(stop, null), "cuEventRecord");
        CudaBackend.check(JCudaDriver.cuEventSynchronize(stop), "cuEventSynchronize");
        CudaBackend.check(JCudaDriver.cuEventElapsedTime(ms, start, stop), "cuEventElapsedTime");
        t[i] = ms[0];
      }
      Arrays.sort(t);
      return t[reps / 2];
    } finally {
      JCudaDriver.cuEventDestroy(start);
      JCudaDriver.cuEventDestroy(stop);
    }
  }

  /** n uniform random floats on the device. */
  static DeviceBuffer random(long n, int seed) {
    DeviceBuffer b = DeviceBuffer.allocate(4 * n);
    Kernels.launch1d("mx_fill_random", n, new KernelArgs().ptr(b).i64(n).i32(seed).f32(1f));
    return b;
  }

  /** A BF16 copy (round to nearest even) of n FP32 values on the device, through the host. */
  private static DeviceBuffer toBf16(DeviceBuffer src, long n) {
    float[] host = new float[Math.toIntExact(n)];
    src.copyTo(host);
    short[] codes = HalfCodes.of(host, CudaAttention.InputType.BFLOAT16);
    DeviceBuffer b = DeviceBuffer.allocate(2 * n);
    b.copyFrom(MemorySegment.ofArray(codes));
    return b;
  }

  private static void result(String name, double value, String unit, String extra) {
    System.out.printf(Locale.ROOT, "RESULT %-44s %12.3f %-8s %s%n", name, value, unit, extra);
  }

  /**
   * Where the default kernel's time goes besides the 128-key steps: non-causal at B=4, H=32,
   * Sq=4096, D=128 over key lengths of 1 to 32 tiles (the same 8,192 CTAs, each doing Sk/128
   * steps), fitted by least squares to a + b·tiles. The intercept a is what every CTA costs besides
   * its steps (prologue, epilogue, the first tile's unpipelined work, launch and tail), spread over
   * the waves. Sk = 4032 ends every CTA on a half-padded tile, which takes the general (masked)
   * softmax path: its excess over Sk = 4096 is that path's cost on one tile per CTA. The causal
   * kernel at Sk = 4096 is then compared with the fit at its mean of 16.5 tiles per CTA. {@code
   * rounds} rounds, each timing every length in turn (median of 15 launches after 3 warm-ups).
   */
  private static void keySweep(
      DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer out, int rounds) {
    int[] keys = {128, 256, 512, 1024, 2048, 3072, 4096, 4032};
    int at4096 = 6;
    int at4032 = keys.length - 1;
    CudaAttention[] atts = new CudaAttention[keys.length];
    float[][] ms = new float[keys.length + 1][rounds];
    try {
      for (int i = 0; i < keys.length; i++) {
        atts[i] = CudaAttention.create(new AttentionShape(4, 32, 4096, keys[i], 128), false);
        atts[i].quantize(q, k, v, null);
      }
      CudaAttention full = atts[at4096];
      for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < keys.length; i++) {
          CudaAttention att = atts[i];
          ms[i][r] = medianMillis(() -> att.attend(out, false), 3, 15);
        }
        ms[keys.length][r] = medianMillis(() -> full.attend(out, true), 3, 15);
      }
      for (int i : new int[] {0, at4096}) {
        phases(atts[i], out, "sweep_sk" + keys[i], 0);
      }
    } finally {
      for (CudaAttention att : atts) {
        if (att != null) {
          att.close();
        }
      }
    }
    double[] med = new double[keys.length + 1];
    for (int i = 0; i <= keys.length; i++) {
      float[] t = sorted(ms[i]);
      med[i] = t[rounds / 2];
      String name = i < keys.length ? "sweep_sk" + keys[i] + "_full" : "sweep_sk4096_causal";
      result(
          name,
          med[i],
          "ms",
          String.format(Locale.ROOT, "%d rounds, %.3f-%.3f ms", rounds, t[0], t[rounds - 1]));
    }
    // least squares over the whole-tile lengths (all but 4032)
    int m = at4032;
    double sx = 0;
    double sy = 0;
    double sxx = 0;
    double sxy = 0;
    for (int i = 0; i < m; i++) {
      double x = keys[i] / 128.0;
      sx += x;
      sy += med[i];
      sxx += x * x;
      sxy += x * med[i];
    }
    double slope = (m * sxy - sx * sy) / (m * sxx - sx * sx);
    double icpt = (sy - slope * sx) / m;
    double worst = 0;
    for (int i = 0; i < m; i++) {
      worst = Math.max(worst, Math.abs(icpt + slope * keys[i] / 128.0 - med[i]));
    }
    result("sweep_fit_per_tile", slope, "ms", "per 128-key step of all 8,192 CTAs");
    result(
        "sweep_fit_intercept",
        icpt,
        "ms",
        String.format(
            Locale.ROOT,
            "%.1f%% of the 32-tile call; largest residual %.3f ms",
            100 * icpt / (icpt + 32 * slope),
            worst));
    result(
        "sweep_general_tile_excess",
        med[at4032] - med[at4096],
        "ms",
        String.format(
            Locale.ROOT,
            "Sk 4032 minus 4096: %.2f steps' worth per CTA",
            (med[at4032] - med[at4096]) / slope));
    double predicted = icpt + 16.5 * slope;
    result(
        "sweep_causal_vs_fit",
        med[keys.length] - predicted,
        "ms",
        String.format(
            Locale.ROOT,
            "measured %.3f ms, fit at 16.5 tiles %.3f ms (%.1f%% over)",
            med[keys.length],
            predicted,
            100 * (med[keys.length] / predicted - 1)));
  }

  /**
   * Runs the benchmark.
   *
   * @param args {@code profile} for one forward per causal setting of the default kernel; {@code ab
   *     KERNEL1,KERNEL2,... [ROUNDS [HEAD_DIM]]} for a same-process A/B of {@link
   *     CudaAttention.Kernel} values at head dim 128 or HEAD_DIM (see {@code abKernels}); {@code
   *     sweep [ROUNDS]} for the default kernel over key lengths (see {@code keySweep}); else
   *     ignored
   */
  public static void main(String[] args) {
    CudaBackend be = CudaBackend.get();
    be.setSynchronousChecks(false);
    System.out.println("device: " + be.deviceName());
    int b = 4;
    int h = 32;
    int s = 4096;
    // ab KERNELS ROUNDS D: the A/B at head dim D (64 or 128); everything else at 128
    int d = args.length > 3 && args[0].equals("ab") ? Integer.parseInt(args[3]) : 128;
    AttentionShape shape = new AttentionShape(b, h, s, s, d);
    long n = (long) b * h * s * d;
    try (DeviceBuffer q = random(n, 1);
        DeviceBuffer k = random(n, 2);
        DeviceBuffer v = random(n, 3);
        DeviceBuffer out = DeviceBuffer.allocate(4 * n)) {
      if (args.length > 0 && args[0].equals("profile")) {
        try (CudaAttention att = CudaAttention.create(shape, false)) {
          att.forward(q, k, v, out, false, null);
          att.forward(q, k, v, out, true, null);
          be.synchronize();
        }
        try (DeviceBuffer qb = toBf16(q, n);
            DeviceBuffer kb = toBf16(k, n);
            DeviceBuffer vb = toBf16(v, n);
            CudaAttention att =
                CudaAttention.create(shape, false, CudaAttention.InputType.BFLOAT16)) {
          att.forward(qb, kb, vb, out, false, null);
          be.synchronize();
        }
        return;
      }
      if (args.length > 0 && args[0].equals("masks")) {
        masks(args.length > 1 ? Integer.parseInt(args[1]) : 5);
        return;
      }
      if (args.length > 0 && args[0].equals("sweep")) {
        keySweep(q, k, v, out, args.length > 1 ? Integer.parseInt(args[1]) : 5);
        return;
      }
      if (args.length > 1 && args[0].equals("ab")) {
        abKernels(shape, q, k, v, out, args[1], args.length > 2 ? Integer.parseInt(args[2]) : 7);
        return;
      }
      for (CudaAttention.Kernel kernel : CudaAttention.Kernel.values()) {
        if (kernel.hopper() && be.computeCapability() != 90) {
          continue;
        }
        for (boolean fp16PV :
            kernel.fp16PV() ? new boolean[] {false, true} : new boolean[] {false}) {
          try (CudaAttention att = CudaAttention.create(shape, fp16PV, kernel)) {
            run(
                att,
                q,
                k,
                v,
                out,
                kernel.name().toLowerCase(Locale.ROOT) + "_" + (fp16PV ? "pv16" : "pv8"));
          }
        }
      }
      // the default FP8 kernel alone with one CTA per SM instead of two (its ≈ 107 KiB of shared
      // memory padded by ONE_CTA_PAD, past half an SM's 228 KiB and within a CTA's 227 KiB): how
      // much
      // the second CTA's overlap gives
      if (be.computeCapability() == 90) {
        try (CudaAttention att = CudaAttention.create(shape, false)) {
          for (boolean causal : new boolean[] {false, true}) {
            att.quantize(q, k, v, null);
            float two = medianMillis(() -> att.attend(out, causal), 3, 15);
            float one = medianMillis(() -> att.attend(out, causal, ONE_CTA_PAD, null), 3, 15);
            be.synchronize();
            String tag = "mx_attn_default_pv8_b4h32s4096d128_" + (causal ? "causal" : "full");
            result(tag + "_kernel_2cta_per_sm", two, "ms", "");
            result(tag + "_kernel_1cta_per_sm", one, "ms", "");
            if (!causal) {
              phases(att, out, tag + "_2cta_per_sm", 0);
              phases(att, out, tag + "_1cta_per_sm", ONE_CTA_PAD);
            }
          }
        }
      }
      // BF16 inputs (what SDPA BF16 reads): the same random values rounded to BF16, default kernels
      try (DeviceBuffer qb = toBf16(q, n);
          DeviceBuffer kb = toBf16(k, n);
          DeviceBuffer vb = toBf16(v, n)) {
        for (boolean fp16PV : new boolean[] {false, true}) {
          try (CudaAttention att =
              CudaAttention.create(shape, fp16PV, CudaAttention.InputType.BFLOAT16)) {
            run(att, qb, kb, vb, out, "default_bf16in_" + (fp16PV ? "pv16" : "pv8"));
          }
        }
      }
      // every quantization path with the default kernel, side by side
      for (CudaAttention.Quantizer qz : CudaAttention.Quantizer.values()) {
        for (boolean fp16PV : new boolean[] {false, true}) {
          try (CudaAttention att = CudaAttention.create(shape, fp16PV, null, qz)) {
            String name = qz.name().toLowerCase(Locale.ROOT);
            run(att, q, k, v, out, "default_" + name + "_" + (fp16PV ? "pv16" : "pv8"));
          }
        }
      }
    }
  }

  /**
   * One launch of the timed build of the default kernel: the mean clock cycles per 128-key loop
   * step of each phase, and per CTA of its prologue (entry to the loop, tile 0 included) and
   * epilogue (loop end to after the stores), over thread 0 of every CTA.
   */
  private static void phases(CudaAttention att, DeviceBuffer out, String tag, int extraSmem) {
    int ctas = att.hopperCtas();
    int n = CudaAttention.TIMING_LONGS;
    try (DeviceBuffer timing = DeviceBuffer.allocate(8L * n * ctas);
        Arena arena = Arena.ofConfined()) {
      att.attend(out, false, extraSmem, timing);
      CudaBackend.get().synchronize();
      MemorySegment host = arena.allocate(8L * n * ctas, 8);
      timing.copyTo(host);
      double[] sum = new double[n];
      long steps = 0;
      for (int c = 0; c < ctas; c++) {
        for (int i = 0; i < n; i++) {
          sum[i] += host.getAtIndex(ValueLayout.JAVA_LONG, (long) n * c + i);
        }
        steps += host.getAtIndex(ValueLayout.JAVA_LONG, (long) n * c + 7);
      }
      String[] names = {
        "stage_wait", "mma_issue", "qk_wait", "softmax", "pv_wait", "join_pack", "step"
      };
      for (int i = 0; i < 7; i++) {
        result(
            tag + "_cycles_" + names[i], sum[i] / Math.max(1, steps), "cycles", "per 128-key step");
      }
      result(
          tag + "_cycles_prologue",
          sum[8] / ctas,
          "cycles",
          "per CTA, entry to loop, tile 0 included");
      result(
          tag + "_cycles_epilogue",
          sum[9] / ctas,
          "cycles",
          "per CTA, loop end to after the stores");
    }
  }

  /**
   * Same-process A/B of fused kernels (FP8 P·V, or FP16 for a name suffixed {@code :16}; FP32
   * inputs quantized once per kernel): {@code rounds} rounds, each timing every kernel in turn
   * (median of 15 launches after 3 warm-ups, non- causal then causal), so drifting clocks hit every
   * kernel alike; reports each kernel's median over the rounds, its ratio to the first kernel, and
   * the 128-key kernels' phase cycles.
   */
  private static void abKernels(
      AttentionShape shape,
      DeviceBuffer q,
      DeviceBuffer k,
      DeviceBuffer v,
      DeviceBuffer out,
      String names,
      int rounds) {
    String[] list = names.split(",");
    String[] tags = new String[list.length];
    CudaAttention[] atts = new CudaAttention[list.length];
    try {
      for (int i = 0; i < list.length; i++) {
        // KERNEL or KERNEL:16 (FP16 P·V)
        String[] nameAndPv = list[i].trim().split(":");
        String name = nameAndPv[0];
        boolean fp16PV = nameAndPv.length > 1 && nameAndPv[1].equals("16");
        tags[i] =
            "ab_"
                + name.toLowerCase(Locale.ROOT)
                + (fp16PV ? "_pv16" : "")
                + "_d"
                + shape.headDim();
        atts[i] =
            CudaAttention.create(
                shape, fp16PV, CudaAttention.Kernel.valueOf(name.toUpperCase(Locale.ROOT)));
        atts[i].quantize(q, k, v, null);
      }
      float[][][] ms = new float[2][list.length][rounds];
      for (int r = 0; r < rounds; r++) {
        for (int c = 0; c < 2; c++) {
          boolean causal = c == 1;
          for (int i = 0; i < list.length; i++) {
            CudaAttention att = atts[i];
            ms[c][i][r] = medianMillis(() -> att.attend(out, causal), 3, 15);
          }
        }
      }
      CudaBackend.get().synchronize();
      for (int c = 0; c < 2; c++) {
        float first = sorted(ms[c][0])[rounds / 2];
        for (int i = 0; i < list.length; i++) {
          float[] t = sorted(ms[c][i]);
          result(
              tags[i] + (c == 1 ? "_causal" : "_full"),
              t[rounds / 2],
              "ms",
              String.format(
                  Locale.ROOT,
                  "%.3fx the first, %d rounds, %.3f-%.3f ms",
                  first / t[rounds / 2],
                  rounds,
                  t[0],
                  t[rounds - 1]));
        }
      }
      for (int i = 0; i < list.length; i++) {
        if (atts[i].kernel().keys128()) { // the kernels with a timed build
          phases(atts[i], out, tags[i], 0);
        }
      }
      // the whole call (quantization + kernel) of each, once, after the rounds
      for (int i = 0; i < list.length; i++) {
        CudaAttention att = atts[i];
        for (boolean causal : new boolean[] {false, true}) {
          float whole = medianMillis(() -> att.forward(q, k, v, out, causal, null), 3, 15);
          result(tags[i] + "_whole_" + (causal ? "causal" : "full"), whole, "ms", "");
        }
      }
    } finally {
      for (CudaAttention a : atts) {
        if (a != null) {
          a.close();
        }
      }
    }
  }

  /** A sorted copy: the median is at length / 2, the range at both ends. */
  private static float[] sorted(float[] xs) {
    float[] c = xs.clone();
    Arrays.sort(c);
    return c;
  }

  private static void run(
      CudaAttention att,
      DeviceBuffer q,
      DeviceBuffer k,
      DeviceBuffer v,
      DeviceBuffer out,
      String variant) {
    int reps = 15;
    CudaBackend be = CudaBackend.get();
    AttentionShape shape = att.shape();
    for (boolean causal : new boolean[] {false, true}) {
      double ops = shape.operations() / (causal ? 2 : 1);
      String tag = "mx_attn_" + variant + "_b4h32s4096d128_" + (causal ? "causal" : "full");
      float full = medianMillis(() -> att.forward(q, k, v, out, causal, null), 3, reps);
      be.synchronize();
      att.quantize(q, k, v, null);
      float kernel = medianMillis(() -> att.attend(out, causal), 3, reps);
      float quant = medianMillis(() -> att.quantize(q, k, v, null), 3, reps);
      be.synchronize();
      result(tag + "_total", ops / (full * 1e-3) / 1e12, "TOPS", String.format("%.3f ms", full));
      result(
          tag + "_kernel", ops / (kernel * 1e-3) / 1e12, "TOPS", String.format("%.3f ms", kernel));
      result(tag + "_quantize", quant, "ms", "");
    }
  }

  /**
   * The whole forward of the default kernel, unmasked BHSD against a [B, 1, 1, S] padding mask
   * (half the batches lose their last eighth of keys to -10000), BSHD and both, in interleaved
   * rounds of medians; at the shape (FP8 P·V) and at BERT-base's (FP16 P·V).
   */
  private static void masks(int rounds) {
    int[][] shapes = {{4, 32, 4096, 128, 0}, {32, 12, 512, 64, 1}};
    String[] variants = {"bhsd", "bhsd+mask", "bshd", "bshd+mask"};
    for (int[] sh : shapes) {
      AttentionShape shape = new AttentionShape(sh[0], sh[1], sh[2], sh[2], sh[3]);
      boolean fp16PV = sh[4] == 1;
      long n = (long) sh[0] * sh[1] * sh[2] * sh[3];
      float[] pad = new float[sh[0] * sh[2]];
      for (int bi = 1; bi < sh[0]; bi += 2) {
        Arrays.fill(pad, bi * sh[2] + sh[2] * 7 / 8, (bi + 1) * sh[2], -10000f);
      }
      try (DeviceBuffer q = random(n, 11);
          DeviceBuffer k = random(n, 12);
          DeviceBuffer v = random(n, 13);
          DeviceBuffer out = DeviceBuffer.allocate(4 * n);
          DeviceBuffer m = DeviceBuffer.of(pad);
          CudaAttention att = CudaAttention.create(shape, fp16PV)) {
        CudaAttentionMask mask = CudaAttentionMask.of(m, new long[] {sh[0], 1, 1, sh[2]}, shape);
        for (boolean causal : new boolean[] {false, true}) {
          float[][] ms = new float[variants.length][rounds];
          for (int r = 0; r < rounds; r++) {
            for (int i = 0; i < variants.length; i++) {
              TensorLayout layout = i < 2 ? TensorLayout.BHSD : TensorLayout.BSHD;
              CudaAttentionMask mk = i % 2 == 1 ? mask : null;
              ms[i][r] =
                  medianMillis(() -> att.forward(q, k, v, out, layout, mk, causal, null), 3, 15);
            }
          }
          float base = sorted(ms[0])[rounds / 2];
          for (int i = 0; i < variants.length; i++) {
            float[] t = sorted(ms[i]);
            float med = t[rounds / 2];
            result(
                String.format(
                    Locale.ROOT,
                    "masks %s B%d H%d S%d D%d %s%s",
                    fp16PV ? "pv16" : "pv8",
                    sh[0],
                    sh[1],
                    sh[2],
                    sh[3],
                    variants[i],
                    causal ? " causal" : ""),
                med,
                "ms",
                String.format(
                    Locale.ROOT,
                    "%.3fx of bhsd, range %.3f-%.3f",
                    med / base,
                    t[0],
                    t[rounds - 1]));
          }
        }
      }
    }
  }
}

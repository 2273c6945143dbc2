package io.djlmx.kernel.cuda;

import io.djlmx.format.MxFormat;
import io.djlmx.format.ScaleMode;
import io.djlmx.kernel.cuda.CudaMxLinear.WeightOnlyPath;
import java.util.Arrays;
import java.util.Locale;
import jcuda.driver.CUevent;
import jcuda.driver.JCudaDriver;

/**
 * GPU benchmark of the MX linear kernels: medians of CUDA-event timings after warm-up, on random
 * data generated and quantized on the device. Run with {@code java ... CudaLinearBenchmark} on a
 * machine with a CUDA device (see {@code scripts/gpu-run.sh}); prints one {@code RESULT} line per
 * case.
 */
public final class CudaLinearBenchmark {

  private static final int PER_BATCH = 10;

  private CudaLinearBenchmark() {}

  /** One timed case. */
  private interface Body {
    void run();
  }

  /**
   * Median time of one call: {@code reps} batches of {@link #PER_BATCH} back-to-back calls between
   * two CUDA events (so host launch overhead hides behind the queued kernels), after warm-up.
   */
  private static float medianMillis(Body body, int warmup, int reps) {
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
        for (int j = 0; j < PER_BATCH; j++) {
          body.run();
        }
        CudaBackend.check(JCudaDriver.cuEventRecord(stop, null), "cuEventRecord");
        CudaBackend.check(JCudaDriver.cuEventSynchronize(stop), "cuEventSynchronize");
        CudaBackend.check(JCudaDriver.cuEventElapsedTime(ms, start, stop), "cuEventElapsedTime");
        t[i] = ms[0] / PER_BATCH;
      }
      Arrays.sort(t);
      return t[reps / 2];
    } finally {
      JCudaDriver.cuEventDestroy(start);
      JCudaDriver.cuEventDestroy(stop);
    }
  }

  private static DeviceBuffer random(long n, int seed, float scale) {
    DeviceBuffer b = DeviceBuffer.allocate(4 * n);
    Kernels.launch1d("mx_fill_random", n, new KernelArgs().ptr(b).i64(n).i32(seed).f32(scale));
    return b;
  }

  private static void result(String name, double value, String unit, String extra) {
    System.out.printf(Locale.ROOT, "RESULT %-44s %12.3f %-8s %s%n", name, value, unit, extra);
  }

  /**
   * Runs the benchmark.
   *
   * @param args optional: {@code quick} for fewer repetitions
   */
  public static void main(String[] args) {
    boolean quick = args.length > 0 && args[0].equals("quick");
    boolean gemmOnly = args.length > 0 && args[0].equals("gemm");
    if (args.length > 0 && args[0].equals("launch")) {
      launchOverhead();
      return;
    }
    if (args.length > 0 && args[0].equals("tc")) {
      boolean presplit = CudaMxLinear.tensorCorePresplit;
      CudaMxLinear.tensorCorePresplit = false; // this suite compares the register-prefetch kernel
      try {
        tensorCoreSuite();
      } finally {
        CudaMxLinear.tensorCorePresplit = presplit;
      }
      return;
    }
    if (args.length > 0 && args[0].equals("tcs")) {
      presplitSuite();
      return;
    }
    if (args.length > 0 && args[0].equals("profile")) {
      profileOnce(8192, 8192, 8192);
      return;
    }
    if (args.length > 0 && args[0].equals("gemmfloor")) {
      printDevice(CudaBackend.get());
      CudaBackend.get().setSynchronousChecks(false);
      warpSpecializedRounds(8192, 8192, 8192, 3);
      warpSpecializedRounds(4096, 4096, 4096, 2);
      return;
    }
    int reps = quick ? 10 : 30;
    CudaBackend b = CudaBackend.get();
    b.setSynchronousChecks(false);
    printDevice(b);
    if (gemmOnly) {
      mxfp8Gemm(8192, 8192, 8192, 10);
      mxfp8Gemm(4096, 4096, 4096, 10);
      mxfp8Gemm(4096, 14336, 4096, 5);
      return;
    }
    gemv(16384, 16384, reps);
    gemv(4096, 4096, reps);
    batched(8, 16384, 16384, reps);
    batched(512, 4096, 4096, Math.max(5, reps / 3));
    mxfp8Gemm(8192, 8192, 8192, quick ? 3 : 5);
    mxfp8Gemm(4096, 4096, 4096, quick ? 3 : 10);
  }

  private static void printDevice(CudaBackend b) {
    System.out.println(
        "device: "
            + b.deviceName()
            + ", sm_"
            + b.computeCapability()
            + ", SMs "
            + b.multiprocessors());
  }

  private static void gemv(int n, int k, int reps) {
    try (DeviceBuffer wf = random((long) n * k, 1, 0.02f);
        DeviceBuffer x = random(k, 2, 1f);
        DeviceBuffer y = DeviceBuffer.allocate(4L * n)) {
      for (MxFormat f : MxFormat.values()) {
        try (CudaMxMatrix w = CudaMxMatrix.quantize(wf, n, k, f, ScaleMode.FLOOR)) {
          float ms = medianMillis(() -> CudaMxLinear.weightOnly(x, 1, w, null, y), 20, reps);
          long bytes = w.codes().byteSize() + w.scales().byteSize(); // one copy of the weight
          double gbs = bytes / (ms * 1e-3) / 1e9;
          result(
              "gemv_1x" + k + "x" + n + "_" + f,
              ms * 1000,
              "us",
              String.format(Locale.ROOT, "weights %d B, %.0f GB/s", bytes, gbs));
          if (n == 16384) {
            CudaMxLinear.stageActivationInSharedMemory = false;
            float msg = medianMillis(() -> CudaMxLinear.weightOnly(x, 1, w, null, y), 20, reps);
            CudaMxLinear.stageActivationInSharedMemory = true;
            result(
                "gemv_xglobal_1x" + k + "x" + n + "_" + f, msg * 1000, "us", "x read from L1/L2");
          }
          if (n == 16384 && (f == MxFormat.MXFP8_E4M3 || f == MxFormat.MXFP4_E2M1)) {
            float ms2 =
                medianMillis(
                    () -> CudaMxLinear.linear(x, 1, w, null, y, f, ScaleMode.FLOOR), 10, reps);
            result("gemv_wa_1x" + k + "x" + n + "_" + f, ms2 * 1000, "us", "weight+activation");
          }
        }
      }
    }
  }

  private static void batched(int m, int n, int k, int reps) {
    try (DeviceBuffer wf = random((long) n * k, 3, 0.02f);
        DeviceBuffer x = random((long) m * k, 4, 1f);
        DeviceBuffer y = DeviceBuffer.allocate(4L * m * n)) {
      for (MxFormat f :
          new MxFormat[] {MxFormat.MXFP4_E2M1, MxFormat.MXFP6_E2M3, MxFormat.MXFP8_E4M3}) {
        try (CudaMxMatrix w = CudaMxMatrix.quantize(wf, n, k, f, ScaleMode.FLOOR)) {
          float ms = medianMillis(() -> CudaMxLinear.weightOnly(x, m, w, null, y), 5, reps);
          double tflops = 2.0 * m * n * k / (ms * 1e-3) / 1e12;
          result(
              "weightonly_" + m + "x" + k + "x" + n + "_" + f,
              ms * 1000,
              "us",
              String.format(Locale.ROOT, "%.1f TFLOP/s", tflops));
        }
      }
    }
  }

  /**
   * Weight-only MX linear at all-MiniLM-L6-v2's shapes (K x N = 384x384, 384x1536, 1536x384; M =
   * tokens of a batch) on each kernel: split-BF16 tensor cores (3 pieces with 2 K groups per CTA,
   * the default, and with 1; both row tiles; 2 or 1 pieces as diagnostics), the SIMT FP32 GEMM and
   * the GEMV passes; then the FP32 batched matMul of MiniLM's attention (12 heads of 32 per
   * sentence). Prints what the dispatch chose.
   */
  private static void tensorCoreSuite() {
    CudaBackend b = CudaBackend.get();
    b.setSynchronousChecks(false);
    printDevice(b);
    int[][] kn = {{384, 384}, {384, 1536}, {1536, 384}};
    int[] ms = {8, 16, 24, 32, 64, 128, 256, 512, 1024, 2048};
    for (int[] s : kn) {
      int k = s[0];
      int n = s[1];
      try (DeviceBuffer wf = random((long) n * k, 7, 0.05f);
          DeviceBuffer x = random(2048L * k, 8, 1f);
          DeviceBuffer y = DeviceBuffer.allocate(4L * 2048 * n)) {
        for (MxFormat f :
            new MxFormat[] {MxFormat.MXFP6_E2M3, MxFormat.MXFP4_E2M1, MxFormat.MXFP8_E4M3}) {
          try (CudaMxMatrix w = CudaMxMatrix.quantize(wf, n, k, f, ScaleMode.FLOOR)) {
            w.gemvCodes();
            for (int m : ms) {
              if (f != MxFormat.MXFP6_E2M3 && m != 512) {
                continue; // the other formats at MiniLM's typical batch-32 row count only
              }
              String dims = "_" + m + "x" + k + "x" + n + "_" + f;
              double flops = 2.0 * m * n * k;
              tcCase("tc_p3_auto" + dims, flops, () -> CudaMxLinear.weightOnly(x, m, w, null, y));
              CudaMxLinear.tensorCoreKSplit = 1;
              tcCase(
                  "tc_p3_auto_k1" + dims,
                  flops,
                  () -> CudaMxLinear.weightOnly(x, m, w, null, y, WeightOnlyPath.TENSOR_CORE));
              CudaMxLinear.tensorCoreKSplit = 2;
              for (int tile : new int[] {32, 64}) {
                CudaMxLinear.tensorCoreRowTile = tile;
                tcCase(
                    "tc_p3_m" + tile + dims,
                    flops,
                    () -> CudaMxLinear.weightOnly(x, m, w, null, y, WeightOnlyPath.TENSOR_CORE));
              }
              CudaMxLinear.tensorCoreRowTile = 0;
              for (int p = 1; p <= 2; p++) {
                CudaMxLinear.tensorCorePieces = p;
                tcCase(
                    "tc_p" + p + "_auto" + dims,
                    flops,
                    () -> CudaMxLinear.weightOnly(x, m, w, null, y, WeightOnlyPath.TENSOR_CORE));
              }
              CudaMxLinear.tensorCorePieces = 3;
              tcCase(
                  "simt" + dims,
                  flops,
                  () -> CudaMxLinear.weightOnly(x, m, w, null, y, WeightOnlyPath.SIMT));
              if (m <= 64) {
                tcCase(
                    "gemv" + dims,
                    flops,
                    () -> CudaMxLinear.weightOnly(x, m, w, null, y, WeightOnlyPath.GEMV));
              }
              System.out.println("dispatch" + dims + ": " + CudaMxLinear.weightOnlyPath(m, w));
            }
          }
        }
      }
    }
    // attention scores and context of MiniLM at batch 32: 384 (sentence, head) pairs, head dim 32
    for (int len : new int[] {16, 32, 64}) {
      int batch = 32 * 12;
      int d = 32;
      try (DeviceBuffer q = random((long) batch * len * d, 9, 1f);
          DeviceBuffer kt = random((long) batch * d * len, 10, 1f);
          DeviceBuffer sc = DeviceBuffer.allocate(4L * batch * len * len);
          DeviceBuffer ctx = DeviceBuffer.allocate(4L * batch * len * d)) {
        tcCase(
            "attn_scores_matmul_" + batch + "x" + len + "x" + d + "x" + len,
            2.0 * batch * len * len * d,
            () -> CudaOps.matMul(sc, q, kt, batch, len, len, d, (long) len * d, (long) d * len));
        tcCase(
            "attn_context_matmul_" + batch + "x" + len + "x" + len + "x" + d,
            2.0 * batch * len * len * d,
            () -> CudaOps.matMul(ctx, sc, q, batch, len, d, len, (long) len * len, (long) len * d));
      }
    }
  }

  /**
   * The pre-split tensor-core kernels (mx_gemm_tcs.cu) against the register-prefetch one
   * (mx_gemm_tc.cu) at all-MiniLM-L6-v2's linear shapes (merged Q/K/V 384 to 1152, output 384 to
   * 384, FFN 384 to 1536 and 1536 to 384), rows from 32 to 2,048 (1,664 = 32 sentences of 52
   * tokens), each row tile and the automatic choice; MXFP6 E2M3 (the zoo's) at every size, the
   * other formats at 1,664 rows.
   */
  private static void presplitSuite() {
    CudaBackend b = CudaBackend.get();
    b.setSynchronousChecks(false);
    printDevice(b);
    boolean presplit = CudaMxLinear.tensorCorePresplit;
    int[][] kn = {{384, 1152}, {384, 384}, {384, 1536}, {1536, 384}};
    int[] ms = {32, 128, 512, 1024, 1664, 2048};
    int[] variants = CudaMxLinear.PRESPLIT_VARIANTS;
    try {
      for (int[] s : kn) {
        int k = s[0];
        int n = s[1];
        try (DeviceBuffer wf = random((long) n * k, 7, 0.05f);
            DeviceBuffer x = random(2048L * k, 8, 1f);
            DeviceBuffer y = DeviceBuffer.allocate(4L * 2048 * n)) {
          for (MxFormat f :
              new MxFormat[] {
                MxFormat.MXFP6_E2M3, MxFormat.MXFP4_E2M1, MxFormat.MXFP8_E4M3, MxFormat.MXINT8
              }) {
            try (CudaMxMatrix w = CudaMxMatrix.quantize(wf, n, k, f, ScaleMode.FLOOR)) {
              for (int m : ms) {
                if (f != MxFormat.MXFP6_E2M3 && m != 1664) {
                  continue;
                }
                String dims = "_" + m + "x" + k + "x" + n + "_" + f;
                double flops = 2.0 * m * n * k;
                CudaMxLinear.tensorCorePresplit = false;
                tcCase(
                    "tc_old" + dims,
                    flops,
                    () -> CudaMxLinear.weightOnly(x, m, w, null, y, WeightOnlyPath.TENSOR_CORE));
                CudaMxLinear.tensorCorePresplit = true;
                CudaMxLinear.presplitMinBlocks = 0;
                CudaMxLinear.presplitVariant = 0;
                tcCase(
                    "tcs_auto" + dims,
                    flops,
                    () -> CudaMxLinear.weightOnly(x, m, w, null, y, WeightOnlyPath.TENSOR_CORE));
                if (f == MxFormat.MXFP6_E2M3) {
                  for (int v : variants) {
                    CudaMxLinear.presplitVariant = v;
                    tcCase(
                        "tcs_v" + v + dims,
                        flops,
                        () ->
                            CudaMxLinear.weightOnly(x, m, w, null, y, WeightOnlyPath.TENSOR_CORE));
                  }
                  CudaMxLinear.presplitVariant = 0;
                  if (m <= 64) {
                    tcCase(
                        "gemv" + dims,
                        flops,
                        () -> CudaMxLinear.weightOnly(x, m, w, null, y, WeightOnlyPath.GEMV));
                  }
                }
                System.out.println(
                    "dispatch"
                        + dims
                        + ": "
                        + CudaMxLinear.weightOnlyPath(m, w)
                        + " variant "
                        + CudaMxLinear.presplitVariant(
                            m, n, w.blocksPerRow(), b.multiprocessors()));
              }
            }
          }
        }
      }
    } finally {
      CudaMxLinear.tensorCorePresplit = presplit;
      CudaMxLinear.presplitVariant = 0;
    }
  }

  /**
   * Host time per kernel launch (wall clock over 20,000 launches of a one-block kernel, then a
   * synchronisation), through JCuda and straight through the driver (FFM), alternating, 3 rounds
   * each: what an eager model pays per op before any GPU work.
   */
  private static void launchOverhead() {
    CudaBackend b = CudaBackend.get();
    b.setSynchronousChecks(false);
    boolean initial = CudaBackend.driverLaunch;
    int n = 20_000;
    try (DeviceBuffer buf = DeviceBuffer.allocate(4 * 256)) {
      for (int round = 0; round < 3; round++) {
        for (boolean driver : new boolean[] {false, true}) {
          CudaBackend.driverLaunch = driver;
          for (int i = 0; i < 2000; i++) { // warm-up (JIT)
            Kernels.launch1d(
                "mx_fill_random", 256, new KernelArgs().ptr(buf).i64(256).i32(i).f32(1f));
          }
          b.synchronize();
          long t0 = System.nanoTime();
          for (int i = 0; i < n; i++) {
            Kernels.launch1d(
                "mx_fill_random", 256, new KernelArgs().ptr(buf).i64(256).i32(i).f32(1f));
          }
          b.synchronize();
          double us = (System.nanoTime() - t0) / 1e3 / n;
          result(
              "launch_" + (driver ? "driver_ffm" : "jcuda") + "_round" + round,
              us,
              "us",
              "host wall time per launch of a 1-block kernel (4 parameters)");
        }
      }
    } finally {
      CudaBackend.driverLaunch = initial;
    }
  }

  private static void tcCase(String name, double flops, Body body) {
    float ms = medianMillis(body, 20, 30);
    result(
        name,
        ms * 1000,
        "us",
        String.format(Locale.ROOT, "%.2f TFLOP/s", flops / (ms * 1e-3) / 1e12));
  }

  /** The device inputs of an MXFP8 GEMM benchmark. */
  private interface GemmBody {
    void run(DeviceBuffer xf, DeviceBuffer y, CudaMxMatrix w, CudaMxMatrix xq);
  }

  /**
   * Makes random FP32 x [m, k] and W [n, k], their MXFP8 E4M3 forms and y, runs body, frees all.
   */
  private static void withGemmData(int m, int n, int k, GemmBody body) {
    try (DeviceBuffer xf = random((long) m * k, 5, 1f);
        DeviceBuffer wf = random((long) n * k, 6, 0.02f);
        DeviceBuffer y = DeviceBuffer.allocate(4L * m * n);
        CudaMxMatrix w = CudaMxMatrix.quantize(wf, n, k, MxFormat.MXFP8_E4M3, ScaleMode.FLOOR);
        CudaMxMatrix xq =
            CudaMxMatrix.quantize(xf, m, k, MxFormat.MXFP8_E4M3, ScaleMode.FLOOR, true, null)) {
      w.gemmScales();
      body.run(xf, y, w, xq);
    }
  }

  /** Names of the {@link CudaMxLinear.Mxfp8Kernel#WGMMA_WS3} variants, by variant number. */
  private static final String[] WS3_VARIANTS = {"onepartial", "halves"};

  /**
   * The warp-specialised kernels side by side: {@code rounds} rounds that each time the 8-slice
   * {@code WGMMA_WS} kernel and both {@code WGMMA_WS3} variants in turn (so clock drift hits all
   * alike), then the unscaled pipeline probe once.
   */
  private static void warpSpecializedRounds(int m, int n, int k, int rounds) {
    double flops = 2.0 * m * n * k;
    String dims = "_" + m + "x" + n + "x" + k;
    withGemmData(
        m,
        n,
        k,
        (xf, y, w, xq) -> {
          for (int r = 0; r < rounds; r++) {
            CudaMxLinear.wsVariant = CudaMxLinear.WS_8SLICE;
            timeGemm(
                "mxfp8_gemm_WGMMA_WS_8slice" + dims + "_round" + r,
                flops,
                10,
                "kernel only",
                () -> CudaMxLinear.mxfp8Gemm(xq, w, null, y, CudaMxLinear.Mxfp8Kernel.WGMMA_WS));
            for (int v = 0; v < WS3_VARIANTS.length; v++) {
              CudaMxLinear.ws3Variant = v;
              timeGemm(
                  "mxfp8_gemm_WGMMA_WS3_" + WS3_VARIANTS[v] + dims + "_round" + r,
                  flops,
                  10,
                  "kernel only",
                  () -> CudaMxLinear.mxfp8Gemm(xq, w, null, y, CudaMxLinear.Mxfp8Kernel.WGMMA_WS3));
            }
          }
          CudaMxLinear.ws3Variant = CudaMxLinear.WS3_ONE_PARTIAL;
          for (String probe : new String[] {"no_mma", "no_promote", "no_scale_loads"}) {
            timeGemm(
                "probe_ws3_" + probe + dims,
                flops,
                10,
                "WGMMA_WS3 one-partial kernel, part of its work (diagnostic, not an MX product)",
                () ->
                    CudaMxLinear.launchWarpSpecialized(
                        "mx_wgmma_ws3_probe_" + probe,
                        CudaMxLinear.WS3_SMEM_BYTES,
                        192,
                        512,
                        xq,
                        w,
                        null,
                        y));
          }
          timeGemm(
              "probe_ws_unscaled" + dims,
              flops,
              10,
              "WGMMA_WS pipeline without the per-slice scale work (diagnostic, not an MX product)",
              () ->
                  CudaMxLinear.launchWarpSpecialized(
                      "mx_wgmma_ws_probe_unscaled", CudaMxLinear.WS_SMEM_BYTES, xq, w, null, y));
        });
  }

  /** Two launches of each warp-specialised variant, untimed (for a profiler). */
  private static void profileOnce(int m, int n, int k) {
    withGemmData(
        m,
        n,
        k,
        (xf, y, w, xq) -> {
          for (int v = 0; v < 2; v++) {
            CudaMxLinear.wsVariant = v;
            CudaMxLinear.mxfp8Gemm(xq, w, null, y);
            CudaMxLinear.mxfp8Gemm(xq, w, null, y);
          }
          CudaMxLinear.wsVariant = CudaMxLinear.WS_8SLICE;
          CudaBackend.get().synchronize();
        });
  }

  /** Times one GEMM call and prints its rate in TFLOP/s with its median time and a note. */
  private static void timeGemm(String name, double flops, int reps, String note, Body body) {
    float ms = medianMillis(body, 3, reps);
    result(
        name,
        flops / (ms * 1e-3) / 1e12,
        "TFLOP/s",
        String.format(Locale.ROOT, "%.3f ms (%s)", ms, note));
  }

  private static void mxfp8Gemm(int m, int n, int k, int reps) {
    withGemmData(m, n, k, (xf, y, w, xq) -> mxfp8Gemm(m, n, k, reps, xf, y, w, xq));
  }

  private static void mxfp8Gemm(
      int m,
      int n,
      int k,
      int reps,
      DeviceBuffer xf,
      DeviceBuffer y,
      CudaMxMatrix w,
      CudaMxMatrix xq) {
    double flops = 2.0 * m * n * k;
    String dims = "_" + m + "x" + n + "x" + k;
    String[] variants = {"4slice", "8slice"};
    for (int v = 0; v < variants.length; v++) {
      CudaMxLinear.wsVariant = v;
      timeGemm(
          "mxfp8_gemm_WGMMA_WS_" + variants[v] + dims,
          flops,
          reps,
          "kernel only",
          () -> CudaMxLinear.mxfp8Gemm(xq, w, null, y));
    }
    CudaMxLinear.wsVariant = CudaMxLinear.WS_8SLICE;
    for (CudaMxLinear.Mxfp8Kernel kernel : CudaMxLinear.Mxfp8Kernel.values()) {
      if (kernel == CudaMxLinear.Mxfp8Kernel.WGMMA_WS3) {
        for (int v = 0; v < WS3_VARIANTS.length; v++) {
          CudaMxLinear.ws3Variant = v;
          timeGemm(
              "mxfp8_gemm_WGMMA_WS3_" + WS3_VARIANTS[v] + dims,
              flops,
              reps,
              "kernel only",
              () -> CudaMxLinear.mxfp8Gemm(xq, w, null, y, CudaMxLinear.Mxfp8Kernel.WGMMA_WS3));
        }
        CudaMxLinear.ws3Variant = CudaMxLinear.WS3_ONE_PARTIAL;
      } else if (kernel != CudaMxLinear.Mxfp8Kernel.WGMMA_WS) {
        timeGemm(
            "mxfp8_gemm_" + kernel + dims,
            flops,
            reps,
            "kernel only",
            () -> CudaMxLinear.mxfp8Gemm(xq, w, null, y, kernel));
      }
    }
    String probe = "without the per-slice scale work (diagnostic, not an MX product)";
    timeGemm(
        "probe_mma_unscaled" + dims,
        flops,
        reps,
        "MMA_SYNC pipeline " + probe,
        () ->
            CudaMxLinear.launchGemm(
                "mx_mma_probe_unscaled", CudaMxLinear.MMA_SMEM_BYTES, xq, w, null, y));
    timeGemm(
        "probe_ws_unscaled" + dims,
        flops,
        reps,
        "WGMMA_WS pipeline " + probe,
        () ->
            CudaMxLinear.launchWarpSpecialized(
                "mx_wgmma_ws_probe_unscaled", CudaMxLinear.WS_SMEM_BYTES, xq, w, null, y));
    timeGemm(
        "mxfp8_linear" + dims,
        flops,
        reps,
        "FP32 x quantized on device + GEMM",
        () -> CudaMxLinear.linear(xf, m, w, null, y, MxFormat.MXFP8_E4M3, ScaleMode.FLOOR));
  }
}

package io.djlmx.kernel.cuda;

import io.djlmx.format.MxFormat;
import io.djlmx.format.ScaleMode;

/**
 * MX linear on the GPU: {@code y[m, n] = x[m, k] · Wᵀ (+ bias[n])} with W an MX matrix {@code [n,
 * k]} in device memory and x, y, bias FP32 row-major device buffers.
 *
 * <p>Weight-only ({@code activation == null}): up to {@link #TENSOR_CORE_WEIGHT_ONLY_MIN_ROWS} - 1
 * rows of x (up to 64 where K is at least 1024) go through the GEMV kernels (each weight decoded
 * once in registers and used for every row); more run on the BF16 tensor cores with x split into
 * BF16 pieces (exact to FP32, see {@code mx_gemm_tc.cu}) when every weight value times its scale is
 * a BF16 value, else through a tiled FP32 GEMM on the CUDA cores that decodes weight tiles into
 * shared memory. Weight + activation: x is quantized per 32-block on the device; MXFP8 x MXFP8 with
 * at least {@link #TENSOR_CORE_MIN_ROWS} rows runs on the FP8 tensor cores with the block scales
 * applied per 32-wide K slice; other pairs multiply the dequantized activation (exact MX values) by
 * the weight kernels, which is the spec's Dot in FP32.
 */
public final class CudaMxLinear {

  /** Rows of x from which MXFP8 x MXFP8 takes the tensor-core GEMM rather than the GEMV path. */
  public static final int TENSOR_CORE_MIN_ROWS = 16;

  static final int MMA_SMEM_BYTES = 4 * (128 * 80 * 2 + 4 * (256 + 256));
  static final int WGMMA_SMEM_BYTES = 4 * (128 * 64 * 2 + 4 * (256 + 256));

  /**
   * Shared memory of the warp-specialised kernel (mx_wgmma_ws.cu) with 4-slice stages: 5 stages of
   * 36 KiB, 1 KiB of slack to align them to 1,024 bytes, the mbarriers.
   */
  static final int WS_SMEM_BYTES = 5 * (128 * 128 * 2 + 4 * 4 * (128 + 128)) + 1024 + 128;

  /** The same with 8-slice stages: 3 stages of 72 KiB. */
  static final int WS8_SMEM_BYTES = 3 * (128 * 256 * 2 + 4 * 8 * (128 + 128)) + 1024 + 128;

  /**
   * Shared memory of the three-consumer-warpgroup kernel (mx_wgmma_ws3.cu): 5 stages of 45 KiB (192
   * x 128 A codes, 128 x 128 B codes, 4 slices of scales), 1 KiB of alignment slack, the mbarriers.
   */
  static final int WS3_SMEM_BYTES = 5 * (192 * 128 + 128 * 128 + 4 * 4 * (192 + 128)) + 1024 + 128;

  /** Three-warpgroup variant: one m64n128 partial per warpgroup (issue, wait, promote). */
  static final int WS3_ONE_PARTIAL = 0;

  /**
   * Three-warpgroup variant: each slice as two m64n64 halves into two partials, so one half's MMA
   * runs while the other half is promoted.
   */
  static final int WS3_HALVES = 1;

  /** Which variant {@link Mxfp8Kernel#WGMMA_WS3} runs (tests and benchmarks set it). */
  static volatile int ws3Variant = WS3_ONE_PARTIAL;

  /** Warp-specialised variant: 4-slice stages. */
  static final int WS_4SLICE = 0;

  /**
   * Warp-specialised variant: 8-slice stages (one wait for the tensor cores per 8 slices instead of
   * 4; measured 3-4% faster, the default).
   */
  static final int WS_8SLICE = 1;

  /**
   * Which warp-specialised variant {@link Mxfp8Kernel#WGMMA_WS} runs (tests and benchmarks set it).
   */
  static volatile int wsVariant = WS_8SLICE;

  /** Upper bound on the persistent kernel's CTAs (0: one per multiprocessor); tests lower it. */
  static volatile int maxPersistentCtas = 0;

  /** The tensor-core kernels for MXFP8 x MXFP8. */
  public enum Mxfp8Kernel {
    /**
     * The Hopper design: bulk tensor copies (TMA) into a 5-stage mbarrier pipeline, a producer warp
     * and two consumer warpgroups on {@code wgmma} (QGMMA), two partial accumulators per warpgroup
     * so the scale work of one slice overlaps the next slice's MMA, persistent CTAs (the default).
     */
    WGMMA_WS,
    /**
     * The same pipeline with three consumer warpgroups on a 192 x 128 tile (three warps per
     * scheduler to hide the scale loads and MMA waits of the per-slice promotion), 128 producer +
     * 384 consumer threads at 24 and 160 registers. Measured on the H100 against {@link #WGMMA_WS}
     * in the same calls: 1-6% faster at 8192³, 6-8% slower at 4096³ (fewer, larger tiles), so not
     * the default (docs/bench/gemmfloor.md).
     */
    WGMMA_WS3,
    /**
     * Warpgroup MMA ({@code wgmma}, QGMMA in SASS) fed by a {@code cp.async} pipeline without warp
     * specialisation (the first version; kept as a cross-check).
     */
    WGMMA,
    /**
     * Warp-level {@code mma.sync} m16n8k32 FP8; on sm_90 the compiler lowers it to FP16 HMMA with
     * FP8-to-FP16 conversions, so it is kept as a cross-check, not for speed.
     */
    MMA_SYNC
  }

  private static final Mxfp8Kernel DEFAULT_MXFP8_KERNEL =
      Mxfp8Kernel.valueOf(
          System.getProperty("mx.cuda.mxfp8Kernel", Mxfp8Kernel.WGMMA_WS.name())
              .toUpperCase(java.util.Locale.ROOT));

  /** Largest x (bytes, padded to whole blocks) the batch-1 GEMV stages in shared memory. */
  private static final long MAX_STAGED_X_BYTES = 96 * 1024;

  /** Whether batch 1 stages x in shared memory (benchmarks turn it off to compare). */
  static volatile boolean stageActivationInSharedMemory = true;

  /**
   * From this many rows of x, weight-only runs a tiled GEMM (split-BF16 tensor cores, or SIMT)
   * instead of GEMV passes of 8 rows.
   */
  public static final int TENSOR_CORE_WEIGHT_ONLY_MIN_ROWS = 32;

  /**
   * Reduction length from which the GEMV passes still beat the tensor-core GEMM up to {@link
   * #LONG_K_GEMV_MAX_ROWS} rows (its K loop is latency-bound there: at 1536x384, 32 and 64 rows,
   * GEMV 18.9/18.7 us vs 29.8/31.6 us on the H100, docs/bench/gputc.md).
   */
  static final long LONG_K = 1024;

  /** Rows up to which long-K weight-only linear stays on the GEMV passes. */
  static final long LONG_K_GEMV_MAX_ROWS = 64;

  /** The kernels of weight-only MX linear. */
  enum WeightOnlyPath {
    /** GEMV passes of up to 8 rows (mx_gemv.cu). */
    GEMV,
    /** Split-BF16 tensor-core GEMM (mx_gemm_tc.cu). */
    TENSOR_CORE,
    /** Register-blocked FP32 GEMM on the CUDA cores (mx_gemm_simt.cu). */
    SIMT
  }

  /**
   * Whether weight-only linear may use the tensor-core kernel (system property {@code
   * mx.cuda.tensorCoreLinear}, default true; false keeps the SIMT GEMM, for comparisons).
   */
  static volatile boolean tensorCoreLinear =
      Boolean.parseBoolean(System.getProperty("mx.cuda.tensorCoreLinear", "true"));

  /**
   * BF16 pieces each FP32 activation is split into on the tensor-core path: 3 hold all 24
   * significand bits (the default); 2 and 1 exist for the error and speed measurements.
   */
  static volatile int tensorCorePieces = 3;

  /** Rows per CTA of the tensor-core GEMM: 32 or 64, or 0 to choose by the grid size. */
  static volatile int tensorCoreRowTile = 0;

  /**
   * K groups per CTA of the 3-piece tensor-core GEMM (system property {@code mx.cuda.tcKSplit}, 1
   * or 2): with 2, two groups of 4 warps take alternate 32-wide K tiles with their own buffers and
   * add their sums at the end, so each CTA keeps two K loops in flight.
   */
  static volatile int tensorCoreKSplit = Integer.getInteger("mx.cuda.tcKSplit", 2) == 1 ? 1 : 2;

  /**
   * Whether the 3-piece tensor-core path prepares its operands once per call (mx_gemm_tcs.cu: x
   * split into its BF16 pieces and W decoded to BF16 in one launch, then a plain 3-piece BF16 GEMM
   * with a {@code cp.async} pipeline) rather than converting them inside the GEMM per CTA
   * (mx_gemm_tc.cu). System property {@code mx.cuda.tcPresplit}, default false: both compute the
   * same exact products, and on the H100 the pre-split path ran at 0.76-1.15x the speed of the
   * in-GEMM kernel at MiniLM's shapes with 1,024-2,048 rows (docs/bench/minilmtc.md), so it stays
   * opt-in.
   */
  static volatile boolean tensorCorePresplit =
      Boolean.parseBoolean(System.getProperty("mx.cuda.tcPresplit", "false"));

  /**
   * Fewest 32-wide K blocks per row from which the pre-split path runs (system property {@code
   * mx.cuda.tcPresplitMinBlocks}, default 0: always); shorter K keeps the in-GEMM conversion.
   */
  static volatile int presplitMinBlocks = Integer.getInteger("mx.cuda.tcPresplitMinBlocks", 0);

  /**
   * The pre-split GEMM variants compiled (mx_gemm_tcs.cu), as rows per CTA x 100 + K groups x 10 +
   * pipeline stages.
   */
  static final int[] PRESPLIT_VARIANTS = {3242, 6413, 6422, 6423, 6442, 12814};

  /** Which pre-split GEMM variant runs (one of {@link #PRESPLIT_VARIANTS}), or 0 to choose. */
  static volatile int presplitVariant = 0;

  private static final java.util.Set<String> SHARED_MEMORY_RAISED =
      java.util.concurrent.ConcurrentHashMap.newKeySet();

  /**
   * What the weight-only kernels apply to {@code x·Wᵀ + bias} before the store; the order is the
   * kernels' id ({@code mx_epilogue} in mx_common.cuh).
   */
  public enum Epilogue {
    /** The linear output as it is. */
    NONE,
    /**
     * The exact (erf) GELU, the formula of {@link CudaOps.Unary#GELU}: the same values as a
     * separate map, one launch and one pass over y fewer.
     */
    GELU
  }

  private CudaMxLinear() {}

  /**
   * Computes the linear layer.
   *
   * @param x FP32 input {@code [m, k]}
   * @param m rows of x
   * @param w the MX weight {@code [n, k]}
   * @param bias FP32 bias {@code [n]}, or null
   * @param y FP32 output {@code [m, n]}
   * @param activation the activation's MX format, or null for weight-only
   * @param scaleMode the activation's shared-scale rule (ignored when weight-only)
   */
  public static void linear(
      DeviceBuffer x,
      long m,
      CudaMxMatrix w,
      DeviceBuffer bias,
      DeviceBuffer y,
      MxFormat activation,
      ScaleMode scaleMode) {
    linear(x, m, w, bias, y, activation, scaleMode, Epilogue.NONE);
  }

  /**
   * Computes the linear layer followed by an elementwise epilogue: {@code y = epilogue(x·Wᵀ +
   * bias)}. The weight-only kernels apply it before their store; the MXFP8 x MXFP8 tensor-core
   * kernels have no epilogue, so there it runs as a separate map over y.
   *
   * @param x FP32 input {@code [m, k]}
   * @param m rows of x
   * @param w the MX weight {@code [n, k]}
   * @param bias FP32 bias {@code [n]}, or null
   * @param y FP32 output {@code [m, n]}
   * @param activation the activation's MX format, or null for weight-only
   * @param scaleMode the activation's shared-scale rule (ignored when weight-only)
   * @param epilogue what to apply to each output
   */
  public static void linear(
      DeviceBuffer x,
      long m,
      CudaMxMatrix w,
      DeviceBuffer bias,
      DeviceBuffer y,
      MxFormat activation,
      ScaleMode scaleMode,
      Epilogue epilogue) {
    long n = w.rows();
    long k = w.cols();
    checkArgs(x, m, n, k, bias, y);
    Epilogue e = epilogue == null ? Epilogue.NONE : epilogue;
    if (activation == null) {
      weightOnly(x, m, w, bias, y, weightOnlyPath(m, w), e);
      return;
    }
    ScaleMode mode = scaleMode == null ? ScaleMode.FLOOR : scaleMode;
    if (isFp8(activation) && isFp8(w.format()) && m >= TENSOR_CORE_MIN_ROWS) {
      try (CudaMxMatrix xq = CudaMxMatrix.quantize(x, m, k, activation, mode, true, null)) {
        mxfp8Gemm(xq, w, bias, y);
      }
      if (e == Epilogue.GELU) {
        CudaOps.map(y, y, m * n, CudaOps.Unary.GELU, 0f);
      }
      return;
    }
    try (DeviceBuffer deq = DeviceBuffer.allocate(4 * m * k);
        CudaMxMatrix xq = CudaMxMatrix.quantize(x, m, k, activation, mode, false, deq)) {
      weightOnly(deq, m, w, bias, y, weightOnlyPath(m, w), e);
    }
  }

  private static boolean isFp8(MxFormat f) {
    return f == MxFormat.MXFP8_E4M3 || f == MxFormat.MXFP8_E5M2;
  }

  private static void checkArgs(
      DeviceBuffer x, long m, long n, long k, DeviceBuffer bias, DeviceBuffer y) {
    if (m < 1 || m > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("rows of x must be in [1, 2^31), got " + m);
    }
    if (x.byteSize() < 4 * m * k) {
      throw new IllegalArgumentException(
          "x of " + x.byteSize() + " bytes is smaller than [" + m + ", " + k + "] FP32");
    }
    if (y.byteSize() < 4 * m * n) {
      throw new IllegalArgumentException(
          "y of " + y.byteSize() + " bytes is smaller than [" + m + ", " + n + "] FP32");
    }
    if (bias != null && bias.byteSize() < 4 * n) {
      throw new IllegalArgumentException(
          "bias of " + bias.byteSize() + " bytes is smaller than [" + n + "] FP32");
    }
  }

  /**
   * Weight-only linear: FP32 x times the MX weight, accumulated in FP32.
   *
   * @param x FP32 input {@code [m, k]}
   * @param m rows of x
   * @param w the MX weight {@code [n, k]}
   * @param bias FP32 bias {@code [n]}, or null
   * @param y FP32 output {@code [m, n]}
   */
  public static void weightOnly(
      DeviceBuffer x, long m, CudaMxMatrix w, DeviceBuffer bias, DeviceBuffer y) {
    weightOnly(x, m, w, bias, y, weightOnlyPath(m, w)); // checks the arguments
  }

  /**
   * Which kernel weight-only linear runs for m rows of x and this weight.
   *
   * @param m rows of x
   * @param w the weight
   * @return the path
   */
  static WeightOnlyPath weightOnlyPath(long m, CudaMxMatrix w) {
    if (m < TENSOR_CORE_WEIGHT_ONLY_MIN_ROWS || (m <= LONG_K_GEMV_MAX_ROWS && w.cols() >= LONG_K)) {
      return WeightOnlyPath.GEMV;
    }
    return tensorCoreLinear && w.bf16Exact() ? WeightOnlyPath.TENSOR_CORE : WeightOnlyPath.SIMT;
  }

  /**
   * Weight-only linear on a chosen kernel (tests and benchmarks compare them; each is correct for
   * any shape, the tensor-core path exactly so only where {@link CudaMxMatrix#bf16Exact()}).
   */
  static void weightOnly(
      DeviceBuffer x,
      long m,
      CudaMxMatrix w,
      DeviceBuffer bias,
      DeviceBuffer y,
      WeightOnlyPath path) {
    weightOnly(x, m, w, bias, y, path, Epilogue.NONE);
  }

  /** Weight-only linear on a chosen kernel with an epilogue applied before the store. */
  static void weightOnly(
      DeviceBuffer x,
      long m,
      CudaMxMatrix w,
      DeviceBuffer bias,
      DeviceBuffer y,
      WeightOnlyPath path,
      Epilogue epilogue) {
    long n = w.rows();
    long k = w.cols();
    checkArgs(x, m, n, k, bias, y);
    int f = w.format().ordinal();
    boolean gemv = path == WeightOnlyPath.GEMV;
    KernelArgs args =
        new KernelArgs()
            .ptr(x)
            .i32(m)
            .ptr(gemv ? w.gemvCodes() : w.codes())
            .i64(w.codeBytesPerRow())
            .ptr(w.scales())
            .i32(w.blocksPerRow())
            .ptr(bias)
            .ptr(y)
            .i32(n)
            .i32(k)
            .i32(epilogue.ordinal());
    CudaBackend b = CudaBackend.get();
    if (gemv) {
      int mb = m == 1 ? 1 : m == 2 ? 2 : m <= 4 ? 4 : 8;
      int rowsPerWarp = gemvRowsPerWarp(w.format(), mb);
      long warps = (n + rowsPerWarp - 1) / rowsPerWarp;
      int blocks = (int) ((warps + 7) / 8);
      int gy = (int) ((m + mb - 1) / mb);
      long xsBytes = 128 * w.blocksPerRow();
      if (mb == 1 && stageActivationInSharedMemory && xsBytes <= MAX_STAGED_X_BYTES) {
        // batch 1: x staged in shared memory (two CTAs per SM still fit)
        String name = "mx_gemv_f" + f + "_b1s";
        b.allowDynamicSharedMemory(name, (int) xsBytes);
        b.launch(
            name, new int[] {blocks, 1, 1}, new int[] {256, 1, 1}, (int) xsBytes, args.build());
      } else {
        b.launch(
            "mx_gemv_f" + f + "_b" + mb,
            new int[] {blocks, gy, 1},
            new int[] {256, 1, 1},
            0,
            args.build());
      }
    } else if (path == WeightOnlyPath.TENSOR_CORE
        && tensorCorePresplit
        && tensorCorePieces == 3
        && w.blocksPerRow() >= presplitMinBlocks) {
      presplitTensorCore(x, m, w, bias, y, epilogue, b);
    } else if (path == WeightOnlyPath.TENSOR_CORE) {
      int bm = tensorCoreRowTile;
      if (bm != 32 && bm != 64) {
        // 64-row tiles once they give two CTAs per multiprocessor, else 32 for twice the CTAs (the
        // K loop is latency-bound at these sizes: measured at MiniLM's shapes, docs/bench/gputc.md)
        long tiles64 = ((m + 63) / 64) * ((n + 63) / 64);
        bm = tiles64 >= 2L * b.multiprocessors() ? 64 : 32;
      }
      int pieces = tensorCorePieces;
      int ks = pieces == 3 ? tensorCoreKSplit : 1;
      // per K group: two stages of the split x (pieces x bm rows) and of the decoded weight (64
      // rows),
      // rows of 40 BF16 (mx_gemm_tc.cu, TcGroupSmem)
      int smem = ks * 2 * (pieces * bm + 64) * 40 * 2;
      String name = "mx_gemm_tc_f" + f + "_p" + pieces + "_m" + bm + "_k" + ks;
      if (smem > 48 * 1024 && SHARED_MEMORY_RAISED.add(name)) {
        b.allowDynamicSharedMemory(name, smem);
      }
      b.launch(
          name,
          new int[] {(int) ((m + bm - 1) / bm), (int) ((n + 63) / 64), 1},
          new int[] {128 * ks, 1, 1},
          smem,
          args.build());
    } else {
      int gx = (int) ((n + 63) / 64);
      int gy = (int) ((m + 63) / 64);
      b.launch("mx_gemm_simt_f" + f, new int[] {gx, gy, 1}, new int[] {256, 1, 1}, 0, args.build());
    }
  }

  /**
   * The pre-split tensor-core path (mx_gemm_tcs.cu): one launch splits x into its 3 BF16 pieces and
   * decodes W to BF16 (each element once per call, into pooled scratch), a second runs the 3-piece
   * BF16 GEMM over them.
   */
  private static void presplitTensorCore(
      DeviceBuffer x,
      long m,
      CudaMxMatrix w,
      DeviceBuffer bias,
      DeviceBuffer y,
      Epilogue epilogue,
      CudaBackend b) {
    long n = w.rows();
    long k = w.cols();
    long bpr = w.blocksPerRow();
    long kp = 32 * bpr;
    long xBlocks = (m * kp / 8 + 255) / 256;
    long wBlocks = (n * bpr * 4 + 255) / 256;
    if (xBlocks + wBlocks > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "linear too large for the pre-split path: ["
              + m
              + ", "
              + k
              + "] x ["
              + n
              + ", "
              + k
              + "]");
    }
    try (DeviceBuffer xp = DeviceBuffer.allocate(2 * 3 * m * kp);
        DeviceBuffer wb = DeviceBuffer.allocate(2 * n * kp)) {
      b.launch(
          "mx_tc_prep_f" + w.format().ordinal(),
          new int[] {(int) (xBlocks + wBlocks), 1, 1},
          new int[] {256, 1, 1},
          0,
          new KernelArgs()
              .ptr(x)
              .i32(m)
              .i32(k)
              .i32(kp)
              .ptr(xp)
              .i64(m * kp)
              .ptr(w.codes())
              .i64(w.codeBytesPerRow())
              .ptr(w.scales())
              .i32(bpr)
              .i32(n)
              .ptr(wb)
              .i32(xBlocks)
              .build());
      int v = presplitVariant(m, n, bpr, b.multiprocessors());
      int bm = v / 100;
      int ks = v / 10 % 10;
      int stages = v % 10;
      int smem = presplitSharedBytes(bm, ks, stages);
      String name = "mx_gemm_tcs_m" + bm + "_k" + ks + "_r" + stages;
      if (smem > 48 * 1024 && SHARED_MEMORY_RAISED.add(name)) {
        b.allowDynamicSharedMemory(name, smem);
      }
      b.launch(
          name,
          new int[] {(int) ((m + bm - 1) / bm), (int) ((n + 63) / 64), 1},
          new int[] {2 * bm * ks, 1, 1},
          smem,
          new KernelArgs()
              .ptr(xp)
              .i64(m * kp)
              .i32(m)
              .ptr(wb)
              .i32(kp)
              .ptr(bias)
              .ptr(y)
              .i32(n)
              .i32(epilogue.ordinal())
              .build());
    }
  }

  /**
   * The pre-split GEMM variant for m rows, n columns and bpr 32-wide K tiles: the set one ({@link
   * #presplitVariant}), else 32-row CTAs with 4 K groups for long K (a CTA's dependent chain is a
   * quarter of the K tiles), else 64-row CTAs with 1 K group (3 per multiprocessor) when they fill
   * the multiprocessors twice, else 2 K groups.
   */
  static int presplitVariant(long m, long n, long bpr, int multiprocessors) {
    int set = presplitVariant;
    for (int v : PRESPLIT_VARIANTS) {
      if (v == set) {
        return set;
      }
    }
    if (bpr >= 24) {
      return 3242;
    }
    long tiles64 = ((m + 63) / 64) * ((n + 63) / 64);
    return tiles64 >= 2L * multiprocessors ? 6413 : 6422;
  }

  /**
   * Dynamic shared memory of the pre-split GEMM; mirrors TsTile in mx_gemm_tcs.cu: per stage and K
   * group the 3 pieces of bm rows and 64 weight rows, each a row of 40 BF16.
   */
  static int presplitSharedBytes(int bm, int kGroups, int stages) {
    return stages * kGroups * (3 * bm + 64) * 40 * 2;
  }

  /**
   * Weight rows per warp of the GEMV kernels; mirrors MX_GEMV_ALL in mx_gemv.cu (for the grid
   * size).
   */
  private static int gemvRowsPerWarp(MxFormat f, int mb) {
    int bits = f.bits();
    return switch (mb) {
      case 1 -> bits == 4 ? 8 : 4;
      case 2 -> 8;
      case 4 -> bits == 8 ? 4 : 8;
      default -> 4;
    };
  }

  /**
   * MXFP8 x MXFP8 GEMM on the FP8 tensor cores: {@code y = xq · wᵀ (+ bias)}, both operands MXFP8
   * (E4M3 or E5M2) and blocked along the same K.
   *
   * @param xq the quantized activation {@code [m, k]}
   * @param w the weight {@code [n, k]}
   * @param bias FP32 bias {@code [n]}, or null
   * @param y FP32 output {@code [m, n]}
   */
  public static void mxfp8Gemm(CudaMxMatrix xq, CudaMxMatrix w, DeviceBuffer bias, DeviceBuffer y) {
    mxfp8Gemm(xq, w, bias, y, DEFAULT_MXFP8_KERNEL);
  }

  /**
   * MXFP8 x MXFP8 GEMM with a chosen tensor-core kernel.
   *
   * @param xq the quantized activation {@code [m, k]}, with its GEMM scale layout
   * @param w the weight {@code [n, k]}
   * @param bias FP32 bias {@code [n]}, or null
   * @param y FP32 output {@code [m, n]}
   * @param kernel which kernel runs it
   */
  public static void mxfp8Gemm(
      CudaMxMatrix xq, CudaMxMatrix w, DeviceBuffer bias, DeviceBuffer y, Mxfp8Kernel kernel) {
    if (!isFp8(xq.format()) || !isFp8(w.format())) {
      throw new IllegalArgumentException(
          "the tensor-core GEMM takes MXFP8 operands, got " + xq.format() + " x " + w.format());
    }
    if (xq.cols() != w.cols()) {
      throw new IllegalArgumentException(
          "reduction lengths differ: x has " + xq.cols() + " columns, the weight " + w.cols());
    }
    long m = xq.rows();
    long n = w.rows();
    if (y.byteSize() < 4 * m * n) {
      throw new IllegalArgumentException(
          "y of " + y.byteSize() + " bytes is smaller than [" + m + ", " + n + "] FP32");
    }
    if (bias != null && bias.byteSize() < 4 * n) {
      throw new IllegalArgumentException(
          "bias of " + bias.byteSize() + " bytes is smaller than [" + n + "]");
    }
    if (kernel == Mxfp8Kernel.WGMMA_WS) {
      launchWarpSpecialized(xq, w, bias, y);
      return;
    }
    if (kernel == Mxfp8Kernel.WGMMA_WS3) {
      String types = xq.format().ordinal() + "_b" + w.format().ordinal();
      String name =
          (ws3Variant == WS3_HALVES ? "mx_wgmma_ws3h_fp8_a" : "mx_wgmma_ws3_fp8_a") + types;
      launchWarpSpecialized(name, WS3_SMEM_BYTES, 192, 512, xq, w, bias, y);
      return;
    }
    String name =
        (kernel == Mxfp8Kernel.WGMMA ? "mx_wgmma_fp8_a" : "mx_mma_fp8_a")
            + xq.format().ordinal()
            + "_b"
            + w.format().ordinal();
    launchGemm(
        name, kernel == Mxfp8Kernel.WGMMA ? WGMMA_SMEM_BYTES : MMA_SMEM_BYTES, xq, w, bias, y);
  }

  /** Launches one of the tensor-core GEMM kernels (they share their parameter list and tiling). */
  static void launchGemm(
      String name, int smem, CudaMxMatrix xq, CudaMxMatrix w, DeviceBuffer bias, DeviceBuffer y) {
    long m = xq.rows();
    long n = w.rows();
    CudaBackend b = CudaBackend.get();
    b.allowDynamicSharedMemory(name, smem);
    KernelArgs args =
        new KernelArgs()
            .ptr(xq.codes())
            .i64(xq.codeBytesPerRow())
            .ptr(xq.gemmScales())
            .i64(CudaMxMatrix.paddedRows(m))
            .ptr(w.codes())
            .i64(w.codeBytesPerRow())
            .ptr(w.gemmScales())
            .i64(CudaMxMatrix.paddedRows(n))
            .ptr(bias)
            .ptr(y)
            .i32(m)
            .i32(n)
            .i32(xq.blocksPerRow());
    int gx = (int) ((n + 127) / 128);
    int gy = (int) ((m + 127) / 128);
    b.launch(name, new int[] {gx, gy, 1}, new int[] {256, 1, 1}, smem, args.build());
  }

  /**
   * Launches the warp-specialised TMA kernel: tensor maps over both operands' codes (128-byte
   * swizzle, boxes of 128 rows x 128 K bytes) and their K-slice-major float scales (boxes of 4
   * slices x 128 rows), one persistent CTA per multiprocessor at most.
   */
  private static void launchWarpSpecialized(
      CudaMxMatrix xq, CudaMxMatrix w, DeviceBuffer bias, DeviceBuffer y) {
    String types = xq.format().ordinal() + "_b" + w.format().ordinal();
    if (wsVariant == WS_4SLICE) {
      launchWarpSpecialized("mx_wgmma_ws_fp8_a" + types, WS_SMEM_BYTES, xq, w, bias, y);
    } else {
      launchWarpSpecialized("mx_wgmma_ws8_fp8_a" + types, WS8_SMEM_BYTES, xq, w, bias, y);
    }
  }

  /** Launches a kernel with the parameters and grid of the warp-specialised kernel. */
  static void launchWarpSpecialized(
      String name, int smem, CudaMxMatrix xq, CudaMxMatrix w, DeviceBuffer bias, DeviceBuffer y) {
    launchWarpSpecialized(name, smem, 128, 384, xq, w, bias, y);
  }

  /**
   * Launches a warp-specialised kernel whose CTA tile has {@code tileRows} rows of x and 128
   * columns of y, with {@code threads} threads per CTA: the copies of x's codes and scales bring
   * boxes of {@code tileRows} rows.
   */
  static void launchWarpSpecialized(
      String name,
      int smem,
      int tileRows,
      int threads,
      CudaMxMatrix xq,
      CudaMxMatrix w,
      DeviceBuffer bias,
      DeviceBuffer y) {
    long m = xq.rows();
    long n = w.rows();
    long bpr = xq.blocksPerRow();
    long kp = xq.codeBytesPerRow();
    byte[] tmA =
        TensorMaps.encode2d(
            TensorMaps.UINT8, 1, xq.codes(), kp, m, kp, 128, tileRows, TensorMaps.SWIZZLE_128B);
    byte[] tmB =
        TensorMaps.encode2d(
            TensorMaps.UINT8, 1, w.codes(), kp, n, kp, 128, 128, TensorMaps.SWIZZLE_128B);
    long pm = CudaMxMatrix.paddedRows(m);
    long pn = CudaMxMatrix.paddedRows(n);
    byte[] tmSa =
        TensorMaps.encode2d(
            TensorMaps.FLOAT32,
            4,
            xq.gemmScales(),
            pm,
            bpr,
            4 * pm,
            tileRows,
            4,
            TensorMaps.SWIZZLE_NONE);
    byte[] tmSb =
        TensorMaps.encode2d(
            TensorMaps.FLOAT32,
            4,
            w.gemmScales(),
            pn,
            bpr,
            4 * pn,
            128,
            4,
            TensorMaps.SWIZZLE_NONE);
    CudaBackend b = CudaBackend.get();
    b.allowDynamicSharedMemory(name, smem);
    long tiles = ((m + tileRows - 1) / tileRows) * ((n + 127) / 128);
    int ctas = b.multiprocessors();
    int cap = maxPersistentCtas;
    if (cap > 0) {
      ctas = Math.min(ctas, cap);
    }
    ctas = (int) Math.min(ctas, tiles);
    KernelArgs args =
        new KernelArgs()
            .bytes(tmA)
            .bytes(tmB)
            .bytes(tmSa)
            .bytes(tmSb)
            .ptr(bias)
            .ptr(y)
            .i32(m)
            .i32(n)
            .i32(bpr);
    b.launch(name, new int[] {ctas, 1, 1}, new int[] {threads, 1, 1}, smem, args.build());
  }
}

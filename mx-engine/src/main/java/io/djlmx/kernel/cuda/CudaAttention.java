package io.djlmx.kernel.cuda;

import io.djlmx.attention.AttentionShape;
import io.djlmx.attention.TensorLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * SageAttention-style attention on the GPU ({@code mx_attention.cu}): K smoothed by its token mean,
 * Q (per token) and K (per 64-key tile) quantized to INT8 for Q·Kᵀ on the INT8 tensor cores, online
 * softmax in FP32, P and V (per channel) rounded to FP8 E4M3 for P·V with two-level FP32
 * accumulation. With {@code fp16PV} P and V are FP16 instead (SageAttention v1 style): more
 * accurate (FP8 P·V misses a relative L1 of 0.03 on random-normal data). On Hopper (sm_90) the
 * fused kernel uses warpgroup MMAs ({@code wgmma}) on K/V tiles that the quantization kernels store
 * pre-tiled for bulk copies, software-pipelined (head dims 128 and 64); on other devices {@code
 * mma.sync}. The system property {@code mx.cuda.attentionKernel} ({@code mma}, {@code wgmma_bulk},
 * {@code wgmma_1wg_bulk}, {@code wgmma_1wg_pipe} or {@code wgmma_1wg_pipe128}) overrides the
 * choice.
 *
 * <p>Inputs and output are dense tensors in device memory, [B, H, S, D] (BHSD) or [B, S, H, D]
 * (BSHD: a projection's [B, S, H·D] output read without a transpose), with an optional additive
 * mask ({@link CudaAttentionMask}); the inputs FP32, or BF16 / FP16 ({@link InputType}: the
 * quantization then reads half the bytes, and on the same values computes the same output bit for
 * bit), the output FP32; head dims 64 and 128. Causal is top-left aligned (key j visible to query i
 * iff j ≤ i). An instance owns the quantized scratch buffers of one shape and frees them in {@link
 * #close()}; {@link #compute} is the one-shot host API.
 */
public final class CudaAttention implements AutoCloseable {

  private static final int TILE = 64;

  /**
   * Queries per CTA of the Hopper kernel; Q is padded to a multiple of it (the mma kernel's 64
   * divides it).
   */
  private static final int Q_TILE = 128;

  /** Threads per CTA of the quantization kernels. */
  private static final int QUANT_THREADS = 256;

  /** Keys per CTA of the fused statistics pass ({@code MX_ATTN_CHUNK} in the CUDA source). */
  private static final int STATS_CHUNK = 128;

  /** Queries per CTA of the fused Q quantization ({@code MX_ATTN_QROWS}). */
  private static final int Q_ROWS = 64;

  /** How {@link #quantize} prepares the quantized Q, K and V. */
  enum Quantizer {
    /**
     * Four launches: K mean and V scales with one CTA per head, then K, Q and V each in its own
     * launch (the design before 2026-11-28, kept as the benchmark's baseline).
     */
    FOUR_LAUNCH,
    /**
     * Two launches: Q quantization and the K/V statistics split over 128-key chunks (a per-head
     * ticket lets the last chunk reduce the partials), then K and V quantized tile by tile in one
     * launch.
     */
    FUSED;

    /** {@code mx.cuda.attentionQuantizer} if set, else {@link #FUSED}. */
    static Quantizer byDefault() {
      String p = System.getProperty("mx.cuda.attentionQuantizer");
      return p == null ? FUSED : Quantizer.valueOf(p.trim().toUpperCase(java.util.Locale.ROOT));
    }
  }

  /**
   * The element type of Q, K and V in device memory. The quantization widens each input exactly to
   * FP32 as it loads it, so every type computes the same output from the same values.
   */
  public enum InputType {
    /** FP32, 4 bytes per element. */
    FLOAT32(4, ""),
    /** BF16 (bfloat16), 2 bytes per element. */
    BFLOAT16(2, "_bf16"),
    /** FP16 (IEEE 754 half), 2 bytes per element. */
    FLOAT16(2, "_f16");

    private final int bytes;
    private final String tag;

    InputType(int bytes, String tag) {
      this.bytes = bytes;
      this.tag = tag;
    }

    /**
     * Returns the bytes per element.
     *
     * @return 4 or 2
     */
    public int bytes() {
      return bytes;
    }
  }

  /** Which fused attention kernel {@link #attend} launches. */
  enum Kernel {
    /**
     * {@code mma.sync} (m16n8k32 INT8 / E4M3, m16n8k16 FP16), 64 queries per CTA, K/V tiles staged
     * by {@code cp.async}; any sm_90 build, head dims 64 and 128.
     */
    MMA,
    /**
     * Hopper warpgroup MMA ({@code wgmma}), 128 queries per CTA in two warpgroups sharing each K/V
     * tile; the quantization kernels store K and Vᵀ pre-tiled and each tile arrives in shared
     * memory by two bulk copies (the TMA engine). sm_90, head dim 128 only (see {@link
     * #WGMMA_1WG_BULK} for 64).
     */
    WGMMA_BULK,
    /**
     * As {@link #WGMMA_BULK} with one warpgroup (64 queries) per CTA, two CTAs per SM; head dims
     * 128 and 64.
     */
    WGMMA_1WG_BULK,
    /**
     * As {@link #WGMMA_1WG_BULK}, software-pipelined within the warpgroup: each step issues the
     * next tile's Q·Kᵀ and this tile's P·V together and computes the next tile's softmax while P·V
     * runs; the softmax row sums come from the tensor cores (P·V runs with 8 extra columns of ones
     * in its B operand, N = D + 8), so they cost no per-element add and are those of P as rounded
     * for the MMA. With FP16 P·V, whose MMA accumulates in full FP32, P·V adds straight into O (one
     * level): 168 registers, three CTAs per SM. Head dims 128 and 64 (three CTAs per SM at 64 in
     * both precisions).
     */
    WGMMA_1WG_PIPE,
    /**
     * As {@link #WGMMA_1WG_PIPE} with 128-key tiles (half the per-tile barriers, waits, max
     * reductions and output rescales) and Q read by the tensor cores from shared memory; the keys
     * are padded to 128, and the row sums come from the tensor cores too. FP8 P·V only; head dims
     * 128 and 64.
     */
    WGMMA_1WG_PIPE128;

    boolean hopper() {
      return this != MMA;
    }

    /** Whether the kernel has an FP16 P·V variant. */
    boolean fp16PV() {
      return !keys128();
    }

    /** Whether the kernel also takes head dim 64 (all take 128). */
    boolean headDim64() {
      return this != WGMMA_BULK;
    }

    /** Whether the kernel works on 128-key tiles (and has a timed build). */
    boolean keys128() {
      return this == WGMMA_1WG_PIPE128;
    }

    /** The key padding the kernel needs: its key tile. */
    int keyTile() {
      return keys128() ? 2 * TILE : TILE;
    }

    /**
     * Whether the kernel keeps Q's 64 rows in shared memory at this head dim (the 128-key kernel
     * always; the 64-key pipelined one at head dim 64, mx_attn_fwd_wgp's QSM).
     */
    boolean qInSharedMemory(int headDim) {
      return keys128() || (this == WGMMA_1WG_PIPE && headDim == 64);
    }

    int warpgroups() {
      return this == WGMMA_BULK ? 2 : 1;
    }

    /**
     * The default: {@code mx.cuda.attentionKernel} if set, else {@link #WGMMA_1WG_PIPE128} on sm_90
     * (the fastest variant measured at head dims 128 and 64, 2.7x {@link #MMA} at 64 on the H200;
     * {@link #create} takes {@link #WGMMA_1WG_PIPE} for FP16 P·V) and {@link #MMA} on other
     * devices.
     */
    static Kernel byDefault(int computeCapability, int headDim) {
      String p = System.getProperty("mx.cuda.attentionKernel");
      if (p != null) {
        return Kernel.valueOf(p.trim().toUpperCase(java.util.Locale.ROOT));
      }
      return computeCapability == 90 ? WGMMA_1WG_PIPE128 : MMA;
    }
  }

  private final AttentionShape shape;
  private final boolean fp16PV;
  private final Kernel kernel;
  private final Quantizer quantizer;
  private final InputType input;
  private final int sqPad;
  private final int skPad;
  private final List<DeviceBuffer> owned = new ArrayList<>();
  private final DeviceBuffer kmean;
  private final DeviceBuffer kq;
  private final DeviceBuffer kscale;
  private final DeviceBuffer qq;
  private final DeviceBuffer qscale;
  private final DeviceBuffer vt;
  private final DeviceBuffer vscale;
  private final DeviceBuffer kvpart;
  private final DeviceBuffer tickets;
  private float softmaxScale = Float.NaN;

  /** The masked launches' tile constants, allocated at the first masked forward. */
  private DeviceBuffer maskTiles;

  private CudaAttention(
      AttentionShape shape, boolean fp16PV, Kernel kernel, Quantizer quantizer, InputType input) {
    this.shape = shape;
    this.fp16PV = fp16PV;
    this.kernel = kernel;
    this.quantizer = quantizer;
    this.input = input;
    this.sqPad = pad(shape.queryLength(), Q_TILE);
    this.skPad = pad(shape.keyLength(), kernel.keyTile());
    long bh = (long) shape.batch() * shape.heads();
    int d = shape.headDim();
    try {
      kmean = alloc(4L * bh * d);
      kq = alloc(bh * skPad * d);
      kscale = alloc(4L * bh * (skPad / TILE));
      qq = alloc(bh * sqPad * d);
      qscale = alloc(4L * bh * sqPad);
      vt = alloc(bh * d * skPad * (fp16PV ? 2 : 1));
      vscale = alloc(4L * bh * d);
      // per chunk of keys: D partial K sums and D partial V maxima
      kvpart = alloc(4L * bh * chunks(shape.keyLength()) * 2 * d);
      tickets = alloc(4L * bh);
      tickets.fill32(0); // the kernel leaves every ticket at 0 again when it finishes a head
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  private DeviceBuffer alloc(long bytes) {
    DeviceBuffer b = DeviceBuffer.allocate(bytes);
    owned.add(b);
    return b;
  }

  private static int chunks(int keys) {
    return (keys + STATS_CHUNK - 1) / STATS_CHUNK;
  }

  private static int pad(int n, int tile) {
    return (int) (((long) n + tile - 1) / tile * tile);
  }

  /**
   * Allocates the scratch buffers for one attention shape, with FP8 E4M3 P·V.
   *
   * @param shape the sizes; head dim 64 or 128
   * @return the attention, to be closed
   * @throws IllegalArgumentException when the head dim is not 64 or 128 or the grid is too large
   */
  public static CudaAttention create(AttentionShape shape) {
    return create(shape, false);
  }

  /**
   * Allocates the scratch buffers for one attention shape.
   *
   * @param shape the sizes; head dim 64 or 128
   * @param fp16PV true for FP16 P·V, false for FP8 E4M3 P·V
   * @return the attention, to be closed
   * @throws IllegalArgumentException when the head dim is not 64 or 128 or the grid is too large
   */
  public static CudaAttention create(AttentionShape shape, boolean fp16PV) {
    return create(shape, fp16PV, (Kernel) null);
  }

  /**
   * Allocates the scratch buffers for one attention shape whose Q, K and V are of the given type.
   *
   * @param shape the sizes; head dim 64 or 128
   * @param fp16PV true for FP16 P·V, false for FP8 E4M3 P·V
   * @param input the element type of Q, K and V
   * @return the attention, to be closed
   * @throws IllegalArgumentException when the head dim is not 64 or 128 or the grid is too large
   */
  public static CudaAttention create(AttentionShape shape, boolean fp16PV, InputType input) {
    return create(shape, fp16PV, null, null, input);
  }

  /**
   * As {@link #create(AttentionShape, boolean)}, choosing the fused kernel (tests, benchmarks);
   * null for {@link Kernel#byDefault}.
   */
  static CudaAttention create(AttentionShape shape, boolean fp16PV, Kernel kernel) {
    return create(shape, fp16PV, kernel, null);
  }

  /**
   * As {@link #create(AttentionShape, boolean, Kernel)}, also choosing the quantization launches;
   * null for {@link Quantizer#byDefault}.
   */
  static CudaAttention create(
      AttentionShape shape, boolean fp16PV, Kernel kernel, Quantizer quantizer) {
    return create(shape, fp16PV, kernel, quantizer, InputType.FLOAT32);
  }

  /**
   * As {@link #create(AttentionShape, boolean, Kernel, Quantizer)} for inputs of the given type;
   * only the {@link Quantizer#FUSED} launches read BF16 and FP16 (a null quantizer then means
   * FUSED).
   */
  static CudaAttention create(
      AttentionShape shape, boolean fp16PV, Kernel kernel, Quantizer quantizer, InputType input) {
    if (input == null) {
      throw new IllegalArgumentException("CUDA attention: the input type must not be null");
    }
    if (shape.headDim() != 64 && shape.headDim() != 128) {
      throw new IllegalArgumentException(
          "CUDA attention supports head dim 64 or 128, got " + shape.headDim());
    }
    long bh = (long) shape.batch() * shape.heads();
    if (bh > 65535) {
      throw new IllegalArgumentException(
          "CUDA attention: batch·heads = " + bh + " exceeds the grid limit 65535");
    }
    if ((long) pad(shape.keyLength(), 2 * TILE) * shape.headDim() * bh > Integer.MAX_VALUE * 4L
        || (long) pad(shape.queryLength(), Q_TILE) * shape.headDim() * bh
            > Integer.MAX_VALUE * 4L) {
      throw new IllegalArgumentException("CUDA attention: " + shape + " is too large");
    }
    int cc = CudaBackend.get().computeCapability();
    if (kernel == null) {
      kernel = Kernel.byDefault(cc, shape.headDim());
      if (fp16PV && !kernel.fp16PV()) {
        kernel = Kernel.WGMMA_1WG_PIPE; // the same kernel family with an FP16 P·V variant
      }
    }
    if (kernel.hopper() && cc != 90) {
      throw new IllegalArgumentException(
          "CUDA attention: the wgmma kernel needs an sm_90 device, this one is sm_" + cc);
    }
    if (shape.headDim() != 128 && !kernel.headDim64()) {
      throw new IllegalArgumentException(
          "CUDA attention: the "
              + kernel
              + " kernel supports head dim 128 only, got "
              + shape.headDim()
              + " (every other kernel also takes 64)");
    }
    if (fp16PV && !kernel.fp16PV()) {
      throw new IllegalArgumentException(
          "CUDA attention: the "
              + kernel.name().toLowerCase(java.util.Locale.ROOT)
              + " kernel has FP8 P·V only (fp16PV must be false)");
    }
    if (quantizer == null) {
      // only the fused launches read 2-byte inputs, whatever mx.cuda.attentionQuantizer says
      quantizer = input == InputType.FLOAT32 ? Quantizer.byDefault() : Quantizer.FUSED;
    }
    if (input != InputType.FLOAT32 && quantizer != Quantizer.FUSED) {
      throw new IllegalArgumentException(
          "CUDA attention: "
              + input
              + " inputs need the fused quantization, not "
              + quantizer.name().toLowerCase(java.util.Locale.ROOT));
    }
    return new CudaAttention(shape, fp16PV, kernel, quantizer, input);
  }

  /**
   * Returns the sizes this instance was made for.
   *
   * @return the shape
   */
  public AttentionShape shape() {
    return shape;
  }

  /**
   * Returns the element type of Q, K and V this instance reads.
   *
   * @return the input type
   */
  public InputType inputType() {
    return input;
  }

  /** The fused kernel {@link #attend} launches. */
  Kernel kernel() {
    return kernel;
  }

  /**
   * Computes softmax(scale·Q·Kᵀ)·V on the device; every launch is checked.
   *
   * @param q queries, [B, H, Sq, D] of the {@link #inputType()}
   * @param k keys, [B, H, Sk, D] of the {@link #inputType()}
   * @param v values, [B, H, Sk, D] of the {@link #inputType()}
   * @param out output, FP32 [B, H, Sq, D]
   * @param causal whether key j is hidden from query i when j &gt; i
   * @param scale softmax scale, null for 1/√D; must be finite
   */
  public void forward(
      DeviceBuffer q,
      DeviceBuffer k,
      DeviceBuffer v,
      DeviceBuffer out,
      boolean causal,
      Float scale) {
    forward(q, k, v, out, TensorLayout.BHSD, null, causal, scale);
  }

  /**
   * Computes softmax(scale·Q·Kᵀ + mask)·V on the device, with Q, K, V and the output in {@code
   * layout}; every launch is checked. Inputs of the same values in either layout give the same
   * output bit for bit.
   *
   * @param q queries, [B, H, Sq, D] or [B, Sq, H, D] of the {@link #inputType()}
   * @param k keys, [B, H, Sk, D] or [B, Sk, H, D] of the {@link #inputType()}
   * @param v values, laid out as k
   * @param out output, FP32, laid out as q
   * @param layout the order of the four axes of q, k, v and out
   * @param mask an additive mask for this instance's shape, or null
   * @param causal whether key j is hidden from query i when j &gt; i (with a mask: both apply)
   * @param scale softmax scale, null for 1/√D; must be finite
   * @throws IllegalArgumentException naming the buffer, layout or mask that does not fit
   */
  public void forward(
      DeviceBuffer q,
      DeviceBuffer k,
      DeviceBuffer v,
      DeviceBuffer out,
      TensorLayout layout,
      CudaAttentionMask mask,
      boolean causal,
      Float scale) {
    if (layout == null) {
      throw new IllegalArgumentException("CUDA attention: the layout must not be null");
    }
    if (mask != null) {
      mask.requireShape(shape, "CUDA attention");
    }
    quantize(q, k, v, scale, layout);
    attend(out, causal, layout, mask, 0, null);
  }

  /**
   * Steps 1–4: K mean and V scales, INT8 K and Q, E4M3 (or FP16) Vᵀ, in two launches ({@link
   * Quantizer#FUSED}) or four (package-private so the benchmark can time them).
   */
  void quantize(DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, Float scale) {
    quantize(q, k, v, scale, TensorLayout.BHSD);
  }

  /** As {@link #quantize(DeviceBuffer, DeviceBuffer, DeviceBuffer, Float)} in either layout. */
  void quantize(DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, Float scale, TensorLayout layout) {
    int d = shape.headDim();
    int h = shape.heads();
    int sq = shape.queryLength();
    int sk = shape.keyLength();
    int bh = shape.batch() * h;
    float sc = scale == null ? (float) (1.0 / Math.sqrt(d)) : scale;
    if (!Float.isFinite(sc)) {
      throw new IllegalArgumentException("CUDA attention: scale must be finite, got " + sc);
    }
    requireSize("q", q, sq, input.bytes());
    requireSize("k", k, sk, input.bytes());
    requireSize("v", v, sk, input.bytes());
    softmaxScale = sc;
    CudaBackend be = CudaBackend.get();
    int[] block = {QUANT_THREADS, 1, 1};
    if (quantizer == Quantizer.FUSED) {
      KernelArgs a =
          strided(strided(new KernelArgs().ptr(q).ptr(k).ptr(v), sk, layout), sq, layout);
      be.launch(
          "mx_attn_prep" + input.tag + "_d" + d,
          new int[] {sqPad / Q_ROWS + chunks(sk), bh, 1},
          block,
          0,
          a.i32(h)
              .i32(sq)
              .i32(sqPad)
              .i32(sk)
              .f32(sc)
              .ptr(qq)
              .ptr(qscale)
              .ptr(kvpart)
              .ptr(tickets)
              .ptr(kmean)
              .ptr(vscale)
              .build());
      be.launch(
          (fp16PV ? "mx_attn_quant_kv16" : "mx_attn_quant_kv") + input.tag + "_d" + d,
          new int[] {skPad / TILE, bh, 1},
          block,
          0,
          strided(new KernelArgs().ptr(k).ptr(v), sk, layout)
              .i32(h)
              .i32(sk)
              .i32(skPad)
              .ptr(kmean)
              .ptr(kq)
              .ptr(kscale)
              .ptr(vscale)
              .ptr(vt)
              .i32(kernel.hopper() ? 1 : 0)
              .build());
      return;
    }
    be.launch(
        "mx_attn_kv_stats_d" + d,
        new int[] {bh, 1, 1},
        block,
        0,
        strided(new KernelArgs().ptr(k).ptr(v), sk, layout)
            .i32(h)
            .i32(sk)
            .ptr(kmean)
            .ptr(vscale)
            .build());
    be.launch(
        "mx_attn_quant_k_d" + d,
        new int[] {skPad / TILE, bh, 1},
        block,
        0,
        strided(new KernelArgs().ptr(k), sk, layout)
            .i32(h)
            .i32(sk)
            .i32(skPad)
            .ptr(kmean)
            .ptr(kq)
            .ptr(kscale)
            .i32(kernel.hopper() ? 1 : 0)
            .build());
    int rowsPerBlock = QUANT_THREADS / (d / 4);
    be.launch(
        "mx_attn_quant_q_d" + d,
        new int[] {sqPad / rowsPerBlock, bh, 1},
        block,
        0,
        strided(new KernelArgs().ptr(q), sq, layout)
            .i32(h)
            .i32(sq)
            .i32(sqPad)
            .f32(sc)
            .ptr(qq)
            .ptr(qscale)
            .build());
    be.launch(
        (fp16PV ? "mx_attn_quant_v16_d" : "mx_attn_quant_v_d") + d,
        new int[] {skPad / TILE, bh, 1},
        block,
        0,
        strided(new KernelArgs().ptr(v), sk, layout)
            .i32(h)
            .i32(sk)
            .i32(skPad)
            .ptr(vscale)
            .ptr(vt)
            .i32(kernel.hopper() ? 1 : 0)
            .build());
  }

  /**
   * Step 5: the fused INT8 Q·Kᵀ, softmax, FP8 (or FP16) P·V kernel on the buffers the last {@link
   * #quantize} filled.
   */
  void attend(DeviceBuffer out, boolean causal) {
    attend(out, causal, TensorLayout.BHSD, null, 0, null);
  }

  /**
   * The longs the timed build writes per CTA (mx_attention_wgp128.cu): six phases, the loop's
   * cycles, its step count, the prologue's and the epilogue's cycles.
   */
  static final int TIMING_LONGS = 10;

  /** The CTAs of one Hopper kernel launch (the timed build writes {@link #TIMING_LONGS} each). */
  int hopperCtas() {
    return sqPad / (64 * kernel.warpgroups()) * shape.batch() * shape.heads();
  }

  /**
   * As {@link #attend(DeviceBuffer, boolean)} for the benchmark: {@code extraSharedMemory} more
   * bytes of dynamic shared memory for a Hopper kernel than it uses (to run it with fewer CTAs per
   * SM), and with {@code timing} non-null the {@link Kernel#WGMMA_1WG_PIPE128} kernel's build that
   * times the phases of its loop, its prologue and its epilogue into it ({@link #TIMING_LONGS}
   * longs per CTA, see mx_attention_wgp128.cu).
   */
  void attend(DeviceBuffer out, boolean causal, int extraSharedMemory, DeviceBuffer timing) {
    attend(out, causal, TensorLayout.BHSD, null, extraSharedMemory, timing);
  }

  /** Step 5 with the output in {@code layout} and an optional mask (null for none). */
  private void attend(
      DeviceBuffer out,
      boolean causal,
      TensorLayout layout,
      CudaAttentionMask mask,
      int extraSharedMemory,
      DeviceBuffer timing) {
    if (timing != null && !kernel.keys128()) {
      throw new IllegalArgumentException(
          "CUDA attention: only the pipe128 kernel has a timed build");
    }
    long timingBytes = 8L * TIMING_LONGS * hopperCtas();
    if (timing != null && timing.byteSize() < timingBytes) {
      throw new IllegalArgumentException(
          "CUDA attention: the timing buffer needs "
              + timingBytes
              + " bytes ("
              + TIMING_LONGS
              + " longs per CTA), got "
              + timing.byteSize());
    }
    if (Float.isNaN(softmaxScale)) {
      throw new IllegalStateException("CUDA attention: attend before quantize");
    }
    int d = shape.headDim();
    int h = shape.heads();
    int sq = shape.queryLength();
    requireSize("out", out, sq, 4);
    KernelArgs a = new KernelArgs().ptr(qq).ptr(qscale).ptr(kq).ptr(kscale).ptr(vt).ptr(vscale);
    if (mask == null) {
      a.ptr(null).i64(0).i64(0).i64(0);
    } else {
      mask.appendTo(a);
    }
    a.ptr(out);
    strided(a, sq, layout)
        .i32(h)
        .i32(sq)
        .i32(shape.keyLength())
        .i32(sqPad)
        .i32(skPad)
        .i32(causal ? 1 : 0);
    if (kernel.hopper()) {
      // The kernel's short path for interior tiles takes the row max on the integer scores, which
      // needs a non-negative scale.
      a.i32(softmaxScale >= 0 ? 1 : 0);
      // The pipelined kernels' masked launches skip the per-element mask work on tiles where the
      // mask is flat (one value over the tile's 64 queries and 64 keys, e.g. a padding mask away
      // from its edge): a first launch finds those tiles.
      boolean flatTiles =
          mask != null
              && timing == null
              && (kernel == Kernel.WGMMA_1WG_PIPE128 || kernel == Kernel.WGMMA_1WG_PIPE);
      if (flatTiles) {
        maskTiles(mask, a);
      }
      int warpgroups = kernel.warpgroups();
      String variant =
          switch (kernel) {
            case WGMMA_BULK -> "b";
            case WGMMA_1WG_PIPE -> fp16PV ? "1o" : "1p";
            case WGMMA_1WG_PIPE128 -> "1q";
            default -> "1b";
          };
      String name =
          "mx_attn_wg"
              + variant
              + (fp16PV ? "16" : "")
              + (flatTiles ? "_mt" : "")
              + (timing != null ? "_timed" : "")
              + "_d"
              + d;
      if (timing != null) {
        a.ptr(timing);
      }
      CudaBackend be = CudaBackend.get();
      // three stages of one K tile (keyTile keys × D bytes) and one Vᵀ tile (the 64-key FP8
      // pipelined kernel's with 8 more rows of ones), then the stage barriers, then Q's 64 rows
      // where the kernel keeps them in shared memory
      int kt = kernel.keyTile();
      // the FP8 pipelined kernels' row sums come from P·V: 8 rows of ones after each Vᵀ tile
      boolean onesRows =
          (kernel == Kernel.WGMMA_1WG_PIPE || kernel == Kernel.WGMMA_1WG_PIPE128) && !fp16PV;
      int vRows = onesRows ? d + 8 : d;
      int smem =
          3 * (kt * d + vRows * kt * (fp16PV ? 2 : 1))
              + 64
              + (kernel.qInSharedMemory(d) ? 64 * d : 0)
              + extraSharedMemory;
      be.allowDynamicSharedMemory(name, smem);
      be.launch(
          name,
          new int[] {sqPad / (64 * warpgroups), shape.batch() * h, 1},
          new int[] {128 * warpgroups, 1, 1},
          smem,
          a.build());
      return;
    }
    CudaBackend.get()
        .launch(
            (fp16PV ? "mx_attn_fwd16_d" : "mx_attn_fwd_d") + d,
            new int[] {sqPad / TILE, shape.batch() * h, 1},
            new int[] {128, 1, 1},
            0,
            a.build());
  }

  /**
   * Fills the mask's tile constants (mx_attn_mask_tiles: per mask batch, head, 64-query block and
   * 64-key tile, its value if flat, else NaN) and appends the table and its element strides to the
   * kernel's arguments.
   */
  private void maskTiles(CudaAttentionMask mask, KernelArgs a) {
    int b = shape.batch();
    int h = shape.heads();
    int kt = skPad / TILE;
    int hm = mask.headStride() != 0 ? h : 1;
    int qb = mask.queryStride() != 0 ? sqPad / TILE : 1;
    int bm = mask.batchStride() != 0 ? b : 1;
    if (maskTiles == null) {
      maskTiles = alloc(4L * b * h * (sqPad / TILE) * kt); // the largest table this shape needs
    }
    CudaBackend.get()
        .launch(
            "mx_attn_mask_tiles",
            new int[] {kt, qb, bm * hm},
            new int[] {256, 1, 1},
            0,
            mask.appendTo(new KernelArgs())
                .i32(hm)
                .i32(shape.queryLength())
                .i32(shape.keyLength())
                .i32(mask.queryStride() != 0 ? TILE : 1)
                .ptr(maskTiles)
                .build());
    a.ptr(maskTiles)
        .i64(mask.batchStride() != 0 ? (long) hm * qb * kt : 0)
        .i64(mask.headStride() != 0 ? (long) qb * kt : 0)
        .i64(mask.queryStride() != 0 ? kt : 0);
  }

  /**
   * Appends the element strides (batch, head, seq) of a dense tensor of sequence length seq in
   * {@code layout}.
   */
  private KernelArgs strided(KernelArgs a, int seq, TensorLayout layout) {
    return strided(a, shape, seq, layout);
  }

  /**
   * Appends the element strides (batch, head, seq) of a dense tensor of {@code shape}'s heads and
   * head dim, sequence length seq, in {@code layout} (shared with {@link CudaExactAttention}).
   */
  static KernelArgs strided(KernelArgs a, AttentionShape shape, int seq, TensorLayout layout) {
    long d = shape.headDim();
    long hd = shape.heads() * d;
    boolean bshd = layout == TensorLayout.BSHD;
    return a.i64(seq * hd).i64(bshd ? d : seq * d).i64(bshd ? hd : d);
  }

  private void requireSize(String what, DeviceBuffer b, int seq, int elementBytes) {
    long need = (long) elementBytes * shape.batch() * shape.heads() * seq * shape.headDim();
    if (b == null || b.byteSize() < need) {
      throw new IllegalArgumentException(
          "CUDA attention: "
              + what
              + " needs "
              + need
              + " bytes for "
              + shape
              + ", got "
              + (b == null ? "null" : b.byteSize()));
    }
  }

  /**
   * One-shot host API: uploads Q, K, V, runs {@link #forward} and returns the output; every device
   * buffer is freed before it returns.
   *
   * @param shape the sizes; head dim 64 or 128
   * @param q queries, FP32 [B, H, Sq, D] contiguous
   * @param k keys, FP32 [B, H, Sk, D] contiguous
   * @param v values, FP32 [B, H, Sk, D] contiguous
   * @param causal whether key j is hidden from query i when j &gt; i
   * @param scale softmax scale, null for 1/√D
   * @return the output, FP32 [B, H, Sq, D]
   */
  public static float[] compute(
      AttentionShape shape, float[] q, float[] k, float[] v, boolean causal, Float scale) {
    return compute(shape, q, k, v, causal, scale, false);
  }

  /**
   * One-shot host API as {@link #compute(AttentionShape, float[], float[], float[], boolean,
   * Float)}, choosing the P·V precision.
   *
   * @param shape the sizes; head dim 64 or 128
   * @param q queries, FP32 [B, H, Sq, D] contiguous
   * @param k keys, FP32 [B, H, Sk, D] contiguous
   * @param v values, FP32 [B, H, Sk, D] contiguous
   * @param causal whether key j is hidden from query i when j &gt; i
   * @param scale softmax scale, null for 1/√D
   * @param fp16PV true for FP16 P·V, false for FP8 E4M3 P·V
   * @return the output, FP32 [B, H, Sq, D]
   */
  public static float[] compute(
      AttentionShape shape,
      float[] q,
      float[] k,
      float[] v,
      boolean causal,
      Float scale,
      boolean fp16PV) {
    return compute(shape, q, k, v, causal, scale, fp16PV, null, null);
  }

  /**
   * As the public {@code compute}, choosing the fused kernel and the quantization launches (tests);
   * null for the defaults.
   */
  static float[] compute(
      AttentionShape shape,
      float[] q,
      float[] k,
      float[] v,
      boolean causal,
      Float scale,
      boolean fp16PV,
      Kernel kernel,
      Quantizer quantizer) {
    long bhd = (long) shape.batch() * shape.heads() * shape.headDim();
    requireLength("q", q, bhd * shape.queryLength());
    requireLength("k", k, bhd * shape.keyLength());
    requireLength("v", v, bhd * shape.keyLength());
    float[] result = new float[q.length];
    try (CudaAttention att = create(shape, fp16PV, kernel, quantizer);
        DeviceBuffer dq = DeviceBuffer.of(q);
        DeviceBuffer dk = DeviceBuffer.of(k);
        DeviceBuffer dv = DeviceBuffer.of(v);
        DeviceBuffer dout = DeviceBuffer.allocate(4L * q.length)) {
      att.forward(dq, dk, dv, dout, causal, scale);
      dout.copyTo(result);
    }
    return result;
  }

  private static void requireLength(String what, float[] a, long n) {
    if (a == null || a.length != n) {
      throw new IllegalArgumentException(
          "CUDA attention: "
              + what
              + " must hold "
              + n
              + " floats, got "
              + (a == null ? "null" : a.length));
    }
  }

  /** Frees the scratch buffers (idempotent). */
  @Override
  public void close() {
    RuntimeException first = null;
    for (DeviceBuffer b : owned) {
      try {
        b.close();
      } catch (RuntimeException e) {
        if (first == null) {
          first = e;
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}

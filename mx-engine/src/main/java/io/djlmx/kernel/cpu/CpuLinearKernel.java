package io.djlmx.kernel.cpu;

import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.format.ScaleMode;
import io.djlmx.kernel.LinearKernel;
import io.djlmx.kernel.PreparedWeight;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Objects;
import jdk.incubator.vector.FloatVector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * MX linear on the CPU with the Vector API (512-bit vectors) and native memory: {@code y = x·Wᵀ +
 * b} for the six MX formats, weight-only or weight + activation.
 *
 * <p>{@link #prepare} repacks the weight so that a 16-lane vector holds one element of 16 rows (see
 * {@link CpuPreparedWeight}). A single input row ({@code m == 1}) runs the fused decode-and-FMA
 * kernel, split over rows across threads ({@link ByteGemvKernel} for the 8-bit formats, four 32-row
 * units at a time; {@link GemvKernel} otherwise); several rows decode each weight tile once into
 * FP32 and multiply it with all rows ({@link GemmKernel}: 8 rows × 32 outputs in registers, then 4,
 * 2 and 1-row tails at full multiply-add rate). Work is split over 32-row units, handed out one at
 * a time to the calling thread and the kernel's workers ({@link KernelThreads}: daemon threads that
 * spin briefly between calls, so that the small calls of a forward pass at batch 1 are split too).
 * Results equal the exact FP32 dot products of the dequantized values up to summation order, and do
 * not depend on the thread count. {@link #close()} stops the workers.
 *
 * <p>Thread safety: one kernel may serve concurrent calls (one call at a time uses the workers, the
 * others run on their own thread); a prepared weight may be used by concurrent calls but must not
 * be closed while one runs. The kernels are written for 512-bit vectors (AVX-512); on a CPU without
 * them the Vector API still computes correct results, but slowly, and a warning is logged once.
 */
public final class CpuLinearKernel implements LinearKernel, AutoCloseable {

  /**
   * Blocks of {@code k} decoded per panel in the batched path: 128 columns, 16 KiB of FP32, in L1.
   */
  private static final int PANEL_BLOCKS = 4;

  /**
   * From this many 32-row units on, 8-bit batch-1 calls take {@link ByteGemvKernel} (groups of four
   * units); below, too few groups to split evenly over the threads.
   */
  private static final long MIN_GROUPED_UNITS = 16;

  /** From this many input rows on, the batched path decodes the whole weight first. */
  private static final int MIN_BLOCKED_ROWS = 64;

  /** Input rows per block of the large-batch path (a multiple of eight). */
  private static final int ROW_BLOCK = 64;

  /**
   * The largest decoded weight (floats) the large-batch path makes: 64 MiB, far beyond any weight
   * whose multiply-adds at {@link #MIN_BLOCKED_ROWS} rows would not dwarf its decoding.
   */
  private static final long MAX_DECODED_FLOATS = 1L << 24;

  /**
   * Interleaved input floats up to which the unit-major path runs: all input rows stay in a core's
   * cache (512 KiB of its 1 MiB L2 here) while the units' panels pass through.
   */
  private static final long MAX_RESIDENT_INPUT_FLOATS = 1 << 17;

  /** A unit's full-depth decoded panel (32 × k floats) up to which the unit-major path runs. */
  private static final long MAX_UNIT_PANEL_FLOATS = 1 << 16;

  /** Below this many multiply-adds a call runs on the calling thread alone. */
  private static final double MIN_PARALLEL_MACS = 1 << 18;

  /** Below this many activation elements, W+A quantization runs on the calling thread alone. */
  private static final long MIN_PARALLEL_QUANTIZE = 1 << 15;

  /** A thread that never runs: a segment it may access is accessible to the worker threads. */
  private static final Thread PROBE = new Thread(() -> {});

  private static final Logger logger = LoggerFactory.getLogger(CpuLinearKernel.class);

  static {
    if (FloatVector.SPECIES_PREFERRED.vectorBitSize() < 512) {
      logger.warn(
          "This CPU's preferred vectors are {} bits; the MX CPU kernels are written for 512-bit"
              + " vectors and will be slow here",
          FloatVector.SPECIES_PREFERRED.vectorBitSize());
    }
  }

  private final KernelThreads threads;
  private final boolean exactOnly;

  private CpuLinearKernel(Builder builder) {
    this.threads = new KernelThreads(builder.threads);
    this.exactOnly = builder.exactOnly;
  }

  /** Creates a kernel that uses every available core. */
  public CpuLinearKernel() {
    this(builder());
  }

  /**
   * Returns a builder.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Returns the number of threads one call uses.
   *
   * @return the thread count
   */
  public int threads() {
    return threads.threads();
  }

  /** {@inheritDoc} */
  @Override
  public PreparedWeight prepare(MxTensor weight) {
    Objects.requireNonNull(weight, "weight");
    if (weight.isClosed()) {
      throw new IllegalStateException("weight MxTensor is closed");
    }
    return CpuPreparedWeight.pack(weight, threads);
  }

  /** {@inheritDoc} */
  @Override
  public void linear(
      MemorySegment x,
      long m,
      PreparedWeight w,
      MemorySegment bias,
      MemorySegment y,
      MxFormat activation,
      ScaleMode activationScale) {
    Objects.requireNonNull(w, "w");
    if (!(w instanceof CpuPreparedWeight)) {
      throw new IllegalArgumentException(
          "w must be prepared by CpuLinearKernel, got " + w.getClass().getName());
    }
    CpuPreparedWeight pw = (CpuPreparedWeight) w;
    pw.checkOpen();
    Objects.requireNonNull(x, "x");
    Objects.requireNonNull(y, "y");
    long n = pw.rows();
    long k = pw.cols();
    if (m < 0) {
      throw new IllegalArgumentException("m must be >= 0, got " + m);
    }
    int kpad = pw.blocksPerRow() * CpuPreparedWeight.BLOCK;
    if (m > Integer.MAX_VALUE / Math.max(kpad, 1)) {
      throw new IllegalArgumentException("m too large: " + m + " rows of " + k);
    }
    checkSize("x", x, m * k, "m*k = " + m + "*" + k);
    checkSize("y", y, m * n, "m*n = " + m + "*" + n);
    if (bias != null) {
      checkSize("bias", bias, n, "n = " + n);
    }
    if (y.isReadOnly()) {
      throw new IllegalArgumentException("y must be writable");
    }
    if (y.asOverlappingSlice(x).isPresent()
        || (bias != null && y.asOverlappingSlice(bias).isPresent())) {
      throw new IllegalArgumentException("y must not overlap x or bias");
    }
    if (m == 0) {
      return;
    }
    int rows = (int) m;
    // Worker threads cannot touch a segment confined to the caller: stage such y and bias on heap.
    MemorySegment yk = y;
    if (!y.isAccessibleBy(PROBE)) {
      if (m * n > Integer.MAX_VALUE - 8) {
        throw new IllegalArgumentException(
            "y is confined to the calling thread and too large to stage (" + m * n + " floats)");
      }
      yk = MemorySegment.ofArray(new float[(int) (m * n)]);
    }
    MemorySegment bk =
        bias == null || bias.isAccessibleBy(PROBE)
            ? bias
            : MemorySegment.ofArray(bias.toArray(ValueLayout.JAVA_FLOAT_UNALIGNED));
    compute(x, rows, pw, bk, yk, activation, activationScale);
    if (yk != y) {
      MemorySegment.copy(yk, 0, y, 0, y.byteSize());
    }
  }

  private void compute(
      MemorySegment x,
      int rows,
      CpuPreparedWeight pw,
      MemorySegment bias,
      MemorySegment y,
      MxFormat activation,
      ScaleMode activationScale) {
    long n = pw.rows();
    long k = pw.cols();
    int kpad = pw.blocksPerRow() * CpuPreparedWeight.BLOCK;
    float[] xp = Scratch.floats(Scratch.INPUT, rows * kpad);
    for (int r = 0; r < rows; r++) {
      MemorySegment.copy(x, ValueLayout.JAVA_FLOAT_UNALIGNED, 4L * r * k, xp, r * kpad, (int) k);
      if (kpad > k) {
        Arrays.fill(xp, r * kpad + (int) k, (r + 1) * kpad, 0f); // the buffer is reused
      }
    }
    if (activation != null) {
      ScaleMode mode = activationScale == null ? ScaleMode.FLOOR : activationScale;
      // A few rows quantize faster than a hand-off to another thread.
      threads.forRange(
          rows,
          (long) rows * kpad < MIN_PARALLEL_QUANTIZE ? 1 : threads.threads(),
          (a, b) ->
              ActivationQuantizer.quantize(xp, kpad, (int) a, (int) b, (int) k, activation, mode));
    }
    // Small products run on the calling thread: a hand-off costs a microsecond or more.
    int parts = (double) rows * pw.units() * 32 * kpad < MIN_PARALLEL_MACS ? 1 : threads.threads();
    if (exactOnly) {
      threads.forRange(n, (a, b) -> ExactLinear.rows(pw, xp, kpad, rows, bias, y, a, b));
    } else if (rows == 1 && ByteGemvKernel.handles(pw) && pw.units() >= MIN_GROUPED_UNITS) {
      // Indices are groups of units (the last group also takes the remainder).
      long units = pw.units();
      long groups = units / ByteGemvKernel.UNITS;
      threads.forRange(
          groups,
          parts,
          (a, b) ->
              ByteGemvKernel.run(
                  pw,
                  xp,
                  bias,
                  y,
                  0,
                  a * ByteGemvKernel.UNITS,
                  b == groups ? units : b * ByteGemvKernel.UNITS));
    } else if (rows == 1) {
      threads.forRange(pw.units(), parts, (a, b) -> GemvKernel.run(pw, xp, bias, y, 0, a, b));
    } else if (rows >= 8
        && (long) rows * kpad <= MAX_RESIDENT_INPUT_FLOATS
        && 32L * kpad <= MAX_UNIT_PANEL_FLOATS) {
      float[] xt = interleave8(xp, kpad, rows);
      threads.forRange(
          pw.units(), parts, (a, b) -> unitMajor(pw, xt, xp, kpad, rows, bias, y, a, b));
    } else if (rows >= MIN_BLOCKED_ROWS
        && pw.units() * pw.blocksPerRow() * 1024L <= MAX_DECODED_FLOATS) {
      blocked(pw, interleave8(xp, kpad, rows), xp, kpad, rows, bias, y, parts);
    } else {
      float[] xt = interleave8(xp, kpad, rows);
      // Inside one claimed run of units the inputs' column chunk stays in cache across the units.
      threads.forRange(pw.units(), parts, (a, b) -> batched(pw, xt, xp, kpad, rows, bias, y, a, b));
    }
    ExactLinear.exactRows(pw, xp, kpad, rows, bias, y);
  }

  private static void batched(
      CpuPreparedWeight w,
      float[] xt,
      float[] x,
      int kpad,
      int m,
      MemorySegment bias,
      MemorySegment y,
      long u0,
      long u1) {
    int kb = w.blocksPerRow();
    int n = (int) w.rows();
    float[] panel = Scratch.floats(Scratch.PANEL, PANEL_BLOCKS * 1024);
    // Column chunks outside, units inside: the inputs' chunk stays in cache across units.
    for (int c0 = 0; c0 < kb; c0 += PANEL_BLOCKS) {
      int nb = Math.min(PANEL_BLOCKS, kb - c0);
      for (long u = u0; u < u1; u++) {
        decodeTiles(w, u * kb + c0, nb, panel, 0);
        GemmKernel.run(
            panel, 0, nb * 32, xt, x, kpad, c0 * 32, 0, m, y, n, u, c0 == 0, bias, c0 + nb >= kb);
      }
    }
  }

  /**
   * The path for inputs that fit in cache: each unit's full-depth panel is decoded into this
   * thread's scratch (it stays in cache) and multiplied with every input row, so each output is
   * accumulated in registers over all of {@code k} and stored once, and no decoded weight goes
   * through memory (the large-batch path writes the whole decoded weight out and reads it back).
   */
  private static void unitMajor(
      CpuPreparedWeight w,
      float[] xt,
      float[] x,
      int kpad,
      int m,
      MemorySegment bias,
      MemorySegment y,
      long u0,
      long u1) {
    int kb = w.blocksPerRow();
    int n = (int) w.rows();
    float[] panel = Scratch.floats(Scratch.PANEL, kb * 1024);
    for (long u = u0; u < u1; u++) {
      decodeTiles(w, u * kb, kb, panel, 0);
      fullDepth(panel, 0, kb, xt, x, kpad, 0, m, y, n, u, bias, u == 0);
    }
  }

  /**
   * Multiplies rows {@code [i0, i1)} with one unit's full-depth panel, storing each output once.
   * With {@code split} (one tile per call) it runs in two depth chunks instead, the same sums (the
   * partial is stored exactly), and its last seven rows go through {@code GemmKernel.run} on their
   * own, so that the kernel's 4-, 2- and 1-row tails run too: then {@code GemmKernel.run}'s profile
   * keeps both sides of its first/last branches and of its row tails. Otherwise C2 prunes a side
   * after a run of calls that never take it, and the next call that does (a small batch, a row
   * count not a multiple of eight) deoptimizes the kernel into the interpreter for seconds (C1
   * cannot compile it; {@code docs/bench/jit.md}).
   */
  private static void fullDepth(
      float[] panel,
      int off,
      int kb,
      float[] xt,
      float[] x,
      int kpad,
      int i0,
      int i1,
      MemorySegment y,
      int n,
      long u,
      MemorySegment bias,
      boolean split) {
    // Rows are independent: with split, [i0, s) keeps the 8-row blocks, [s, i1) is 4 + 2 + 1 rows.
    int s = split && i1 - i0 > 8 ? i1 - 7 : i1;
    for (int r0 = i0, r1 = s; r0 < i1; r0 = r1, r1 = i1) {
      if (split && kb > 1) {
        int half = kb / 2 * 32;
        GemmKernel.run(panel, off, half, xt, x, kpad, 0, r0, r1, y, n, u, true, bias, false);
        GemmKernel.run(
            panel,
            off + 32 * half,
            kpad - half,
            xt,
            x,
            kpad,
            half,
            r0,
            r1,
            y,
            n,
            u,
            false,
            bias,
            true);
      } else {
        GemmKernel.run(panel, off, kpad, xt, x, kpad, 0, r0, r1, y, n, u, true, bias, true);
      }
    }
  }

  /**
   * The large-batch path: decodes the whole weight once (in parallel, by units), then multiplies
   * blocks of {@link #ROW_BLOCK} input rows with one unit's full-depth panel at a time, so every
   * output element is accumulated in registers over all of {@code k} and stored once (the chunked
   * path reloads and stores the outputs once per 128 columns, which at thousands of rows costs more
   * than its multiply-adds: the output rows are far apart in memory).
   */
  private void blocked(
      CpuPreparedWeight w,
      float[] xt,
      float[] x,
      int kpad,
      int m,
      MemorySegment bias,
      MemorySegment y,
      int parts) {
    int kb = w.blocksPerRow();
    int n = (int) w.rows();
    long units = w.units();
    int unitFloats = kb * 1024;
    float[] decoded = Scratch.floats(Scratch.DECODED, (int) (units * unitFloats));
    threads.forRange(
        units,
        parts,
        (a, b) -> {
          for (long u = a; u < b; u++) {
            decodeTiles(w, u * kb, kb, decoded, (int) (u * unitFloats));
          }
        });
    long rowBlocks = (m + ROW_BLOCK - 1) / ROW_BLOCK;
    // Index = row block · units + unit: a claimed run walks the units of one row block, whose
    // interleaved inputs stay in cache.
    threads.forRange(
        rowBlocks * units,
        parts,
        (a, b) -> {
          for (long t = a; t < b; t++) {
            int i0 = (int) (t / units) * ROW_BLOCK;
            int i1 = Math.min(m, i0 + ROW_BLOCK);
            long u = t % units;
            int off = (int) (u * unitFloats);
            fullDepth(decoded, off, kb, xt, x, kpad, i0, i1, y, n, u, bias, t == 0);
          }
        });
  }

  /**
   * Decodes {@code count} consecutive 32×32 tiles into {@code panel} from {@code off}, 1024 each.
   */
  private static void decodeTiles(
      CpuPreparedWeight w, long firstTile, int count, float[] panel, int off) {
    for (int t = 0; t < count; t++) {
      TileDecoder.decode(w, firstTile + t, panel, off + t * 1024);
    }
  }

  /** Copies whole blocks of eight rows so that one column's eight values are adjacent. */
  private static float[] interleave8(float[] x, int kpad, int m) {
    int blocks = m / 8;
    float[] xt = Scratch.floats(Scratch.INTERLEAVED, blocks * 8 * kpad);
    for (int b = 0; b < blocks; b++) {
      int base = b * 8 * kpad;
      for (int r = 0; r < 8; r++) {
        int src = (b * 8 + r) * kpad;
        for (int c = 0; c < kpad; c++) {
          xt[base + 8 * c + r] = x[src + c];
        }
      }
    }
    return xt;
  }

  private static void checkSize(String name, MemorySegment s, long floats, String what) {
    long expected = 4 * floats;
    if (s.byteSize() != expected) {
      throw new IllegalArgumentException(
          name
              + " must hold "
              + what
              + " floats = "
              + expected
              + " bytes, got "
              + s.byteSize()
              + " bytes");
    }
  }

  /** Stops the kernel's worker threads; prepared weights stay usable with another kernel. */
  @Override
  public void close() {
    threads.close();
  }

  /** Builds a {@link CpuLinearKernel}. */
  public static final class Builder {

    private int threads = Runtime.getRuntime().availableProcessors();
    private boolean exactOnly;

    Builder() {}

    /**
     * Sets the threads one call uses (default: the available cores).
     *
     * @param threads the thread count, {@code >= 1}
     * @return this builder
     */
    public Builder optThreads(int threads) {
      if (threads < 1) {
        throw new IllegalArgumentException("threads must be >= 1, got " + threads);
      }
      this.threads = threads;
      return this;
    }

    /**
     * Uses only the simple exact path (table decode, scalar FP32 dot products): slow, for checking.
     *
     * @param exactOnly true for the exact path only
     * @return this builder
     */
    public Builder optExactOnly(boolean exactOnly) {
      this.exactOnly = exactOnly;
      return this;
    }

    /**
     * Builds the kernel.
     *
     * @return the kernel
     */
    public CpuLinearKernel build() {
      return new CpuLinearKernel(this);
    }
  }
}

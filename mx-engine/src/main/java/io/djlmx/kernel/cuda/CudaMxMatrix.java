package io.djlmx.kernel.cuda;

import io.djlmx.format.MxFormat;
import io.djlmx.format.ScaleMode;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * An MX matrix resident in device memory: {@code rows x cols} values blocked by 32 along the
 * columns, codes in the canonical packed layout ({@code codeBytesPerRow} bytes per row, ragged last
 * block zero-padded) and one E8M0 scale byte per block ({@code [rows, blocksPerRow]}). Weights are
 * uploaded once; activations are quantized on the device. Owns its device memory: {@link #close()}
 * frees it.
 */
public final class CudaMxMatrix implements AutoCloseable {

  static final int GEMM_ROW_TILE = 128;

  private final MxFormat format;
  private final long rows;
  private final long cols;
  private final DeviceBuffer codes;
  private final DeviceBuffer scales;
  private DeviceBuffer
      gemmScales; // floats, K-slice-major [blocksPerRow, paddedRows]; made on demand
  private DeviceBuffer fp6Planes; // FP6 codes in the GEMV plane layout; made on demand
  private Boolean
      bf16Exact; // every element times its scale a BF16 value (see bf16Exact()); made on demand

  private CudaMxMatrix(
      MxFormat format, long rows, long cols, DeviceBuffer codes, DeviceBuffer scales) {
    this.format = format;
    this.rows = rows;
    this.cols = cols;
    this.codes = codes;
    this.scales = scales;
  }

  static void checkShape(long rows, long cols) {
    if (rows < 1 || cols < 1 || rows > Integer.MAX_VALUE || cols > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "MX matrix shape [" + rows + ", " + cols + "] must be positive and fit an int per axis");
    }
  }

  /**
   * Copies a host MX matrix in canonical layout to the device.
   *
   * @param format the element format
   * @param rows rows (output features of a weight)
   * @param cols columns (the reduction axis, blocked by 32)
   * @param hostCodes packed codes, {@code rows * codeBytesPerRow} bytes
   * @param hostScales E8M0 scale bytes, {@code rows * blocksPerRow}
   * @return the device matrix
   * @throws IllegalArgumentException when a size does not match the shape and format
   */
  public static CudaMxMatrix upload(
      MxFormat format, long rows, long cols, MemorySegment hostCodes, MemorySegment hostScales) {
    checkShape(rows, cols);
    long bpr = blocksPerRow(cols);
    long cbpr = format.packedBytes(bpr * MxFormat.DEFAULT_BLOCK_SIZE);
    if (hostCodes.byteSize() != rows * cbpr) {
      throw new IllegalArgumentException(
          format
              + " codes of ["
              + rows
              + ", "
              + cols
              + "] need "
              + rows * cbpr
              + " bytes, got "
              + hostCodes.byteSize());
    }
    if (hostScales.byteSize() != rows * bpr) {
      throw new IllegalArgumentException(
          format
              + " scales of ["
              + rows
              + ", "
              + cols
              + "] need "
              + rows * bpr
              + " bytes, got "
              + hostScales.byteSize());
    }
    DeviceBuffer c = DeviceBuffer.allocate(rows * cbpr);
    DeviceBuffer s = null;
    try {
      s = DeviceBuffer.allocate(rows * bpr);
      c.copyFrom(hostCodes);
      s.copyFrom(hostScales);
      CudaMxMatrix mat = new CudaMxMatrix(format, rows, cols, c, s);
      mat.bf16Exact = Bf16Exactness.holds(format, rows, cols, hostCodes, hostScales);
      return mat;
    } catch (RuntimeException e) {
      c.close();
      if (s != null) {
        s.close();
      }
      throw e;
    }
  }

  /**
   * Quantizes a row-major FP32 matrix on the device (each row blocked by 32 along the columns).
   *
   * @param x device FP32 values, {@code rows * cols}
   * @param rows rows
   * @param cols columns
   * @param format the element format
   * @param mode the shared-scale rule
   * @return the device MX matrix
   */
  public static CudaMxMatrix quantize(
      DeviceBuffer x, long rows, long cols, MxFormat format, ScaleMode mode) {
    return quantize(x, rows, cols, format, mode, false, null);
  }

  static CudaMxMatrix quantize(
      DeviceBuffer x,
      long rows,
      long cols,
      MxFormat format,
      ScaleMode mode,
      boolean withGemmScales,
      DeviceBuffer dequantized) {
    checkShape(rows, cols);
    if (x.byteSize() < 4 * rows * cols) {
      throw new IllegalArgumentException(
          "input of " + x.byteSize() + " bytes is smaller than [" + rows + ", " + cols + "] FP32");
    }
    long bpr = blocksPerRow(cols);
    long cbpr = format.packedBytes(bpr * MxFormat.DEFAULT_BLOCK_SIZE);
    DeviceBuffer c = DeviceBuffer.allocate(rows * cbpr);
    DeviceBuffer s = null;
    DeviceBuffer g = null;
    try {
      s = DeviceBuffer.allocate(rows * bpr);
      long padded = paddedRows(rows);
      if (withGemmScales) {
        g = DeviceBuffer.allocate(4 * bpr * padded);
      }
      long total = rows * bpr;
      Kernels.launch1d(
          "mx_quantize_f" + format.ordinal(),
          total,
          new KernelArgs()
              .ptr(x)
              .i32(rows)
              .i32(cols)
              .i32(bpr)
              .i32(mode == ScaleMode.RCEIL ? 1 : 0)
              .ptr(c)
              .i64(cbpr)
              .ptr(s)
              .ptr(g)
              .i64(1)
              .i64(padded)
              .ptr(dequantized));
      CudaMxMatrix mat = new CudaMxMatrix(format, rows, cols, c, s);
      mat.gemmScales = g;
      return mat;
    } catch (RuntimeException e) {
      c.close();
      if (s != null) {
        s.close();
      }
      if (g != null) {
        g.close();
      }
      throw e;
    }
  }

  static long blocksPerRow(long cols) {
    return (cols + MxFormat.DEFAULT_BLOCK_SIZE - 1) / MxFormat.DEFAULT_BLOCK_SIZE;
  }

  static long paddedRows(long rows) {
    return (rows + GEMM_ROW_TILE - 1) / GEMM_ROW_TILE * GEMM_ROW_TILE;
  }

  /**
   * Returns the element format.
   *
   * @return the format
   */
  public MxFormat format() {
    return format;
  }

  /**
   * Returns the number of rows.
   *
   * @return rows
   */
  public long rows() {
    return rows;
  }

  /**
   * Returns the number of columns (the blocked axis).
   *
   * @return columns
   */
  public long cols() {
    return cols;
  }

  /**
   * Returns the number of 32-blocks per row.
   *
   * @return blocks per row
   */
  public long blocksPerRow() {
    return blocksPerRow(cols);
  }

  /**
   * Returns the packed code bytes per row.
   *
   * @return code bytes per row
   */
  public long codeBytesPerRow() {
    return format.packedBytes(blocksPerRow() * MxFormat.DEFAULT_BLOCK_SIZE);
  }

  /**
   * Returns the device bytes held (codes, scales and any derived scale layout).
   *
   * @return device bytes
   */
  public long byteSize() {
    return codes.byteSize() + scales.byteSize() + (gemmScales == null ? 0 : gemmScales.byteSize());
  }

  /**
   * Returns the device codes.
   *
   * @return codes
   */
  public DeviceBuffer codes() {
    return codes;
  }

  /**
   * Returns the device E8M0 scale bytes.
   *
   * @return scales
   */
  public DeviceBuffer scales() {
    return scales;
  }

  /** Returns the scales as floats, K-slice-major, for the tensor-core GEMM; made on first use. */
  synchronized DeviceBuffer gemmScales() {
    if (gemmScales == null) {
      long bpr = blocksPerRow();
      long padded = paddedRows(rows);
      DeviceBuffer g = DeviceBuffer.allocate(4 * bpr * padded);
      try {
        g.fill32(0);
        Kernels.launch1d(
            "mx_scales_to_float_t",
            rows * bpr,
            new KernelArgs().ptr(scales).i32(rows).i32(bpr).ptr(g).i64(padded));
      } catch (RuntimeException e) {
        g.close();
        throw e;
      }
      gemmScales = g;
    }
    return gemmScales;
  }

  /**
   * Whether every element times its block scale is exactly a BF16 value (no scale so small that a
   * value falls below BF16's subnormals, none so large that it overflows, no MXFP8 E5M2 Inf or NaN
   * code), so the split-BF16 tensor-core kernel computes what FP32 would. Checked on the host at
   * upload; for a matrix quantized on the device, checked once on first use (a copy of its scales,
   * and of its codes where the scales alone do not decide).
   */
  synchronized boolean bf16Exact() {
    if (bf16Exact == null) {
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment hs = arena.allocate(scales.byteSize());
        scales.copyTo(hs);
        if (format != MxFormat.MXFP8_E5M2 && Bf16Exactness.scalesInRange(format, hs)) {
          bf16Exact = true;
        } else { // E5M2 Inf codes, or blocks of extreme scale that may be all zeros: read the codes
          MemorySegment hc = arena.allocate(codes.byteSize());
          codes.copyTo(hc);
          bf16Exact = Bf16Exactness.holds(format, rows, cols, hc, hs);
        }
      }
    }
    return bf16Exact;
  }

  /**
   * Returns the codes in the layout the GEMV kernels read: the canonical codes, except for FP6,
   * which is repacked once (on first use) into a plane layout of the same size that decodes in
   * fewer instructions (see mx_gemv.cu). The repacked copy stays with this matrix until {@link
   * #close()}.
   */
  synchronized DeviceBuffer gemvCodes() {
    if (format != MxFormat.MXFP6_E3M2 && format != MxFormat.MXFP6_E2M3) {
      return codes;
    }
    if (fp6Planes == null) {
      DeviceBuffer p = DeviceBuffer.allocate(codes.byteSize());
      try {
        Kernels.launch1d(
            "mx_fp6_planes_f" + format.ordinal(),
            rows * blocksPerRow(),
            new KernelArgs().ptr(codes).ptr(p).i64(rows * blocksPerRow()));
      } catch (RuntimeException e) {
        p.close();
        throw e;
      }
      fp6Planes = p;
    }
    return fp6Planes;
  }

  /**
   * Copies the codes and scales back to the host.
   *
   * @param hostCodes destination of {@code rows * codeBytesPerRow} bytes
   * @param hostScales destination of {@code rows * blocksPerRow} bytes
   */
  public void download(MemorySegment hostCodes, MemorySegment hostScales) {
    codes.copyTo(hostCodes);
    scales.copyTo(hostScales);
  }

  /** Frees the device memory. Idempotent. */
  @Override
  public void close() {
    codes.close();
    scales.close();
    if (gemmScales != null) {
      gemmScales.close();
    }
    if (fp6Planes != null) {
      fp6Planes.close();
    }
  }
}

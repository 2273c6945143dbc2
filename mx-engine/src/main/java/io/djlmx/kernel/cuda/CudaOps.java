package io.djlmx.kernel.cuda;

import java.util.Arrays;
import jcuda.Pointer;
import jcuda.driver.JCudaDriver;

/**
 * The dense-array kernels of {@code mx_ndarray.cu} on device buffers: elementwise maps,
 * broadcasting binary ops, strided copies (transpose, slice, broadcast), casts, softmax, layer
 * norm, embedding gather, reductions along one axis and a batched FP32 matmul.
 *
 * <p>Arrays are dense row-major buffers described by their shape; each method checks that the
 * buffers are large enough before launching, and every launch is checked by {@link CudaBackend}.
 */
public final class CudaOps {

  /** Most axes a strided kernel takes (ND_MAXD in mx_ndarray.cu). */
  public static final int MAX_RANK = 8;

  private static final int THREADS = 256;
  private static final long MAX_BLOCKS = 1L << 20;

  /** Unary maps, some with a scalar {@code p}; the order is the kernel's op id. */
  public enum Unary {
    /** -x. */
    NEG,
    /** |x|. */
    ABS,
    /** e^x. */
    EXP,
    /** ln x. */
    LOG,
    /** √x. */
    SQRT,
    /** x². */
    SQUARE,
    /** tanh x. */
    TANH,
    /** 1 / (1 + e^-x). */
    SIGMOID,
    /** max(x, 0). */
    RELU,
    /** x·Φ(x), the exact (erf) GELU. */
    GELU,
    /** sin x. */
    SIN,
    /** cos x. */
    COS,
    /** x + p. */
    ADD_SCALAR,
    /** x - p. */
    SUB_SCALAR,
    /** p - x. */
    RSUB_SCALAR,
    /** x·p. */
    MUL_SCALAR,
    /** x / p. */
    DIV_SCALAR,
    /** p / x. */
    RDIV_SCALAR,
    /** x^p. */
    POW_SCALAR,
    /** max(x, p). */
    MAX_SCALAR,
    /** min(x, p). */
    MIN_SCALAR,
    /** 1 / √x. */
    RSQRT,
    /** ⌊x⌋. */
    FLOOR,
    /** ⌈x⌉. */
    CEIL,
    /** sign(x). */
    SIGN
  }

  /** Binary ops with broadcasting; the order is the kernel's op id. */
  public enum Binary {
    /** a + b. */
    ADD,
    /** a - b. */
    SUB,
    /** a·b. */
    MUL,
    /** a / b. */
    DIV,
    /** max(a, b). */
    MAX,
    /** min(a, b). */
    MIN,
    /** a^b. */
    POW
  }

  /** Reductions along one axis; the order is the kernel's op id. */
  public enum Reduce {
    /** Σ. */
    SUM,
    /** Σ / n. */
    MEAN,
    /** max (NaN propagates). */
    MAX,
    /** min (NaN propagates). */
    MIN,
    /** Π. */
    PROD
  }

  /** Element types the cast kernel converts between; the order is the kernel's type id. */
  public enum ElementType {
    /** 32-bit float. */
    F32(4),
    /** 64-bit float. */
    F64(8),
    /** 32-bit signed integer. */
    I32(4),
    /** 64-bit signed integer. */
    I64(8),
    /** 8-bit signed integer. */
    I8(1),
    /** 8-bit unsigned integer. */
    U8(1),
    /** Boolean, one byte 0 or 1. */
    BOOL(1);

    private final int bytes;

    ElementType(int bytes) {
      this.bytes = bytes;
    }

    /**
     * Returns the element size.
     *
     * @return bytes per element
     */
    public int bytes() {
      return bytes;
    }
  }

  private CudaOps() {}

  /**
   * Returns the number of elements of a shape.
   *
   * @param shape the shape
   * @return the product of its sizes (1 for a scalar)
   */
  public static long size(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  /**
   * Returns the dense row-major strides of a shape, in elements.
   *
   * @param shape the shape
   * @return the strides
   */
  public static long[] strides(long[] shape) {
    long[] s = new long[shape.length];
    long acc = 1;
    for (int d = shape.length - 1; d >= 0; d--) {
      s[d] = acc;
      acc *= shape[d];
    }
    return s;
  }

  /**
   * Returns the shape two shapes broadcast to (NumPy rules: aligned at the last axis, a size of 1
   * stretches).
   *
   * @param a one shape
   * @param b the other shape
   * @return the broadcast shape
   * @throws IllegalArgumentException naming both shapes when they do not broadcast
   */
  public static long[] broadcastShape(long[] a, long[] b) {
    int rank = Math.max(a.length, b.length);
    long[] out = new long[rank];
    for (int i = 0; i < rank; i++) {
      long x = i < rank - a.length ? 1 : a[i - (rank - a.length)];
      long y = i < rank - b.length ? 1 : b[i - (rank - b.length)];
      if (x != y && x != 1 && y != 1) {
        throw new IllegalArgumentException(
            "shapes " + Arrays.toString(a) + " and " + Arrays.toString(b) + " do not broadcast");
      }
      out[i] = x == 1 ? y : x;
    }
    return out;
  }

  /** Strides of {@code in} read as {@code out} (broadcast: 0 on stretched or missing axes). */
  private static long[] broadcastStrides(long[] in, long[] out) {
    long[] dense = strides(in);
    long[] s = new long[out.length];
    int lead = out.length - in.length;
    if (lead < 0) {
      throw new IllegalArgumentException(
          "shape " + Arrays.toString(in) + " has more axes than " + Arrays.toString(out));
    }
    for (int i = 0; i < in.length; i++) {
      if (in[i] == out[lead + i]) {
        s[lead + i] = dense[i];
      } else if (in[i] == 1) {
        s[lead + i] = 0;
      } else {
        throw new IllegalArgumentException(
            "shape " + Arrays.toString(in) + " does not broadcast to " + Arrays.toString(out));
      }
    }
    return s;
  }

  /** Packs an NdGeom (see mx_ndarray.cu): rank, n, shape[8], s0[8], s1[8], off0, off1. */
  static long[] geometry(long[] shape, long[] s0, long off0, long[] s1, long off1) {
    if (shape.length > MAX_RANK) {
      throw new IllegalArgumentException(
          "CUDA array kernels take at most "
              + MAX_RANK
              + " axes, got shape "
              + Arrays.toString(shape));
    }
    long[] g = new long[4 + 3 * MAX_RANK];
    g[0] = shape.length;
    g[1] = size(shape);
    for (int d = 0; d < shape.length; d++) {
      g[2 + d] = shape[d];
      g[2 + MAX_RANK + d] = s0[d];
      g[2 + 2 * MAX_RANK + d] = s1 == null ? 0 : s1[d];
    }
    g[2 + 3 * MAX_RANK] = off0;
    g[3 + 3 * MAX_RANK] = off1;
    return g;
  }

  private static int blocks(long items) {
    return (int) Math.max(1, Math.min(MAX_BLOCKS, (items + THREADS - 1) / THREADS));
  }

  private static void launch(String kernel, long items, KernelArgs args) {
    CudaBackend.get()
        .launch(
            kernel, new int[] {blocks(items), 1, 1}, new int[] {THREADS, 1, 1}, 0, args.build());
  }

  /** Throws unless {@code b} is non-null and holds at least {@code bytes} bytes. */
  static void requireBytes(String what, DeviceBuffer b, long bytes) {
    if (b == null) {
      throw new IllegalArgumentException(what + " is null");
    }
    if (b.byteSize() < bytes) {
      throw new IllegalArgumentException(
          what + " of " + b.byteSize() + " bytes is smaller than the " + bytes + " bytes needed");
    }
  }

  /**
   * {@code out[i] = op(a[i], p)} on {@code n} FP32 elements ({@code out} may be {@code a}).
   *
   * @param out the output
   * @param a the input
   * @param n the element count
   * @param op the map
   * @param p the scalar of the {@code *_SCALAR} maps (ignored by the others)
   */
  public static void map(DeviceBuffer out, DeviceBuffer a, long n, Unary op, float p) {
    if (n == 0) {
      return;
    }
    requireBytes("map input", a, 4 * n);
    requireBytes("map output", out, 4 * n);
    launch("mx_nd_map", n, new KernelArgs().ptr(out).ptr(a).i64(n).i32(op.ordinal()).f32(p));
  }

  /**
   * {@code out = op(a, b)} on FP32 arrays with broadcasting; {@code out} is dense with {@code
   * outShape} = {@link #broadcastShape}(aShape, bShape).
   *
   * @param out the output
   * @param outShape its shape
   * @param a the first operand
   * @param aShape its shape
   * @param b the second operand
   * @param bShape its shape
   * @param op the op
   */
  public static void binary(
      DeviceBuffer out,
      long[] outShape,
      DeviceBuffer a,
      long[] aShape,
      DeviceBuffer b,
      long[] bShape,
      Binary op) {
    long n = size(outShape);
    if (n == 0) {
      return;
    }
    requireBytes("binary input a", a, 4 * size(aShape));
    requireBytes("binary input b", b, 4 * size(bShape));
    requireBytes("binary output", out, 4 * n);
    long[] g =
        geometry(
            outShape, broadcastStrides(aShape, outShape), 0, broadcastStrides(bShape, outShape), 0);
    launch("mx_nd_binary", n, new KernelArgs().ptr(out).ptr(a).ptr(b).longs(g).i32(op.ordinal()));
  }

  /**
   * Gathers a strided view of {@code a} into the dense {@code out}: element {@code (i0, …)} of
   * {@code out} is {@code a[offset + Σ ik·strides[k]]}.
   *
   * @param out the dense output
   * @param a the source
   * @param elementBytes 1, 4 or 8
   * @param outShape the output shape
   * @param strides the source stride of each output axis, in elements (0 broadcasts)
   * @param offset the source element of the first output element
   */
  public static void stridedCopy(
      DeviceBuffer out,
      DeviceBuffer a,
      int elementBytes,
      long[] outShape,
      long[] strides,
      long offset) {
    long n = size(outShape);
    if (n == 0) {
      return;
    }
    if (elementBytes != 1 && elementBytes != 4 && elementBytes != 8) {
      throw new IllegalArgumentException("strided copy of " + elementBytes + "-byte elements");
    }
    requireBytes("copy output", out, elementBytes * n);
    long last = offset;
    for (int d = 0; d < outShape.length; d++) {
      last += (outShape[d] - 1) * strides[d];
    }
    if (offset < 0 || last < 0) {
      throw new IllegalArgumentException("strided copy reads before the source");
    }
    requireBytes("copy source", a, elementBytes * (last + 1));
    long[] g = geometry(outShape, strides, offset, null, 0);
    launch("mx_nd_copy" + elementBytes, n, new KernelArgs().ptr(out).ptr(a).longs(g));
  }

  /**
   * Copies {@code a} with its axes permuted: output axis {@code k} is input axis {@code axes[k]}.
   *
   * @param out the dense output
   * @param a the dense input
   * @param elementBytes 1, 4 or 8
   * @param shape the input shape
   * @param axes the permutation
   * @return the output shape
   */
  public static long[] permute(
      DeviceBuffer out, DeviceBuffer a, int elementBytes, long[] shape, int[] axes) {
    if (axes.length != shape.length) {
      throw new IllegalArgumentException(
          "permutation "
              + Arrays.toString(axes)
              + " does not match shape "
              + Arrays.toString(shape));
    }
    long[] in = strides(shape);
    long[] outShape = new long[shape.length];
    long[] s = new long[shape.length];
    boolean[] seen = new boolean[shape.length];
    for (int k = 0; k < axes.length; k++) {
      int ax = axes[k];
      if (ax < 0 || ax >= shape.length || seen[ax]) {
        throw new IllegalArgumentException("invalid permutation " + Arrays.toString(axes));
      }
      seen[ax] = true;
      outShape[k] = shape[ax];
      s[k] = in[ax];
    }
    stridedCopy(out, a, elementBytes, outShape, s, 0);
    return outShape;
  }

  /**
   * Copies {@code a} broadcast to {@code outShape}.
   *
   * @param out the dense output
   * @param a the dense input
   * @param elementBytes 1, 4 or 8
   * @param shape the input shape
   * @param outShape the shape to broadcast to
   */
  public static void broadcastTo(
      DeviceBuffer out, DeviceBuffer a, int elementBytes, long[] shape, long[] outShape) {
    stridedCopy(out, a, elementBytes, outShape, broadcastStrides(shape, outShape), 0);
  }

  /**
   * Converts {@code n} elements between types (to integers: truncation toward zero; to bool: x ≠
   * 0).
   *
   * @param out the output, of type {@code to}
   * @param to the output type
   * @param a the input, of type {@code from}
   * @param from the input type
   * @param n the element count
   */
  public static void cast(
      DeviceBuffer out, ElementType to, DeviceBuffer a, ElementType from, long n) {
    if (n == 0) {
      return;
    }
    requireBytes("cast input", a, from.bytes() * n);
    requireBytes("cast output", out, to.bytes() * n);
    launch(
        "mx_nd_cast",
        n,
        new KernelArgs().ptr(out).ptr(a).i64(n).i32(from.ordinal()).i32(to.ordinal()));
  }

  /**
   * Softmax (or log-softmax) of each row of a dense FP32 {@code [rows, cols]}.
   *
   * @param out the output ({@code a} allowed)
   * @param a the input
   * @param rows the row count
   * @param cols the row length
   * @param log true for log-softmax
   */
  public static void softmax(DeviceBuffer out, DeviceBuffer a, long rows, long cols, boolean log) {
    if (rows == 0 || cols == 0) {
      return;
    }
    requireRows(rows, cols);
    requireBytes("softmax input", a, 4 * rows * cols);
    requireBytes("softmax output", out, 4 * rows * cols);
    CudaBackend.get()
        .launch(
            "mx_nd_softmax",
            new int[] {(int) rows, 1, 1},
            new int[] {THREADS, 1, 1},
            0,
            new KernelArgs().ptr(out).ptr(a).i64(rows).i32(cols).i32(log ? 1 : 0).build());
  }

  private static void requireRows(long rows, long cols) {
    if (rows > Integer.MAX_VALUE || cols > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "[" + rows + ", " + cols + "] exceeds the row kernels' 2^31 rows or columns");
    }
  }

  /**
   * Layer normalization of each row of a dense FP32 {@code [rows, cols]} (biased variance).
   *
   * @param out the output ({@code a} allowed)
   * @param a the input
   * @param gamma the scale {@code [cols]}, or null
   * @param beta the shift {@code [cols]}, or null
   * @param rows the row count
   * @param cols the row length
   * @param eps added to the variance
   */
  public static void layerNorm(
      DeviceBuffer out,
      DeviceBuffer a,
      DeviceBuffer gamma,
      DeviceBuffer beta,
      long rows,
      long cols,
      float eps) {
    if (rows == 0 || cols == 0) {
      return;
    }
    requireRows(rows, cols);
    requireBytes("layer norm input", a, 4 * rows * cols);
    requireBytes("layer norm output", out, 4 * rows * cols);
    if (gamma != null) {
      requireBytes("layer norm gamma", gamma, 4 * cols);
    }
    if (beta != null) {
      requireBytes("layer norm beta", beta, 4 * cols);
    }
    CudaBackend.get()
        .launch(
            "mx_nd_layernorm",
            new int[] {(int) rows, 1, 1},
            new int[] {THREADS, 1, 1},
            0,
            new KernelArgs()
                .ptr(out)
                .ptr(a)
                .ptr(gamma)
                .ptr(beta)
                .i64(rows)
                .i32(cols)
                .f32(eps)
                .build());
  }

  /**
   * Embedding lookup: {@code out[i, :] = table[idx[i], :]}.
   *
   * @param out the output {@code [n, cols]} FP32
   * @param table the table {@code [vocab, cols]} FP32
   * @param vocab the table's rows
   * @param cols the table's columns
   * @param idx the indices, INT32 or INT64
   * @param idx64 true for INT64 indices
   * @param n the index count
   * @throws IndexOutOfBoundsException naming the first index outside {@code [0, vocab)} (checked on
   *     the device, then read back)
   */
  public static void gatherRows(
      DeviceBuffer out,
      DeviceBuffer table,
      long vocab,
      long cols,
      DeviceBuffer idx,
      boolean idx64,
      long n) {
    if (n == 0 || cols == 0) {
      return;
    }
    requireRows(n, cols);
    requireBytes("embedding table", table, 4 * vocab * cols);
    requireBytes("embedding indices", idx, (idx64 ? 8 : 4) * n);
    requireBytes("embedding output", out, 4 * n * cols);
    try (DeviceBuffer err = DeviceBuffer.allocate(8)) {
      long[] noError = {-1L};
      CudaBackend b = CudaBackend.get();
      b.makeCurrent();
      CudaBackend.check(
          JCudaDriver.cuMemcpyHtoD(err.pointer(), Pointer.to(noError), 8), "cuMemcpyHtoD");
      b.launch(
          "mx_nd_gather_rows",
          new int[] {(int) Math.min(n, MAX_BLOCKS), 1, 1},
          new int[] {(int) Math.min(THREADS, Math.max(32, (cols + 31) / 32 * 32)), 1, 1},
          0,
          new KernelArgs()
              .ptr(out)
              .ptr(table)
              .ptr(idx)
              .i32(idx64 ? 1 : 0)
              .i64(n)
              .i32(cols)
              .i64(vocab)
              .ptr(err)
              .build());
      long[] first = new long[1];
      CudaBackend.check(
          JCudaDriver.cuMemcpyDtoH(Pointer.to(first), err.pointer(), 8), "cuMemcpyDtoH");
      if (first[0] != -1L) {
        throw new IndexOutOfBoundsException(
            "embedding index at position "
                + first[0]
                + " is outside the table's "
                + vocab
                + " rows");
      }
    }
  }

  /**
   * Reduces a dense FP32 tensor viewed as {@code [outer, len, inner]} along its middle axis into
   * {@code [outer, inner]}.
   *
   * @param out the output
   * @param a the input
   * @param outer the product of the axes before
   * @param len the reduced axis' size
   * @param inner the product of the axes after
   * @param op the reduction
   */
  public static void reduce(
      DeviceBuffer out, DeviceBuffer a, long outer, long len, long inner, Reduce op) {
    long n = outer * inner;
    if (n == 0) {
      return;
    }
    requireBytes("reduce input", a, 4 * n * len);
    requireBytes("reduce output", out, 4 * n);
    if (inner == 1) {
      launch(
          "mx_nd_reduce_last",
          32 * n,
          new KernelArgs().ptr(out).ptr(a).i64(outer).i64(len).i32(op.ordinal()));
    } else {
      launch(
          "mx_nd_reduce_mid",
          n,
          new KernelArgs().ptr(out).ptr(a).i64(outer).i64(len).i64(inner).i32(op.ordinal()));
    }
  }

  /**
   * Batched FP32 matmul {@code C[b] = A[b]·B[b]}, {@code A [m, k]}, {@code B [k, n]}, {@code C [m,
   * n]} row-major; batch strides in elements (0 repeats an operand for every batch).
   *
   * @param c the output
   * @param a the left operand
   * @param b the right operand
   * @param batch the batch count
   * @param m rows of A and C
   * @param n columns of B and C
   * @param k columns of A, rows of B
   * @param strideA A's batch stride
   * @param strideB B's batch stride
   */
  public static void matMul(
      DeviceBuffer c,
      DeviceBuffer a,
      DeviceBuffer b,
      long batch,
      long m,
      long n,
      long k,
      long strideA,
      long strideB) {
    if (batch == 0 || m == 0 || n == 0) {
      return;
    }
    if (m > Integer.MAX_VALUE || n > Integer.MAX_VALUE || k > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "matMul [" + m + ", " + k + "]·[" + k + ", " + n + "] too large");
    }
    requireBytes("matMul A", a, 4 * ((batch - 1) * strideA + m * k));
    requireBytes("matMul B", b, 4 * ((batch - 1) * strideB + k * n));
    requireBytes("matMul C", c, 4 * batch * m * n);
    if (k == 0) {
      CudaBackend.get().makeCurrent();
      CudaBackend.check(JCudaDriver.cuMemsetD32(c.pointer(), 0, batch * m * n), "cuMemsetD32");
      return;
    }
    int gx = (int) ((n + 63) / 64);
    int gy = (int) ((m + 63) / 64);
    CudaBackend be = CudaBackend.get();
    for (long b0 = 0; b0 < batch; b0 += 65535) {
      long nb = Math.min(65535, batch - b0);
      be.launch(
          "mx_nd_matmul",
          new int[] {gx, gy, (int) nb},
          new int[] {THREADS, 1, 1},
          0,
          new KernelArgs()
              .ptrAt(c, 4 * b0 * m * n)
              .ptrAt(a, 4 * b0 * strideA)
              .ptrAt(b, 4 * b0 * strideB)
              .i32(m)
              .i32(n)
              .i32(k)
              .i64(strideA)
              .i64(strideB)
              .i64(m * n)
              .build());
    }
  }
}

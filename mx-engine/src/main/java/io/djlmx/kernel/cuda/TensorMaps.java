package io.djlmx.kernel.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import jcuda.driver.CUdeviceptr;

/**
 * Encodes the tensor maps ({@code CUtensorMap}, 128 opaque bytes) that the bulk tensor copies of
 * the Hopper kernels ({@code cp.async.bulk.tensor}) read. JCuda 12.6 has no binding for {@code
 * cuTensorMapEncodeTiled}, so it is called from {@code libcuda.so.1} through the FFM API; the
 * encoded bytes are passed to the kernel by value (a {@code __grid_constant__} parameter).
 */
final class TensorMaps {

  /** Bytes of a {@code CUtensorMap}. */
  static final int BYTES = 128;

  /** {@code CU_TENSOR_MAP_DATA_TYPE_UINT8}. */
  static final int UINT8 = 0;

  /** {@code CU_TENSOR_MAP_DATA_TYPE_FLOAT32}. */
  static final int FLOAT32 = 7;

  /** {@code CU_TENSOR_MAP_SWIZZLE_NONE}. */
  static final int SWIZZLE_NONE = 0;

  /** {@code CU_TENSOR_MAP_SWIZZLE_128B}: the layout wgmma reads as its 128-byte swizzle mode. */
  static final int SWIZZLE_128B = 3;

  private static final int INTERLEAVE_NONE = 0;
  private static final int L2_PROMOTION_256B = 3;
  private static final int OOB_FILL_ZERO = 0;

  private static volatile MethodHandle encodeTiled;

  private TensorMaps() {}

  private static MethodHandle encoder() {
    MethodHandle h = encodeTiled;
    if (h == null) {
      synchronized (TensorMaps.class) {
        h = encodeTiled;
        if (h == null) {
          MemorySegment fn =
              SymbolLookup.libraryLookup("libcuda.so.1", Arena.global())
                  .find("cuTensorMapEncodeTiled")
                  .orElseThrow(
                      () ->
                          new UnsupportedOperationException(
                              "libcuda.so.1 has no cuTensorMapEncodeTiled (driver older than"
                                  + " CUDA 12)"));
          ValueLayout.OfInt i = ValueLayout.JAVA_INT;
          ValueLayout a = ValueLayout.ADDRESS;
          h =
              Linker.nativeLinker()
                  .downcallHandle(fn, FunctionDescriptor.of(i, a, i, i, a, a, a, a, a, i, i, i, i));
          encodeTiled = h;
        }
      }
    }
    return h;
  }

  /**
   * Encodes a 2-D tiled tensor map over a row-major device matrix; boxes reaching past the matrix
   * are filled with zeros.
   *
   * @param dataType element type ({@link #UINT8} or {@link #FLOAT32})
   * @param elementBytes bytes per element
   * @param base the matrix
   * @param cols elements per row (inner dimension)
   * @param rows rows (outer dimension)
   * @param rowBytes bytes between rows (a multiple of 16)
   * @param boxCols box width in elements
   * @param boxRows box height
   * @param swizzle the shared-memory swizzle mode
   * @return the 128 bytes of the tensor map
   */
  static byte[] encode2d(
      int dataType,
      int elementBytes,
      DeviceBuffer base,
      long cols,
      long rows,
      long rowBytes,
      int boxCols,
      int boxRows,
      int swizzle) {
    if (rowBytes % 16 != 0 || rowBytes < cols * elementBytes) {
      throw new IllegalArgumentException(
          "tensor map rows of "
              + cols
              + " elements need a 16-byte multiple stride, got "
              + rowBytes);
    }
    long address = DeviceAddress.of(base.pointer());
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment map = arena.allocate(BYTES, 64);
      MemorySegment dims = arena.allocateFrom(ValueLayout.JAVA_LONG, cols, rows);
      MemorySegment strides = arena.allocateFrom(ValueLayout.JAVA_LONG, rowBytes);
      MemorySegment box = arena.allocateFrom(ValueLayout.JAVA_INT, boxCols, boxRows);
      MemorySegment elementStrides = arena.allocateFrom(ValueLayout.JAVA_INT, 1, 1);
      int r;
      try {
        r =
            (int)
                encoder()
                    .invokeExact(
                        map,
                        dataType,
                        2,
                        MemorySegment.ofAddress(address),
                        dims,
                        strides,
                        box,
                        elementStrides,
                        INTERLEAVE_NONE,
                        swizzle,
                        L2_PROMOTION_256B,
                        OOB_FILL_ZERO);
      } catch (Throwable t) {
        throw new IllegalStateException("calling cuTensorMapEncodeTiled failed", t);
      }
      if (r != 0) {
        throw new CudaException(
            "cuTensorMapEncodeTiled(["
                + rows
                + ", "
                + cols
                + "], box ["
                + boxRows
                + ", "
                + boxCols
                + "])",
            r);
      }
      return map.toArray(ValueLayout.JAVA_BYTE);
    }
  }

  /** Reads the address held by a JCuda device pointer (JCuda keeps the getter protected). */
  static final class DeviceAddress extends CUdeviceptr {
    private DeviceAddress(CUdeviceptr p) {
      super(p);
    }

    static long of(CUdeviceptr p) {
      DeviceAddress d = new DeviceAddress(p);
      return d.getNativePointer() + d.getByteOffset();
    }
  }
}

package io.djlmx.kernel.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Locale;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUmemPool_attribute;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where the engine's device memory comes from: CUDA's stream-ordered allocator ({@code
 * cuMemAllocAsync} / {@code cuMemFreeAsync} on the stream every kernel runs on) drawing from the
 * device's default memory pool, so a freed block is reused by the next allocation without a driver
 * round trip or a device-wide synchronisation ({@code cuMemFree} waits for the whole device).
 *
 * <p>Freeing stays deterministic: closing a {@link DeviceBuffer} (and so an NDManager) returns its
 * block to the pool at once, in stream order after the kernels that use it. The pool keeps freed
 * memory reserved up to the release threshold ({@value #THRESHOLD_PROPERTY}, bytes; default
 * unlimited, as PyTorch's caching allocator); {@link #release()} hands every unused block back to
 * the driver. An allocation that does not fit trims the pool and retries once before it throws
 * {@link CudaOutOfMemoryException} with the requested and the free bytes.
 *
 * <p>{@value #MODE_PROPERTY}{@code =direct} selects plain {@code cuMemAlloc} / {@code cuMemFree}
 * (also used where the device has no memory pools). JCuda 12.6 binds the allocation calls but not
 * {@code cuDeviceGetDefaultMemPool} or {@code cuMemPoolSetAttribute}/{@code GetAttribute}: those
 * are called in {@code libcuda.so.1} through the FFM API.
 */
public final class CudaMemoryPool {

  /** System property: {@code pool} (default) or {@code direct}. */
  public static final String MODE_PROPERTY = "mx.cuda.allocator";

  /**
   * System property: bytes of freed memory the pool keeps reserved across synchronisations
   * (default: all of it).
   */
  public static final String THRESHOLD_PROPERTY = "mx.cuda.pool.releaseThreshold";

  private static final Logger logger = LoggerFactory.getLogger(CudaMemoryPool.class);

  /** The legacy default stream: every kernel and copy of the engine runs on it. */
  private static final CUstream STREAM = new CUstream();

  private static final Object LOCK = new Object();
  private static volatile Native pool;
  private static volatile boolean resolved;

  private CudaMemoryPool() {}

  /** The default pool's handle and the FFM entry points that JCuda lacks. */
  private record Native(
      MemorySegment handle, MethodHandle setAttr, MethodHandle getAttr, MethodHandle trimTo) {}

  /**
   * Returns whether allocations come from the stream-ordered pool (false: plain {@code
   * cuMemAlloc}).
   *
   * @return true when pooled
   */
  public static boolean isEnabled() {
    return resolve() != null;
  }

  private static Native resolve() {
    if (resolved) {
      return pool;
    }
    synchronized (LOCK) {
      if (!resolved) {
        pool = init();
        resolved = true;
      }
      return pool;
    }
  }

  private static Native init() {
    String mode = System.getProperty(MODE_PROPERTY, "pool").trim().toLowerCase(Locale.ROOT);
    if (mode.equals("direct")) {
      logger.info("CUDA allocator: cuMemAlloc per buffer ({}=direct)", MODE_PROPERTY);
      return null;
    }
    if (!mode.equals("pool")) {
      throw new IllegalArgumentException(
          MODE_PROPERTY + " must be pool or direct, got '" + mode + "'");
    }
    long threshold = threshold();
    CudaBackend b = CudaBackend.get().makeCurrent();
    int[] supported = new int[1];
    CudaBackend.check(
        JCudaDriver.cuDeviceGetAttribute(
            supported, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, b.device()),
        "cuDeviceGetAttribute(MEMORY_POOLS_SUPPORTED)");
    if (supported[0] == 0) {
      logger.info("CUDA allocator: {} has no memory pools, using cuMemAlloc", b.deviceName());
      return null;
    }
    SymbolLookup cuda = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
    Linker linker = Linker.nativeLinker();
    ValueLayout.OfInt i = ValueLayout.JAVA_INT;
    ValueLayout a = ValueLayout.ADDRESS;
    MethodHandle getPool =
        linker.downcallHandle(
            find(cuda, "cuDeviceGetDefaultMemPool"), FunctionDescriptor.of(i, a, i));
    MethodHandle set =
        linker.downcallHandle(
            find(cuda, "cuMemPoolSetAttribute"), FunctionDescriptor.of(i, a, i, a));
    MethodHandle get =
        linker.downcallHandle(
            find(cuda, "cuMemPoolGetAttribute"), FunctionDescriptor.of(i, a, i, a));
    MethodHandle trim =
        linker.downcallHandle(
            find(cuda, "cuMemPoolTrimTo"), FunctionDescriptor.of(i, a, ValueLayout.JAVA_LONG));
    MemorySegment handle;
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
      int ordinal = deviceOrdinal();
      CudaBackend.check(
          (int) getPool.invokeExact(out, ordinal), "cuDeviceGetDefaultMemPool(" + ordinal + ")");
      handle = out.get(ValueLayout.ADDRESS, 0);
    } catch (CudaException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("calling cuDeviceGetDefaultMemPool failed", t);
    }
    Native n = new Native(handle, set, get, trim);
    setAttribute(n, CUmemPool_attribute.CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, threshold);
    logger.info(
        "CUDA allocator: stream-ordered pool on {} (release threshold {})",
        b.deviceName(),
        threshold == Long.MAX_VALUE ? "unlimited" : threshold + " bytes");
    return n;
  }

  /** The engine uses device 0 (see {@link CudaBackend}). */
  private static int deviceOrdinal() {
    return 0;
  }

  private static long threshold() {
    String v = System.getProperty(THRESHOLD_PROPERTY);
    if (v == null || v.isBlank() || v.trim().equalsIgnoreCase("max")) {
      return Long.MAX_VALUE;
    }
    try {
      long t = Long.parseLong(v.trim());
      if (t < 0) {
        throw new NumberFormatException("negative");
      }
      return t;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          THRESHOLD_PROPERTY + " must be a byte count >= 0 or 'max', got '" + v + "'", e);
    }
  }

  private static MemorySegment find(SymbolLookup lookup, String name) {
    return lookup
        .find(name)
        .orElseThrow(
            () ->
                new UnsupportedOperationException(
                    "libcuda.so.1 has no " + name + " (driver older than CUDA 11.2)"));
  }

  private static void setAttribute(Native n, int attribute, long value) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment v = arena.allocateFrom(ValueLayout.JAVA_LONG, value);
      int r = (int) n.setAttr().invokeExact(n.handle(), attribute, v);
      CudaBackend.check(r, "cuMemPoolSetAttribute(" + attribute + ", " + value + ")");
    } catch (CudaException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("calling cuMemPoolSetAttribute failed", t);
    }
  }

  private static long getAttribute(Native n, int attribute) {
    CudaBackend.get().makeCurrent();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment v = arena.allocate(ValueLayout.JAVA_LONG);
      int r = (int) n.getAttr().invokeExact(n.handle(), attribute, v);
      CudaBackend.check(r, "cuMemPoolGetAttribute(" + attribute + ")");
      return v.get(ValueLayout.JAVA_LONG, 0);
    } catch (CudaException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("calling cuMemPoolGetAttribute failed", t);
    }
  }

  /**
   * Returns the bytes the pool holds from the driver: blocks in use plus freed blocks kept for
   * reuse (0 when the pool is off).
   *
   * @return reserved bytes
   */
  public static long reservedBytes() {
    Native n = resolve();
    return n == null
        ? 0
        : getAttribute(n, CUmemPool_attribute.CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT);
  }

  /**
   * Returns the bytes of the pool's blocks that are allocated and not yet freed (0 when the pool is
   * off).
   *
   * @return used bytes
   */
  public static long usedBytes() {
    Native n = resolve();
    return n == null ? 0 : getAttribute(n, CUmemPool_attribute.CU_MEMPOOL_ATTR_USED_MEM_CURRENT);
  }

  /**
   * Waits for the device, then hands every freed block the pool keeps back to the driver (memory in
   * use stays). Call it when the engine's models are closed and the device memory is wanted
   * elsewhere; without the pool it only synchronises.
   */
  public static void release() {
    CudaBackend b = CudaBackend.get();
    b.synchronize();
    Native n = resolve();
    if (n != null) {
      try {
        CudaBackend.check((int) n.trimTo().invokeExact(n.handle(), 0L), "cuMemPoolTrimTo(0)");
      } catch (CudaException e) {
        throw e;
      } catch (Throwable t) {
        throw new IllegalStateException("calling cuMemPoolTrimTo failed", t);
      }
    }
  }

  /**
   * Allocates device memory from the pool (or with {@code cuMemAlloc} when it is off). On
   * out-of-memory the pool is trimmed and the allocation retried once.
   *
   * @param bytes the size, positive
   * @return the device pointer
   * @throws CudaOutOfMemoryException naming the requested and the free bytes
   */
  static CUdeviceptr allocate(long bytes) {
    CudaBackend b = CudaBackend.get().makeCurrent();
    Native n = resolve();
    CUdeviceptr p = new CUdeviceptr();
    if (bytes > b.totalMemory()) { // can never fit: say so without asking the driver
      long[] info = b.memoryInfo();
      throw new CudaOutOfMemoryException(bytes, info[0], info[1], b.deviceName());
    }
    int r =
        n == null
            ? JCudaDriver.cuMemAlloc(p, bytes)
            : JCudaDriver.cuMemAllocAsync(p, bytes, STREAM);
    if (r == CUresult.CUDA_ERROR_OUT_OF_MEMORY) {
      // Freed blocks may sit in the pool (or wait for the stream): give them back, then retry.
      release();
      r =
          n == null
              ? JCudaDriver.cuMemAlloc(p, bytes)
              : JCudaDriver.cuMemAllocAsync(p, bytes, STREAM);
      if (r == CUresult.CUDA_ERROR_OUT_OF_MEMORY) {
        long[] now = b.memoryInfo();
        throw new CudaOutOfMemoryException(bytes, now[0], now[1], b.deviceName());
      }
    }
    CudaBackend.check(r, (n == null ? "cuMemAlloc(" : "cuMemAllocAsync(") + bytes + " bytes)");
    return p;
  }

  /**
   * Returns a block to the pool in stream order (or frees it with {@code cuMemFree}).
   *
   * @param p the pointer {@link #allocate} returned
   * @param bytes its size, for the error message
   */
  static void free(CUdeviceptr p, long bytes) {
    CudaBackend.get().makeCurrent();
    Native n = resolve();
    if (n == null) {
      CudaBackend.check(JCudaDriver.cuMemFree(p), "cuMemFree(" + bytes + " bytes)");
    } else {
      CudaBackend.check(
          JCudaDriver.cuMemFreeAsync(p, STREAM), "cuMemFreeAsync(" + bytes + " bytes)");
    }
  }
}

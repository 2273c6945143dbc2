package io.djlmx.kernel.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import jcuda.driver.CUcontext;
import jcuda.driver.CUfunction;

/**
 * Kernel launches straight through the driver ({@code cuCtxSetCurrent}, {@code cuLaunchKernel},
 * {@code cuStreamQuery} in {@code libcuda.so.1}, called with the FFM API). JCuda's launch builds a
 * Java object per parameter and copies each through JNI; here the parameters go from {@link
 * KernelArgs}' bytes into a per-thread native scratch block in one copy. The driver copies the
 * parameters during {@code cuLaunchKernel}, so the scratch is reused by the thread's next launch.
 */
final class DriverLaunch {

  private static final MethodHandle SET_CURRENT;
  private static final MethodHandle LAUNCH;
  private static final MethodHandle QUERY;
  private static final String UNAVAILABLE;

  static {
    MethodHandle set = null;
    MethodHandle launch = null;
    MethodHandle query = null;
    String why = null;
    try {
      SymbolLookup lib = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
      Linker linker = Linker.nativeLinker();
      ValueLayout.OfInt i = ValueLayout.JAVA_INT;
      ValueLayout a = ValueLayout.ADDRESS;
      set = linker.downcallHandle(find(lib, "cuCtxSetCurrent"), FunctionDescriptor.of(i, a));
      launch =
          linker.downcallHandle(
              find(lib, "cuLaunchKernel"),
              FunctionDescriptor.of(i, a, i, i, i, i, i, i, i, a, a, a));
      query = linker.downcallHandle(find(lib, "cuStreamQuery"), FunctionDescriptor.of(i, a));
    } catch (Throwable t) { // no driver library: JCuda's launch stays in use
      why = t.toString();
    }
    SET_CURRENT = set;
    LAUNCH = launch;
    QUERY = query;
    UNAVAILABLE = why;
  }

  private DriverLaunch() {}

  private static MemorySegment find(SymbolLookup lib, String name) {
    return lib.find(name)
        .orElseThrow(() -> new UnsupportedOperationException("libcuda.so.1 has no " + name));
  }

  /**
   * Returns whether the driver's entry points were found.
   *
   * @return true when launches can go through this class
   */
  static boolean isAvailable() {
    return UNAVAILABLE == null;
  }

  /**
   * Returns why the entry points are missing, or null.
   *
   * @return the reason, or null
   */
  static String unavailableReason() {
    return UNAVAILABLE;
  }

  /**
   * Makes a context current on the calling thread.
   *
   * @param context the context's native handle
   * @return the driver's result
   */
  static int setCurrent(long context) {
    try {
      return (int) SET_CURRENT.invokeExact(MemorySegment.ofAddress(context));
    } catch (Throwable t) {
      throw new IllegalStateException("cuCtxSetCurrent through FFM failed", t);
    }
  }

  /**
   * Launches a kernel on the default stream.
   *
   * @param function the kernel's native handle
   * @param grid grid size {x, y, z}
   * @param block block size {x, y, z}
   * @param sharedBytes dynamic shared memory
   * @param args the parameters
   * @return the driver's result
   */
  static int launch(long function, int[] grid, int[] block, int sharedBytes, KernelArgs args) {
    MemorySegment params = args.writeToScratch();
    try {
      return (int)
          LAUNCH.invokeExact(
              MemorySegment.ofAddress(function),
              grid[0],
              grid[1],
              grid[2],
              block[0],
              block[1],
              block[2],
              sharedBytes,
              MemorySegment.NULL,
              params,
              MemorySegment.NULL);
    } catch (Throwable t) {
      throw new IllegalStateException("cuLaunchKernel through FFM failed", t);
    }
  }

  /**
   * Queries the default stream (its result carries a fault of earlier work).
   *
   * @return the driver's result
   */
  static int queryDefaultStream() {
    try {
      return (int) QUERY.invokeExact(MemorySegment.NULL);
    } catch (Throwable t) {
      throw new IllegalStateException("cuStreamQuery through FFM failed", t);
    }
  }

  /** A {@link CUfunction} whose native handle can be read. */
  static final class FunctionRef extends CUfunction {
    long handle() {
      return getNativePointer();
    }
  }

  /** A {@link CUcontext} whose native handle can be read. */
  static final class ContextRef extends CUcontext {
    long handle() {
      return getNativePointer();
    }
  }
}

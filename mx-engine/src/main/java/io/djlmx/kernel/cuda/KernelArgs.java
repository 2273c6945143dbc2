package io.djlmx.kernel.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import jcuda.Pointer;

/**
 * Builds a kernel's parameter list; each value's Java type must match the CUDA parameter's. Values
 * are recorded as bytes (8-byte aligned slots; 64 for structs), so a launch can hand them to the
 * driver without one Java object per parameter.
 */
final class KernelArgs {

  private byte[] data = new byte[128];
  private int size;
  private int[] offsets = new int[16];
  private int count;

  private int slot(int bytes, int align) {
    int at = (size + align - 1) / align * align;
    if (at + bytes > data.length) {
      data = Arrays.copyOf(data, Math.max(2 * data.length, at + bytes));
    }
    if (count == offsets.length) {
      offsets = Arrays.copyOf(offsets, 2 * count);
    }
    offsets[count] = at;
    count++;
    size = at + bytes;
    return at;
  }

  private void putLong(int at, long v) {
    for (int i = 0; i < 8; i++) {
      data[at + i] = (byte) (v >>> (8 * i));
    }
  }

  private void putInt(int at, int v) {
    for (int i = 0; i < 4; i++) {
      data[at + i] = (byte) (v >>> (8 * i));
    }
  }

  KernelArgs ptr(DeviceBuffer b) {
    putLong(slot(8, 8), b == null ? 0L : b.address());
    return this;
  }

  /** A device pointer {@code byteOffset} bytes into a buffer. */
  KernelArgs ptrAt(DeviceBuffer b, long byteOffset) {
    putLong(slot(8, 8), b.address() + byteOffset);
    return this;
  }

  KernelArgs i32(long v) {
    if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("kernel argument " + v + " does not fit a 32-bit int");
    }
    putInt(slot(4, 8), (int) v);
    return this;
  }

  KernelArgs i64(long v) {
    putLong(slot(8, 8), v);
    return this;
  }

  /** A struct passed by value, given as its 64-bit words (e.g. the NdGeom of mx_ndarray.cu). */
  KernelArgs longs(long[] v) {
    int at = slot(8 * v.length, 8);
    for (int i = 0; i < v.length; i++) {
      putLong(at + 8 * i, v[i]);
    }
    return this;
  }

  /** Passes raw bytes by value (a struct parameter such as a {@code CUtensorMap}). */
  KernelArgs bytes(byte[] v) {
    int at = slot(v.length, 64); // may grow data: take the slot before reading the field
    System.arraycopy(v, 0, data, at, v.length);
    return this;
  }

  KernelArgs f32(float v) {
    putInt(slot(4, 8), Float.floatToRawIntBits(v));
    return this;
  }

  /**
   * Finishes the list.
   *
   * @return this list, ready to launch
   */
  KernelArgs build() {
    return this;
  }

  /**
   * Writes the parameters into the calling thread's launch scratch and returns them as JCuda's
   * {@code kernelParams}: a pointer to the native {@code void*} array, which JCuda passes to the
   * driver as it is (no Java object or JNI copy per parameter). The driver copies the values during
   * {@code cuLaunchKernel}, so the scratch is reused by the thread's next launch.
   *
   * @return the native parameter array as a JCuda pointer
   */
  Pointer toNativePointer() {
    return new NativeAddress(writeToScratch().address());
  }

  /**
   * Writes the parameters into the calling thread's native launch block (see {@link #writeTo}).
   *
   * @return the block, starting with the pointer array
   */
  MemorySegment writeToScratch() {
    return writeTo(SCRATCH.get());
  }

  private static final ThreadLocal<MemorySegment> SCRATCH =
      ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(8192, 64));

  /** A JCuda pointer to a native address that JCuda hands to the driver unchanged. */
  private static final class NativeAddress extends Pointer {
    NativeAddress(long address) {
      super(address);
    }
  }

  /**
   * Writes the parameters as the driver's {@code void** kernelParams} into native scratch memory:
   * the pointer array first, then the values.
   *
   * @param scratch native memory, 64-byte aligned
   * @return the address of the pointer array (the scratch's start)
   * @throws IllegalArgumentException when the scratch is too small
   */
  MemorySegment writeTo(MemorySegment scratch) {
    long values = (8L * count + 63) / 64 * 64;
    if (values + size > scratch.byteSize()) {
      throw new IllegalArgumentException(
          "kernel parameters of " + size + " bytes exceed the launch scratch");
    }
    MemorySegment.copy(data, 0, scratch, ValueLayout.JAVA_BYTE, values, size);
    long base = scratch.address() + values;
    for (int i = 0; i < count; i++) {
      scratch.setAtIndex(ValueLayout.JAVA_LONG, i, base + offsets[i]);
    }
    return scratch;
  }
}

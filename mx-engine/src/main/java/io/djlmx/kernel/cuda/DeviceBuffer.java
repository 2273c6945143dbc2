package io.djlmx.kernel.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;

/**
 * A block of device memory owned by this object and freed by {@link #close()} (idempotent). Use
 * after close throws {@link IllegalStateException}. The memory comes from {@link CudaMemoryPool}
 * (stream-ordered, reused after close) unless that is switched off.
 */
public final class DeviceBuffer implements AutoCloseable {

  private static final long COPY_CHUNK = 1L << 30;
  private static final AtomicLong LIVE = new AtomicLong();

  private final CudaBackend backend;
  private final long byteSize;
  private CUdeviceptr ptr;

  private DeviceBuffer(CudaBackend backend, CUdeviceptr ptr, long byteSize) {
    this.backend = backend;
    this.ptr = ptr;
    this.byteSize = byteSize;
  }

  /**
   * Allocates device memory (contents undefined).
   *
   * @param bytes the size in bytes, at least 1
   * @return the buffer
   * @throws CudaOutOfMemoryException naming the requested and the free bytes when it does not fit
   */
  public static DeviceBuffer allocate(long bytes) {
    if (bytes <= 0) {
      throw new IllegalArgumentException("device buffer size must be positive, got " + bytes);
    }
    CudaBackend b = CudaBackend.get();
    CUdeviceptr p = CudaMemoryPool.allocate(bytes);
    LIVE.incrementAndGet();
    return new DeviceBuffer(b, p, bytes);
  }

  /**
   * Allocates a buffer of {@code n} floats and copies {@code data} into it.
   *
   * @param data the values
   * @return the buffer
   */
  public static DeviceBuffer of(float[] data) {
    DeviceBuffer d = allocate(Math.max(4L, 4L * data.length));
    try {
      d.copyFrom(data);
    } catch (RuntimeException e) {
      d.close();
      throw e;
    }
    return d;
  }

  /**
   * Returns how many device buffers of this process are allocated and not yet closed.
   *
   * @return the live buffer count
   */
  public static long liveBuffers() {
    return LIVE.get();
  }

  /**
   * Returns the size in bytes.
   *
   * @return byte size
   */
  public long byteSize() {
    return byteSize;
  }

  /**
   * Returns the device pointer; valid until {@link #close()}.
   *
   * @return the device pointer
   */
  public CUdeviceptr pointer() {
    if (ptr == null) {
      throw new IllegalStateException("device buffer of " + byteSize + " bytes is closed");
    }
    return ptr;
  }

  /**
   * Returns the device address; valid until {@link #close()}.
   *
   * @return the device address
   */
  long address() {
    return TensorMaps.DeviceAddress.of(pointer());
  }

  private void checkRange(long offset, long bytes, String what) {
    if (offset < 0 || bytes < 0 || offset + bytes > byteSize) {
      throw new IndexOutOfBoundsException(
          what + " of " + bytes + " bytes at " + offset + " exceeds device buffer of " + byteSize);
    }
  }

  /**
   * Copies host memory into this buffer at offset 0.
   *
   * @param src the host bytes (native or heap)
   */
  public void copyFrom(MemorySegment src) {
    copyFrom(src, 0);
  }

  /**
   * Copies host memory into this buffer.
   *
   * @param src the host bytes (native or heap)
   * @param deviceOffset byte offset in this buffer
   */
  public void copyFrom(MemorySegment src, long deviceOffset) {
    long n = src.byteSize();
    checkRange(deviceOffset, n, "copy to device");
    backend.makeCurrent();
    if (!src.isNative()) {
      try (Arena a = Arena.ofConfined()) {
        MemorySegment tmp = a.allocate(n, 16);
        tmp.copyFrom(src);
        copyFrom(tmp, deviceOffset);
      }
      return;
    }
    for (long off = 0; off < n; off += COPY_CHUNK) {
      long len = Math.min(COPY_CHUNK, n - off);
      CudaBackend.check(
          JCudaDriver.cuMemcpyHtoD(
              pointer().withByteOffset(deviceOffset + off),
              Pointer.to(src.asSlice(off, len).asByteBuffer()),
              len),
          "cuMemcpyHtoD(" + len + " bytes)");
    }
  }

  /**
   * Copies this buffer's first {@code dst.byteSize()} bytes into host memory.
   *
   * @param dst the host destination (native or heap)
   */
  public void copyTo(MemorySegment dst) {
    long n = dst.byteSize();
    checkRange(0, n, "copy to host");
    backend.makeCurrent();
    if (!dst.isNative()) {
      try (Arena a = Arena.ofConfined()) {
        MemorySegment tmp = a.allocate(n, 16);
        copyTo(tmp);
        dst.copyFrom(tmp);
      }
      return;
    }
    for (long off = 0; off < n; off += COPY_CHUNK) {
      long len = Math.min(COPY_CHUNK, n - off);
      CudaBackend.check(
          JCudaDriver.cuMemcpyDtoH(
              Pointer.to(dst.asSlice(off, len).asByteBuffer()), pointer().withByteOffset(off), len),
          "cuMemcpyDtoH(" + len + " bytes)");
    }
  }

  /**
   * Copies floats into this buffer at offset 0.
   *
   * @param src the values
   */
  public void copyFrom(float[] src) {
    checkRange(0, 4L * src.length, "copy to device");
    backend.makeCurrent();
    if (src.length > 0) {
      CudaBackend.check(
          JCudaDriver.cuMemcpyHtoD(pointer(), Pointer.to(src), 4L * src.length), "cuMemcpyHtoD");
    }
  }

  /**
   * Copies this buffer's first {@code dst.length} floats to the host.
   *
   * @param dst the destination
   */
  public void copyTo(float[] dst) {
    checkRange(0, 4L * dst.length, "copy to host");
    backend.makeCurrent();
    if (dst.length > 0) {
      CudaBackend.check(
          JCudaDriver.cuMemcpyDtoH(Pointer.to(dst), pointer(), 4L * dst.length), "cuMemcpyDtoH");
    }
  }

  /**
   * Fills the buffer with a 32-bit pattern (e.g. a NaN to poison outputs before a test).
   *
   * @param bits the 32-bit pattern
   */
  public void fill32(int bits) {
    backend.makeCurrent();
    CudaBackend.check(JCudaDriver.cuMemsetD32(pointer(), bits, byteSize / 4), "cuMemsetD32");
  }

  /**
   * Sets every byte of the buffer to {@code value} (zeros for any element type).
   *
   * @param value the byte value
   */
  public void fill8(int value) {
    backend.makeCurrent();
    CudaBackend.check(
        JCudaDriver.cuMemsetD8(pointer(), (byte) value, byteSize), "cuMemsetD8(" + byteSize + ")");
  }

  /**
   * Copies {@code bytes} bytes from the start of another device buffer to the start of this one.
   *
   * @param src the source buffer
   * @param bytes how many bytes
   */
  public void copyFromDevice(DeviceBuffer src, long bytes) {
    checkRange(0, bytes, "device copy");
    src.checkRange(0, bytes, "device copy");
    if (bytes == 0) {
      return;
    }
    backend.makeCurrent();
    CudaBackend.check(
        JCudaDriver.cuMemcpyDtoD(pointer(), src.pointer(), bytes),
        "cuMemcpyDtoD(" + bytes + " bytes)");
  }

  /**
   * Copies {@code bytes} bytes from another device buffer at {@code srcOffset} into this one at
   * {@code dstOffset} (ordered with the kernels of the default stream).
   *
   * @param src the source buffer
   * @param srcOffset the byte offset in {@code src}
   * @param dstOffset the byte offset in this buffer
   * @param bytes how many bytes
   */
  public void copyFromDevice(DeviceBuffer src, long srcOffset, long dstOffset, long bytes) {
    checkRange(dstOffset, bytes, "device copy");
    src.checkRange(srcOffset, bytes, "device copy");
    if (bytes == 0) {
      return;
    }
    backend.makeCurrent();
    CudaBackend.check(
        JCudaDriver.cuMemcpyDtoD(
            pointer().withByteOffset(dstOffset), src.pointer().withByteOffset(srcOffset), bytes),
        "cuMemcpyDtoD(" + bytes + " bytes)");
  }

  /**
   * Returns whether {@link #close()} has freed this buffer.
   *
   * @return true once closed
   */
  public boolean isClosed() {
    return ptr == null;
  }

  /** Frees the device memory; further use throws. Idempotent. */
  @Override
  public void close() {
    CUdeviceptr p = ptr;
    if (p != null) {
      ptr = null;
      LIVE.decrementAndGet();
      CudaMemoryPool.free(p, byteSize);
    }
  }
}

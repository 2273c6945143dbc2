package io.djlmx.engine;

import io.djlmx.kernel.cuda.DeviceBuffer;

/**
 * The device memory of one or more {@link MxCudaNDArray}s (an array and its reshaped views): a
 * reference-counted {@link DeviceBuffer} freed when the last array holding it closes.
 */
final class DeviceStorage {

  private final DeviceBuffer buffer;
  private int refs = 1;

  private DeviceStorage(DeviceBuffer buffer) {
    this.buffer = buffer;
  }

  /**
   * Allocates device memory for {@code bytes} bytes (at least one byte, so empty arrays have a
   * buffer too).
   *
   * @throws io.djlmx.kernel.cuda.CudaOutOfMemoryException naming requested and free bytes
   */
  static DeviceStorage allocate(long bytes) {
    return new DeviceStorage(DeviceBuffer.allocate(Math.max(8, bytes)));
  }

  DeviceBuffer buffer() {
    return buffer;
  }

  synchronized DeviceStorage retain() {
    if (refs == 0) {
      throw new IllegalStateException("device storage already freed");
    }
    refs++;
    return this;
  }

  synchronized void release() {
    if (refs > 0 && --refs == 0) {
      buffer.close();
    }
  }
}

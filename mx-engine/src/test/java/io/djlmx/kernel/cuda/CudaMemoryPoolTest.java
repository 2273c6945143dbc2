package io.djlmx.kernel.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The stream-ordered device memory pool: freed blocks are reused (the pool's reservation does not
 * grow over many allocate/free cycles), data written through reused memory is intact, release hands
 * cached blocks back to the driver, and an allocation that does not fit fails with the requested
 * and the free bytes, after a trim and one retry. Skipped without a CUDA device.
 */
@Tag("gpu")
class CudaMemoryPoolTest {

  @BeforeEach
  void requireDevice() {
    Assumptions.assumeTrue(
        CudaBackend.isAvailable(), () -> "no CUDA device: " + CudaBackend.unavailableReason());
  }

  private static long address(DeviceBuffer b) {
    return TensorMaps.DeviceAddress.of(b.pointer());
  }

  @Test
  void freedBlocksAreReused() {
    Assumptions.assumeTrue(CudaMemoryPool.isEnabled(), "the pool is switched off");
    CudaMemoryPool.release();
    long live = DeviceBuffer.liveBuffers();
    int[] sizes = {4096, 65_536, 1 << 20, 3 * (1 << 20) + 17, 16 << 20};
    for (int s : sizes) { // warm-up: one of each size
      DeviceBuffer.allocate(s).close();
    }
    CudaBackend.get().synchronize();
    long reserved = CudaMemoryPool.reservedBytes();
    Set<Long> addresses = new HashSet<>();
    Random r = new Random(5);
    int reused = 0;
    long previous = -1;
    int size = sizes[0];
    for (int i = 0; i < 2_000; i++) {
      int s = sizes[r.nextInt(sizes.length)];
      try (DeviceBuffer b = DeviceBuffer.allocate(s)) {
        long a = address(b);
        if (s == size && a == previous) {
          reused++;
        }
        addresses.add(a);
        previous = a;
        size = s;
      }
    }
    CudaBackend.get().synchronize();
    long reservedAfter = CudaMemoryPool.reservedBytes();
    assertEquals(live, DeviceBuffer.liveBuffers());
    assertEquals(0, CudaMemoryPool.usedBytes(), "every block freed");
    assertTrue(
        reservedAfter <= reserved,
        "pool reservation grew over 2,000 cycles: " + reserved + " -> " + reservedAfter);
    assertTrue(reused > 0, "no block was handed out again");
    assertTrue(addresses.size() < 100, addresses.size() + " distinct addresses in 2,000 cycles");
    CudaMemoryPool.release();
    assertTrue(
        CudaMemoryPool.reservedBytes() < reserved || reserved == 0,
        "release kept " + CudaMemoryPool.reservedBytes() + " bytes");
  }

  @Test
  void reusedMemoryCarriesNewData() {
    Random r = new Random(11);
    for (int round = 0; round < 50; round++) {
      int n = 1 + r.nextInt(100_000);
      float[] x = new float[n];
      for (int i = 0; i < n; i++) {
        x[i] = (float) r.nextGaussian();
      }
      float[] back = new float[n];
      try (DeviceBuffer poison = DeviceBuffer.allocate(4L * n)) {
        poison.fill32(Float.floatToRawIntBits(Float.NaN));
      }
      try (DeviceBuffer b = DeviceBuffer.of(x)) {
        b.copyTo(back);
      }
      assertArrayEquals(x, back, "round " + round);
    }
  }

  @Test
  void cachedBlocksAreReleasedForALargeRequest() {
    Assumptions.assumeTrue(CudaMemoryPool.isEnabled(), "the pool is switched off");
    CudaBackend b = CudaBackend.get();
    CudaMemoryPool.release();
    long cached = 4L << 30;
    DeviceBuffer.allocate(cached).close(); // 4 GiB now sits in the pool, freed
    b.synchronize();
    assertTrue(CudaMemoryPool.reservedBytes() >= cached, "the pool keeps the freed block");
    long free = b.memoryInfo()[0];
    // Fits only once the pool's cached block goes back to the driver: trim and retry.
    long request = free + (2L << 30);
    try (DeviceBuffer big = DeviceBuffer.allocate(request)) {
      assertEquals(request, big.byteSize());
    } finally {
      CudaMemoryPool.release();
    }
  }

  @Test
  void outOfMemoryNamesRequestedAndFreeBytes() {
    CudaBackend b = CudaBackend.get();
    long live = DeviceBuffer.liveBuffers();
    long request = b.totalMemory() - (1L << 20); // under the total, over what is free
    CudaOutOfMemoryException e =
        assertThrows(CudaOutOfMemoryException.class, () -> DeviceBuffer.allocate(request));
    assertEquals(request, e.requestedBytes());
    assertTrue(e.freeBytes() > 0 && e.freeBytes() < request, "free bytes " + e.freeBytes());
    assertTrue(e.getMessage().contains(String.valueOf(request)), e.getMessage());
    assertTrue(e.getMessage().contains(e.freeBytes() + " bytes free"), e.getMessage());
    CudaOutOfMemoryException huge =
        assertThrows(CudaOutOfMemoryException.class, () -> DeviceBuffer.allocate(1L << 42));
    assertTrue(huge.getMessage().contains(String.valueOf(1L << 42)), huge.getMessage());
    assertEquals(live, DeviceBuffer.liveBuffers());
    // The device still works after the failures.
    try (DeviceBuffer ok = DeviceBuffer.of(new float[] {1f, 2f, 3f})) {
      float[] back = new float[3];
      ok.copyTo(back);
      assertArrayEquals(new float[] {1f, 2f, 3f}, back);
    }
  }
}

package io.djlmx.kernel.cuda;

/** Launch shapes shared by the kernel wrappers. */
final class Kernels {

  private Kernels() {}

  /** Launches a kernel with one thread per item, 256 per block. */
  static void launch1d(String kernel, long items, KernelArgs args) {
    long blocks = (items + 255) / 256;
    if (blocks > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(kernel + ": " + items + " items exceed one launch");
    }
    CudaBackend.get()
        .launch(kernel, new int[] {(int) blocks, 1, 1}, new int[] {256, 1, 1}, 0, args.build());
  }
}

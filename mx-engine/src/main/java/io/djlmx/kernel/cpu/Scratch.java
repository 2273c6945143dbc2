package io.djlmx.kernel.cpu;

/**
 * Per-thread scratch arrays the kernels reuse from call to call (the padded inputs, their
 * interleaved copy, the decoded weight panel), so that a small call does not allocate and zero them
 * each time. Contents are not cleared between uses: callers write what they read.
 */
final class Scratch {

  /** The padded (and possibly quantized) input rows. */
  static final int INPUT = 0;

  /** The inputs interleaved in blocks of eight rows. */
  static final int INTERLEAVED = 1;

  /** One thread's decoded weight panel. */
  static final int PANEL = 2;

  /** The whole decoded weight of the large-batch path. */
  static final int DECODED = 3;

  /** Arrays larger than this (floats) are not kept: one big batch should not pin its memory. */
  private static final int MAX_KEPT = 1 << 20;

  private static final ThreadLocal<float[][]> BUFFERS =
      ThreadLocal.withInitial(() -> new float[4][]);

  private Scratch() {}

  /**
   * Returns an array of at least {@code size} floats for the given use on this thread; its contents
   * are whatever the last user left.
   *
   * @param use {@link #INPUT}, {@link #INTERLEAVED}, {@link #PANEL} or {@link #DECODED}
   * @param size the floats needed
   * @return the array
   */
  static float[] floats(int use, int size) {
    if (size > MAX_KEPT) {
      return new float[size];
    }
    float[][] b = BUFFERS.get();
    float[] a = b[use];
    if (a == null || a.length < size) {
      a = new float[size];
      b[use] = a;
    }
    return a;
  }
}

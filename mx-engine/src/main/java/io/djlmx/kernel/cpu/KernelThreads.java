package io.djlmx.kernel.cpu;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;

/**
 * The worker threads a {@link CpuLinearKernel} splits its work over: one daemon pool per kernel,
 * sized to the cores, shared by all its calls. The calling thread runs one part itself.
 */
final class KernelThreads implements AutoCloseable {

  /** Work over a half-open range {@code [from, to)}. */
  @FunctionalInterface
  interface RangeTask {
    /**
     * Runs the part {@code [from, to)}.
     *
     * @param from first index
     * @param to one past the last index
     */
    void run(long from, long to);
  }

  private final int threads;
  private final ForkJoinPool pool;

  /**
   * Creates the pool.
   *
   * @param threads the number of threads that work on one call, including the caller, {@code >= 1}
   */
  KernelThreads(int threads) {
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be >= 1, got " + threads);
    }
    this.threads = threads;
    this.pool =
        threads == 1
            ? null
            : new ForkJoinPool(
                threads - 1,
                p -> {
                  ForkJoinWorkerThread t =
                      ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(p);
                  t.setDaemon(true);
                  t.setName("mx-cpu-kernel-" + t.getPoolIndex());
                  return t;
                },
                null,
                false);
  }

  /**
   * Returns the number of threads a call uses.
   *
   * @return the thread count
   */
  int threads() {
    return threads;
  }

  /**
   * Splits {@code [0, count)} into one contiguous part per thread and runs them, returning when all
   * are done; the first exception thrown by a part is rethrown.
   *
   * @param count the range size
   * @param task the work
   */
  void forRange(long count, RangeTask task) {
    forRange(count, threads, task);
  }

  /**
   * Like {@link #forRange(long, RangeTask)} with at most {@code maxParts} parts (1 runs the whole
   * range on the calling thread: for work too small to pay for a hand-off).
   *
   * @param count the range size
   * @param maxParts the most parts to split into, {@code >= 1}
   * @param task the work
   */
  void forRange(long count, int maxParts, RangeTask task) {
    int parts = (int) Math.min(Math.min(threads, maxParts), count);
    if (parts <= 1) {
      if (count > 0) {
        task.run(0, count);
      }
      return;
    }
    List<ForkJoinTask<?>> forked = new ArrayList<>(parts - 1);
    for (int p = 1; p < parts; p++) {
      long from = count * p / parts;
      long to = count * (p + 1) / parts;
      forked.add(pool.submit(() -> task.run(from, to)));
    }
    RuntimeException first = null;
    try {
      task.run(0, count / parts);
    } catch (RuntimeException e) {
      first = e;
    }
    for (ForkJoinTask<?> f : forked) {
      try {
        f.join();
      } catch (RuntimeException e) {
        if (first == null) {
          first = e;
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }

  @Override
  public void close() {
    if (pool != null) {
      pool.shutdown();
    }
  }
}

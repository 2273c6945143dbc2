package io.djlmx.attention;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ForkJoinPool;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

/** Runs independent tasks 0..n-1 on the common fork-join pool or on a pool of a chosen size. */
final class Parallel {

  private static final Map<Integer, ForkJoinPool> POOLS = new ConcurrentHashMap<>();

  private Parallel() {}

  /**
   * Runs {@code task} for every index in [0, n) and returns when all are done.
   *
   * @param n number of tasks
   * @param parallelism threads, 0 for the common pool, 1 for the calling thread alone
   * @param task the work of one index
   */
  static void forEach(int n, int parallelism, IntConsumer task) {
    if (n == 1 || parallelism == 1) {
      for (int i = 0; i < n; i++) {
        task.accept(i);
      }
    } else if (parallelism == 0) {
      IntStream.range(0, n).parallel().forEach(task);
    } else {
      ForkJoinPool pool =
          POOLS.computeIfAbsent(
              parallelism,
              p -> {
                ForkJoinPool.ForkJoinWorkerThreadFactory base =
                    ForkJoinPool.defaultForkJoinWorkerThreadFactory;
                return new ForkJoinPool(
                    p,
                    fj -> {
                      var t = base.newThread(fj);
                      t.setDaemon(true);
                      t.setName("mx-attention-" + t.getPoolIndex());
                      return t;
                    },
                    null,
                    false);
              });
      pool.submit(() -> IntStream.range(0, n).parallel().forEach(task)).join();
    }
  }
}

package io.djlmx.kernel.cpu;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * The worker threads a {@link CpuLinearKernel} splits its work over: {@code threads - 1} daemon
 * workers per kernel; the calling thread runs one part itself.
 *
 * <p>Why not a {@code ForkJoinPool}: a linear layer of a small model at batch 1 takes 20–200 µs,
 * and waking a parked pool thread took tens of microseconds here (8×384→384 ran in 39 µs on one
 * thread and 72 µs on two). These workers spin for {@link #SPIN_NANOS} after each part before they
 * park, so back-to-back calls (the layers of one forward pass) are handed over in well under a
 * microsecond; an idle kernel costs no CPU once that time has passed.
 *
 * <p>One call uses the workers at a time: a call that finds them busy (a concurrent call, or a call
 * made from inside a part) runs its whole range on its own thread.
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

  /**
   * How long a worker spins for the next part before it parks: long enough to bridge the other ops
   * between two linear layers of a forward pass (layer norm, activation, attention).
   */
  static final long SPIN_NANOS = Long.getLong("mx.cpu.spinMicros", 200L) * 1000L;

  /** How long the caller spins for a worker's part before it starts yielding its core. */
  private static final long WAIT_SPIN_NANOS = 50_000L;

  private final int threads;
  private final Worker[] workers;
  private final AtomicBoolean busy = new AtomicBoolean();
  private volatile boolean closed;

  /**
   * Creates the workers.
   *
   * @param threads the number of threads that work on one call, including the caller, {@code >= 1}
   */
  KernelThreads(int threads) {
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be >= 1, got " + threads);
    }
    this.threads = threads;
    this.workers = new Worker[threads - 1];
    for (int i = 0; i < workers.length; i++) {
      workers[i] = new Worker();
      Thread t = new Thread(workers[i], "mx-cpu-kernel-" + i);
      t.setDaemon(true);
      workers[i].thread = t;
      t.start();
    }
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
    if (parts <= 1 || closed || !busy.compareAndSet(false, true)) {
      if (count > 0) {
        task.run(0, count);
      }
      return;
    }
    try {
      for (int p = 1; p < parts; p++) {
        workers[p - 1].post(task, count * p / parts, count * (p + 1) / parts);
      }
      Throwable first = null;
      try {
        task.run(0, count / parts);
      } catch (RuntimeException | Error e) {
        first = e;
      }
      for (int p = 1; p < parts; p++) {
        Throwable e = workers[p - 1].await();
        if (first == null) {
          first = e;
        }
      }
      if (first instanceof RuntimeException re) {
        throw re;
      }
      if (first instanceof Error err) {
        throw err;
      }
      if (first != null) {
        throw new IllegalStateException("kernel worker failed", first);
      }
    } finally {
      busy.set(false);
    }
  }

  /** Stops the workers (each finishes the part it runs). */
  @Override
  public void close() {
    closed = true;
    for (Worker w : workers) {
      LockSupport.unpark(w.thread);
    }
  }

  /** One worker: waits for a posted part (spinning, then parked), runs it, reports it done. */
  private final class Worker implements Runnable {

    private Thread thread;
    private RangeTask task;
    private long from;
    private long to;
    private Throwable failure;

    /** Bumped by the caller for each part; the worker runs a part when it sees a new value. */
    private volatile long posted;

    /** The last part finished: equals {@link #posted} when the worker is idle. */
    private volatile long done;

    /** Set while the worker parks (or is about to), so that the caller unparks it. */
    private volatile boolean parked;

    void post(RangeTask t, long a, long b) {
      task = t;
      from = a;
      to = b;
      failure = null;
      posted = posted + 1; // the volatile write publishes the fields above
      if (parked) {
        LockSupport.unpark(thread);
      }
    }

    Throwable await() {
      long target = posted;
      long start = System.nanoTime();
      int spins = 0;
      while (done != target) {
        if (++spins < 64 || System.nanoTime() - start < WAIT_SPIN_NANOS) {
          Thread.onSpinWait();
        } else {
          Thread.yield(); // the worker may need this core (an oversubscribed machine)
        }
      }
      Throwable f = failure;
      task = null;
      return f;
    }

    @Override
    public void run() {
      long seen = 0;
      while (true) {
        long idleSince = System.nanoTime();
        int spins = 0;
        long p;
        while ((p = posted) == seen) {
          if (closed) {
            return;
          }
          Thread.onSpinWait();
          if ((++spins & 127) == 0 && System.nanoTime() - idleSince > SPIN_NANOS) {
            // Dekker with post(): we write parked then read posted; the caller writes posted then
            // reads parked, so either we see the new part or the caller unparks us.
            parked = true;
            if (posted == seen && !closed) {
              LockSupport.park(this);
            }
            parked = false;
            idleSince = System.nanoTime();
          }
        }
        seen = p;
        try {
          task.run(from, to);
        } catch (Throwable t) {
          failure = t;
        }
        done = p;
      }
    }
  }
}

package io.djlmx.kernel.cpu;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The worker threads a {@link CpuLinearKernel} splits its work over: {@code threads - 1} daemon
 * workers per kernel; the calling thread works too.
 *
 * <p>Why not a {@code ForkJoinPool}: a linear layer of a small model at batch 1 takes 20–200 µs,
 * and waking a parked pool thread took tens of microseconds here (8×384→384 ran in 39 µs on one
 * thread and 72 µs on two). These workers wait for the next call spinning for {@link #SPIN_NANOS}
 * (yielding their core between checks after the first microseconds, which costs nothing on an idle
 * machine and gives the core away on a busy one) before they park, so back-to-back calls (the
 * layers of one forward pass) are handed over in well under a microsecond; an idle kernel costs no
 * CPU once that time has passed.
 *
 * <p>Work is claimed from a shared counter, not split in fixed parts: on a loaded machine a worker
 * may not get a core for milliseconds, and then the caller simply does the rest itself instead of
 * waiting for a fixed share. A claim takes {@code 1 / (2 · threads)} of what is left, at most
 * {@link #MAX_CLAIM} indices: short contiguous runs, whose indices share caches inside one task
 * call, and single indices at the end, so that the threads finish together. Each index is run by
 * exactly one thread, so results do not depend on who ran what.
 *
 * <p>One call uses the workers at a time: a call that finds them busy (a concurrent call, or a call
 * made from inside a task) runs its whole range on its own thread.
 */
final class KernelThreads implements AutoCloseable {

  /** Work over a half-open range {@code [from, to)}. */
  @FunctionalInterface
  interface RangeTask {
    /**
     * Runs the indices {@code [from, to)}.
     *
     * @param from first index
     * @param to one past the last index
     */
    void run(long from, long to);
  }

  /**
   * How long a worker spins for the next call before it parks (default 100 µs, system property
   * {@code mx.cpu.spinMicros}): long enough to bridge the other ops between two linear layers of a
   * forward pass (layer norm, activation, attention).
   */
  static final long SPIN_NANOS = Long.getLong("mx.cpu.spinMicros", 100L) * 1000L;

  /**
   * The most indices one claim takes (unless {@code grain} says more): enough for the inputs' cache
   * reuse across units, few enough that the caller never waits long for a worker that lost its core
   * in the middle of a claim (a loaded machine).
   */
  private static final long MAX_CLAIM = 4;

  /** After this long idle, a spinning worker yields its core between checks. */
  private static final long YIELD_AFTER_NANOS = 5_000L;

  /** How long the caller spins for the workers' last indices before it parks. */
  private static final long WAIT_SPIN_NANOS = 20_000L;

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
   * Runs {@code task} over {@code [0, count)} on all threads, returning when every index is done;
   * the first exception thrown by the task is rethrown (indices not started by then are skipped).
   *
   * @param count the range size
   * @param task the work; called with contiguous runs of indices
   */
  void forRange(long count, RangeTask task) {
    forRange(count, threads, task);
  }

  /**
   * Like {@link #forRange(long, RangeTask)} on at most {@code maxThreads} threads (1 runs the whole
   * range on the calling thread in one task call: for work too small to pay for a hand-off).
   *
   * @param count the range size
   * @param maxThreads the most threads to use, {@code >= 1}
   * @param task the work
   */
  void forRange(long count, int maxThreads, RangeTask task) {
    forRange(count, maxThreads, 1, task);
  }

  /**
   * Like {@link #forRange(long, int, RangeTask)}, never handing out fewer than {@code grain}
   * indices at a time (but the last run): for work whose indices are too small to claim one by one.
   *
   * @param count the range size
   * @param maxThreads the most threads to use, {@code >= 1}
   * @param grain the fewest indices per claim, {@code >= 1}
   * @param task the work
   */
  void forRange(long count, int maxThreads, long grain, RangeTask task) {
    int parts = (int) Math.min(Math.min(threads, maxThreads), count);
    if (parts <= 1 || closed || !busy.compareAndSet(false, true)) {
      if (count > 0) {
        task.run(0, count);
      }
      return;
    }
    Job job = new Job(task, count, Math.max(1, grain), parts);
    try {
      for (int p = 1; p < parts; p++) {
        workers[p - 1].post(job);
      }
      job.work();
      job.awaitAll();
    } finally {
      job.task = null; // no index is left to claim: a late worker never reads it
      busy.set(false);
    }
    Throwable f = job.failure;
    if (f instanceof RuntimeException re) {
      throw re;
    }
    if (f instanceof Error err) {
      throw err;
    }
    if (f != null) {
      throw new IllegalStateException("kernel task failed", f);
    }
  }

  /** Stops the workers (each finishes the index it runs). */
  @Override
  public void close() {
    closed = true;
    for (Worker w : workers) {
      LockSupport.unpark(w.thread);
    }
  }

  /** One call's work: indices handed out by a counter, and a count of those finished. */
  private static final class Job {

    private volatile RangeTask task;
    private final long count;
    private final long grain;
    private final int parties;
    private final AtomicLong next = new AtomicLong();
    private final AtomicLong finished = new AtomicLong();
    private volatile Throwable failure;
    private volatile Thread waiter;

    Job(RangeTask task, long count, long grain, int parties) {
      this.task = task;
      this.count = count;
      this.grain = grain;
      this.parties = parties;
    }

    /**
     * Claims and runs runs of indices until none is left; each claim takes {@code 1 / (2 ·
     * parties)} of what is left, at most {@link #MAX_CLAIM} and at least {@code grain}.
     */
    void work() {
      while (true) {
        long i = next.get();
        if (i >= count) {
          return;
        }
        long size = Math.min(MAX_CLAIM, (count - i) / (2L * parties));
        long to = Math.min(count, i + Math.max(grain, size));
        if (!next.compareAndSet(i, to)) {
          continue;
        }
        try {
          if (failure == null) {
            task.run(i, to);
          }
        } catch (Throwable t) {
          synchronized (this) {
            if (failure == null) {
              failure = t;
            }
          }
        } finally {
          // Dekker with awaitAll(): we count then read waiter; it writes waiter then reads count.
          if (finished.addAndGet(to - i) == count) {
            Thread w = waiter;
            if (w != null) {
              LockSupport.unpark(w);
            }
          }
        }
      }
    }

    /** Waits until every index has finished: spinning briefly, then parked. */
    void awaitAll() {
      long start = System.nanoTime();
      int spins = 0;
      while (finished.get() < count) {
        if (++spins < 64 || System.nanoTime() - start < WAIT_SPIN_NANOS) {
          Thread.onSpinWait();
        } else {
          waiter = Thread.currentThread();
          if (finished.get() < count) {
            LockSupport.park(this);
          }
        }
      }
    }
  }

  /** One worker: waits for a posted job (spinning, then parked) and helps with it. */
  private final class Worker implements Runnable {

    private Thread thread;

    /** The latest job posted; the worker helps with each new one it sees. */
    private volatile Job job;

    /** Set while the worker parks (or is about to), so that the caller unparks it. */
    private volatile boolean parked;

    void post(Job j) {
      job = j;
      if (parked) {
        LockSupport.unpark(thread);
      }
    }

    @Override
    public void run() {
      Job last = null;
      while (true) {
        long idleSince = System.nanoTime();
        int spins = 0;
        Job j;
        while ((j = job) == last) {
          if (closed) {
            return;
          }
          if ((++spins & 15) != 0) {
            Thread.onSpinWait();
            continue;
          }
          long idle = System.nanoTime() - idleSince;
          if (idle > YIELD_AFTER_NANOS) {
            // On a busy machine this lets other threads (our caller's among them) have the core;
            // on an idle one it returns at once.
            Thread.yield();
          }
          if (idle > SPIN_NANOS) {
            // Dekker with post(): we write parked then read job; the caller writes job then reads
            // parked, so either we see the new job or the caller unparks us.
            parked = true;
            if (job == last && !closed) {
              LockSupport.park(this);
            }
            parked = false;
            idleSince = System.nanoTime();
          }
        }
        last = j;
        j.work();
      }
    }
  }
}

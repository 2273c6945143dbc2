package io.djlmx.kernel.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The kernel's worker threads: every index run exactly once, failures rethrown, busy fallback. */
class KernelThreadsTest {

  @Test
  void everyIndexRunsOnce() {
    try (KernelThreads t = new KernelThreads(3)) {
      for (long count : new long[] {1, 2, 3, 7, 1000}) {
        for (int rep = 0; rep < 50; rep++) {
          int[] hits = new int[(int) count];
          List<long[]> parts = new ArrayList<>();
          t.forRange(
              count,
              (a, b) -> {
                synchronized (parts) {
                  parts.add(new long[] {a, b});
                }
                for (long i = a; i < b; i++) {
                  hits[(int) i]++;
                }
              });
          for (int i = 0; i < count; i++) {
            assertEquals(1, hits[i], "count " + count + " index " + i);
          }
          for (long[] part : parts) {
            assertTrue(part[0] < part[1], "a non-empty run, count " + count);
          }
        }
      }
    }
  }

  @Test
  void grainsCoverTheRangeOnce() {
    try (KernelThreads t = new KernelThreads(2)) {
      for (long count : new long[] {2, 7, 100, 1001}) {
        int[] hits = new int[(int) count];
        t.forRange(
            count,
            2,
            7,
            (a, b) -> {
              assertTrue(b > a && (b - a >= 7 || b == count), a + ".." + b);
              for (long i = a; i < b; i++) {
                synchronized (hits) {
                  hits[(int) i]++;
                }
              }
            });
        for (int i = 0; i < count; i++) {
          assertEquals(1, hits[i], "count " + count + " index " + i);
        }
      }
    }
  }

  @Test
  void partsRunOnTheWorkers() {
    try (KernelThreads t = new KernelThreads(2)) {
      ConcurrentHashMap<String, Boolean> names = new ConcurrentHashMap<>();
      CountDownLatch both = new CountDownLatch(2);
      // The caller's index waits for a second thread to take the other one: the worker.
      t.forRange(
          2,
          (a, b) -> {
            names.put(Thread.currentThread().getName(), true);
            both.countDown();
            try {
              assertTrue(both.await(30, TimeUnit.SECONDS), "a worker took an index");
            } catch (InterruptedException e) {
              throw new IllegalStateException(e);
            }
          });
      assertTrue(names.containsKey(Thread.currentThread().getName()), names.toString());
      assertTrue(names.keySet().stream().anyMatch(n -> n.startsWith("mx-cpu-kernel-")), "" + names);
    }
  }

  @Test
  void aFailingPartIsRethrownAndTheThreadsStayUsable() {
    try (KernelThreads t = new KernelThreads(2)) {
      IllegalArgumentException boom = new IllegalArgumentException("part 1 failed");
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  t.forRange(
                      10,
                      (a, b) -> {
                        if (a > 0) {
                          throw boom;
                        }
                      }));
      assertSame(boom, e);
      AtomicLong sum = new AtomicLong();
      t.forRange(10, (a, b) -> sum.addAndGet(b - a));
      assertEquals(10, sum.get());
    }
  }

  @Test
  void concurrentAndNestedCallsComplete() throws Exception {
    try (KernelThreads t = new KernelThreads(2)) {
      AtomicLong sum = new AtomicLong();
      Thread[] callers = new Thread[4];
      for (int c = 0; c < callers.length; c++) {
        callers[c] =
            new Thread(
                () -> {
                  for (int rep = 0; rep < 200; rep++) {
                    // A nested call finds the workers busy and runs on its own thread.
                    t.forRange(4, (a, b) -> t.forRange(b - a, (x, y) -> sum.addAndGet(y - x)));
                  }
                });
        callers[c].start();
      }
      for (Thread c : callers) {
        c.join(60_000);
        assertTrue(!c.isAlive(), "caller finished");
      }
      assertEquals(4L * 200 * 4, sum.get());
    }
  }

  @Test
  void closedThreadsStillRunWorkOnTheCaller() throws Exception {
    KernelThreads t = new KernelThreads(2);
    t.close();
    AtomicLong sum = new AtomicLong();
    t.forRange(5, (a, b) -> sum.addAndGet(b - a));
    assertEquals(5, sum.get());
  }
}

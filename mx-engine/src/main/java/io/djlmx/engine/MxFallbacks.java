package io.djlmx.engine;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Counts the ops on GPU-resident MX arrays that had no CUDA kernel and ran on the host (PyTorch)
 * instead: each is counted per op name and logged once per name, so a fallback is never silent.
 */
public final class MxFallbacks {

  private static final Logger logger = LoggerFactory.getLogger(MxFallbacks.class);

  private static final Map<String, LongAdder> COUNTS = new ConcurrentHashMap<>();

  private MxFallbacks() {}

  /**
   * Records one host fallback of {@code op}; the first of each name is logged as a warning.
   *
   * @param op the op name, e.g. {@code "argSort"}
   */
  static void record(String op) {
    LongAdder c = COUNTS.get(op);
    if (c == null) {
      LongAdder fresh = new LongAdder();
      c = COUNTS.putIfAbsent(op, fresh);
      if (c == null) {
        c = fresh;
        logger.warn(
            "MX GPU array op '{}' has no CUDA kernel: it runs on the host and comes back (logged"
                + " once; see MxFallbacks.counts())",
            op);
      }
    }
    c.increment();
  }

  /**
   * Returns how many times {@code op} fell back to the host in this process.
   *
   * @param op the op name
   * @return the count, 0 if never
   */
  public static long count(String op) {
    LongAdder c = COUNTS.get(op);
    return c == null ? 0 : c.sum();
  }

  /**
   * Returns the total number of host fallbacks in this process.
   *
   * @return the sum over all op names
   */
  public static long total() {
    long t = 0;
    for (LongAdder c : COUNTS.values()) {
      t += c.sum();
    }
    return t;
  }

  /**
   * Returns a snapshot of the counts, sorted by op name.
   *
   * @return op name to count
   */
  public static Map<String, Long> counts() {
    Map<String, Long> out = new TreeMap<>();
    COUNTS.forEach((k, v) -> out.put(k, v.sum()));
    return out;
  }

  /** Forgets every count (each op name is logged again on its next fallback). */
  public static void reset() {
    COUNTS.clear();
  }
}

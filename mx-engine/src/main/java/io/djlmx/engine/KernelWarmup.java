package io.djlmx.engine;

import ai.djl.Device;
import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.format.ScaleMode;
import io.djlmx.kernel.LinearKernel;
import io.djlmx.kernel.PreparedWeight;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Compiles the CPU linear kernel's code paths for a weight format ahead of the first prediction.
 *
 * <p>The kernels are Vector API code, which is fast only once C2 has compiled it: interpreted or
 * C1-compiled, each vector operation allocates, so a fresh JVM's first prediction ran the kernels
 * 100× slower than the next (1.3–2.8 s for MiniLM's first sentence on 2 cores, 40–60 ms after). A
 * daemon thread at minimum priority runs the batch-1 and batched paths on a small random weight
 * until they are compiled, while the engine and the model load on the other threads. Each (weight,
 * activation) pair is warmed once per JVM. {@value #PROPERTY}{@code =false} (or {@code
 * MX_CPU_WARMUP=false}) turns it off.
 */
final class KernelWarmup {

  /** The switch, a system property (or the environment variable {@code MX_CPU_WARMUP}). */
  static final String PROPERTY = "mx.cpu.warmup";

  /** Output rows of the warm-up weight: enough 32-row units for the grouped batch-1 path. */
  private static final int N = 1024;

  /** Input features: a few 128-column panels and a ragged block. */
  private static final int K = 400;

  /** Rows of the batched call: every row tile (8, 4, 2, 1) of the batched path. */
  private static final int M = 15;

  /** Enough calls for C2 to compile every loop (its thresholds are counted in the thousands). */
  private static final int ROUNDS = 300;

  /** A bound on the warm-up's wall time, however slow the machine. */
  private static final long MAX_NANOS = 4_000_000_000L;

  private static final Set<String> STARTED = ConcurrentHashMap.newKeySet();
  private static final Logger logger = LoggerFactory.getLogger(KernelWarmup.class);

  private KernelWarmup() {}

  /**
   * Starts warming the CPU kernel for a configuration in the background, unless it is disabled,
   * already started for these formats, or there is no CPU kernel.
   *
   * @param weights the weight format
   * @param activations the activation format, or null for weight-only
   * @return the started thread, or null when nothing was started
   */
  static Thread start(MxFormat weights, MxFormat activations) {
    if (weights == null || !isEnabled()) {
      return null;
    }
    LinearKernel kernel = MxLinear.getKernel(Device.Type.CPU);
    if (kernel == null || !STARTED.add(weights + "/" + activations)) {
      return null;
    }
    Thread t = new Thread(() -> run(kernel, weights, activations), "mx-kernel-warmup");
    t.setDaemon(true);
    t.setPriority(Thread.MIN_PRIORITY);
    t.start();
    return t;
  }

  static boolean isEnabled() {
    String v = System.getProperty(PROPERTY);
    if (v == null) {
      v = System.getenv(MxConfig.envName(PROPERTY));
    }
    return v == null || !v.trim().equalsIgnoreCase("false");
  }

  private static void run(LinearKernel kernel, MxFormat weights, MxFormat activations) {
    long start = System.nanoTime();
    Random r = new Random(42);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment w = arena.allocate((long) N * K * Float.BYTES, 64);
      for (long i = 0; i < (long) N * K; i++) {
        w.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) r.nextGaussian());
      }
      MemorySegment x = arena.allocate((long) M * K * Float.BYTES, 64);
      for (long i = 0; i < (long) M * K; i++) {
        x.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) r.nextGaussian());
      }
      MemorySegment bias = arena.allocate((long) N * Float.BYTES, 64);
      MemorySegment y = arena.allocate((long) M * N * Float.BYTES, 64);
      int rounds = 0;
      try (MxTensor q =
              MxTensor.quantize(
                  w, new long[] {N, K}, weights, ScaleMode.FLOOR, MxFormat.DEFAULT_BLOCK_SIZE);
          PreparedWeight p = kernel.prepare(q)) {
        while (rounds < ROUNDS && System.nanoTime() - start < MAX_NANOS) {
          kernel.linear(x, 1, p, bias, y, activations, ScaleMode.FLOOR);
          kernel.linear(x, M, p, bias, y, activations, ScaleMode.FLOOR);
          rounds++;
        }
      }
      logger.debug(
          "MX CPU kernel warmed for {}{} in {} ms ({} rounds)",
          weights,
          activations == null ? "" : " x " + activations,
          String.format(Locale.ROOT, "%.0f", (System.nanoTime() - start) / 1e6),
          rounds);
    } catch (RuntimeException | LinkageError e) {
      // a warm-up must never be what fails: the first prediction reports any real problem
      logger.debug("MX CPU kernel warm-up stopped: {}", e.toString());
    }
  }
}

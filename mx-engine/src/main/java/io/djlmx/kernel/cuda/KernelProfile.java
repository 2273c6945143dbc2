package io.djlmx.kernel.cuda;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import jcuda.driver.CUevent;
import jcuda.driver.JCudaDriver;

/**
 * A diagnostic that times every kernel launch of the backend on the GPU (a CUDA event before and
 * after each launch, on the launch's stream) between {@link #start()} and {@link #stop()}, and
 * reports the GPU time per kernel name. Events add host work per launch, so profile a separate,
 * untimed run. Not thread-safe: profile one thread's work.
 */
public final class KernelProfile {

  private static volatile boolean active;
  private static final List<Object[]> RECORDS = new ArrayList<>(); // {name, start, stop}

  private KernelProfile() {}

  /** Starts recording (clearing earlier records). */
  public static synchronized void start() {
    clear();
    active = true;
  }

  static boolean active() {
    return active;
  }

  /**
   * Records an event pair around one launch; returns the pair's stop event to record after it.
   *
   * @param kernel the kernel's name
   * @return the stop event
   */
  static synchronized CUevent before(String kernel) {
    CUevent s = new CUevent();
    CUevent e = new CUevent();
    CudaBackend.check(JCudaDriver.cuEventCreate(s, 0), "cuEventCreate");
    CudaBackend.check(JCudaDriver.cuEventCreate(e, 0), "cuEventCreate");
    CudaBackend.check(JCudaDriver.cuEventRecord(s, null), "cuEventRecord");
    RECORDS.add(new Object[] {kernel, s, e});
    return e;
  }

  static void after(CUevent stop) {
    CudaBackend.check(JCudaDriver.cuEventRecord(stop, null), "cuEventRecord");
  }

  /**
   * Stops recording, waits for the device and reports launches and GPU time per kernel, largest
   * first, with the total.
   *
   * @return the report, one line per kernel
   */
  public static synchronized String stop() {
    active = false;
    CudaBackend.get().synchronize();
    Map<String, double[]> byName = new TreeMap<>();
    float[] ms = new float[1];
    double total = 0;
    for (Object[] r : RECORDS) {
      CudaBackend.check(
          JCudaDriver.cuEventElapsedTime(ms, (CUevent) r[1], (CUevent) r[2]), "cuEventElapsedTime");
      double[] acc = byName.computeIfAbsent((String) r[0], k -> new double[2]);
      acc[0]++;
      acc[1] += ms[0];
      total += ms[0];
    }
    int launches = RECORDS.size();
    clear();
    final double sum = total;
    StringBuilder sb =
        new StringBuilder(
            String.format(
                Locale.ROOT, "kernels: %d launches, %.3f ms of GPU time%n", launches, total));
    byName.entrySet().stream()
        .sorted((a, b) -> Double.compare(b.getValue()[1], a.getValue()[1]))
        .forEach(
            en ->
                sb.append(
                    String.format(
                        Locale.ROOT,
                        "  %-32s %6d launches %9.3f ms (%5.1f%%)%n",
                        en.getKey(),
                        (long) en.getValue()[0],
                        en.getValue()[1],
                        100 * en.getValue()[1] / Math.max(sum, 1e-9))));
    return sb.toString();
  }

  private static void clear() {
    for (Object[] r : RECORDS) {
      JCudaDriver.cuEventDestroy((CUevent) r[1]);
      JCudaDriver.cuEventDestroy((CUevent) r[2]);
    }
    RECORDS.clear();
  }
}

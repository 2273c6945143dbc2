package io.djlmx.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import io.djlmx.engine.MxCudaNDArray;
import io.djlmx.engine.MxFallbacks;
import io.djlmx.kernel.cuda.CudaBackend;
import io.djlmx.kernel.cuda.CudaMemoryPool;
import io.djlmx.kernel.cuda.DeviceBuffer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Model-level resources on the GPU: a DJL MLP saved under MX on the device and loaded with {@code
 * Criteria.optEngine("MX").optDevice(Device.gpu())} runs 10,000 predictions through Predictors (a
 * third of them from 4 threads at once, each checked bit for bit against the single-thread result)
 * and 1,000 model load/close cycles; device memory in use ({@code cuMemGetInfo}, which includes the
 * memory pool's reservation), the live device buffer count, the host native memory outside the
 * JVM's internals and the MX root manager's resource count stay flat (within 5%, counts unchanged)
 * after a warm-up block. No host fallback is allowed. Skipped where no CUDA device is present.
 *
 * <p>With the system property {@value #REPORT_PROPERTY} naming a file, the figures are appended to
 * it as a Markdown section ({@code scripts/gpu-run.sh}: {@code $OUT/RELIABILITY-gpu.md}, after
 * {@code CudaResourceTest}'s kernel-level section; kept as {@code docs/RELIABILITY-gpu.md}).
 */
@Tag("gpu")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class GpuModelResourceTest {

  /** System property naming the Markdown file the figures are appended to. */
  static final String REPORT_PROPERTY = "djlmx.gpu.resource.report";

  private static final double TOLERANCE = 0.05;
  private static final int IN = 300;
  private static final int BATCH = 4;
  private static final String NAME = "gmlp";
  private static final List<String[]> ROWS = new ArrayList<>();

  private static Path dir;

  @BeforeAll
  static void saveOnTheDevice() throws IOException {
    Assumptions.assumeTrue(
        CudaBackend.isAvailable(), () -> "no CUDA device: " + CudaBackend.unavailableReason());
    dir = Files.createTempDirectory("mx-gpu-it");
    try (Model m = Model.newInstance(NAME, Device.gpu(), "MX")) {
      Block block = mlp();
      m.setBlock(block);
      block.initialize(m.getNDManager(), DataType.FLOAT32, new Shape(BATCH, IN));
      m.save(dir, NAME);
    }
  }

  /** {@code [*, 300] -> 512 -> 256 -> 10}, ReLU between: K = 300 leaves a ragged MX block. */
  private static Block mlp() {
    return new SequentialBlock()
        .add(Linear.builder().setUnits(512).build())
        .add(Activation::relu)
        .add(Linear.builder().setUnits(256).build())
        .add(Activation::relu)
        .add(Linear.builder().setUnits(10).build());
  }

  private static ZooModel<float[], float[]> load() throws Exception {
    return Criteria.builder()
        .setTypes(float[].class, float[].class)
        .optModelPath(dir)
        .optModelName(NAME)
        .optEngine("MX")
        .optDevice(Device.gpu())
        .optBlock(mlp())
        .optTranslator(new Fixtures.FloatTranslator(new Shape(BATCH, IN)))
        .build()
        .loadModel();
  }

  /** Device memory in use (total minus free) after all work finished. */
  private static long deviceUsed() {
    CudaBackend b = CudaBackend.get();
    b.synchronize();
    long[] info = b.memoryInfo();
    return info[1] - info[0];
  }

  /** Host native memory outside the JVM's internals (NMT where on, else live malloc bytes), kB. */
  private static long hostNativeKb() {
    try {
      return Fixtures.applicationNativeKb();
    } catch (IllegalStateException e) {
      Fixtures.rssAfterGcKb();
      return Fixtures.mallocInUseKb();
    }
  }

  /** Resources held by the MX engine's root manager (a leaked model or manager grows it). */
  private static int mxRootResources() {
    try (NDManager probe = Engine.getEngine("MX").newBaseManager(Device.gpu())) {
      return Fixtures.resourceCount(probe.getParentManager()) - 1;
    }
  }

  private static String mib(long bytes) {
    return String.format(Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024.0));
  }

  private static void recordFlat(String what, String unit, long before, long after) {
    String b = unit.equals("kB") ? mib(before * 1024) : mib(before);
    String a = unit.equals("kB") ? mib(after * 1024) : mib(after);
    synchronized (ROWS) {
      ROWS.add(
          new String[] {
            what,
            String.format(
                Locale.ROOT,
                "%s / %s (%+.2f%%; within 5%%: %s)",
                b,
                a,
                100.0 * (after - before) / before,
                after <= before * (1 + TOLERANCE) ? "yes" : "no")
          });
    }
  }

  private static void record(String what, String figure) {
    synchronized (ROWS) {
      ROWS.add(new String[] {what, figure});
    }
  }

  private static float[] input(int i) {
    float[] x = Fixtures.gaussian(BATCH * IN, 17);
    x[i % x.length] = (float) Math.sin(i);
    return x;
  }

  @Test
  @Order(1)
  void predictionsKeepDeviceAndHostMemoryFlat() throws Exception {
    MxFallbacks.reset();
    float[] probe = Fixtures.gaussian(BATCH * IN, 99);
    try (ZooModel<float[], float[]> model = load();
        Predictor<float[], float[]> p = model.newPredictor()) {
      float[] expected = p.predict(probe);
      assertEquals(BATCH * 10, expected.length);
      for (int i = 0; i < 1_000; i++) {
        p.predict(input(i)); // warm-up: JIT, weight packing, the pool's blocks
      }
      int modelResources = Fixtures.resourceCount(model.getNDManager());
      long buffers = DeviceBuffer.liveBuffers();
      long device = deviceUsed();
      long reserved = CudaMemoryPool.reservedBytes();
      long host = hostNativeKb();
      long t0 = System.nanoTime();
      for (int i = 0; i < 6_000; i++) {
        p.predict(input(i));
      }
      long single = System.nanoTime() - t0;
      int threads = 4;
      int perThread = 1_000;
      ExecutorService pool = Executors.newFixedThreadPool(threads);
      List<Future<Integer>> done = new ArrayList<>();
      long t1 = System.nanoTime();
      try {
        for (int t = 0; t < threads; t++) {
          done.add(
              pool.submit(
                  () -> {
                    int checked = 0;
                    try (Predictor<float[], float[]> q = model.newPredictor()) {
                      for (int i = 0; i < perThread; i++) {
                        if (i % 50 == 0) {
                          assertArrayEquals(expected, q.predict(probe), "thread result " + i);
                          checked++;
                        } else {
                          q.predict(input(i));
                        }
                      }
                    }
                    return checked;
                  }));
        }
        int checked = 0;
        for (Future<Integer> f : done) {
          checked += f.get();
        }
        assertEquals(threads * perThread / 50, checked);
      } finally {
        pool.shutdown();
      }
      long multi = System.nanoTime() - t1;
      long deviceAfter = deviceUsed();
      long reservedAfter = CudaMemoryPool.reservedBytes();
      long hostAfter = hostNativeKb();
      long buffersAfter = DeviceBuffer.liveBuffers();
      int modelResourcesAfter = Fixtures.resourceCount(model.getNDManager());
      assertArrayEquals(expected, p.predict(probe), "same result after 10,000 predictions");
      recordFlat(
          "10,000 predictions (6,000 on one thread, then 4 threads x 1,000 with their own"
              + " Predictors; batch [4, 300], MLP 300-512-256-10, MXFP6_E2M3 weights): device"
              + " memory in use before / after",
          "B",
          device,
          deviceAfter);
      record(
          "10,000 predictions: memory pool reserved before / after",
          mib(reserved) + " / " + mib(reservedAfter));
      recordFlat(
          "10,000 predictions: host native memory outside the JVM's internals before / after",
          "kB",
          host,
          hostAfter);
      record(
          "10,000 predictions: live device buffers / model manager resources before / after",
          buffers + " / " + modelResources + " -> " + buffersAfter + " / " + modelResourcesAfter);
      record(
          "10,000 predictions: threaded results checked bit for bit against the single-thread run",
          (threads * perThread / 50) + " of 4,000, all equal");
      record(
          "10,000 predictions: wall time, one thread / 4 threads",
          String.format(
              Locale.ROOT,
              "%.2f s for 6,000 (%.0f µs each) / %.2f s for 4,000",
              single / 1e9,
              single / 6e6,
              multi / 1e9));
      assertEquals(0, MxFallbacks.total(), "host fallbacks: " + MxFallbacks.counts());
      assertEquals(buffers, buffersAfter, "predictions left device buffers behind");
      assertEquals(modelResources, modelResourcesAfter, "predictions left resources on the model");
      assertTrue(deviceAfter <= device * (1 + TOLERANCE), device + " -> " + deviceAfter);
      assertTrue(hostAfter <= host * (1 + TOLERANCE), host + " -> " + hostAfter + " kB");
    }
  }

  @Test
  @Order(2)
  void loadCloseCyclesKeepDeviceAndHostMemoryFlat() throws Exception {
    MxFallbacks.reset();
    float[] x = Fixtures.gaussian(BATCH * IN, 5);
    float[] expected;
    try (ZooModel<float[], float[]> model = load();
        Predictor<float[], float[]> p = model.newPredictor()) {
      expected = p.predict(x);
    }
    for (int i = 0; i < 50; i++) {
      cycle(x, expected);
    }
    int roots = mxRootResources();
    long buffers = DeviceBuffer.liveBuffers();
    long device = deviceUsed();
    long host = hostNativeKb();
    long t0 = System.nanoTime();
    for (int i = 0; i < 1_000; i++) {
      cycle(x, expected);
    }
    long nanos = System.nanoTime() - t0;
    long deviceAfter = deviceUsed();
    long hostAfter = hostNativeKb();
    long buffersAfter = DeviceBuffer.liveBuffers();
    int rootsAfter = mxRootResources();
    recordFlat(
        "1,000 model load / predict / close cycles (Criteria.optDevice(Device.gpu()), the MLP's"
            + " .params decoded onto the device and packed): device memory in use before / after",
        "B",
        device,
        deviceAfter);
    recordFlat(
        "1,000 model cycles: host native memory outside the JVM's internals before / after",
        "kB",
        host,
        hostAfter);
    record(
        "1,000 model cycles: live device buffers / MX root manager resources before / after",
        buffers + " / " + roots + " -> " + buffersAfter + " / " + rootsAfter);
    record(
        "1,000 model cycles: wall time",
        String.format(Locale.ROOT, "%.2f s (%.1f ms each)", nanos / 1e9, nanos / 1e9));
    assertEquals(0, MxFallbacks.total(), "host fallbacks: " + MxFallbacks.counts());
    assertEquals(buffers, buffersAfter, "model cycles left device buffers behind");
    assertEquals(roots, rootsAfter, "model cycles left managers open");
    assertTrue(deviceAfter <= device * (1 + TOLERANCE), device + " -> " + deviceAfter);
    assertTrue(hostAfter <= host * (1 + TOLERANCE), host + " -> " + hostAfter + " kB");
  }

  private static void cycle(float[] x, float[] expected) throws Exception {
    try (ZooModel<float[], float[]> model = load();
        Predictor<float[], float[]> p = model.newPredictor()) {
      float[] y = p.predict(x);
      if (!java.util.Arrays.equals(expected, y)) {
        throw new AssertionError("a reloaded model predicted differently");
      }
      if (!(model.getNDManager().zeros(new Shape(1)) instanceof MxCudaNDArray)) {
        throw new AssertionError("the model's manager is not on the device");
      }
    }
  }

  @AfterAll
  static void writeReport() {
    String target = System.getProperty(REPORT_PROPERTY);
    if (target == null || target.isBlank() || ROWS.isEmpty()) {
      return;
    }
    StringBuilder sb = new StringBuilder();
    sb.append("\n## Model level\n\n")
        .append("Generated by `io.djlmx.it.GpuModelResourceTest` (integration-tests, tag `gpu`) in")
        .append(" the same run: a DJL MLP saved on the device and loaded through `Criteria` with")
        .append(" `optEngine(\"MX\").optDevice(Device.gpu())`, with device memory from the")
        .append(" stream-ordered pool (`")
        .append(CudaMemoryPool.isEnabled() ? "mx.cuda.allocator=pool" : "mx.cuda.allocator=direct")
        .append("`). Device memory in use includes the pool's reserved blocks; host native memory")
        .append(
            " is glibc's live malloc bytes minus the JVM's own (Native Memory Tracking), median")
        .append(" of 5 samples after GC. No host fallback ran.\n\n")
        .append("| what | figure |\n|---|---|\n");
    synchronized (ROWS) {
      for (String[] row : ROWS) {
        sb.append("| ").append(row[0]).append(" | ").append(row[1]).append(" |\n");
      }
    }
    try {
      Files.writeString(
          Path.of(target),
          sb.toString(),
          StandardCharsets.UTF_8,
          StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + target, e);
    }
  }
}

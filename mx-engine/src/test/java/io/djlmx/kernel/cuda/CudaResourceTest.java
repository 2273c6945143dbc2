package io.djlmx.kernel.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.format.ScaleMode;
import io.djlmx.kernel.PreparedWeight;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Device memory stays flat on the GPU path: free device memory ({@code cuMemGetInfo}) and the count
 * of live device buffers across 10,000 linear calls through the engine's {@link CudaLinearKernel}
 * (host input and output, device buffers made and freed per call) and 1,000 weight load/close
 * cycles ({@link CudaLinearKernel#prepare}, the engine's load path: upload of codes and scales,
 * then close). Device memory in use after is within 5% of before, measured after a warm-up block
 * and a device synchronisation. Skipped (not failed) where no CUDA device is present.
 *
 * <p>With the system property {@value #REPORT_PROPERTY} naming a file, the figures are written
 * there as Markdown ({@code scripts/gpu-run.sh} writes {@code $OUT/RELIABILITY-gpu.md}, which goes
 * to {@code docs/RELIABILITY-gpu.md}).
 */
@Tag("gpu")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CudaResourceTest {

  /** System property naming the Markdown file the figures go to. */
  static final String REPORT_PROPERTY = "djlmx.gpu.resource.report";

  private static final double TOLERANCE = 0.05;
  private static final List<String[]> ROWS = new ArrayList<>();

  /** A 1024 x 1000 weight (K ragged: 1000 is not a multiple of 32), MXFP6_E2M3. */
  private static final int N = 1024;

  private static final int K = 1000;
  private static final int M = 4;

  /** Rows for the FP8 tensor-core path (it needs at least 16). */
  private static final int M_TENSOR = 32;

  @BeforeEach
  void requireDevice() {
    Assumptions.assumeTrue(
        CudaBackend.isAvailable(), () -> "no CUDA device: " + CudaBackend.unavailableReason());
  }

  /** Device memory in use (total minus free) after all work finished, in bytes. */
  private static long deviceUsed() {
    CudaBackend b = CudaBackend.get();
    b.synchronize();
    long[] info = b.memoryInfo();
    return info[1] - info[0];
  }

  private static MxTensor randomWeight(long seed) {
    return randomWeight(seed, MxFormat.MXFP6_E2M3);
  }

  private static MxTensor randomWeight(long seed, MxFormat format) {
    Random r = new Random(seed);
    float[] w = new float[N * K];
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) r.nextGaussian() * 0.05f;
    }
    return MxTensor.quantize(
        MemorySegment.ofArray(w),
        new long[] {N, K},
        format,
        ScaleMode.FLOOR,
        MxFormat.DEFAULT_BLOCK_SIZE);
  }

  private static void record(String what, String figure) {
    synchronized (ROWS) {
      ROWS.add(new String[] {what, figure});
    }
  }

  private static String mib(long bytes) {
    return String.format(Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024.0));
  }

  private static void recordFlat(String what, long before, long after) {
    record(
        what + ": device memory in use before / after",
        String.format(
            Locale.ROOT,
            "%s / %s (%+.1f MiB, %+.2f%%; within 5%%: %s)",
            mib(before),
            mib(after),
            (after - before) / (1024.0 * 1024.0),
            100.0 * (after - before) / before,
            after <= before * (1 + TOLERANCE) ? "yes" : "no"));
  }

  @Test
  @Order(1)
  void linearCallsKeepDeviceMemoryFlat() {
    CudaLinearKernel kernel = new CudaLinearKernel();
    Random r = new Random(7);
    // Native host memory, as the engine passes PyTorch's tensors.
    try (Arena arena = Arena.ofConfined();
        MxTensor t = randomWeight(1);
        MxTensor t8 = randomWeight(3, MxFormat.MXFP8_E4M3);
        PreparedWeight w = kernel.prepare(t);
        PreparedWeight w8 = kernel.prepare(t8)) {
      MemorySegment x = arena.allocate(4L * M_TENSOR * K, 64);
      for (long i = 0; i < (long) M_TENSOR * K; i++) {
        x.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) r.nextGaussian());
      }
      MemorySegment bias = arena.allocate(4L * N, 64);
      MemorySegment y = arena.allocate(4L * M_TENSOR * N, 64);
      for (int i = 0; i < 600; i++) {
        call(kernel, i, x, w, w8, bias, y);
      }
      long buffers = DeviceBuffer.liveBuffers();
      long before = deviceUsed();
      long t0 = System.nanoTime();
      for (int i = 0; i < 10_000; i++) {
        x.setAtIndex(ValueLayout.JAVA_FLOAT, i % (M * K), (float) Math.sin(i));
        call(kernel, i, x, w, w8, bias, y);
      }
      long after = deviceUsed();
      long nanos = System.nanoTime() - t0;
      long buffersAfter = DeviceBuffer.liveBuffers();
      assertTrue(
          Float.isFinite(y.getAtIndex(ValueLayout.JAVA_FLOAT, 0))
              && Float.isFinite(y.getAtIndex(ValueLayout.JAVA_FLOAT, (long) M * N - 1)),
          "finite output");
      recordFlat(
          "10,000 linear calls (a third each: MXFP6_E2M3 weight-only and with MXFP8 activations,"
              + " x [4, 1000]; MXFP8 weight and activations on tensor cores, x [32, 1000]; weights"
              + " [1024, 1000])",
          before,
          after);
      record(
          "10,000 linear calls: live device buffers before / after",
          buffers + " / " + buffersAfter);
      record(
          "10,000 linear calls: wall time (host copies in and out each call)",
          String.format(Locale.ROOT, "%.2f s", nanos / 1e9));
      assertEquals(buffers, buffersAfter, "linear calls left device buffers behind");
      assertTrue(
          after <= before * (1 + TOLERANCE),
          "device memory in use grew " + before + " -> " + after + " bytes");
    }
  }

  /** One of three paths, by {@code i}: weight-only, MX activations, FP8 tensor cores. */
  private static void call(
      CudaLinearKernel kernel,
      int i,
      MemorySegment x,
      PreparedWeight w,
      PreparedWeight w8,
      MemorySegment bias,
      MemorySegment y) {
    switch (i % 3) {
      case 0 ->
          kernel.linear(
              x.asSlice(0, 4L * M * K),
              M,
              w,
              bias,
              y.asSlice(0, 4L * M * N),
              null,
              ScaleMode.FLOOR);
      case 1 ->
          kernel.linear(
              x.asSlice(0, 4L * M * K),
              M,
              w,
              bias,
              y.asSlice(0, 4L * M * N),
              MxFormat.MXFP8_E4M3,
              ScaleMode.FLOOR);
      default -> kernel.linear(x, M_TENSOR, w8, bias, y, MxFormat.MXFP8_E4M3, ScaleMode.FLOOR);
    }
  }

  @Test
  @Order(2)
  void weightLoadCloseCyclesKeepDeviceMemoryFlat() {
    CudaLinearKernel kernel = new CudaLinearKernel();
    try (MxTensor t = randomWeight(2)) {
      for (int i = 0; i < 50; i++) {
        kernel.prepare(t).close();
      }
      long buffers = DeviceBuffer.liveBuffers();
      long before = deviceUsed();
      long t0 = System.nanoTime();
      long peak = 0;
      for (int i = 0; i < 1_000; i++) {
        try (PreparedWeight w = kernel.prepare(t)) {
          peak = Math.max(peak, w.byteSize());
        }
      }
      long after = deviceUsed();
      long nanos = System.nanoTime() - t0;
      long buffersAfter = DeviceBuffer.liveBuffers();
      recordFlat(
          "1,000 weight load / close cycles (CudaLinearKernel.prepare of a "
              + mib(peak)
              + " MXFP6_E2M3 weight [1024, 1000], then close)",
          before,
          after);
      record(
          "1,000 weight cycles: live device buffers before / after",
          buffers + " / " + buffersAfter);
      record(
          "1,000 weight cycles: what a leak of each weight would add",
          mib(1000 * peak) + " (" + peak + " B per weight)");
      record("1,000 weight cycles: wall time", String.format(Locale.ROOT, "%.2f s", nanos / 1e9));
      assertEquals(buffers, buffersAfter, "weight cycles left device buffers behind");
      assertTrue(
          after <= before * (1 + TOLERANCE),
          "device memory in use grew " + before + " -> " + after + " bytes");
    }
  }

  @AfterAll
  static void writeReport() {
    String target = System.getProperty(REPORT_PROPERTY);
    if (target == null || target.isBlank() || ROWS.isEmpty()) {
      return;
    }
    CudaBackend b = CudaBackend.get();
    long[] info = b.memoryInfo();
    StringBuilder sb = new StringBuilder();
    sb.append("# Reliability report: GPU resources\n\n")
        .append(
            "Generated by `io.djlmx.kernel.cuda.CudaResourceTest` (JUnit tag `gpu`), run on the")
        .append(" GPU machine by `scripts/gpu-run.sh`. Device memory in use is total minus free")
        .append(" (`cuMemGetInfo`) after `cuCtxSynchronize`, measured after a warm-up block; it")
        .append(" includes the CUDA context and the loaded kernels, so the 5% criterion is of that")
        .append(" footprint, and the live device buffer count must not change at all.\n\n");
    sb.append("- Date: ")
        .append(ZonedDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ISO_OFFSET_DATE_TIME))
        .append('\n')
        .append("- Device: ")
        .append(b.deviceName())
        .append(", compute capability ")
        .append(b.computeCapability())
        .append(", ")
        .append(mib(info[1]))
        .append(" total\n")
        .append("- JVM: ")
        .append(System.getProperty("java.runtime.version"))
        .append("\n\n| what | figure |\n|---|---|\n");
    synchronized (ROWS) {
      for (String[] row : ROWS) {
        sb.append("| ").append(row[0]).append(" | ").append(row[1]).append(" |\n");
      }
    }
    try {
      Path file = Path.of(target);
      if (file.toAbsolutePath().getParent() != null) {
        Files.createDirectories(file.toAbsolutePath().getParent());
      }
      Files.writeString(file, sb.toString(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + target, e);
    }
  }
}

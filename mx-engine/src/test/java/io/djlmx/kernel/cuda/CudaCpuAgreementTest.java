package io.djlmx.kernel.cuda;

import static org.junit.jupiter.api.Assertions.fail;

import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.format.ScaleMode;
import io.djlmx.kernel.PreparedWeight;
import io.djlmx.kernel.cpu.CpuLinearKernel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The same {@link MxTensor} weight through the CPU kernel and the CUDA kernel: results agree within
 * FP32 accumulation error (weight-only and weight + activation). Skipped without a CUDA device.
 */
@Tag("gpu")
class CudaCpuAgreementTest {

  private static final double TOL = 1e-4;

  @BeforeEach
  void requireDevice() {
    Assumptions.assumeTrue(
        CudaBackend.isAvailable(), () -> "no CUDA device: " + CudaBackend.unavailableReason());
  }

  @ParameterizedTest
  @EnumSource(MxFormat.class)
  void cpuAndGpuAgree(MxFormat f) {
    Random rnd = new Random(31 + f.ordinal());
    int[][] shapes = {{1, 300, 1000}, {3, 64, 333}, {17, 100, 96}, {40, 70, 130}};
    try (CpuLinearKernel cpu = new CpuLinearKernel()) {
      CudaLinearKernel gpu = new CudaLinearKernel();
      for (int[] s : shapes) {
        int m = s[0];
        int n = s[1];
        int k = s[2];
        float[] wf = HostMx.random(rnd, n * k, 0.05f);
        float[] xf = HostMx.random(rnd, m * k, 1f);
        float[] bf = HostMx.random(rnd, n, 0.1f);
        for (MxFormat act : new MxFormat[] {null, f}) {
          try (Arena arena = Arena.ofConfined();
              MxTensor wt = MxTensor.quantize(wf, new long[] {n, k}, f);
              PreparedWeight pc = cpu.prepare(wt);
              PreparedWeight pg = gpu.prepare(wt)) {
            MemorySegment x = arena.allocateFrom(ValueLayout.JAVA_FLOAT, xf);
            MemorySegment b = arena.allocateFrom(ValueLayout.JAVA_FLOAT, bf);
            MemorySegment yc = arena.allocate(4L * m * n, 16);
            MemorySegment yg = arena.allocate(4L * m * n, 16);
            yg.fill((byte) 0x7F); // NaN-ish poison: every output must be written
            cpu.linear(x, m, pc, b, yc, act, ScaleMode.FLOOR);
            gpu.linear(x, m, pg, b, yg, act, ScaleMode.FLOOR);
            double[] wv = HostMx.quantize(wf, n, k, f, ScaleMode.FLOOR).values();
            double[] xv =
                act == null
                    ? toDouble(xf)
                    : HostMx.quantize(xf, m, k, act, ScaleMode.FLOOR).values();
            for (int i = 0; i < m; i++) {
              for (int j = 0; j < n; j++) {
                double bound = Math.abs(bf[j]);
                for (int kk = 0; kk < k; kk++) {
                  bound += Math.abs(xv[i * k + kk] * wv[j * k + kk]);
                }
                float c = yc.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * n + j);
                float g = yg.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * n + j);
                if (!(Math.abs(c - g) <= TOL * bound)) {
                  fail(
                      String.format(
                          "%s act=%s m=%d n=%d k=%d: y[%d,%d] CPU %s vs GPU %s (sum|xw| %s)",
                          f, act, m, n, k, i, j, c, g, bound));
                }
              }
            }
          }
        }
      }
    }
  }

  private static double[] toDouble(float[] v) {
    double[] d = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      d[i] = v[i];
    }
    return d;
  }
}

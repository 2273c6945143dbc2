package io.djlmx.engine;

import io.djlmx.kernel.cpu.LaneSum;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.stream.LongStream;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/** Residual add and layer normalization over rows of FP32 values in native memory (Vector API). */
final class CpuLayerNorm {

  private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
  private static final ByteOrder ORDER = ByteOrder.nativeOrder();
  private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;

  /** Vector lanes; read once so that a JVM without the Vector API fails here, not mid-op. */
  static final int LANES = F.length();

  /** Elements from which one call is split over the common fork-join pool. */
  private static final long PARALLEL_ELEMENTS = 1L << 16;

  private CpuLayerNorm() {}

  /**
   * For each of {@code rows} rows of {@code width} floats: {@code s = x + res}, then {@code dst =
   * (s - mean(s)) / sqrt(var(s) + eps) · gamma + beta} with the biased variance (as PyTorch). Each
   * row is read whole before it is written, so {@code dst} may be {@code x} or {@code res}.
   */
  static void addLayerNorm(
      MemorySegment x,
      MemorySegment res,
      MemorySegment gamma,
      MemorySegment beta,
      float eps,
      long rows,
      int width,
      MemorySegment dst) {
    if (rows * width < PARALLEL_ELEMENTS || rows < 2) {
      rows(x, res, gamma, beta, eps, 0, rows, width, dst);
      return;
    }
    // rows are independent: chunks of rows over the common fork-join pool (a packed batch of
    // sentences is hundreds of rows; the caller's thread would otherwise do them alone)
    long chunk = Math.max(1, PARALLEL_ELEMENTS / 4 / width);
    long chunks = (rows + chunk - 1) / chunk;
    LongStream.range(0, chunks)
        .parallel()
        .forEach(
            c ->
                rows(
                    x,
                    res,
                    gamma,
                    beta,
                    eps,
                    c * chunk,
                    Math.min(rows, (c + 1) * chunk),
                    width,
                    dst));
  }

  /** Rows {@code [from, to)} of {@link #addLayerNorm}. */
  private static void rows(
      MemorySegment x,
      MemorySegment res,
      MemorySegment gamma,
      MemorySegment beta,
      float eps,
      long from,
      long to,
      int width,
      MemorySegment dst) {
    float[] s = new float[width];
    int bound = F.loopBound(width);
    for (long r = from; r < to; r++) {
      long base = r * width * (long) Float.BYTES;
      FloatVector acc = FloatVector.zero(F);
      int i = 0;
      for (; i < bound; i += LANES) {
        long off = base + (long) i * Float.BYTES;
        FloatVector v =
            FloatVector.fromMemorySegment(F, x, off, ORDER)
                .add(FloatVector.fromMemorySegment(F, res, off, ORDER));
        v.intoArray(s, i);
        acc = acc.add(v);
      }
      float sum = LaneSum.of(acc);
      for (; i < width; i++) {
        long off = base + (long) i * Float.BYTES;
        s[i] = x.get(FLOAT, off) + res.get(FLOAT, off);
        sum += s[i];
      }
      float mean = sum / width;
      FloatVector mv = FloatVector.broadcast(F, mean);
      FloatVector sq = FloatVector.zero(F);
      i = 0;
      for (; i < bound; i += LANES) {
        FloatVector d = FloatVector.fromArray(F, s, i).sub(mv);
        sq = d.fma(d, sq);
      }
      float var = LaneSum.of(sq);
      for (; i < width; i++) {
        float d = s[i] - mean;
        var += d * d;
      }
      float rstd = (float) (1.0 / Math.sqrt(var / width + eps));
      FloatVector rv = FloatVector.broadcast(F, rstd);
      i = 0;
      for (; i < bound; i += LANES) {
        FloatVector.fromArray(F, s, i)
            .sub(mv)
            .mul(rv)
            .fma(
                FloatVector.fromMemorySegment(F, gamma, (long) i * Float.BYTES, ORDER),
                FloatVector.fromMemorySegment(F, beta, (long) i * Float.BYTES, ORDER))
            .intoMemorySegment(dst, base + (long) i * Float.BYTES, ORDER);
      }
      for (; i < width; i++) {
        long p = (long) i * Float.BYTES;
        float y = Math.fma((s[i] - mean) * rstd, gamma.get(FLOAT, p), beta.get(FLOAT, p));
        dst.set(FLOAT, base + (long) i * Float.BYTES, y);
      }
    }
  }
}

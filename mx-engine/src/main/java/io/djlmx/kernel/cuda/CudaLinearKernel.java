package io.djlmx.kernel.cuda;

import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.format.ScaleMode;
import io.djlmx.kernel.LinearKernel;
import io.djlmx.kernel.PreparedWeight;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * {@link LinearKernel} on the GPU for host-memory callers: the weight is uploaded once by {@link
 * #prepare(MxTensor)}; each {@link #linear} copies x (and bias) to the device, runs {@link
 * CudaMxLinear} and copies y back. Device-resident callers use {@link CudaMxLinear} directly and
 * skip the copies.
 */
public final class CudaLinearKernel implements LinearKernel {

  /** Creates the kernel; the CUDA backend must be available ({@link CudaBackend#isAvailable()}). */
  public CudaLinearKernel() {
    CudaBackend.get();
  }

  /** {@inheritDoc} */
  @Override
  public PreparedWeight prepare(MxTensor weight) {
    Objects.requireNonNull(weight, "weight");
    if (weight.isClosed()) {
      throw new IllegalStateException("weight MxTensor is closed");
    }
    if (weight.blockSize() != MxFormat.DEFAULT_BLOCK_SIZE) {
      throw new IllegalArgumentException(
          "the CUDA kernels take blocks of 32, got block size " + weight.blockSize());
    }
    return new CudaPreparedWeight(
        CudaMxMatrix.upload(
            weight.format(), weight.rows(), weight.cols(), weight.codes(), weight.scales()));
  }

  /** {@inheritDoc} */
  @Override
  public void linear(
      MemorySegment x,
      long m,
      PreparedWeight w,
      MemorySegment bias,
      MemorySegment y,
      MxFormat activation,
      ScaleMode activationScale) {
    Objects.requireNonNull(x, "x");
    Objects.requireNonNull(y, "y");
    if (!(w instanceof CudaPreparedWeight pw)) {
      throw new IllegalArgumentException(
          "w must be prepared by CudaLinearKernel, got "
              + (w == null ? "null" : w.getClass().getName()));
    }
    long n = pw.rows();
    long k = pw.cols();
    if (m < 0) {
      throw new IllegalArgumentException("m must be >= 0, got " + m);
    }
    if (m == 0) {
      return;
    }
    checkSize("x", x, m * k);
    checkSize("y", y, m * n);
    if (bias != null) {
      checkSize("bias", bias, n);
    }
    try (DeviceBuffer dx = DeviceBuffer.allocate(4 * m * k);
        DeviceBuffer dy = DeviceBuffer.allocate(4 * m * n);
        DeviceBuffer db = bias == null ? null : DeviceBuffer.allocate(4 * n)) {
      dx.copyFrom(x.asSlice(0, 4 * m * k));
      if (db != null) {
        db.copyFrom(bias.asSlice(0, 4 * n));
      }
      CudaMxLinear.linear(dx, m, pw.matrix(), db, dy, activation, activationScale);
      dy.copyTo(y.asSlice(0, 4 * m * n));
    }
  }

  private static void checkSize(String name, MemorySegment s, long floats) {
    if (s.byteSize() < 4 * floats) {
      throw new IllegalArgumentException(
          name
              + " holds "
              + s.byteSize()
              + " bytes, needs "
              + 4 * floats
              + " ("
              + floats
              + " floats)");
    }
  }
}

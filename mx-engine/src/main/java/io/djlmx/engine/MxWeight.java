package io.djlmx.engine;

import ai.djl.ndarray.NDArray;
import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.kernel.LinearKernel;
import io.djlmx.kernel.PreparedWeight;

/**
 * The MX form of one {@code linear} weight, cached on its {@link MxNDArray} and tied to the array's
 * version: packed once, rebuilt only when the array changes, freed with the array.
 *
 * <p>Holds either a kernel's {@link PreparedWeight} (the fast path) or the packed {@link MxTensor}
 * plus its dequantized FP32 copy for PyTorch (the emulation path), or nothing for an excluded
 * parameter kept in FP32.
 */
final class MxWeight implements AutoCloseable {

  private final String name;
  private final long version;
  private final MxFormat format;
  private final long fp32Bytes;
  private long fingerprint;
  private LinearKernel kernel;
  private PreparedWeight prepared;
  private MxTensor tensor;
  private NDArray emulated;

  MxWeight(String name, long version, MxFormat format, long fp32Bytes) {
    this.name = name;
    this.version = version;
    this.format = format;
    this.fp32Bytes = fp32Bytes;
  }

  long fingerprint() {
    return fingerprint;
  }

  void setFingerprint(long fingerprint) {
    this.fingerprint = fingerprint;
  }

  String name() {
    return name;
  }

  long version() {
    return version;
  }

  /** Returns the weight format, or null when the parameter is kept in FP32. */
  MxFormat format() {
    return format;
  }

  boolean isExcluded() {
    return format == null;
  }

  long fp32Bytes() {
    return fp32Bytes;
  }

  /** Returns the bytes the MX form takes: the kernel's packed weight, else the MX tensor. */
  long mxBytes() {
    if (prepared != null) {
      return prepared.byteSize();
    }
    return tensor == null ? 0 : tensor.byteSize();
  }

  PreparedWeight prepared() {
    return prepared;
  }

  /** Returns the kernel that packed {@link #prepared()}, or null. */
  LinearKernel kernel() {
    return kernel;
  }

  void setPrepared(LinearKernel kernel, PreparedWeight prepared) {
    this.kernel = kernel;
    this.prepared = prepared;
  }

  MxTensor tensor() {
    return tensor;
  }

  void setTensor(MxTensor tensor) {
    this.tensor = tensor;
  }

  NDArray emulated() {
    return emulated;
  }

  void setEmulated(NDArray emulated) {
    this.emulated = emulated;
  }

  /** {@inheritDoc} */
  @Override
  public void close() {
    if (prepared != null) {
      prepared.close();
      prepared = null;
    }
    if (tensor != null) {
      tensor.close();
      tensor = null;
    }
    if (emulated != null) {
      emulated.close();
      emulated = null;
    }
  }
}

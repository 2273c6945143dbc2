package io.djlmx.checkpoint;

import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.format.ScaleMode;
import java.lang.foreign.MemorySegment;

/** Quantizes one weight into a checkpoint tensor, refusing non-finite values by name. */
final class WeightQuantizer {

  private WeightQuantizer() {}

  /**
   * Quantizes a weight blocked along its last axis in blocks of 32.
   *
   * @throws IllegalArgumentException if it holds NaN or infinity (naming parameter, row, block)
   */
  static CheckpointTensor quantize(
      String name, float[] values, long[] shape, MxFormat format, ScaleMode scale) {
    long cols = shape[shape.length - 1];
    for (int i = 0; i < values.length; i++) {
      if (!Float.isFinite(values[i])) {
        throw new IllegalArgumentException(
            "Parameter "
                + name
                + " holds "
                + values[i]
                + " in row "
                + i / cols
                + ", MX block "
                + (i % cols) / MxFormat.DEFAULT_BLOCK_SIZE
                + "; it cannot be quantized to "
                + format);
      }
    }
    MxTensor t =
        MxTensor.quantize(
            MemorySegment.ofArray(values), shape, format, scale, MxFormat.DEFAULT_BLOCK_SIZE);
    return new CheckpointTensor(name, shape, null, t);
  }
}

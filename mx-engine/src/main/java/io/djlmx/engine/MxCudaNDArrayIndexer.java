package io.djlmx.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDArrayIndexer;
import ai.djl.ndarray.index.full.NDIndexFullPick;
import ai.djl.ndarray.index.full.NDIndexFullSlice;
import ai.djl.ndarray.index.full.NDIndexFullTake;

/**
 * Indexing for MX GPU arrays: slices (fixed indices, ranges, steps, new and squeezed axes) are
 * strided copies on the device; writes through an index run on the host and are copied back
 * (counted fallbacks); pick and take by index arrays are not supported on the device.
 */
final class MxCudaNDArrayIndexer extends NDArrayIndexer {

  private final NDManager manager;

  MxCudaNDArrayIndexer(NDManager manager) {
    this.manager = manager;
  }

  private static MxCudaNDArray cuda(NDArray array) {
    if (array instanceof MxCudaNDArray c) {
      return c;
    }
    throw new IllegalArgumentException("not an MX GPU array: " + array.getClass().getName());
  }

  /** {@inheritDoc} */
  @Override
  public NDArray get(NDArray array, NDIndexFullSlice fullSlice) {
    for (long s : fullSlice.getStep()) {
      if (s <= 0) {
        throw new UnsupportedOperationException(
            "MX GPU arrays take slices with positive steps only");
      }
    }
    NDArray out =
        cuda(array)
            .slice(
                fullSlice.getMin(),
                fullSlice.getStep(),
                fullSlice.getShape(),
                fullSlice.getSqueezedShape());
    if (manager instanceof MxNDManager mx && mx != out.getManager() && mx.isDeviceResident()) {
      out.attach(mx);
    }
    return out;
  }

  /** {@inheritDoc} */
  @Override
  public NDArray get(NDArray array, NDIndexFullPick fullPick) {
    throw new UnsupportedOperationException(
        "MX GPU arrays do not support pick indexing; use gather or copy the array to the CPU");
  }

  /** {@inheritDoc} */
  @Override
  public NDArray get(NDArray array, NDIndexFullTake fullTake) {
    throw new UnsupportedOperationException(
        "MX GPU arrays do not support take indexing; use embedding or copy the array to the CPU");
  }

  /** {@inheritDoc} */
  @Override
  public void set(NDArray array, NDIndexFullSlice fullSlice, NDArray value) {
    cuda(array)
        .fallbackInPlace(
            "set",
            (f, h) ->
                h.getNDArrayInternal().getIndexer(f.manager()).set(h, fullSlice, f.host(value)));
  }

  /** {@inheritDoc} */
  @Override
  public void set(NDArray array, NDIndexFullSlice fullSlice, Number value) {
    cuda(array)
        .fallbackInPlace(
            "set",
            (f, h) -> h.getNDArrayInternal().getIndexer(f.manager()).set(h, fullSlice, value));
  }
}

package io.djlmx.zoo.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.lang.ref.WeakReference;

/**
 * Attention masks made from host values, remembered with those values so that {@link BertEncoder}
 * can pack the real tokens of a batch without reading a device mask back.
 *
 * <p>On a GPU, reading the mask back waits for all the work queued before it (the previous batch
 * included), so the host can no longer queue one batch while the device runs the other. The
 * translators build the mask on the host anyway: {@link #create} uploads it and keeps the host
 * values for the calling thread, where the translator's forward pass runs next. The encoder uses
 * them only for that very array (identity, not contents) and otherwise reads the mask as before. A
 * mask made here must not be modified afterwards.
 */
public final class HostMask {

  private static final ThreadLocal<Entry> LAST = new ThreadLocal<>();

  private record Entry(WeakReference<NDArray> array, long[] values) {}

  private HostMask() {}

  /**
   * Creates a mask array on {@code manager} and remembers its values for this thread.
   *
   * @param manager the manager (and device) of the mask
   * @param values the mask, row-major {@code [batch, seq]}, 1 for tokens and 0 for padding
   * @param shape {@code [batch, seq]}
   * @return the mask array
   */
  public static NDArray create(NDManager manager, long[] values, Shape shape) {
    NDArray mask = manager.create(values, shape);
    LAST.set(new Entry(new WeakReference<>(mask), values.clone()));
    return mask;
  }

  /**
   * Returns the host values of {@code mask} if this thread made it with {@link #create}, else null.
   *
   * @param mask the mask the encoder was given
   * @return its values, or null
   */
  static long[] values(NDArray mask) {
    Entry e = LAST.get();
    if (e == null || e.array().get() != mask) {
      return null;
    }
    return e.values();
  }
}

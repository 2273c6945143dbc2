package io.djlmx.attention.djl;

import ai.djl.ndarray.NDManager;
import io.djlmx.attention.AttentionShape;
import io.djlmx.kernel.cuda.CudaAttention;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.WeakHashMap;
import java.util.function.Consumer;

/**
 * The {@link CudaAttention} scratch (quantized Q, K and V and their scales) kept for the attention
 * calls made with one NDManager, such as a model's layers within one forward pass. Creating it
 * costs nine device allocations, their frees and a memset per call, which made a DJL-level call
 * host-bound. The instances are closed with the manager. Each manager keeps at most {@link
 * #MAX_SHAPES} shapes (a shape with each P·V precision counts as two), and the least recently used
 * one is closed first.
 *
 * <p>Reuse is safe across threads. A forward is enqueued while holding the scratch's lock, and
 * every launch and every stream-ordered free runs on the one stream. A later forward's quantization
 * therefore runs after an earlier forward's kernel has read the buffers.
 */
final class GpuAttentionScratch implements AutoCloseable {

  /** The most scratch instances (shapes, each with its P·V precision) one manager keeps. */
  static final int MAX_SHAPES = 4;

  private static final Map<NDManager, GpuAttentionScratch> BY_MANAGER =
      Collections.synchronizedMap(new WeakHashMap<>());

  // no reference to the manager: the weak map's entry must not keep it alive
  private final LinkedHashMap<Key, CudaAttention> byKey = new LinkedHashMap<>(8, 0.75f, true);
  private boolean closed;

  private GpuAttentionScratch() {}

  /** A scratch's identity: the attention's sizes and its P·V precision (V's bytes differ). */
  private record Key(AttentionShape shape, boolean fp16PV) {}

  /**
   * Runs one forward on the scratch for this shape and P·V precision (FP32 inputs), kept with the
   * manager.
   *
   * @param manager the manager of the call's arrays; the scratch is closed with it
   * @param shape the attention's sizes
   * @param fp16PV true for FP16 P·V, false for FP8 E4M3 P·V
   * @param forward enqueues the launches on the scratch
   */
  static void run(
      NDManager manager, AttentionShape shape, boolean fp16PV, Consumer<CudaAttention> forward) {
    GpuAttentionScratch s;
    GpuAttentionScratch created = null;
    synchronized (BY_MANAGER) {
      s = BY_MANAGER.get(manager);
      if (s == null) {
        s = created = new GpuAttentionScratch();
        BY_MANAGER.put(manager, s);
      }
    }
    if (created != null) {
      // outside the map's lock: the manager's close, which may hold its own lock, takes the map's
      try {
        manager.attachInternal("mx-attention-scratch-" + UUID.randomUUID(), created);
      } catch (RuntimeException e) {
        created.close();
        throw e;
      }
    }
    s.forward(new Key(shape, fp16PV), forward);
  }

  private synchronized void forward(Key key, Consumer<CudaAttention> forward) {
    if (closed) {
      // the manager closed between the lookup and here: a one-off scratch, as before
      try (CudaAttention att = CudaAttention.create(key.shape(), key.fp16PV())) {
        forward.accept(att);
      }
      return;
    }
    CudaAttention att = byKey.get(key);
    if (att == null) {
      att = CudaAttention.create(key.shape(), key.fp16PV());
      byKey.put(key, att);
      if (byKey.size() > MAX_SHAPES) {
        Iterator<CudaAttention> eldest = byKey.values().iterator();
        CudaAttention old = eldest.next();
        eldest.remove();
        old.close();
      }
    }
    forward.accept(att);
  }

  /**
   * How many scratch instances (one per shape and P·V precision) this manager keeps, for tests.
   *
   * @param manager the manager
   * @return the count, 0 when it has none
   */
  static int shapes(NDManager manager) {
    GpuAttentionScratch s = BY_MANAGER.get(manager);
    if (s == null) {
      return 0;
    }
    synchronized (s) {
      return s.byKey.size();
    }
  }

  /** Frees every kept scratch; called when the manager closes. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    BY_MANAGER.values().remove(this);
    RuntimeException first = null;
    for (CudaAttention att : byKey.values()) {
      try {
        att.close();
      } catch (RuntimeException e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    byKey.clear();
    if (first != null) {
      throw first;
    }
  }
}

package io.djlmx.zoo.bert;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * {@link HostMask}: the encoder's packing uses the remembered host values only for the very array
 * made with them, on the thread that made it, and packs exactly as from the array's contents.
 */
class HostMaskTest {

  private static final long[] MASK = {1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1};
  private static final Shape SHAPE = new Shape(3, 5);

  @Test
  void valuesBelongToTheArrayAndThread() throws InterruptedException {
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      long[] values = MASK.clone();
      NDArray mask = HostMask.create(m, values, SHAPE);
      values[0] = 0; // the caller's array may change: a copy was kept
      assertArrayEquals(MASK, HostMask.values(mask));
      assertArrayEquals(MASK, mask.toLongArray());
      NDArray same = m.create(MASK, SHAPE);
      assertNull(HostMask.values(same), "same contents, another array");
      AtomicReference<long[]> seen = new AtomicReference<>(new long[0]);
      Thread t = new Thread(() -> seen.set(HostMask.values(mask)));
      t.start();
      t.join();
      assertNull(seen.get(), "another thread");
      NDArray next = HostMask.create(m, new long[] {1, 0}, new Shape(1, 2));
      assertNull(HostMask.values(mask), "only the latest mask of a thread is kept");
      assertNotNull(HostMask.values(next));
    }
  }

  @Test
  void packingFromHostValuesEqualsPackingFromContents() {
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      TokenPacking fromHost = TokenPacking.of(HostMask.create(m, MASK, SHAPE), m);
      TokenPacking fromArray = TokenPacking.of(m.create(MASK, SHAPE), m);
      assertNotNull(fromHost);
      assertNotNull(fromArray);
      assertEquals(fromArray.tokens(), fromHost.tokens());
      assertArrayEquals(fromArray.starts(), fromHost.starts());
      assertArrayEquals(fromArray.lengths(), fromHost.lengths());
      // a one-row mask: two tokens, then padding
      NDArray odd = HostMask.create(m, new long[] {1, 1, 0}, new Shape(1, 3));
      assertEquals(2, TokenPacking.of(odd, m).tokens());
    }
  }
}

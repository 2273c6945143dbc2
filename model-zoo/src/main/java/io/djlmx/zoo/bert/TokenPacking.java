package io.djlmx.zoo.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;

/**
 * The real tokens of a padded batch packed into consecutive rows, so that the per-token work of a
 * transformer layer (projections, feed-forward, layer norms) skips the padding: a batch of
 * sentences is padded to its longest, and in a batch of real sentences half the positions or more
 * are padding. Only attention needs the padded {@code [batch, seq]} layout; {@link #spread} makes
 * it and {@link #pack} returns to the packed rows.
 *
 * <p>Padded positions in {@link #spread}'s result hold a copy of their sequence's first token: the
 * attention mask hides them as keys, and what they produce as queries is dropped by {@link #pack}.
 */
final class TokenPacking {

  private final int batch;
  private final int seq;
  private final NDArray rows;
  private final long[] spreadIndex;
  private final NDManager manager;
  private NDArray spread;
  private final NDArray spreadZero;
  private final int tokens;
  private final int[] starts;
  private final int[] lengths;

  private TokenPacking(
      int batch,
      int seq,
      int tokens,
      int[] starts,
      int[] lengths,
      NDArray rows,
      long[] spreadIndex,
      NDManager manager,
      NDArray spreadZero) {
    this.batch = batch;
    this.seq = seq;
    this.tokens = tokens;
    this.starts = starts;
    this.lengths = lengths;
    this.rows = rows;
    this.spreadIndex = spreadIndex;
    this.manager = manager;
    this.spreadZero = spreadZero;
  }

  /**
   * Returns the packing of a batch, or null where packing does not apply or would not pay: no
   * padding, a mask that is not 0/1, a sequence without any token. The mask is read on the host
   * (one copy from a GPU, unless {@link HostMask} has its values); the index arrays are made on
   * {@code manager}'s device, so on a GPU the gathers run there.
   *
   * @param mask the attention mask {@code [batch, seq]}, 1 for tokens and 0 for padding
   * @param manager the manager the index arrays are made on (they live as long as it)
   * @return the packing, or null
   */
  static TokenPacking of(NDArray mask, NDManager manager) {
    Shape s = mask.getShape();
    if (s.dimension() != 2 || s.size() > Integer.MAX_VALUE) {
      return null;
    }
    int batch = (int) s.get(0);
    int seq = (int) s.get(1);
    long[] m = HostMask.values(mask);
    if (m == null || m.length != s.size()) {
      NDArray asLong = mask.toType(DataType.INT64, false);
      m = asLong.toLongArray();
      if (asLong != mask) {
        asLong.close();
      }
    }
    int tokens = 0;
    for (long v : m) {
      if (v != 0 && v != 1) {
        return null;
      }
      tokens += (int) v;
    }
    if (tokens == m.length) {
      return null; // no padding: the layers run as they are
    }
    long[] rows = new long[tokens];
    long[] spread = new long[m.length];
    long[] spreadZero = new long[m.length];
    int[] starts = new int[batch];
    int[] lengths = new int[batch];
    int t = 0;
    for (int b = 0; b < batch; b++) {
      int first = -1;
      starts[b] = t;
      for (int j = 0; j < seq; j++) {
        int p = b * seq + j;
        if (m[p] == 1) {
          if (first < 0) {
            first = t;
          }
          rows[t] = p;
          spread[p] = t;
          spreadZero[p] = t;
          t++;
        } else {
          spreadZero[p] = tokens; // the zero row appended by unpack
        }
      }
      if (first < 0) {
        return null; // a sequence of padding only: nothing to stand in for its positions
      }
      lengths[b] = t - first;
      for (int j = 0; j < seq; j++) {
        int p = b * seq + j;
        if (m[p] == 0) {
          spread[p] = first;
        }
      }
    }
    return new TokenPacking(
        batch,
        seq,
        tokens,
        starts,
        lengths,
        manager.create(rows),
        spread,
        manager,
        manager.create(spreadZero));
  }

  /**
   * Returns the real tokens' rows of {@code x}.
   *
   * @param x {@code [batch, seq, width]}
   * @return {@code [tokens, width]}
   */
  NDArray pack(NDArray x) {
    long width = x.getShape().get(2);
    return gather(rows, x.reshape(batch * (long) seq, width));
  }

  /**
   * Returns the padded layout of packed rows, padding holding a copy of its sequence's first token.
   *
   * @param packed {@code [tokens, width]}
   * @return {@code [batch, seq, width]}
   */
  NDArray spread(NDArray packed) {
    long width = packed.getShape().get(1);
    if (spread == null) {
      // made on first use: an attention core that attends to packed rows never needs it
      spread = manager.create(spreadIndex);
    }
    return gather(spread, packed).reshape(batch, seq, width);
  }

  /**
   * Returns the padded layout of packed rows with zeros at padding (the encoder's output).
   *
   * @param packed {@code [tokens, width]}
   * @return {@code [batch, seq, width]}
   */
  NDArray unpack(NDArray packed) {
    long width = packed.getShape().get(1);
    NDArray zero = packed.getManager().zeros(new Shape(1, width), packed.getDataType());
    NDArray table = packed.concat(zero, 0);
    NDArray out = gather(spreadZero, table).reshape(batch, seq, width);
    zero.close();
    table.close();
    return out;
  }

  /**
   * Returns the number of real tokens.
   *
   * @return the packed rows
   */
  int tokens() {
    return tokens;
  }

  /**
   * Returns the first packed row of each sequence.
   *
   * @return one entry per sequence of the batch
   */
  int[] starts() {
    return starts.clone();
  }

  /**
   * Returns the number of real tokens of each sequence.
   *
   * @return one entry per sequence of the batch
   */
  int[] lengths() {
    return lengths.clone();
  }

  private static NDArray gather(NDArray index, NDArray table) {
    return index
        .getNDArrayInternal()
        .embedding(index, table, SparseFormat.DENSE)
        .singletonOrThrow();
  }
}

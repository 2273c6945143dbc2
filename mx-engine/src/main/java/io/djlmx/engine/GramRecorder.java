package io.djlmx.engine;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Accumulates, per tracked {@code linear} weight, the Gram matrix {@code H = Σ xᵀx} of the inputs
 * that {@link MxLinear} sees, in FP64 on PyTorch. Fed by {@link MxLinear#linear} while it is the
 * active recorder ({@link MxLinear#startRecording}).
 *
 * <p>Projections that read the same input array in a row (query, key and value of one attention
 * block) share one product: the last input and its Gram matrix are remembered by identity.
 */
final class GramRecorder implements AutoCloseable {

  private final NDManager manager;
  private final Map<NDArray, Entry> entries = new IdentityHashMap<>();
  private NDArray lastInput;
  private NDArray lastGram;

  /** One weight's statistics. */
  static final class Entry {
    final String name;
    final NDArray weight;
    final NDArray gram;
    long samples;

    Entry(String name, NDArray weight, NDArray gram) {
      this.name = name;
      this.weight = weight;
      this.gram = gram;
    }
  }

  /**
   * Creates a recorder for the given weights.
   *
   * @param weights the weight arrays {@code [n, k]} by parameter name
   */
  GramRecorder(Map<String, NDArray> weights) {
    manager = Engine.getEngine(MxEngine.PYTORCH).newBaseManager();
    manager.setName("mxCalibration");
    try {
      for (Map.Entry<String, NDArray> e : weights.entrySet()) {
        long k = e.getValue().getShape().get(1);
        NDArray gram = manager.zeros(new Shape(k, k), DataType.FLOAT64);
        entries.put(e.getValue(), new Entry(e.getKey(), e.getValue(), gram));
      }
    } catch (RuntimeException ex) {
      manager.close();
      throw ex;
    }
  }

  /** Returns whether {@code weight} is one of the tracked weights. */
  boolean tracks(NDArray weight) {
    return entries.containsKey(weight);
  }

  /**
   * Adds one call's input to the weight's Gram matrix.
   *
   * @param weight a tracked weight
   * @param input the input {@code [..., k]} (MX or PyTorch array, any floating type)
   */
  synchronized void add(NDArray weight, NDArray input) {
    Entry entry = entries.get(weight);
    NDArray x = MxNDArray.unwrap(input);
    long k = x.getShape().get(x.getShape().dimension() - 1);
    long rows = k == 0 ? 0 : x.getShape().size() / k;
    if (rows == 0) {
      return;
    }
    if (x != lastInput) {
      if (lastGram != null) {
        lastGram.close();
      }
      NDArray flat = x.reshape(rows, k);
      NDArray x64 = flat.toType(DataType.FLOAT64, true);
      NDArray xt = x64.transpose();
      NDArray g = xt.matMul(x64);
      flat.close();
      x64.close();
      xt.close();
      // the product lives on the input's manager: move it to ours, it outlives the call
      g.attach(manager);
      lastGram = g;
      lastInput = x;
    }
    entry.gram.addi(lastGram);
    entry.samples += rows;
  }

  /**
   * Returns the statistics recorded so far, in the order the weights were given.
   *
   * @return name to statistics
   */
  synchronized Map<String, LinearInputStatistics> statistics() {
    Map<String, LinearInputStatistics> out = new LinkedHashMap<>();
    for (Entry e : entries.values()) {
      int k = Math.toIntExact(e.gram.getShape().get(0));
      out.put(
          e.name,
          new LinearInputStatistics(e.name, e.weight, k, e.samples, e.gram.toDoubleArray()));
    }
    return out;
  }

  /** {@inheritDoc} */
  @Override
  public synchronized void close() {
    lastInput = null;
    lastGram = null;
    manager.close();
  }
}

package io.djlmx.engine;

import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * One op of GPU arrays run on the host: copies its GPU arguments into PyTorch CPU arrays of a
 * temporary manager, and the results back into GPU arrays; closing it frees every host copy. Each
 * use is recorded in {@link MxFallbacks}.
 */
final class HostFallback implements AutoCloseable {

  private final MxNDManager gpu;
  private final PtNDManager temp;
  private final Map<MxCudaNDArray, PtNDArray> hostOf = new IdentityHashMap<>();
  private final Map<PtNDArray, MxCudaNDArray> deviceOf = new IdentityHashMap<>();

  private HostFallback(MxNDManager gpu, PtNDManager temp) {
    this.gpu = gpu;
    this.temp = temp;
  }

  /**
   * Starts a fallback of {@code op} for arrays of {@code gpu}.
   *
   * @throws EngineException naming the op when the engine has no host engine
   */
  static HostFallback begin(String op, MxNDManager gpu) {
    MxFallbacks.record(op);
    PtNDManager shadow;
    try {
      shadow = gpu.getShadow();
    } catch (EngineException e) {
      throw new EngineException(
          "Op '"
              + op
              + "' on an MX GPU array has no CUDA kernel and must run on the host, but "
              + e.getMessage(),
          e);
    }
    return new HostFallback(gpu, (PtNDManager) shadow.newSubManager());
  }

  /** The PyTorch manager that holds this fallback's host arrays. */
  PtNDManager manager() {
    return temp;
  }

  /** Returns the host copy of a GPU array (made once per fallback). */
  PtNDArray host(MxCudaNDArray a) {
    PtNDArray h = hostOf.get(a);
    if (h == null) {
      h = (PtNDArray) temp.create(a.toByteBuffer(), a.getShape(), a.getDataType());
      h.setName(a.getName());
      hostOf.put(a, h);
      deviceOf.put(h, a);
    }
    return h;
  }

  /** Returns what PyTorch code can take for {@code a}: host copies of GPU arrays. */
  NDArray host(NDArray a) {
    if (a instanceof MxCudaNDArray c) {
      return host(c);
    }
    return MxNDArray.unwrap(a);
  }

  NDList host(NDList list) {
    if (list == null) {
      return null;
    }
    NDList out = new NDList(list.size());
    for (NDArray a : list) {
      out.add(host(a));
    }
    return out;
  }

  NDArray[] host(NDArray[] arrays) {
    if (arrays == null) {
      return null;
    }
    NDArray[] out = new NDArray[arrays.length];
    for (int i = 0; i < arrays.length; i++) {
      out[i] = host(arrays[i]);
    }
    return out;
  }

  /**
   * Brings a result back: host arrays become GPU arrays (a host copy of an argument, returned by an
   * in-place op, is written back into that argument); lists element by element; anything else as
   * is.
   */
  @SuppressWarnings("unchecked")
  <T> T back(T result) {
    if (result instanceof PtNDArray pt) {
      MxCudaNDArray arg = deviceOf.get(pt);
      if (arg != null) {
        arg.setFromHost(pt);
        return (T) arg;
      }
      return (T) MxCudaNDArray.fromHost(gpu, pt);
    }
    if (result instanceof NDList list) {
      NDList out = new NDList(list.size());
      for (NDArray a : list) {
        out.add(back(a));
      }
      return (T) out;
    }
    if (result instanceof NDArray[] arrays) {
      NDArray[] out = new NDArray[arrays.length];
      for (int i = 0; i < arrays.length; i++) {
        out[i] = back(arrays[i]);
      }
      return (T) out;
    }
    return result;
  }

  /** Writes every host copy back into its GPU array (after an op that modifies its arguments). */
  void syncBack() {
    for (Map.Entry<MxCudaNDArray, PtNDArray> e : hostOf.entrySet()) {
      e.getKey().setFromHost(e.getValue());
    }
  }

  /** Frees the host copies and host results. */
  @Override
  public void close() {
    temp.close();
  }
}

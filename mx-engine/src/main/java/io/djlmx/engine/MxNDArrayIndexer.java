package io.djlmx.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDArrayIndexer;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.index.dim.NDIndexBooleans;
import ai.djl.ndarray.index.dim.NDIndexElement;
import ai.djl.ndarray.index.dim.NDIndexPick;
import ai.djl.ndarray.index.dim.NDIndexTake;
import ai.djl.ndarray.index.full.NDIndexFullPick;
import ai.djl.ndarray.index.full.NDIndexFullSlice;
import ai.djl.ndarray.index.full.NDIndexFullTake;
import java.util.List;

/**
 * Indexing for MX arrays: PyTorch's indexer applied to the PyTorch arrays.
 *
 * <p>The target array and every array inside an {@link NDIndex} are unwrapped first: PyTorch's
 * indexer would otherwise write into a copy of an MX array (a lost write) or fail on an MX index.
 */
final class MxNDArrayIndexer extends NDArrayIndexer {

  private final NDManager manager;

  MxNDArrayIndexer(NDManager manager) {
    this.manager = manager;
  }

  private NDArrayIndexer pytorch(NDArray array) {
    return MxNDArray.unwrap(array).getNDArrayInternal().getIndexer(MxNDManager.shadowOf(manager));
  }

  private NDArray wrap(NDArray array, NDArray result) {
    if (array instanceof MxNDArray mx) {
      return mx.wrap(result);
    }
    return result;
  }

  private static void modified(NDArray array) {
    if (array instanceof MxNDArray mx) {
      mx.markModified();
    }
  }

  /**
   * Returns {@code index} with every MX array in it replaced by its PyTorch array; the index itself
   * when it holds none.
   */
  static NDIndex unwrap(NDIndex index) {
    List<NDIndexElement> elements = index.getIndices();
    boolean hasMx = false;
    for (NDIndexElement e : elements) {
      hasMx |= arrayOf(e) instanceof MxNDArray;
    }
    if (!hasMx) {
      return index;
    }
    NDIndex copy = new NDIndex();
    for (int i = 0; i < elements.size(); i++) {
      if (index.getEllipsisIndex() == i) {
        copy.addEllipseDim();
      }
      NDIndexElement e = elements.get(i);
      NDArray a = arrayOf(e);
      NDIndexElement replaced = e;
      if (a instanceof MxNDArray) {
        NDArray pt = MxNDArray.unwrap(a);
        if (e instanceof NDIndexPick) {
          replaced = new NDIndexPick(pt);
        } else if (e instanceof NDIndexBooleans) {
          replaced = new NDIndexBooleans(pt);
        } else {
          replaced = new NDIndexTake(pt);
        }
      }
      // NDIndex has no public add(element): reserve the element's rank, then swap the element in.
      int rank = replaced.getRank();
      copy.addAllDim(rank);
      List<NDIndexElement> list = copy.getIndices();
      for (int r = 0; r < rank; r++) {
        list.remove(list.size() - 1);
      }
      list.add(replaced);
    }
    if (index.getEllipsisIndex() == elements.size()) {
      copy.addEllipseDim();
    }
    return copy;
  }

  private static NDArray arrayOf(NDIndexElement e) {
    if (e instanceof NDIndexPick p) {
      return p.getIndex();
    } else if (e instanceof NDIndexBooleans b) {
      return b.getIndex();
    } else if (e instanceof NDIndexTake t) {
      return t.getIndex();
    }
    return null;
  }

  /** {@inheritDoc} */
  @Override
  public NDArray get(NDArray array, NDIndex index) {
    return wrap(array, pytorch(array).get(MxNDArray.unwrap(array), unwrap(index)));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray get(NDArray array, NDIndexFullPick fullPick) {
    return wrap(array, pytorch(array).get(MxNDArray.unwrap(array), fullPick));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray get(NDArray array, NDIndexFullTake fullTake) {
    return wrap(array, pytorch(array).get(MxNDArray.unwrap(array), fullTake));
  }

  /** {@inheritDoc} */
  @Override
  public NDArray get(NDArray array, NDIndexFullSlice fullSlice) {
    return wrap(array, pytorch(array).get(MxNDArray.unwrap(array), fullSlice));
  }

  /** {@inheritDoc} */
  @Override
  public void set(NDArray array, NDIndex index, Object value) {
    Object v = value instanceof NDArray a ? MxNDArray.unwrap(a) : value;
    pytorch(array).set(MxNDArray.unwrap(array), unwrap(index), v);
    modified(array);
  }

  /** {@inheritDoc} */
  @Override
  public void set(NDArray array, NDIndexFullSlice fullSlice, NDArray value) {
    pytorch(array).set(MxNDArray.unwrap(array), fullSlice, MxNDArray.unwrap(value));
    modified(array);
  }

  /** {@inheritDoc} */
  @Override
  public void set(NDArray array, NDIndexBooleans indices, NDArray value) {
    NDIndexBooleans pt = new NDIndexBooleans(MxNDArray.unwrap(indices.getIndex()));
    pytorch(array).set(MxNDArray.unwrap(array), pt, MxNDArray.unwrap(value));
    modified(array);
  }

  /** {@inheritDoc} */
  @Override
  public void set(NDArray array, NDIndexFullSlice fullSlice, Number value) {
    pytorch(array).set(MxNDArray.unwrap(array), fullSlice, value);
    modified(array);
  }

  /** {@inheritDoc} */
  @Override
  public void setScalar(NDArray array, NDIndex index, Number value) {
    pytorch(array).setScalar(MxNDArray.unwrap(array), unwrap(index), value);
    modified(array);
  }
}

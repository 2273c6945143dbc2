package io.djlmx.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.training.GradientCollector;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Records gradients on PyTorch for MX arrays.
 *
 * <p>While one is open, {@link MxLinear} runs {@code linear} on PyTorch in FP32 (the Java kernels
 * are not differentiable), so training an MX model is training on PyTorch's FP32 path. PyTorch
 * allows one collector at a time in a process.
 */
public final class MxGradientCollector implements GradientCollector {

  private static final AtomicInteger ACTIVE = new AtomicInteger();

  private final GradientCollector pytorch;
  private boolean closed;

  MxGradientCollector(GradientCollector pytorch) {
    this.pytorch = pytorch;
    ACTIVE.incrementAndGet();
  }

  /**
   * Returns whether a gradient collector is open anywhere in this process.
   *
   * @return true while gradients are being recorded
   */
  public static boolean isRecording() {
    return ACTIVE.get() > 0;
  }

  /** {@inheritDoc} */
  @Override
  public void backward(NDArray target) {
    pytorch.backward(MxNDArray.unwrap(target));
  }

  /** {@inheritDoc} */
  @Override
  public void zeroGradients() {
    pytorch.zeroGradients();
  }

  /** {@inheritDoc} */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      ACTIVE.decrementAndGet();
      pytorch.close();
    }
  }
}

package io.djlmx.zoo.bert;

import ai.djl.ndarray.NDArray;

/**
 * Rounds the input of each linear projection, to measure weight + activation quantization on an
 * engine whose {@code linear} does not quantize activations itself.
 */
@FunctionalInterface
public interface ActivationQuantizer {

  /** Leaves activations in FP32 (weight-only quantization or none). */
  ActivationQuantizer NONE = x -> x;

  /**
   * Returns the activations as the linear kernel would see them.
   *
   * @param x the projection input, blocked along its last axis
   * @return the rounded activations (may be {@code x} itself)
   */
  NDArray apply(NDArray x);
}

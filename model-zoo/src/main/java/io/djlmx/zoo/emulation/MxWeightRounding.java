package io.djlmx.zoo.emulation;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.util.Pair;
import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;

/**
 * Rounds the weights of every {@link Linear} in a block to an MX format in place (blocks of 32
 * along the input axis, FLOOR scale), keeping them as FP32 arrays: the weights an MX kernel
 * computes with, for engines whose {@code linear} is not MX (PyTorch), e.g. to measure accuracy.
 */
public final class MxWeightRounding {

  private MxWeightRounding() {}

  /**
   * Rounds every {@link Linear} weight of a block and its children.
   *
   * @param block an initialized block
   * @param format the weight format
   * @return the number of weights rounded
   */
  public static int roundLinearWeights(Block block, MxFormat format) {
    int count = 0;
    if (block instanceof Linear) {
      for (Pair<String, Parameter> p : block.getDirectParameters()) {
        if (p.getValue().getType() == Parameter.Type.WEIGHT) {
          round(p.getValue().getArray(), format);
          count++;
        }
      }
    }
    for (Pair<String, Block> child : block.getChildren()) {
      count += roundLinearWeights(child.getValue(), format);
    }
    return count;
  }

  private static void round(NDArray weight, MxFormat format) {
    try (MxTensor t =
        MxTensor.quantize(weight.toFloatArray(), weight.getShape().getShape(), format)) {
      weight.set(t.dequantize());
    }
  }
}

package io.djlmx.attention;

/**
 * The sizes of one attention call: batch, heads, query length, key length and head dimension.
 *
 * @param batch the batch size B
 * @param heads the number of heads H
 * @param queryLength the query sequence length Sq
 * @param keyLength the key/value sequence length Sk
 * @param headDim the head dimension D
 */
public record AttentionShape(int batch, int heads, int queryLength, int keyLength, int headDim) {

  /**
   * Validates the sizes.
   *
   * @throws IllegalArgumentException naming the first size that is not positive
   */
  public AttentionShape {
    check("batch", batch);
    check("heads", heads);
    check("query length", queryLength);
    check("key length", keyLength);
    check("head dim", headDim);
  }

  private static void check(String what, int value) {
    if (value < 1) {
      throw new IllegalArgumentException("Attention " + what + " must be >= 1, got " + value);
    }
  }

  /**
   * Returns the multiply-add work of the call counted as 4·B·H·Sq·Sk·D operations (Q·Kᵀ and P·V).
   *
   * @return the operation count
   */
  public double operations() {
    return 4.0 * batch * heads * (double) queryLength * keyLength * headDim;
  }
}

package io.djlmx.zoo.checkpoint;

import io.djlmx.format.MxFormat;
import io.djlmx.format.ScaleMode;
import java.util.Objects;

/**
 * How the zoo makes a checkpoint's MX weights when the user does not say: the shared-scale rule and
 * the rounding, per format.
 *
 * <p>MXFP6_E2M3 (the zoo's default format) and MXINT8 keep the spec's FLOOR scale and
 * round-to-nearest: they meet their accuracy targets that way and convert in about two seconds. The
 * formats whose FLOOR scale clips a wide band of block maxima (E4M3: 448 against up to 511, E3M2:
 * 28 against 31, E2M1: 6 against 7.5) take RCEIL scales and calibrated rounding (error feedback,
 * then coordinate descent): on MiniLM that lifts MXFP8_E4M3 from 0.9979 to 0.9991 mean cosine to
 * FP32 (target 0.999), MXFP6_E3M2 from 0.9933 to 0.9963 (target 0.995) and MXFP4_E2M1 from 0.959 to
 * 0.977 ({@code docs/ACCURACY.md}). The price is a slower first load (the calibration pass, about
 * 40 s on two cores); cached loads are unchanged.
 *
 * @param scale the shared-scale rule
 * @param rounding how the codes are chosen
 */
public record WeightRecipe(ScaleMode scale, WeightRounding rounding) {

  /**
   * Creates a recipe.
   *
   * @param scale the shared-scale rule
   * @param rounding how the codes are chosen
   */
  public WeightRecipe {
    Objects.requireNonNull(scale, "scale");
    Objects.requireNonNull(rounding, "rounding");
  }

  /**
   * Returns the zoo's recipe for a weight format.
   *
   * @param format the weight format, or null for FP32 (no recipe applies: FLOOR, round to nearest)
   * @return the recipe
   */
  public static WeightRecipe defaultFor(MxFormat format) {
    if (format == MxFormat.MXFP8_E4M3
        || format == MxFormat.MXFP8_E5M2
        || format == MxFormat.MXFP6_E3M2
        || format == MxFormat.MXFP4_E2M1) {
      return new WeightRecipe(ScaleMode.RCEIL, WeightRounding.GPTQ);
    }
    return new WeightRecipe(ScaleMode.FLOOR, WeightRounding.RTN);
  }
}

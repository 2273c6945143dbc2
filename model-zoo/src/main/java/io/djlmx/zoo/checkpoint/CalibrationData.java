package io.djlmx.zoo.checkpoint;

import java.util.Map;

/**
 * What calibrated rounding needs for an encoder: each linear weight's input Gram matrix.
 *
 * @param grams {@code Σ xᵀx} over the calibration inputs, row-major {@code [in, in]}, by Hugging
 *     Face weight name
 * @param damping the damping relative to each matrix's mean diagonal
 * @param description what the statistics were recorded on, stored in the checkpoint's metadata
 * @param refinePasses the most coordinate-descent passes over each row after the error feedback
 *     ({@link io.djlmx.format.CalibratedMxQuantizer.Builder#optRefinePasses(int)})
 */
public record CalibrationData(
    Map<String, double[]> grams, double damping, String description, int refinePasses) {}

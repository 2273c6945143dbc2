package io.djlmx.engine;

import ai.djl.ndarray.NDArray;

/**
 * The inputs one {@code linear} weight saw during calibration, summarised as their Gram matrix.
 *
 * @param name the parameter name, as {@link MxModel} names {@code linear} weights
 * @param weight the weight array {@code [n, k]} (compare by identity)
 * @param inputs {@code k}, the input features
 * @param samples how many input rows (tokens, batch rows) were recorded
 * @param gram {@code Σ xᵀx} over those rows, row-major {@code [k, k]}, FP64
 */
public record LinearInputStatistics(
    String name, NDArray weight, int inputs, long samples, double[] gram) {}

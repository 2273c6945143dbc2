/**
 * The MX engine for DJL: an {@link ai.djl.engine.Engine} named {@code "MX"} whose arrays wrap
 * PyTorch arrays, forward every op to them without copies, and run {@code linear} on MX-quantized
 * weights.
 *
 * <p>Entry points: {@link io.djlmx.engine.MxEngine} (found by DJL through {@link
 * io.djlmx.engine.MxEngineProvider}), {@link io.djlmx.engine.MxModel}, {@link
 * io.djlmx.engine.MxConfig}, {@link io.djlmx.engine.MxLinear} and {@link
 * io.djlmx.engine.MxCalibration} (calibrated rounding of a model's linear weights).
 */
package io.djlmx.engine;

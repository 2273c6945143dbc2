/**
 * Low-bit attention after SageAttention: K smoothed by its token mean, Q and K quantized per block
 * (INT8 or MXFP8 E4M3), online softmax in FP32, P and V in FP8 E4M3, P·V accumulated in FP32.
 *
 * <p>The algorithm core ({@link io.djlmx.attention.CpuSageAttention}, {@link
 * io.djlmx.attention.ExactAttention}) works on FFM memory segments and has no DJL import; {@link
 * io.djlmx.attention.djl} adapts it to DJL arrays and blocks.
 */
package io.djlmx.attention;

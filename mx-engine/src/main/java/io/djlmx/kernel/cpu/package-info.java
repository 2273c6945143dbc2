/**
 * The CPU implementation of {@link io.djlmx.kernel.LinearKernel}: Vector API kernels over native
 * memory, multi-threaded, with a batch-1 (GEMV) and a batched (GEMM) path.
 */
package io.djlmx.kernel.cpu;

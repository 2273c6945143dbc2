/**
 * The CUDA backend of the MX kernels: JCuda driver API (no NVRTC, no cuBLAS), a fatbin built ahead
 * of time by {@code nvcc} from {@code src/main/cuda} and loaded from the class path, device memory
 * owned by Java objects and freed deterministically, and the MX linear kernels (weight-only GEMV
 * and GEMM, weight + activation with on-device activation quantization, MXFP8 x MXFP8 on the FP8
 * tensor cores).
 *
 * <p>{@link io.djlmx.kernel.cuda.CudaBackend#isAvailable()} says whether a usable device is
 * present; {@link io.djlmx.kernel.cuda.CudaBackend#unavailableReason()} says why not.
 */
package io.djlmx.kernel.cuda;

// Microbenchmark behind docs/bench/gpu-attention.md ("MUFU rate"): how many cycles one warp's ex2.approx
// (MUFU.EX2) takes on an SM sub-partition with 1, 2 or 4 warps issuing them, 8 independent chains per
// thread (enough to cover the MUFU latency). Built to a cubin by scripts/mufu-probe.sh, launched by
// scripts/mufu_probe.py on the GPU machine.
#include <cstdint>

__device__ __forceinline__ float ex2(float x) {
  float y;
  asm volatile("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// FMA: each step is one FFMA then one MUFU per chain (the softmax's pattern); else MUFU only.
template <bool FMA>
__device__ void probe(float* out, long long* cycles, int iters) {
  float x[8];
#pragma unroll
  for (int c = 0; c < 8; c++) x[c] = -1e-3f * (threadIdx.x + c);
  __syncthreads();
  const long long t0 = clock64();
  for (int i = 0; i < iters; i++) {
#pragma unroll
    for (int c = 0; c < 8; c++) x[c] = FMA ? ex2(fmaf(x[c], -0.5f, -0.25f)) : ex2(-x[c]);
  }
  const long long t1 = clock64();
  float s = 0.f;
#pragma unroll
  for (int c = 0; c < 8; c++) s += x[c];
  out[blockIdx.x * blockDim.x + threadIdx.x] = s;
  if ((threadIdx.x & 31) == 0) cycles[blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32] = t1 - t0;
}

// The same chains on packed halves: one ex2.approx.f16x2 (or .bf16x2) per chain and step, two exps each.
template <bool BF16>
__device__ void probe2(float* out, long long* cycles, int iters) {
  uint32_t x[8];
#pragma unroll
  for (int c = 0; c < 8; c++) x[c] = BF16 ? 0xBF80BF00u + threadIdx.x + c : 0xBC00BA00u + threadIdx.x + c;
  __syncthreads();
  const long long t0 = clock64();
  for (int i = 0; i < iters; i++) {
#pragma unroll
    for (int c = 0; c < 8; c++) {
      uint32_t y;
      if constexpr (BF16) {
        asm volatile("ex2.approx.ftz.bf16x2 %0, %1;" : "=r"(y) : "r"(x[c]));
      } else {
        asm volatile("ex2.approx.f16x2 %0, %1;" : "=r"(y) : "r"(x[c]));
      }
      x[c] = y ^ 0x80008000u;  // negate both halves: the next input stays in (-1, 0]
    }
  }
  const long long t1 = clock64();
  float s = 0.f;
#pragma unroll
  for (int c = 0; c < 8; c++) s += __uint_as_float(x[c]);
  out[blockIdx.x * blockDim.x + threadIdx.x] = s;
  if ((threadIdx.x & 31) == 0) cycles[blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32] = t1 - t0;
}

extern "C" __global__ void mufu_probe(float* out, long long* cycles, int iters) { probe<false>(out, cycles, iters); }
extern "C" __global__ void mufu_fma_probe(float* out, long long* cycles, int iters) { probe<true>(out, cycles, iters); }
extern "C" __global__ void mufu_f16x2_probe(float* out, long long* cycles, int iters) {
  probe2<false>(out, cycles, iters);
}
extern "C" __global__ void mufu_bf16x2_probe(float* out, long long* cycles, int iters) {
  probe2<true>(out, cycles, iters);
}

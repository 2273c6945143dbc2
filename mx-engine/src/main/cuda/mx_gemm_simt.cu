// Weight-only MX linear for larger batches: a 64x64 register-blocked FP32 tile GEMM whose weight tile is
// decoded (scale applied) into shared memory one 32-wide block at a time.
#include "mx_common.cuh"

namespace {
constexpr int TM = 64, TN = 64, TK = 32;

template <int F>
__device__ __forceinline__ void gemm_simt_body(const float* __restrict__ x, int M, const uint8_t* __restrict__ codes,
                                               long long cbpr, const uint8_t* __restrict__ scales, int bpr,
                                               const float* __restrict__ bias, float* __restrict__ y, int N, int K,
                                               int act) {
  __shared__ float xs[TK][TM + 4];
  __shared__ float ws[TK][TN + 4];
  const int tid = threadIdx.x;
  const int tx = tid & 15, ty = tid >> 4;
  const int m0 = blockIdx.y * TM, n0 = blockIdx.x * TN;
  const float shiftf = mx_pow2(MxShift<F>::value);
  float acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; i++)
#pragma unroll
    for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;

  for (int kb = 0; kb < bpr; kb++) {
    const int k0 = kb * TK;
    // x tile: 64 rows x 32 k, 8 per thread; consecutive threads read consecutive k.
#pragma unroll
    for (int i = 0; i < 8; i++) {
      int idx = tid + i * 256;
      int r = idx >> 5, k = idx & 31;
      int m = m0 + r;
      xs[k][r] = (m < M && k0 + k < K) ? x[(long long)m * K + k0 + k] : 0.0f;
    }
    // weight tile: 64 rows x 32 elements, 8 consecutive elements per thread.
    {
      int r = tid >> 2, kq = (tid & 3) * 8;
      int n = n0 + r;
      if (n < N) {
        const uint8_t* row = codes + (long long)n * cbpr;
        // (decoded * 2^shift) * scale: 2^shift * scale alone overflows for scales near 2^127
        float s = mx_scale(scales[(long long)n * bpr + kb]);
#pragma unroll
        for (int j = 0; j < 8; j++) ws[kq + j][r] = (mx_decode_elem<F>(row, k0 + kq + j) * shiftf) * s;
      } else {
#pragma unroll
        for (int j = 0; j < 8; j++) ws[kq + j][r] = 0.0f;
      }
    }
    __syncthreads();
#pragma unroll 8
    for (int k = 0; k < TK; k++) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; i++) { a[i] = xs[k][ty * 4 + i]; b[i] = ws[k][tx * 4 + i]; }
#pragma unroll
      for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; i++) {
    int m = m0 + ty * 4 + i;
    if (m >= M) continue;
#pragma unroll
    for (int j = 0; j < 4; j++) {
      int n = n0 + tx * 4 + j;
      if (n < N) y[(long long)m * N + n] = mx_epilogue(acc[i][j] + (bias != nullptr ? bias[n] : 0.0f), act);
    }
  }
}
}  // namespace

#define MX_GEMM_SIMT(F)                                                                                        \
  extern "C" __global__ void __launch_bounds__(256) mx_gemm_simt_f##F(                                       \
      const float* x, int M, const uint8_t* codes, long long cbpr, const uint8_t* scales, int bpr,            \
      const float* bias, float* y, int N, int K, int act) {                                                   \
    gemm_simt_body<F>(x, M, codes, cbpr, scales, bpr, bias, y, N, K, act);                                         \
  }
MX_GEMM_SIMT(0)
MX_GEMM_SIMT(1)
MX_GEMM_SIMT(2)
MX_GEMM_SIMT(3)
MX_GEMM_SIMT(4)
MX_GEMM_SIMT(5)

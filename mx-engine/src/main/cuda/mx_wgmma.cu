// MXFP8 x MXFP8 GEMM on Hopper's FP8 tensor cores through wgmma (QGMMA in SASS; sm_90a only).
// y[m, n] = sum_kb sa[m, kb] * sb[n, kb] * sum_{k in kb} a[m, k] b[n, k]. One wgmma m64n128k32 covers
// exactly one 32-wide K slice: it writes a fresh accumulator (scale-d = 0), which is then added into the
// FP32 total with the product of the two block scales. CTA tile 128 x 128 x 64, two warpgroups (64 rows
// each), a 4-stage cp.async pipeline into the no-swizzle K-major core-matrix layout wgmma reads.
// Operands as for mx_mma.cu: codes [rows, Kp] (16-byte aligned rows), scales as floats K-slice-major.
#include "mx_common.cuh"
#include "mx_wgmma.cuh"

namespace {
constexpr int WG_BM = 128, WG_BN = 128, WG_BK = 64, WG_STAGES = 4;
constexpr int WG_SBO = (WG_BK / 16) * 128;  // bytes between 8-row core-matrix groups
constexpr int WG_LBO = 128;                  // bytes between 16-byte K chunks
constexpr int WG_A_BYTES = WG_BM * WG_BK, WG_B_BYTES = WG_BN * WG_BK;
constexpr int WG_SA_FLOATS = (WG_BK / 32) * WG_BM, WG_SB_FLOATS = (WG_BK / 32) * WG_BN;
constexpr int WG_STAGE_BYTES = WG_A_BYTES + WG_B_BYTES + 4 * (WG_SA_FLOATS + WG_SB_FLOATS);

__device__ __forceinline__ void wg_cp16(void* smem, const void* gmem, bool valid) {
  uint32_t s = (uint32_t)__cvta_generic_to_shared(smem);
  int n = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(n));
}

// Core-matrix offset of (row, 16-byte K chunk) in a no-swizzle K-major tile.
__device__ __forceinline__ int wg_off(int row, int chunk) { return (row >> 3) * WG_SBO + chunk * WG_LBO + (row & 7) * 16; }

__device__ __forceinline__ uint64_t wg_desc(const void* p) {
  uint32_t a = (uint32_t)__cvta_generic_to_shared(p);
  return (uint64_t)((a & 0x3FFFF) >> 4) | ((uint64_t)(WG_LBO >> 4) << 16) | ((uint64_t)(WG_SBO >> 4) << 32);
}

// acc += d * (sa[row] * sb[col]) for one 32-slice s of the stage.
__device__ __forceinline__ void scale_add(float (&acc)[64], const float (&d)[64], const float* sSa, const float* sSb,
                                          int s, int rowA, int t4) {
  const float sa0 = sSa[s * WG_BM + rowA], sa1 = sSa[s * WG_BM + rowA + 8];
#pragma unroll
  for (int j = 0; j < 16; j++) {
    const float2 v = *reinterpret_cast<const float2*>(sSb + s * WG_BN + 8 * j + 2 * t4);
    acc[4 * j + 0] = fmaf(d[4 * j + 0], sa0 * v.x, acc[4 * j + 0]);
    acc[4 * j + 1] = fmaf(d[4 * j + 1], sa0 * v.y, acc[4 * j + 1]);
    acc[4 * j + 2] = fmaf(d[4 * j + 2], sa1 * v.x, acc[4 * j + 2]);
    acc[4 * j + 3] = fmaf(d[4 * j + 3], sa1 * v.y, acc[4 * j + 3]);
  }
}

template <int FA, int FB>
__device__ __forceinline__ void wgmma_body(const uint8_t* __restrict__ a, long long lda, const float* __restrict__ sa,
                                           long long ldsa, const uint8_t* __restrict__ b, long long ldb,
                                           const float* __restrict__ sb, long long ldsb,
                                           const float* __restrict__ bias, float* __restrict__ y, int M, int N,
                                           int bpr) {
  extern __shared__ __align__(1024) uint8_t smem[];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wg = warp >> 2, wq = warp & 3;  // warpgroup (64-row half) and warp within it
  const int m0 = blockIdx.y * WG_BM, n0 = blockIdx.x * WG_BN;
  const int kTiles = (bpr * 32 + WG_BK - 1) / WG_BK;
  const long long kp = (long long)bpr * 32;

  auto load_stage = [&](int stage, int kt) {
    uint8_t* sA = smem + stage * WG_STAGE_BYTES;
    uint8_t* sB = sA + WG_A_BYTES;
    float* sSa = reinterpret_cast<float*>(sB + WG_B_BYTES);
    float* sSb = sSa + WG_SA_FLOATS;
    const long long k0 = (long long)kt * WG_BK;
#pragma unroll
    for (int i = 0; i < 2; i++) {
      int c = tid + i * 256;
      int r = c >> 2, q = c & 3;
      long long k = k0 + q * 16;
      bool kin = k < kp;
      int m = m0 + r, n = n0 + r;
      wg_cp16(sA + wg_off(r, q), a + (long long)min(m, M - 1) * lda + (kin ? k : 0), kin && m < M);
      wg_cp16(sB + wg_off(r, q), b + (long long)min(n, N - 1) * ldb + (kin ? k : 0), kin && n < N);
    }
    if (tid < 64) {
      int s = tid >> 5, q = tid & 31;
      long long kb = k0 / 32 + s;
      bool kin = kb < bpr;
      wg_cp16(sSa + s * WG_BM + q * 4, sa + (kin ? kb : 0) * ldsa + m0 + q * 4, kin);
    } else if (tid < 128) {
      int t = tid - 64, s = t >> 5, q = t & 31;
      long long kb = k0 / 32 + s;
      bool kin = kb < bpr;
      wg_cp16(sSb + s * WG_BN + q * 4, sb + (kin ? kb : 0) * ldsb + n0 + q * 4, kin);
    }
  };

  float acc[64];
#pragma unroll
  for (int i = 0; i < 64; i++) acc[i] = 0.0f;
  float d0[64], d1[64];
#pragma unroll
  for (int i = 0; i < 64; i++) { d0[i] = 0.0f; d1[i] = 0.0f; }

#pragma unroll
  for (int s = 0; s < WG_STAGES - 1; s++) {
    if (s < kTiles) load_stage(s, s);
    asm volatile("cp.async.commit_group;\n" ::);
  }
  const int g = lane >> 2, t4 = lane & 3;
  const int rowA = wg * 64 + wq * 16 + g;  // this thread's first accumulator row in the tile
  for (int kt = 0; kt < kTiles; kt++) {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(WG_STAGES - 2));
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");  // cp.async data -> wgmma (async proxy)
    __syncthreads();
    {
      int nk = kt + WG_STAGES - 1;
      if (nk < kTiles) load_stage(nk % WG_STAGES, nk);
      asm volatile("cp.async.commit_group;\n" ::);
    }
    const uint8_t* sA = smem + (kt % WG_STAGES) * WG_STAGE_BYTES;
    const uint8_t* sB = sA + WG_A_BYTES;
    const float* sSa = reinterpret_cast<const float*>(sB + WG_B_BYTES);
    const float* sSb = sSa + WG_SA_FLOATS;
    // Both 32-slices of the stage go to the tensor cores at once (two fresh accumulators); the scale
    // work of the first overlaps the second's wgmma.
    static_assert(WG_BK == 64, "two slices per stage");
    wg_fence();
    wgmma_fresh<FA, FB>(d0, wg_desc(sA + wg_off(wg * 64, 0)), wg_desc(sB + wg_off(0, 0)));
    wg_commit();
    wgmma_fresh<FA, FB>(d1, wg_desc(sA + wg_off(wg * 64, 2)), wg_desc(sB + wg_off(0, 2)));
    wg_commit();
    wg_wait<1>(d0);
    scale_add(acc, d0, sSa, sSb, 0, rowA, t4);
    wg_wait<0>(d1);
    scale_add(acc, d1, sSa, sSb, 1, rowA, t4);
  }
  asm volatile("cp.async.wait_group 0;\n" ::);
#pragma unroll
  for (int j = 0; j < 16; j++) {
    const int n = n0 + 8 * j + 2 * t4;
#pragma unroll
    for (int h = 0; h < 2; h++) {
      const int m = m0 + rowA + 8 * h;
      if (m >= M) continue;
      float* yr = y + (long long)m * N;
      if (n < N) yr[n] = acc[4 * j + 2 * h] + (bias != nullptr ? bias[n] : 0.0f);
      if (n + 1 < N) yr[n + 1] = acc[4 * j + 2 * h + 1] + (bias != nullptr ? bias[n + 1] : 0.0f);
    }
  }
}
}  // namespace

#define MX_WGMMA_KERNEL(FA, FB)                                                                                \
  extern "C" __global__ void __launch_bounds__(256, 1) mx_wgmma_fp8_a##FA##_b##FB(                           \
      const uint8_t* a, long long lda, const float* sa, long long ldsa, const uint8_t* b, long long ldb,       \
      const float* sb, long long ldsb, const float* bias, float* y, int M, int N, int bpr) {                  \
    wgmma_body<FA, FB>(a, lda, sa, ldsa, b, ldb, sb, ldsb, bias, y, M, N, bpr);                               \
  }
MX_WGMMA_KERNEL(0, 0)
MX_WGMMA_KERNEL(0, 1)
MX_WGMMA_KERNEL(1, 0)
MX_WGMMA_KERNEL(1, 1)

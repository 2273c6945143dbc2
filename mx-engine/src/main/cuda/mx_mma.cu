// MXFP8 x MXFP8 GEMM on the FP8 tensor cores: y[m, n] = sum_kb sa[m, kb] * sb[n, kb] * sum_{k in kb} a[m, k] b[n, k].
// mma.sync m16n8k32 (E4M3/E5M2 in, FP32 out) covers exactly one 32-wide K slice, so each slice runs into a
// fresh (zero) accumulator and is then added into the FP32 total with the product of the two block scales.
// Tiles: 128 (m) x 128 (n) x 64 (k) per CTA of 8 warps (2 x 4, each 64 x 32), a 4-stage cp.async pipeline.
// Operands: codes [rows, Kp] (Kp = 32 * blocks per row, 16-byte aligned rows), scales as floats laid out
// K-slice-major [bpr, ldScale] with ldScale >= rows rounded up to 128.
#include "mx_common.cuh"

namespace {
constexpr int BM = 128, BN = 128, BK = 64, STAGES = 4;
constexpr int ROWB = BK + 16;  // padded row: ldmatrix rows land in distinct 16-byte bank groups
constexpr int A_BYTES = BM * ROWB, B_BYTES = BN * ROWB;
constexpr int SA_FLOATS = (BK / 32) * BM, SB_FLOATS = (BK / 32) * BN;
constexpr int STAGE_BYTES = A_BYTES + B_BYTES + 4 * (SA_FLOATS + SB_FLOATS);

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  uint32_t s = (uint32_t)__cvta_generic_to_shared(smem);
  int n = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(n));
}
__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* p) {
  uint32_t s = (uint32_t)__cvta_generic_to_shared(p);
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s));
}

// d = a * b + c on the FP8 tensor cores.
template <int FA, int FB>
__device__ __forceinline__ void mma_fp8(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1,
                                        const float (&c)[4]) {
#define MX_MMA(TA, TB)                                                                                   \
  asm volatile("mma.sync.aligned.m16n8k32.row.col.f32." TA "." TB                                        \
               ".f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};\n"                       \
               : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])                                          \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "f"(c[0]), "f"(c[1]),     \
                 "f"(c[2]), "f"(c[3]))
  if constexpr (FA == MX_E4M3 && FB == MX_E4M3) MX_MMA("e4m3", "e4m3");
  else if constexpr (FA == MX_E4M3) MX_MMA("e4m3", "e5m2");
  else if constexpr (FB == MX_E4M3) MX_MMA("e5m2", "e4m3");
  else MX_MMA("e5m2", "e5m2");
#undef MX_MMA
}

// SCALED = false is a timing probe only (no block scales: not an MX GEMM): it bounds what the
// tensor-core pipeline of this kernel reaches without the per-slice scale work.
template <int FA, int FB, bool SCALED>
__device__ __forceinline__ void mma_body(const uint8_t* __restrict__ a, long long lda, const float* __restrict__ sa,
                                         long long ldsa, const uint8_t* __restrict__ b, long long ldb,
                                         const float* __restrict__ sb, long long ldsb, const float* __restrict__ bias,
                                         float* __restrict__ y, int M, int N, int bpr) {
  extern __shared__ __align__(128) uint8_t smem[];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = warp >> 2, wn = warp & 3;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int kTiles = (bpr * 32 + BK - 1) / BK;
  const long long kp = (long long)bpr * 32;

  auto load_stage = [&](int stage, int kt) {
    uint8_t* sA = smem + stage * STAGE_BYTES;
    uint8_t* sB = sA + A_BYTES;
    float* sSa = reinterpret_cast<float*>(sB + B_BYTES);
    float* sSb = sSa + SA_FLOATS;
    const long long k0 = (long long)kt * BK;
#pragma unroll
    for (int i = 0; i < 2; i++) {
      int c = tid + i * 256;  // 512 chunks of 16 bytes per operand
      int r = c >> 2, q = c & 3;
      long long k = k0 + q * 16;
      bool kin = k < kp;
      int m = m0 + r, n = n0 + r;
      cp_async16(sA + r * ROWB + q * 16, a + (long long)min(m, M - 1) * lda + (kin ? k : 0), kin && m < M);
      cp_async16(sB + r * ROWB + q * 16, b + (long long)min(n, N - 1) * ldb + (kin ? k : 0), kin && n < N);
    }
    if (tid < 64) {  // scales: 2 slices x 128 floats per operand = 64 chunks each
      int s = tid >> 5, q = tid & 31;
      long long kb = k0 / 32 + s;
      bool kin = kb < bpr;
      cp_async16(sSa + s * BM + q * 4, sa + (kin ? kb : 0) * ldsa + m0 + q * 4, kin);
    } else if (tid < 128) {
      int t = tid - 64, s = t >> 5, q = t & 31;
      long long kb = k0 / 32 + s;
      bool kin = kb < bpr;
      cp_async16(sSb + s * BN + q * 4, sb + (kin ? kb : 0) * ldsb + n0 + q * 4, kin);
    }
  };

  float acc[4][4][4];
#pragma unroll
  for (int i = 0; i < 4; i++)
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) acc[i][j][e] = 0.0f;

#pragma unroll
  for (int s = 0; s < STAGES - 1; s++) {
    if (s < kTiles) load_stage(s, s);
    cp_commit();
  }
  const int g = lane >> 2, t4 = lane & 3;
  for (int kt = 0; kt < kTiles; kt++) {
    cp_wait<STAGES - 2>();
    __syncthreads();
    {
      int nk = kt + STAGES - 1;
      if (nk < kTiles) load_stage(nk % STAGES, nk);
      cp_commit();
    }
    const uint8_t* sA = smem + (kt % STAGES) * STAGE_BYTES;
    const uint8_t* sB = sA + A_BYTES;
    const float* sSa = reinterpret_cast<const float*>(sB + B_BYTES);
    const float* sSb = sSa + SA_FLOATS;
#pragma unroll
    for (int s = 0; s < BK / 32; s++) {
      uint32_t af[4][4], bfr[4][2];
      const int mat = lane >> 3, rr = lane & 7;
#pragma unroll
      for (int mi = 0; mi < 4; mi++) {
        int row = wm * 64 + mi * 16 + (mat & 1) * 8 + rr;
        ldmatrix_x4(af[mi], sA + row * ROWB + s * 32 + (mat >> 1) * 16);
      }
#pragma unroll
      for (int nj = 0; nj < 2; nj++) {
        uint32_t r4[4];
        int row = wn * 32 + nj * 16 + (mat >> 1) * 8 + rr;
        ldmatrix_x4(r4, sB + row * ROWB + s * 32 + (mat & 1) * 16);
        bfr[2 * nj][0] = r4[0]; bfr[2 * nj][1] = r4[1];
        bfr[2 * nj + 1][0] = r4[2]; bfr[2 * nj + 1][1] = r4[3];
      }
      float sav[4][2], sbv[4][2];
#pragma unroll
      for (int mi = 0; mi < 4; mi++) {
        sav[mi][0] = sSa[s * BM + wm * 64 + mi * 16 + g];
        sav[mi][1] = sSa[s * BM + wm * 64 + mi * 16 + g + 8];
      }
#pragma unroll
      for (int ni = 0; ni < 4; ni++) {
        float2 v = *reinterpret_cast<const float2*>(sSb + s * BN + wn * 32 + ni * 8 + 2 * t4);
        sbv[ni][0] = v.x; sbv[ni][1] = v.y;
      }
#pragma unroll
      for (int mi = 0; mi < 4; mi++)
#pragma unroll
        for (int ni = 0; ni < 4; ni++) {
          if constexpr (!SCALED) {
            mma_fp8<FA, FB>(acc[mi][ni], af[mi], bfr[ni][0], bfr[ni][1], acc[mi][ni]);
            continue;
          }
          const float zero[4] = {0.0f, 0.0f, 0.0f, 0.0f};
          float d[4];
          mma_fp8<FA, FB>(d, af[mi], bfr[ni][0], bfr[ni][1], zero);
          acc[mi][ni][0] = fmaf(d[0], sav[mi][0] * sbv[ni][0], acc[mi][ni][0]);
          acc[mi][ni][1] = fmaf(d[1], sav[mi][0] * sbv[ni][1], acc[mi][ni][1]);
          acc[mi][ni][2] = fmaf(d[2], sav[mi][1] * sbv[ni][0], acc[mi][ni][2]);
          acc[mi][ni][3] = fmaf(d[3], sav[mi][1] * sbv[ni][1], acc[mi][ni][3]);
        }
    }
  }
  cp_wait<0>();
#pragma unroll
  for (int mi = 0; mi < 4; mi++)
#pragma unroll
    for (int ni = 0; ni < 4; ni++) {
      int n = n0 + wn * 32 + ni * 8 + 2 * t4;
#pragma unroll
      for (int h = 0; h < 2; h++) {
        int m = m0 + wm * 64 + mi * 16 + g + h * 8;
        if (m >= M) continue;
        float* yr = y + (long long)m * N;
        if (n < N) yr[n] = acc[mi][ni][2 * h] + (bias != nullptr ? bias[n] : 0.0f);
        if (n + 1 < N) yr[n + 1] = acc[mi][ni][2 * h + 1] + (bias != nullptr ? bias[n + 1] : 0.0f);
      }
    }
}
}  // namespace


#define MX_MMA_KERNEL(FA, FB)                                                                                  \
  extern "C" __global__ void __launch_bounds__(256, 1) mx_mma_fp8_a##FA##_b##FB(                             \
      const uint8_t* a, long long lda, const float* sa, long long ldsa, const uint8_t* b, long long ldb,       \
      const float* sb, long long ldsb, const float* bias, float* y, int M, int N, int bpr) {                  \
    mma_body<FA, FB, true>(a, lda, sa, ldsa, b, ldb, sb, ldsb, bias, y, M, N, bpr);                                 \
  }
MX_MMA_KERNEL(0, 0)
MX_MMA_KERNEL(0, 1)
MX_MMA_KERNEL(1, 0)
MX_MMA_KERNEL(1, 1)

// Timing probe (benchmarks only): the same pipeline with the scale work removed; its result is not an MX product.
extern "C" __global__ void __launch_bounds__(256, 1) mx_mma_probe_unscaled(
    const uint8_t* a, long long lda, const float* sa, long long ldsa, const uint8_t* b, long long ldb,
    const float* sb, long long ldsb, const float* bias, float* y, int M, int N, int bpr) {
  mma_body<MX_E4M3, MX_E4M3, false>(a, lda, sa, ldsa, b, ldb, sb, ldsb, bias, y, M, N, bpr);
}

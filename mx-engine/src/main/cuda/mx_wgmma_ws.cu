// MXFP8 x MXFP8 GEMM, Hopper design: TMA (cp.async.bulk.tensor, tensor maps made on the host with
// cuTensorMapEncodeTiled) into a ring of shared-memory stages guarded by mbarriers, one producer warp
// and two consumer warpgroups (warp-specialised, setmaxnreg), wgmma m64n128k32 FP8 (QGMMA) per 32-wide
// K slice, persistent CTAs walking the output tiles in L2-friendly groups.
//
// y[m, n] = sum_kb sa[m, kb] * sb[n, kb] * sum_{k in kb} a[m, k] b[n, k] (+ bias[n]).
// Each wgmma covers exactly one MX slice and writes a fresh FP32 partial (scale-d = 0). Two partials per
// warpgroup alternate: while the tensor cores compute slice s+1, the threads add slice s into the FP32
// total with acc = fma(d, sa[row] * sb[col], acc) (power-of-two scales: exact but for FP32 rounding).
// CTA tile 128 x 128; a stage holds 4 slices (5 stages of 36 KB) or 8 slices (3 stages of 72 KB, the
// default): A and B codes in 128-row x 128-byte sub-tiles (128-byte swizzle) and the slices' scales as
// floats [slices][128] for each operand. The per-slice scale work (one FMUL + one FFMA per output) is
// the bound: see docs/gpu.md.
#include <cuda.h>
#include "mx_common.cuh"
#include "mx_wgmma.cuh"
#include "mx_tma.cuh"

namespace {
constexpr int WS_BM = 128, WS_BN = 128;
constexpr int WS_SUB_BYTES = WS_BM * 128;  // one 128-row x 128-byte swizzled sub-tile

// A stage holds SUB sub-tiles of 128 K bytes (4 slices each) of A and of B, and the slices' scales.
template <int SUB> struct WsCfg {
  static constexpr int SLICES = 4 * SUB, BK = 128 * SUB;
  static constexpr int STAGES = SUB == 1 ? 5 : 3;
  static constexpr int A_BYTES = SUB * WS_SUB_BYTES, B_BYTES = SUB * WS_SUB_BYTES;
  static constexpr int SA_BYTES = 4 * SLICES * WS_BM, SB_BYTES = 4 * SLICES * WS_BN;
  static constexpr int STAGE_BYTES = A_BYTES + B_BYTES + SA_BYTES + SB_BYTES;
  static_assert(STAGE_BYTES % 1024 == 0, "stages keep the 1024-byte alignment the 128-byte swizzle needs");
};

// acc += d * (sa[row] * sb[col]) for one slice: sa0/sa1 are this thread's two rows' scales, sb the
// slice's 128 column scales in shared memory. (A copy of the weight scales interleaved so that 16-byte
// loads fetch two column pairs measured 3% slower: 427 vs 440 TFLOP/s relative to the same baseline.)
__device__ __forceinline__ void ws_promote(float (&acc)[64], const float (&d)[64], float sa0, float sa1,
                                           const float* sb, int t4) {
#pragma unroll
  for (int j = 0; j < 16; j++) {
    const float2 v = *reinterpret_cast<const float2*>(sb + 8 * j + 2 * t4);
    acc[4 * j + 0] = fmaf(d[4 * j + 0], sa0 * v.x, acc[4 * j + 0]);
    acc[4 * j + 1] = fmaf(d[4 * j + 1], sa0 * v.y, acc[4 * j + 1]);
    acc[4 * j + 2] = fmaf(d[4 * j + 2], sa1 * v.x, acc[4 * j + 2]);
    acc[4 * j + 3] = fmaf(d[4 * j + 3], sa1 * v.y, acc[4 * j + 3]);
  }
}

template <int FA, int FB, bool PROMOTE, int SUB>
__device__ __forceinline__ void ws_body(const CUtensorMap* tmA, const CUtensorMap* tmB, const CUtensorMap* tmSa,
                                        const CUtensorMap* tmSb, const float* __restrict__ bias,
                                        float* __restrict__ y, int M, int N, int bpr) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using C = WsCfg<SUB>;
  extern __shared__ __align__(1024) uint8_t ws_raw[];
  // Dynamic shared memory is only 16-byte aligned by contract: round up to 1024 (the host adds slack).
  // Offsetting ws_raw itself keeps the pointers in the shared window (LDS, not generic loads).
  uint8_t* smem = ws_raw + ((1024u - (ws_smem(ws_raw) & 1023u)) & 1023u);
  uint64_t* full = reinterpret_cast<uint64_t*>(smem + C::STAGES * C::STAGE_BYTES);
  uint64_t* empty = full + C::STAGES;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int tilesM = (M + WS_BM - 1) / WS_BM, tilesN = (N + WS_BN - 1) / WS_BN, tiles = tilesM * tilesN;
  const int kTiles = (bpr + C::SLICES - 1) / C::SLICES;

  if (tid == 0) {
    for (int s = 0; s < C::STAGES; s++) {
      ws_mbar_init(&full[s], 1);
      ws_mbar_init(&empty[s], 256);
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  if (warp < 4) {
    // Producer warpgroup: one thread issues every copy; the others leave their registers to the consumers.
    asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\n");
    if (tid == 0) {
      asm volatile("prefetch.tensormap [%0];\n" ::"l"((uint64_t)tmA) : "memory");
      asm volatile("prefetch.tensormap [%0];\n" ::"l"((uint64_t)tmB) : "memory");
      uint32_t it = 0;
      for (int t = blockIdx.x; t < tiles; t += gridDim.x) {
        int tm, tn;
        ws_tile(t, tilesM, tilesN, tm, tn);
        for (int kt = 0; kt < kTiles; kt++, it++) {
          const int st = it % C::STAGES;
          ws_mbar_wait(&empty[st], ((it / C::STAGES) & 1) ^ 1);
          uint8_t* sA = smem + st * C::STAGE_BYTES;
          uint8_t* sB = sA + C::A_BYTES;
          uint8_t* sSa = sB + C::B_BYTES;
          uint8_t* sSb = sSa + C::SA_BYTES;
          ws_mbar_expect_tx(&full[st], C::STAGE_BYTES);
#pragma unroll
          for (int j = 0; j < SUB; j++) {
            ws_tma_2d(sA + j * WS_SUB_BYTES, tmA, &full[st], kt * C::BK + j * 128, tm * WS_BM);
            ws_tma_2d(sB + j * WS_SUB_BYTES, tmB, &full[st], kt * C::BK + j * 128, tn * WS_BN);
            ws_tma_2d(sSa + j * 4 * 4 * WS_BM, tmSa, &full[st], tm * WS_BM, kt * C::SLICES + 4 * j);
            ws_tma_2d(sSb + j * 4 * 4 * WS_BN, tmSb, &full[st], tn * WS_BN, kt * C::SLICES + 4 * j);
          }
        }
      }
    }
  } else {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 240;\n");
    const int cw = (warp >> 2) - 1, wq = warp & 3;  // consumer warpgroup (64-row half), warp in it
    const int g = lane >> 2, t4 = lane & 3;
    const int rowW = cw * 64 + wq * 16 + g;  // this thread's first row in the tile
    uint32_t it = 0;
    float acc[64], p0[64], p1[64];
#pragma unroll
    for (int i = 0; i < 64; i++) { p0[i] = 0.0f; p1[i] = 0.0f; }
    for (int t = blockIdx.x; t < tiles; t += gridDim.x) {
      int tm, tn;
      ws_tile(t, tilesM, tilesN, tm, tn);
#pragma unroll
      for (int i = 0; i < 64; i++) acc[i] = 0.0f;
      // Slices alternate between the partials p0 (even) and p1 (odd); each wgmma's partial is added
      // into acc while the tensor cores work on the next slice. The stage's last slice is waited for
      // before the next stage (ptxas serialises wgmma whose accumulators stay in flight across the
      // loop's back edge). Slices past the last K block read zero codes and zero scales (the copies
      // zero-fill out-of-range boxes), so they add nothing.
      for (int kt = 0; kt < kTiles; kt++, it++) {
        const int st = it % C::STAGES;
        ws_mbar_wait(&full[st], (it / C::STAGES) & 1);
        const uint8_t* sA = smem + st * C::STAGE_BYTES + cw * 64 * 128;
        const uint8_t* sB = smem + st * C::STAGE_BYTES + C::A_BYTES;
        const float* sSa = reinterpret_cast<const float*>(smem + st * C::STAGE_BYTES + C::A_BYTES + C::B_BYTES);
        const float* sSb = sSa + C::SLICES * WS_BM;
#define WS_SLICE_DESC(s) ws_desc(sA + ((s) >> 2) * WS_SUB_BYTES + ((s) & 3) * 32), \
                         ws_desc(sB + ((s) >> 2) * WS_SUB_BYTES + ((s) & 3) * 32)
#define WS_PROMOTE(p, s)                                                                                 \
  if (PROMOTE) ws_promote(acc, p, sSa[(s) * WS_BM + rowW], sSa[(s) * WS_BM + rowW + 8], sSb + (s) * WS_BN, t4)
        wg_fence();
        wgmma_fresh<FA, FB>(p0, WS_SLICE_DESC(0));
        wg_commit();
#pragma unroll
        for (int s = 1; s < C::SLICES; s++) {
          if (s > 1) wg_fence();
          if (s & 1) {
            wgmma_fresh<FA, FB>(p1, WS_SLICE_DESC(s));
            wg_commit();
            wg_wait<1>(p0);
            WS_PROMOTE(p0, s - 1);
          } else {
            wgmma_fresh<FA, FB>(p0, WS_SLICE_DESC(s));
            wg_commit();
            wg_wait<1>(p1);
            WS_PROMOTE(p1, s - 1);
          }
        }
        wg_wait<0>(p1);
        WS_PROMOTE(p1, C::SLICES - 1);
#undef WS_SLICE_DESC
#undef WS_PROMOTE
        ws_mbar_arrive(&empty[st]);  // codes and scales of this stage are no longer read
      }
      if (!PROMOTE) {
#pragma unroll
        for (int i = 0; i < 64; i++) acc[i] += p0[i] + p1[i];
      }
      // Epilogue: straight from registers (the producer already fills the next tile's stages).
      ws_store_fragment(acc, y, bias, M, N, tm * WS_BM + rowW, tn * WS_BN + 2 * t4);
    }
  }
#else
  __trap();
#endif
}

}  // namespace

#define MX_WS_KERNEL(FA, FB)                                                                             \
  extern "C" __global__ void __launch_bounds__(384, 1) mx_wgmma_ws_fp8_a##FA##_b##FB(                  \
      const __grid_constant__ CUtensorMap tmA, const __grid_constant__ CUtensorMap tmB,                 \
      const __grid_constant__ CUtensorMap tmSa, const __grid_constant__ CUtensorMap tmSb,               \
      const float* bias, float* y, int M, int N, int bpr) {                                              \
    ws_body<FA, FB, true, 1>(&tmA, &tmB, &tmSa, &tmSb, bias, y, M, N, bpr);                             \
  }                                                                                                      \
  extern "C" __global__ void __launch_bounds__(384, 1) mx_wgmma_ws8_fp8_a##FA##_b##FB(                 \
      const __grid_constant__ CUtensorMap tmA, const __grid_constant__ CUtensorMap tmB,                 \
      const __grid_constant__ CUtensorMap tmSa, const __grid_constant__ CUtensorMap tmSb,               \
      const float* bias, float* y, int M, int N, int bpr) {                                              \
    ws_body<FA, FB, true, 2>(&tmA, &tmB, &tmSa, &tmSb, bias, y, M, N, bpr);                             \
  }
MX_WS_KERNEL(0, 0)
MX_WS_KERNEL(0, 1)
MX_WS_KERNEL(1, 0)
MX_WS_KERNEL(1, 1)
// Diagnostic (not an MX product): the same pipeline and MMAs without the per-slice scale work.
extern "C" __global__ void __launch_bounds__(384, 1) mx_wgmma_ws_probe_unscaled(
    const __grid_constant__ CUtensorMap tmA, const __grid_constant__ CUtensorMap tmB,
    const __grid_constant__ CUtensorMap tmSa, const __grid_constant__ CUtensorMap tmSb, const float* bias, float* y,
    int M, int N, int bpr) {
  ws_body<0, 0, false, 1>(&tmA, &tmB, &tmSa, &tmSb, bias, y, M, N, bpr);
}

// MXFP8 x MXFP8 GEMM with three consumer warpgroups (WGMMA_WS3): the design of mx_wgmma_ws.cu (TMA into
// an mbarrier ring, one producer warpgroup, wgmma FP8 per 32-wide K slice into a fresh FP32 partial,
// persistent CTAs) with a 192 x 128 CTA tile, so that each scheduler runs three consumer warps instead
// of two, to hide the scale loads and MMA waits of the per-slice promotion (one FMUL + one FFMA per
// output, see docs/gpu.md). Measured on the H100: 1-6% faster than mx_wgmma_ws.cu at 8192^3, 6-8% slower
// at 4096^3 (fewer, larger tiles); its probes (below) show the scale loads' shared-memory traffic and the
// missing overlap of MMA and promotion as the limits, not the warp count (docs/bench/gemmfloor.md).
//
// Registers: 128 producer threads x 24 + 384 consumer threads x 160 = 64,512 of the SM's 65,536
// (launched with 512 x 128). A consumer thread holds its FP32 total (64 registers) and 64 registers of
// partials, either
//   - one m64n128k32 partial (variant "ws3"): each slice is issued, waited for and promoted; the other
//     two warpgroups keep the tensor cores and the FP32 pipes busy meanwhile, or
//   - two m64n64k32 partials (variant "ws3h"): a slice as two column halves, the next half's MMA runs
//     while the previous half is promoted (within the warpgroup as well as across them).
// Both promote every slice with acc = fma(d, sa[row] * sb[col], acc), the exact MX scale product.
//
// Stage: 4 slices (5 stages of 45 KiB): A codes 192 rows x 128 K bytes and B codes 128 x 128 (128-byte
// swizzle), the slices' scales as floats [4][192] and [4][128]. Boxes past M, N or K are zero-filled
// by the copy engine, so ragged tiles and slices past the last K block add zero.
#include <cuda.h>
#include "mx_common.cuh"
#include "mx_tma.cuh"
#include "mx_wgmma.cuh"

namespace {
constexpr int W3_BM = 192, W3_BN = 128, W3_SLICES = 4, W3_STAGES = 5;
constexpr int W3_A_BYTES = W3_BM * 128, W3_B_BYTES = W3_BN * 128;
constexpr int W3_SA_BYTES = 4 * W3_SLICES * W3_BM, W3_SB_BYTES = 4 * W3_SLICES * W3_BN;
constexpr int W3_STAGE_BYTES = W3_A_BYTES + W3_B_BYTES + W3_SA_BYTES + W3_SB_BYTES;
constexpr int W3_CONSUMERS = 3 * 128;
static_assert(W3_STAGE_BYTES % 1024 == 0, "stages keep the 1024-byte alignment the 128-byte swizzle needs");
static_assert(W3_A_BYTES % 1024 == 0, "the B tile starts on a swizzle atom");

// acc[OFF + 4j + 2h + e] += d[4j + 2h + e] * (sa_h * sb[8j + 2 t4 + e]) for j < NJ: one slice's partial of
// NJ column groups of 8 (16: m64n128, 8: one m64n64 half); sb points at the partial's first column scale.
template <int NJ, int OFF, int ND>
__device__ __forceinline__ void w3_promote(float (&acc)[64], const float (&d)[ND], float sa0, float sa1,
                                           const float* sb, int t4) {
  static_assert(ND == 4 * NJ && OFF + ND <= 64, "partial and total layouts agree");
#pragma unroll
  for (int j = 0; j < NJ; j++) {
    const float2 v = *reinterpret_cast<const float2*>(sb + 8 * j + 2 * t4);
    acc[OFF + 4 * j + 0] = fmaf(d[4 * j + 0], sa0 * v.x, acc[OFF + 4 * j + 0]);
    acc[OFF + 4 * j + 1] = fmaf(d[4 * j + 1], sa0 * v.y, acc[OFF + 4 * j + 1]);
    acc[OFF + 4 * j + 2] = fmaf(d[4 * j + 2], sa1 * v.x, acc[OFF + 4 * j + 2]);
    acc[OFF + 4 * j + 3] = fmaf(d[4 * j + 3], sa1 * v.y, acc[OFF + 4 * j + 3]);
  }
}

// Diagnostic modes of the one-partial variant (not MX products; they time parts of the work).
constexpr int W3_FULL = 0, W3_NO_MMA = 1, W3_NO_PROMOTE = 2, W3_NO_SCALE_LOADS = 3;

template <int FA, int FB, bool HALVES, int MODE = W3_FULL>
__device__ __forceinline__ void ws3_body(const CUtensorMap* tmA, const CUtensorMap* tmB, const CUtensorMap* tmSa,
                                         const CUtensorMap* tmSb, const float* __restrict__ bias,
                                         float* __restrict__ y, int M, int N, int bpr) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ __align__(1024) uint8_t w3_raw[];
  // Dynamic shared memory is only 16-byte aligned by contract: round up to 1024 (the host adds slack).
  uint8_t* smem = w3_raw + ((1024u - (ws_smem(w3_raw) & 1023u)) & 1023u);
  uint64_t* full = reinterpret_cast<uint64_t*>(smem + W3_STAGES * W3_STAGE_BYTES);
  uint64_t* empty = full + W3_STAGES;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int tilesM = (M + W3_BM - 1) / W3_BM, tilesN = (N + W3_BN - 1) / W3_BN, tiles = tilesM * tilesN;
  const int kTiles = (bpr + W3_SLICES - 1) / W3_SLICES;

  if (tid == 0) {
    for (int s = 0; s < W3_STAGES; s++) {
      ws_mbar_init(&full[s], 1);
      ws_mbar_init(&empty[s], W3_CONSUMERS);  // every consumer thread arrives once per stage
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  if (warp < 4) {
    // Producer warpgroup: one thread issues every copy; the others give their registers to the consumers.
    asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\n");
    if (tid == 0) {
      asm volatile("prefetch.tensormap [%0];\n" ::"l"((uint64_t)tmA) : "memory");
      asm volatile("prefetch.tensormap [%0];\n" ::"l"((uint64_t)tmB) : "memory");
      uint32_t it = 0;
      for (int t = blockIdx.x; t < tiles; t += gridDim.x) {
        int tm, tn;
        ws_tile(t, tilesM, tilesN, tm, tn);
        for (int kt = 0; kt < kTiles; kt++, it++) {
          const int st = it % W3_STAGES;
          ws_mbar_wait(&empty[st], ((it / W3_STAGES) & 1) ^ 1);
          uint8_t* sA = smem + st * W3_STAGE_BYTES;
          uint8_t* sB = sA + W3_A_BYTES;
          uint8_t* sSa = sB + W3_B_BYTES;
          uint8_t* sSb = sSa + W3_SA_BYTES;
          ws_mbar_expect_tx(&full[st], W3_STAGE_BYTES);
          ws_tma_2d(sA, tmA, &full[st], kt * 128, tm * W3_BM);
          ws_tma_2d(sB, tmB, &full[st], kt * 128, tn * W3_BN);
          ws_tma_2d(sSa, tmSa, &full[st], tm * W3_BM, kt * W3_SLICES);
          ws_tma_2d(sSb, tmSb, &full[st], tn * W3_BN, kt * W3_SLICES);
        }
      }
    }
  } else {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 160;\n");
    const int cw = (warp >> 2) - 1, wq = warp & 3;  // consumer warpgroup (64-row third), warp in it
    const int g = lane >> 2, t4 = lane & 3;
    const int rowW = cw * 64 + wq * 16 + g;  // this thread's first row in the tile
    uint32_t it = 0;
    float acc[64];
    float p[HALVES ? 32 : 64], q[HALVES ? 32 : 1];
    float dsb[MODE == W3_NO_SCALE_LOADS ? 16 : 1];  // diagnostic: column scales held in registers
#pragma unroll
    for (int i = 0; i < (MODE == W3_NO_SCALE_LOADS ? 16 : 1); i++) dsb[i] = __int_as_float((120 + (lane & 7) + i) << 23);
#pragma unroll
    for (int i = 0; i < (HALVES ? 32 : 64); i++) p[i] = MODE == W3_NO_MMA ? __int_as_float(0x3f800000 + tid + i) : 0.0f;
#pragma unroll
    for (int i = 0; i < (HALVES ? 32 : 1); i++) q[i] = 0.0f;
    for (int t = blockIdx.x; t < tiles; t += gridDim.x) {
      int tm, tn;
      ws_tile(t, tilesM, tilesN, tm, tn);
#pragma unroll
      for (int i = 0; i < 64; i++) acc[i] = 0.0f;
      for (int kt = 0; kt < kTiles; kt++, it++) {
        const int st = it % W3_STAGES;
        ws_mbar_wait(&full[st], (it / W3_STAGES) & 1);
        const uint8_t* sA = smem + st * W3_STAGE_BYTES + cw * 64 * 128;
        const uint8_t* sB = smem + st * W3_STAGE_BYTES + W3_A_BYTES;
        const float* sSa =
            reinterpret_cast<const float*>(smem + st * W3_STAGE_BYTES + W3_A_BYTES + W3_B_BYTES);
        const float* sSb = sSa + W3_SLICES * W3_BM;
        if constexpr (!HALVES) {
          // One partial: issue, wait, promote; the other warpgroups overlap this one's wait.
#pragma unroll
          for (int s = 0; s < W3_SLICES; s++) {
            if constexpr (MODE != W3_NO_MMA) {
              wg_fence();
              wgmma_fresh<FA, FB>(p, ws_desc(sA + 32 * s), ws_desc(sB + 32 * s));
              wg_commit();
              wg_wait<0>(p);
            }
            if constexpr (MODE == W3_FULL || MODE == W3_NO_MMA) {
              w3_promote<16, 0>(acc, p, sSa[s * W3_BM + rowW], sSa[s * W3_BM + rowW + 8], sSb + s * W3_BN, t4);
            } else if constexpr (MODE == W3_NO_SCALE_LOADS) {
              // Row scales that change per stage (so the products cannot be hoisted), column scales fixed.
              const float sa0 = __int_as_float(((127 + s) << 23) ^ (kt & 1)), sa1 = __int_as_float(((126 - s) << 23) ^ (kt & 1));
#pragma unroll
              for (int j = 0; j < 16; j++) {
                const float b0 = dsb[2 * (j & 7)], b1 = dsb[2 * (j & 7) + 1];
                acc[4 * j + 0] = fmaf(p[4 * j + 0], sa0 * b0, acc[4 * j + 0]);
                acc[4 * j + 1] = fmaf(p[4 * j + 1], sa0 * b1, acc[4 * j + 1]);
                acc[4 * j + 2] = fmaf(p[4 * j + 2], sa1 * b0, acc[4 * j + 2]);
                acc[4 * j + 3] = fmaf(p[4 * j + 3], sa1 * b1, acc[4 * j + 3]);
              }
            } else {
#pragma unroll
              for (int i = 0; i < 64; i++) acc[i] += p[i];
            }
          }
        } else {
          // Half u = 2s + h covers slice s, columns 64h..64h+63, into p (even u) or q (odd u); half u+1's
          // MMA is in flight while half u is promoted. The stage's last half is waited for before the
          // next stage (a wgmma in flight across the loop's back edge makes ptxas serialise them all).
#define W3_HALF(buf, u) \
  wgmma_fresh_n64<FA, FB>(buf, ws_desc(sA + 32 * ((u) >> 1)), ws_desc(sB + ((u) & 1) * 64 * 128 + 32 * ((u) >> 1)))
          wg_fence();
          W3_HALF(p, 0);
          wg_commit();
          W3_HALF(q, 1);
          wg_commit();
#pragma unroll
          for (int u = 0; u < 2 * W3_SLICES; u++) {
            const int s = u >> 1;
            const float sa0 = sSa[s * W3_BM + rowW], sa1 = sSa[s * W3_BM + rowW + 8];
            if ((u & 1) == 0) {
              wg_wait<1>(p);
              w3_promote<8, 0>(acc, p, sa0, sa1, sSb + s * W3_BN, t4);
              if (u + 2 < 2 * W3_SLICES) {
                wg_fence();
                W3_HALF(p, u + 2);
                wg_commit();
              }
            } else {
              if (u + 1 < 2 * W3_SLICES) wg_wait<1>(q);
              else wg_wait<0>(q);
              w3_promote<8, 32>(acc, q, sa0, sa1, sSb + s * W3_BN + 64, t4);
              if (u + 2 < 2 * W3_SLICES) {
                wg_fence();
                W3_HALF(q, u + 2);
                wg_commit();
              }
            }
          }
#undef W3_HALF
        }
        ws_mbar_arrive(&empty[st]);  // codes and scales of this stage are no longer read
      }
      // Epilogue straight from registers (the producer already fills the next tile's stages); acc has
      // the m64n128 fragment layout in both variants.
      ws_store_fragment(acc, y, bias, M, N, tm * W3_BM + rowW, tn * W3_BN + 2 * t4);
    }
  }
#else
  __trap();
#endif
}

}  // namespace

#define MX_WS3_KERNEL(FA, FB)                                                                            \
  extern "C" __global__ void __launch_bounds__(512, 1) mx_wgmma_ws3_fp8_a##FA##_b##FB(                 \
      const __grid_constant__ CUtensorMap tmA, const __grid_constant__ CUtensorMap tmB,                 \
      const __grid_constant__ CUtensorMap tmSa, const __grid_constant__ CUtensorMap tmSb,               \
      const float* bias, float* y, int M, int N, int bpr) {                                              \
    ws3_body<FA, FB, false>(&tmA, &tmB, &tmSa, &tmSb, bias, y, M, N, bpr);                              \
  }                                                                                                      \
  extern "C" __global__ void __launch_bounds__(512, 1) mx_wgmma_ws3h_fp8_a##FA##_b##FB(                \
      const __grid_constant__ CUtensorMap tmA, const __grid_constant__ CUtensorMap tmB,                 \
      const __grid_constant__ CUtensorMap tmSa, const __grid_constant__ CUtensorMap tmSb,               \
      const float* bias, float* y, int M, int N, int bpr) {                                              \
    ws3_body<FA, FB, true>(&tmA, &tmB, &tmSa, &tmSb, bias, y, M, N, bpr);                               \
  }
MX_WS3_KERNEL(0, 0)
MX_WS3_KERNEL(0, 1)
MX_WS3_KERNEL(1, 0)
MX_WS3_KERNEL(1, 1)
// Diagnostics (not MX products): the one-partial kernel without its MMAs, without its promotion (partials
// summed unscaled) and with its scales taken from registers instead of shared memory.
#define MX_WS3_PROBE(NAME, MODE)                                                                           \
  extern "C" __global__ void __launch_bounds__(512, 1) NAME(                                             \
      const __grid_constant__ CUtensorMap tmA, const __grid_constant__ CUtensorMap tmB,                   \
      const __grid_constant__ CUtensorMap tmSa, const __grid_constant__ CUtensorMap tmSb,                 \
      const float* bias, float* y, int M, int N, int bpr) {                                                \
    ws3_body<0, 0, false, MODE>(&tmA, &tmB, &tmSa, &tmSb, bias, y, M, N, bpr);                            \
  }
MX_WS3_PROBE(mx_wgmma_ws3_probe_no_mma, W3_NO_MMA)
MX_WS3_PROBE(mx_wgmma_ws3_probe_no_promote, W3_NO_PROMOTE)
MX_WS3_PROBE(mx_wgmma_ws3_probe_no_scale_loads, W3_NO_SCALE_LOADS)

// MXFP8 x MXFP8 GEMM, Hopper design: TMA (cp.async.bulk.tensor, tensor maps made on the host with
// cuTensorMapEncodeTiled) into a ring of shared-memory stages guarded by mbarriers, one producer warp
// and two consumer warpgroups (warp-specialised, setmaxnreg), wgmma m64n128k32 FP8 (QGMMA) per 32-wide
// K slice, persistent CTAs walking the output tiles in L2-friendly groups.
//
// y[m, n] = sum_kb sa[m, kb] * sb[n, kb] * sum_{k in kb} a[m, k] b[n, k] (+ bias[n]).
// Each wgmma covers exactly one MX slice and writes a fresh FP32 partial (scale-d = 0). Two partials per
// warpgroup alternate: while the tensor cores compute slice s+1, the threads add slice s into the FP32
// total with acc = fma(d, sa[row] * sb[col], acc) (power-of-two scales: exact but for FP32 rounding).
// CTA tile 128 x 128, stage = 128 K bytes (4 slices): A and B codes 16 KB each (128-byte swizzle), and
// the scales as floats [4][128] for each operand.
#include <cuda.h>
#include "mx_common.cuh"

namespace {
constexpr int WS_BM = 128, WS_BN = 128, WS_GROUP_M = 8;
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

__device__ __forceinline__ uint32_t ws_smem(const void* p) { return (uint32_t)__cvta_generic_to_shared(p); }

__device__ __forceinline__ void ws_mbar_init(uint64_t* bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(ws_smem(bar)), "r"(count) : "memory");
}
__device__ __forceinline__ void ws_mbar_expect_tx(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(ws_smem(bar)), "r"(bytes) : "memory");
}
__device__ __forceinline__ void ws_mbar_arrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(ws_smem(bar)) : "memory");
}
__device__ __forceinline__ void ws_mbar_wait(uint64_t* bar, uint32_t parity) {
  uint32_t ok = 0;
  while (!ok) {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(ok) : "r"(ws_smem(bar)), "r"(parity) : "memory");
  }
}

// 2-D bulk tensor copy global -> shared, completing on bar (coordinates: inner, outer).
__device__ __forceinline__ void ws_tma_2d(void* dst, const void* tmap, uint64_t* bar, int c0, int c1) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4}], [%2];\n" ::"r"(
          ws_smem(dst)),
      "l"((uint64_t)tmap), "r"(ws_smem(bar)), "r"(c0), "r"(c1)
      : "memory");
}

// wgmma shared-memory descriptor of a K-major tile in the 128-byte swizzle layout (8 rows of 128 bytes
// per 1024-byte atom); p may point 32*s bytes into a row to select K slice s.
__device__ __forceinline__ uint64_t ws_desc(const void* p) {
  return (uint64_t)((ws_smem(p) & 0x3FFFF) >> 4) | ((uint64_t)1 << 16) | ((uint64_t)(1024 >> 4) << 32) |
         ((uint64_t)1 << 62);
}

template <int FA, int FB>
__device__ __forceinline__ void ws_wgmma(float (&d)[64], uint64_t da, uint64_t db) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define MX_WS_WGMMA(TA, TB)                                                                          \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"                                     \
               "wgmma.mma_async.sync.aligned.m64n128k32.f32." TA "." TB " {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1;\n}\n" \
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]) \
               : "l"(da), "l"(db), "r"(0))
  if constexpr (FA == MX_E4M3 && FB == MX_E4M3) MX_WS_WGMMA("e4m3", "e4m3");
  else if constexpr (FA == MX_E4M3) MX_WS_WGMMA("e4m3", "e5m2");
  else if constexpr (FB == MX_E4M3) MX_WS_WGMMA("e5m2", "e4m3");
  else MX_WS_WGMMA("e5m2", "e5m2");
#undef MX_WS_WGMMA
#else
  __trap();  // sm_90a only; the host never launches this kernel elsewhere
#endif
}

__device__ __forceinline__ void ws_fence() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void ws_commit() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}
// Waits until at most N wgmma groups are pending; names d so its reads are ordered after the wait.
template <int N> __device__ __forceinline__ void ws_wait(float (&d)[64]) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("wgmma.wait_group.sync.aligned %64;\n" : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]) : "n"(N) : "memory");
#endif
}

// acc += d * (sa[row] * sb[col]) for one slice: sa0/sa1 are this thread's two rows' scales, sb the
// slice's 128 column scales in shared memory.
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

// Tile t of the persistent walk: groups of WS_GROUP_M tile rows, column-major inside a group, so the
// CTAs running at once share A rows and B columns in L2.
__device__ __forceinline__ void ws_tile(int t, int tilesM, int tilesN, int& tm, int& tn) {
  const int perGroup = WS_GROUP_M * tilesN;
  const int g = t / perGroup, first = g * WS_GROUP_M;
  const int size = min(tilesM - first, WS_GROUP_M);
  const int r = t - g * perGroup;
  tm = first + r % size;
  tn = r / size;
}

template <int FA, int FB, bool PROMOTE, int SUB, bool DESYNC = false>
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
    if (DESYNC && cw == 1) {
      // Probe: start the second warpgroup ~1,500 cycles late so the two drain at different times.
      const long long t0 = clock64();
      while (clock64() - t0 < 1500) {
      }
    }
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
        ws_fence();
        ws_wgmma<FA, FB>(p0, WS_SLICE_DESC(0));
        ws_commit();
#pragma unroll
        for (int s = 1; s < C::SLICES; s++) {
          if (s > 1) ws_fence();
          if (s & 1) {
            ws_wgmma<FA, FB>(p1, WS_SLICE_DESC(s));
            ws_commit();
            ws_wait<1>(p0);
            WS_PROMOTE(p0, s - 1);
          } else {
            ws_wgmma<FA, FB>(p0, WS_SLICE_DESC(s));
            ws_commit();
            ws_wait<1>(p1);
            WS_PROMOTE(p1, s - 1);
          }
        }
        ws_wait<0>(p1);
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
      const int m0 = tm * WS_BM + rowW, n0 = tn * WS_BN + 2 * t4;
      const bool pairs = (N & 1) == 0;
#pragma unroll
      for (int j = 0; j < 16; j++) {
        const int n = n0 + 8 * j;
        const float b0 = (bias != nullptr && n < N) ? bias[n] : 0.0f;
        const float b1 = (bias != nullptr && n + 1 < N) ? bias[n + 1] : 0.0f;
#pragma unroll
        for (int h = 0; h < 2; h++) {
          const int m = m0 + 8 * h;
          if (m >= M) continue;
          float* yr = y + (long long)m * N;
          const float v0 = acc[4 * j + 2 * h] + b0, v1 = acc[4 * j + 2 * h + 1] + b1;
          if (pairs && n + 1 < N) {
            *reinterpret_cast<float2*>(yr + n) = make_float2(v0, v1);
          } else {
            if (n < N) yr[n] = v0;
            if (n + 1 < N) yr[n + 1] = v1;
          }
        }
      }
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


// Probe (benchmarked, output compared with mx_wgmma_ws8_fp8_a0_b0): 8-slice stages, second consumer
// warpgroup started late.
extern "C" __global__ void __launch_bounds__(384, 1) mx_wgmma_ws8d_fp8_a0_b0(
    const __grid_constant__ CUtensorMap tmA, const __grid_constant__ CUtensorMap tmB,
    const __grid_constant__ CUtensorMap tmSa, const __grid_constant__ CUtensorMap tmSb, const float* bias, float* y,
    int M, int N, int bpr) {
  ws_body<0, 0, true, 2, true>(&tmA, &tmB, &tmSa, &tmSb, bias, y, M, N, bpr);
}

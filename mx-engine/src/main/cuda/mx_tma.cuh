// Helpers of the TMA + mbarrier pipelines of the warp-specialised FP8 GEMMs (mx_wgmma_ws.cu,
// mx_wgmma_ws3.cu): shared-memory addresses, mbarriers, 2-D bulk tensor copies, wgmma descriptors of
// 128-byte-swizzled tiles and the persistent tile walk. sm_90 PTX; the kernels that use them are only
// launched on sm_90a.
#pragma once
#include <cstdint>

namespace {
constexpr int kWsGroupM = 8;  // tile rows per group of the persistent walk

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

// Tile t of the persistent walk: groups of kWsGroupM tile rows, column-major inside a group, so the
// CTAs running at once share A rows and B columns in L2.
__device__ __forceinline__ void ws_tile(int t, int tilesM, int tilesN, int& tm, int& tn) {
  const int perGroup = kWsGroupM * tilesN;
  const int g = t / perGroup, first = g * kWsGroupM;
  const int size = min(tilesM - first, kWsGroupM);
  const int r = t - g * perGroup;
  tm = first + r % size;
  tn = r / size;
}

}  // namespace

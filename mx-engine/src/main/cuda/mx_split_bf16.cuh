// Split-BF16 helpers shared by the weight-only tensor-core kernels (mx_gemm_tc.cu, mx_gemm_tcp.cu): ldmatrix,
// the BF16 mma.sync, and the exact split of FP32 activations into BF16 pieces (see mx_gemm_tc.cu for why the
// split is lossless with three pieces).
#pragma once
#include <cuda_bf16.h>
#include <cstdint>

namespace {
__device__ __forceinline__ void tc_ldmatrix_x4(uint32_t (&r)[4], const void* p) {
  uint32_t s = (uint32_t)__cvta_generic_to_shared(p);
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s));
}

// d = a * b + d, BF16 in, FP32 accumulate.
__device__ __forceinline__ void tc_mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
               "{%0,%1,%2,%3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats to a BF16 pair (lo in the low half), round to nearest even; exact for BF16-representable inputs.
__device__ __forceinline__ uint32_t tc_pack_bf16(float lo, float hi) {
  uint32_t r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

// Splits two floats into P BF16 pieces each, packed in pairs (out[p]: piece p of v0 in the low half, of v1 in
// the high half; p = 0 the largest). The first P-1 pieces are truncations of what is left (so none overflows), the
// last is the rest rounded to nearest: one mask, one FADD per element and one byte permute per pair for each
// truncated piece, one paired conversion for the last. NaN propagates through the pieces by itself; Inf, whose
// rest would be Inf - Inf = NaN, is fixed up by the caller (tc_split_inf).
template <int P> __device__ __forceinline__ void tc_split2(float v0, float v1, uint32_t (&out)[P]) {
  float r0 = v0, r1 = v1;
#pragma unroll
  for (int p = 0; p < P - 1; p++) {
    const uint32_t t0 = __float_as_uint(r0) & 0xFFFF0000u, t1 = __float_as_uint(r1) & 0xFFFF0000u;
    out[p] = __byte_perm(t0, t1, 0x7632u);
    r0 = r0 - __uint_as_float(t0);  // exact
    r1 = r1 - __uint_as_float(t1);
  }
  out[P - 1] = tc_pack_bf16(r0, r1);
}

// Pieces of a pair where an element may be +-Inf: an infinite element's first piece is its Inf, the others zero
// (so Inf * W stays Inf, as in FP32); finite elements and NaN as tc_split2.
template <int P> __device__ __forceinline__ void tc_split_inf(float v0, float v1, uint32_t (&out)[P]) {
  tc_split2<P>(v0, v1, out);
  if (isinf(v0)) {
    out[0] = (out[0] & 0xFFFF0000u) | (__float_as_uint(v0) >> 16);
#pragma unroll
    for (int p = 1; p < P; p++) out[p] &= 0xFFFF0000u;
  }
  if (isinf(v1)) {
    out[0] = (out[0] & 0x0000FFFFu) | (__float_as_uint(v1) & 0xFFFF0000u);
#pragma unroll
    for (int p = 1; p < P; p++) out[p] &= 0x0000FFFFu;
  }
}


// BF16 elements per shared-memory row of a 32-wide K tile: 32 + 8 of padding, so the eight 80-byte rows an
// ldmatrix reads land in distinct bank groups.
constexpr int TC_SROW = 40;

// One 32-wide K tile on the tensor cores into a fresh accumulator t (zeroed here): the warp's MI x 16 rows of the
// P pieces of x (xs: [P][rows][TC_SROW] BF16, piece p at xs + p * pieceStride) times its NI x 8 columns of the
// decoded weight (ws: [columns][TC_SROW]); rows from arow0, columns from nrow0. Pieces go smallest first.
template <int P, int MI, int NI>
__device__ __forceinline__ void tc_tile_mma(float (&t)[MI][NI][4], const __nv_bfloat16* xs, int pieceStride,
                                            const __nv_bfloat16* ws, int arow0, int nrow0, int lane) {
#pragma unroll
  for (int i = 0; i < MI; i++)
#pragma unroll
    for (int j = 0; j < NI; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) t[i][j][e] = 0.0f;
#pragma unroll
  for (int ks = 0; ks < 2; ks++) {
    uint32_t b[NI][2];
#pragma unroll
    for (int nj = 0; nj < NI / 2; nj++) {
      uint32_t r4[4];
      const int nrow = nrow0 + nj * 16 + (lane & 7) + ((lane >> 4) & 1) * 8;
      tc_ldmatrix_x4(r4, ws + nrow * TC_SROW + ks * 16 + ((lane >> 3) & 1) * 8);
      b[2 * nj][0] = r4[0]; b[2 * nj][1] = r4[1];
      b[2 * nj + 1][0] = r4[2]; b[2 * nj + 1][1] = r4[3];
    }
#pragma unroll
    for (int p = P - 1; p >= 0; p--) {  // smallest piece first
#pragma unroll
      for (int mi = 0; mi < MI; mi++) {
        uint32_t a[4];
        const int arow = arow0 + mi * 16 + (lane & 15);
        tc_ldmatrix_x4(a, xs + p * pieceStride + arow * TC_SROW + ks * 16 + (lane >> 4) * 8);
#pragma unroll
        for (int ni = 0; ni < NI; ni++) tc_mma_bf16(t[mi][ni], a, b[ni][0], b[ni][1]);
      }
    }
  }
}
}  // namespace

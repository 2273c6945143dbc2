// Weight-only MX linear with FP32 activations on the BF16 tensor cores (mma.sync m16n8k16, FP32 accumulate):
// y[m, n] = sum_k x[m, k] * W[n, k] + bias[n], to FP32 accuracy.
//
// Why it is exact: every MX element times its E8M0 scale has at most 4 significant bits (7 for MXINT8), so it is
// a BF16 value exactly, unless the scale pushes it below BF16's smallest subnormal or above its largest value
// (the host checks the scales once per weight and keeps such weights on the SIMT kernel: Bf16Exactness; it also
// keeps weights whose smallest values would be BF16 subnormals there).
// Each FP32 activation is split into P BF16 pieces, x = x1 + x2 (+ x3): x1 and x2 are truncations (so no piece
// overflows), the last piece is the rounded rest. Three pieces hold all 24 significand bits of a normal FP32,
// two hold 16-17. Every piece times W is an exact product inside the tensor core, so A·W = sum_p piece_p·W.
// Each 32-wide K tile (one MX block) is summed on the tensor cores into a fresh accumulator (smallest piece
// first) and then added to the FP32 total with an ordinary FADD, so the tensor cores never carry a long sum.
//
// Tiles: BM (32 or 64) rows x 64 columns x 32 K per CTA of 4 warps (2 x 2, each (BM/2) x 32). Per K tile each
// thread loads its share of x (FP32) and of the weight codes into registers for the next tile while the warps
// multiply the current one from shared memory (two stages, one barrier per tile); x is split and the weight
// decoded (scale folded in) on the way into shared memory, both as BF16 rows of 32 (+8 padding, so the
// ldmatrix rows of 80 bytes land in distinct bank groups).
#include <cuda_bf16.h>
#include "mx_common.cuh"
#include "mx_split_bf16.cuh"

namespace {
constexpr int TC_BN = 64, TC_BK = 32, TC_ROW = TC_BK + 8;  // BF16 per shared row

// Raw codes of one half block (16 elements) of a weight row: 16 bytes (8-bit formats), 12 (FP6) or 8 (FP4).
struct TcCodes {
  uint32_t v[4];
};

// Loads the codes of half h (0: elements 0..15, 1: 16..31) of block kb of a weight row.
template <int F>
__device__ __forceinline__ void tc_load16(const uint8_t* __restrict__ row, int kb, int h, TcCodes& c) {
  if constexpr (F == MX_E4M3 || F == MX_E5M2 || F == MX_INT8) {
    const uint4 q = *reinterpret_cast<const uint4*>(row + (long long)kb * 32 + h * 16);
    c.v[0] = q.x; c.v[1] = q.y; c.v[2] = q.z; c.v[3] = q.w;
  } else if constexpr (F == MX_E2M1) {
    const uint2 q = *reinterpret_cast<const uint2*>(row + (long long)kb * 16 + h * 8);
    c.v[0] = q.x; c.v[1] = q.y; c.v[2] = 0u; c.v[3] = 0u;
  } else {  // 4-byte aligned: rows hold 24 bytes per block
    const uint32_t* q = reinterpret_cast<const uint32_t*>(row + (long long)kb * 24 + h * 12);
    c.v[0] = q[0]; c.v[1] = q[1]; c.v[2] = q[2]; c.v[3] = 0u;
  }
}

// Decodes 16 loaded elements into floats times the block scale (exact), zeroing elements at or beyond K
// (kLeft: valid elements of this block counted from its start).
template <int F>
__device__ __forceinline__ void tc_decode16(const TcCodes& c, uint32_t scaleByte, int h, int kLeft, float (&w)[16]) {
  // value = (decoded * 2^shift) * scale: the first product is exact and in range, the second is the element's
  // true value (Inf only where the true value overflows; the host keeps such weights off this kernel).
  const float shiftf = mx_pow2(MxShift<F>::value);
  const float s = mx_scale(scaleByte);
  if constexpr (F == MX_E4M3 || F == MX_E5M2 || F == MX_INT8) {
#pragma unroll
    for (int i = 0; i < 4; i++) {
      if constexpr (F == MX_INT8) {
#pragma unroll
        for (int j = 0; j < 4; j++) w[4 * i + j] = mx_int8_byte(c.v[i], j) * shiftf;
      } else {
        float2 a = mx_fp8x2_to_float2<F>(c.v[i]);
        float2 b = mx_fp8x2_to_float2<F>(c.v[i] >> 16);
        w[4 * i] = a.x; w[4 * i + 1] = a.y; w[4 * i + 2] = b.x; w[4 * i + 3] = b.y;
      }
    }
  } else if constexpr (F == MX_E2M1) {  // element i in nibble i (low nibble first)
#pragma unroll
    for (int i = 0; i < 16; i++) {
      uint32_t e = (c.v[i >> 3] >> (4 * (i & 7))) & 0xFu;
      w[i] = __half2float(__ushort_as_half((unsigned short)mx_half_bits<F>(e))) * shiftf;
    }
  } else {  // FP6: element i at bits [6i, 6i + 6) of the little-endian 96 bits
#pragma unroll
    for (int i = 0; i < 16; i++) {
      const int bit = 6 * i;
      uint32_t e = __funnelshift_r(c.v[bit >> 5], c.v[(bit >> 5) + 1], bit & 31) & 0x3Fu;
      w[i] = __half2float(__ushort_as_half((unsigned short)mx_half_bits<F>(e))) * shiftf;
    }
  }
#pragma unroll
  for (int i = 0; i < 16; i++) w[i] = (h * 16 + i < kLeft) ? w[i] * s : 0.0f;
}

// Shared memory of one K group: two stages of the split x (P pieces) and of the decoded weight.
template <int P, int BM> struct TcGroupSmem {
  static constexpr int BYTES = 2 * (P * BM + TC_BN) * TC_ROW * 2;
};

template <int F, int P, int BM, int KS>
__device__ __forceinline__ void gemm_tc_body(const float* __restrict__ x, int M, const uint8_t* __restrict__ codes,
                                             long long cbpr, const uint8_t* __restrict__ scales, int bpr,
                                             const float* __restrict__ bias, float* __restrict__ y, int N, int K,
                                             int act) {
  constexpr int MI = BM / 32;        // m16 fragments per warp
  constexpr int NI = 4;              // n8 fragments per warp (warp tile 32 wide)
  constexpr int EPT = BM * TC_BK / 128;  // x elements per thread per tile: 16 (BM 64) or 8 (BM 32)
  constexpr int TPR = TC_BK / EPT;       // threads per x row
  extern __shared__ __align__(16) uint8_t tc_smem[];
  // KS groups of 4 warps each take every KS-th K tile with their own buffers and barrier (named barrier
  // 1 + group), so a CTA keeps KS independent K loops in flight; the partial sums meet at the end.
  const int grp = threadIdx.x >> 7;
  const int tid = threadIdx.x & 127, lane = tid & 31, warp = tid >> 5;
  typedef __nv_bfloat16 XsT[P][BM][TC_ROW];
  typedef __nv_bfloat16 WsT[TC_BN][TC_ROW];
  uint8_t* gbase = tc_smem + grp * TcGroupSmem<P, BM>::BYTES;
  XsT* xs = reinterpret_cast<XsT*>(gbase);                        // [2]
  WsT* ws = reinterpret_cast<WsT*>(gbase + 2 * sizeof(XsT));     // [2]
  auto group_sync = [&]() {
    if constexpr (KS == 1) __syncthreads();
    else asm volatile("bar.sync %0, 128;" ::"r"(1 + grp) : "memory");
  };

  const int wm = warp >> 1, wn = warp & 1;
  const int m0 = blockIdx.x * BM, n0 = blockIdx.y * TC_BN;
  // x share: row xr, columns xc .. xc + EPT of each tile
  const int xr = tid / TPR, xc = (tid % TPR) * EPT;
  const int xm = m0 + xr;
  const bool xrow = xm < M;
  const float* xrowp = x + (long long)(xrow ? xm : 0) * K;
  const bool vec = ((K & 3) == 0) && ((reinterpret_cast<uintptr_t>(x) & 15u) == 0);
  // weight share: row wr, half block wh
  const int wr = tid >> 1, wh = tid & 1;
  const int wn_ = n0 + wr;
  const bool wrow = wn_ < N;
  const uint8_t* wrowp = codes + (long long)(wrow ? wn_ : 0) * cbpr;
  const uint8_t* srowp = scales + (long long)(wrow ? wn_ : 0) * bpr;

  float xv[EPT];
  TcCodes wc;
  uint32_t wsc = 0u;

  auto load_x = [&](int kt) {
    const int k0 = kt * TC_BK + xc;
    if (vec) {
#pragma unroll
      for (int i = 0; i < EPT; i += 4) {
        float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
        if (xrow && k0 + i < K) v = *reinterpret_cast<const float4*>(xrowp + k0 + i);
        xv[i] = v.x; xv[i + 1] = v.y; xv[i + 2] = v.z; xv[i + 3] = v.w;
      }
    } else {
#pragma unroll
      for (int i = 0; i < EPT; i++) xv[i] = (xrow && k0 + i < K) ? xrowp[k0 + i] : 0.0f;
    }
  };
  auto load_w = [&](int kt) {
    if (wrow) {
      tc_load16<F>(wrowp, kt, wh, wc);
      wsc = srowp[kt];
    }
  };
  auto store = [&](int st, int kt) {
    float wv[16];
    if (wrow) {
      tc_decode16<F>(wc, wsc, wh, K - kt * TC_BK, wv);
    } else {
#pragma unroll
      for (int i = 0; i < 16; i++) wv[i] = 0.0f;
    }
    float amax = 0.0f;  // Inf check for the whole share: one FMNMX per element
#pragma unroll
    for (int i = 0; i < EPT; i++) amax = fmaxf(amax, fabsf(xv[i]));
    uint32_t pc[EPT / 2][P];
    if (amax == INFINITY) {
#pragma unroll
      for (int i = 0; i < EPT; i += 2) tc_split_inf<P>(xv[i], xv[i + 1], pc[i / 2]);
    } else {
#pragma unroll
      for (int i = 0; i < EPT; i += 2) tc_split2<P>(xv[i], xv[i + 1], pc[i / 2]);
    }
#pragma unroll
    for (int p = 0; p < P; p++) {
      uint4* dst = reinterpret_cast<uint4*>(&xs[st][p][xr][xc]);
#pragma unroll
      for (int j = 0; j < EPT / 8; j++)
        dst[j] = make_uint4(pc[4 * j][p], pc[4 * j + 1][p], pc[4 * j + 2][p], pc[4 * j + 3][p]);
    }
    uint4* wd = reinterpret_cast<uint4*>(&ws[st][wr][wh * 16]);
    wd[0] = make_uint4(tc_pack_bf16(wv[0], wv[1]), tc_pack_bf16(wv[2], wv[3]), tc_pack_bf16(wv[4], wv[5]),
                       tc_pack_bf16(wv[6], wv[7]));
    wd[1] = make_uint4(tc_pack_bf16(wv[8], wv[9]), tc_pack_bf16(wv[10], wv[11]), tc_pack_bf16(wv[12], wv[13]),
                       tc_pack_bf16(wv[14], wv[15]));
  };

  float acc[MI][NI][4];
#pragma unroll
  for (int i = 0; i < MI; i++)
#pragma unroll
    for (int j = 0; j < NI; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) acc[i][j][e] = 0.0f;

  if (grp < bpr) {
    load_x(grp);
    load_w(grp);
    store(0, grp);
  }
  group_sync();
  int st = 0;
  for (int kt = grp; kt < bpr; kt += KS) {
    const bool more = kt + KS < bpr;
    if (more) {  // next tile's global loads in flight while this tile multiplies
      load_x(kt + KS);
      load_w(kt + KS);
    }
    float t[MI][NI][4];
    tc_tile_mma<P, MI, NI>(t, &xs[st][0][0][0], BM * TC_ROW, &ws[st][0][0], wm * (BM / 2), wn * 32, lane);
#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
      for (int j = 0; j < NI; j++)
#pragma unroll
        for (int e = 0; e < 4; e++) acc[i][j][e] += t[i][j][e];
    if (more) store(st ^ 1, kt + KS);
    group_sync();
    st ^= 1;
  }

  if constexpr (KS > 1) {
    // groups 1.. hand their partial sums to group 0 through their own (now idle) shared memory; group 0 adds
    // them in group order (deterministic)
    float* red = reinterpret_cast<float*>(gbase);
    if (grp > 0) {
#pragma unroll
      for (int i = 0; i < MI; i++)
#pragma unroll
        for (int j = 0; j < NI; j++)
#pragma unroll
          for (int e = 0; e < 4; e++) red[((warp * MI + i) * NI * 4 + j * 4 + e) * 32 + lane] = acc[i][j][e];
    }
    __syncthreads();
    if (grp > 0) return;
#pragma unroll
    for (int g2 = 1; g2 < KS; g2++) {
      const float* r2 = reinterpret_cast<const float*>(tc_smem + g2 * TcGroupSmem<P, BM>::BYTES);
#pragma unroll
      for (int i = 0; i < MI; i++)
#pragma unroll
        for (int j = 0; j < NI; j++)
#pragma unroll
          for (int e = 0; e < 4; e++) acc[i][j][e] += r2[((warp * MI + i) * NI * 4 + j * 4 + e) * 32 + lane];
    }
  }

  const int g = lane >> 2, t4 = lane & 3;
#pragma unroll
  for (int mi = 0; mi < MI; mi++)
#pragma unroll
    for (int ni = 0; ni < NI; ni++) {
      const int n = n0 + wn * 32 + ni * 8 + 2 * t4;
#pragma unroll
      for (int hh = 0; hh < 2; hh++) {
        const int m = m0 + wm * (BM / 2) + mi * 16 + g + hh * 8;
        if (m >= M) continue;
        float* yr = y + (long long)m * N;
        if (n < N) yr[n] = mx_epilogue(acc[mi][ni][2 * hh] + (bias != nullptr ? bias[n] : 0.0f), act);
        if (n + 1 < N) yr[n + 1] = mx_epilogue(acc[mi][ni][2 * hh + 1] + (bias != nullptr ? bias[n + 1] : 0.0f), act);
      }
    }
}
}  // namespace

// Grid: (ceil(M / BM), ceil(N / 64)), 128 * KS threads, dynamic shared memory KS * TcGroupSmem<P, BM>::BYTES
// (above 48 KiB for KS 2: the host raises the limit). Same parameters as mx_gemm_simt_f*; act: mx_epilogue.
#define MX_GEMM_TC(F, P, BM, KS)                                                                              \
  extern "C" __global__ void __launch_bounds__(128 * KS) mx_gemm_tc_f##F##_p##P##_m##BM##_k##KS(            \
      const float* x, int M, const uint8_t* codes, long long cbpr, const uint8_t* scales, int bpr,           \
      const float* bias, float* y, int N, int K, int act) {                                                  \
    gemm_tc_body<F, P, BM, KS>(x, M, codes, cbpr, scales, bpr, bias, y, N, K, act);                               \
  }
#define MX_GEMM_TC_F(F)   \
  MX_GEMM_TC(F, 1, 32, 1) \
  MX_GEMM_TC(F, 1, 64, 1) \
  MX_GEMM_TC(F, 2, 32, 1) \
  MX_GEMM_TC(F, 2, 64, 1) \
  MX_GEMM_TC(F, 3, 32, 1) \
  MX_GEMM_TC(F, 3, 64, 1) \
  MX_GEMM_TC(F, 3, 32, 2) \
  MX_GEMM_TC(F, 3, 64, 2)
MX_GEMM_TC_F(0)
MX_GEMM_TC_F(1)
MX_GEMM_TC_F(2)
MX_GEMM_TC_F(3)
MX_GEMM_TC_F(4)
MX_GEMM_TC_F(5)

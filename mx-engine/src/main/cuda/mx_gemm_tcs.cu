// Weight-only MX linear with FP32 activations on the BF16 tensor cores, with the operands prepared once per call:
// y[m, n] = sum_k x[m, k] * W[n, k] + bias[n], with the exactness of mx_gemm_tc.cu (weights decoded exactly to
// BF16 with the scale folded in, x split into 3 BF16 pieces that hold all 24 significand bits of an FP32, each
// 32-wide K tile summed on the tensor cores into a fresh accumulator and added to the FP32 total with an FADD).
//
// Why two kernels: mx_gemm_tc.cu splits x and decodes W inside the GEMM, per CTA, so x is split ceil(N / 64)
// times and W decoded ceil(M / BM) times per call (at MiniLM's FFN shapes, by a count from the source, ~8 M warp
// instructions of conversion against ~2 M for the MMAs), in the same dependent chain as the MMAs (about 1.2 us
// per 32-wide K step per CTA at MiniLM's sizes, measured). Here:
// - mx_tc_prep_f{F}: one launch, two kinds of blocks: the first split x into its 3 BF16 pieces ([3][M][Kp],
//   Kp = K rounded up to 32, zero-padded), the rest decode W into BF16 ([N][Kp]); each element once per call.
// - mx_gemm_tcs_m{BM}_k{KS}_r{R}: a plain 3-piece BF16 GEMM over them: cp.async ring of R stages of KS 32-wide
//   K tiles (BM x 32 of each piece and 64 x 32 of W per tile, rows of 40 BF16 for conflict-free ldmatrix), KS
//   groups of BM / 16 warps of 32 x 32 (group g takes tile g of each stage), one barrier per stage, no conversion
//   in the loop.
// Measured on the H100 (docs/bench/minilmtc.md): 0.76-1.15x the speed of mx_gemm_tc.cu at MiniLM's shapes with
// 1,024-2,048 rows. Its operands cost 8 bytes per (x, w) pair from L2 per tile (3 BF16 pieces, BF16 W) against
// ~4.75 for mx_gemm_tc.cu's FP32 x and packed codes, and the preparation launch costs 4-7 us per call; so it is
// opt-in (CudaMxLinear.tensorCorePresplit), kept tested as the base for larger tiles and for pieces written by the
// kernel that produces x.
#include <cuda_bf16.h>
#include "mx_common.cuh"
#include "mx_split_bf16.cuh"

namespace {
constexpr int TS_BN = 64, TS_BK = 32;

__device__ __forceinline__ void ts_cp_async16(void* dst, const void* src, int bytes) {
  const uint32_t s = (uint32_t)__cvta_generic_to_shared(dst);
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(src), "r"(bytes) : "memory");
}
__device__ __forceinline__ void ts_cp_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void ts_cp_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// Decodes 8 consecutive elements (part `part`, i.e. elements 8*part .. 8*part+7) of one block of packed codes
// (4-byte aligned; reads only the block's own words), times 2^-shift (exact; see mx_common.cuh).
template <int F> __device__ __forceinline__ void ts_decode8(const uint8_t* blk, int part, float (&w)[8]) {
  constexpr int BITS = MxBits<F>::value;
  constexpr int NBITS = 8 * BITS;
  constexpr int NW = (NBITS + 31) / 32;  // 1 (FP4), 2 (FP6, FP8)
  const int fb = part * NBITS;
  const uint32_t* wp = reinterpret_cast<const uint32_t*>(blk) + (fb >> 5);
  const int off = fb & 31;  // 0, or 16 for FP6 odd parts (then the 48 bits still lie in 2 words)
  uint32_t a[NW + 1];
#pragma unroll
  for (int i = 0; i < NW; i++) a[i] = wp[i];
#pragma unroll
  for (int i = 0; i < NW; i++) a[i] = __funnelshift_r(a[i], i + 1 < NW ? a[i + 1] : 0u, off);
  a[NW] = 0u;
  if constexpr (F == MX_E4M3 || F == MX_E5M2) {
#pragma unroll
    for (int i = 0; i < 8; i += 2) {
      const float2 v = mx_fp8x2_to_float2<F>((a[i >> 2] >> ((i & 3) * 8)) & 0xFFFFu);
      w[i] = v.x;
      w[i + 1] = v.y;
    }
  } else if constexpr (F == MX_INT8) {
#pragma unroll
    for (int i = 0; i < 8; i++) w[i] = mx_int8_byte(a[i >> 2], i & 3);
  } else {
#pragma unroll
    for (int i = 0; i < 8; i++) {
      const int b = i * BITS;
      uint32_t c;
      if ((b & 31) + BITS <= 32) c = a[b >> 5] >> (b & 31);
      else c = __funnelshift_r(a[b >> 5], a[(b >> 5) + 1], b & 31);
      c &= (1u << BITS) - 1u;
      w[i] = __half2float(__ushort_as_half((unsigned short)mx_half_bits<F>(c)));
    }
  }
}

template <int F>
__device__ __forceinline__ void tc_prep_body(const float* __restrict__ x, int M, int K, int Kp,
                                             __nv_bfloat16* __restrict__ xp, long long pieceStride,
                                             const uint8_t* __restrict__ codes, long long cbpr,
                                             const uint8_t* __restrict__ scales, int bpr, int N,
                                             __nv_bfloat16* __restrict__ wb, int xBlocks) {
  if ((int)blockIdx.x < xBlocks) {  // x: one group of 8 elements of a row per thread
    const long long g = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const int gpr = Kp / 8;
    if (g >= (long long)M * gpr) return;
    const int row = (int)(g / gpr), k0 = (int)(g % gpr) * 8;
    const float* xr = x + (long long)row * K;
    float v[8];
    if (((K & 3) == 0) && ((reinterpret_cast<uintptr_t>(x) & 15u) == 0) && k0 + 8 <= K) {
      const float4 a = *reinterpret_cast<const float4*>(xr + k0);
      const float4 b = *reinterpret_cast<const float4*>(xr + k0 + 4);
      v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w; v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
    } else {
#pragma unroll
      for (int i = 0; i < 8; i++) v[i] = k0 + i < K ? xr[k0 + i] : 0.0f;
    }
    float amax = 0.0f;
#pragma unroll
    for (int i = 0; i < 8; i++) amax = fmaxf(amax, fabsf(v[i]));
    uint32_t pc[4][3];
    if (amax == INFINITY) {
#pragma unroll
      for (int i = 0; i < 8; i += 2) tc_split_inf<3>(v[i], v[i + 1], pc[i / 2]);
    } else {
#pragma unroll
      for (int i = 0; i < 8; i += 2) tc_split2<3>(v[i], v[i + 1], pc[i / 2]);
    }
#pragma unroll
    for (int p = 0; p < 3; p++)
      *reinterpret_cast<uint4*>(xp + p * pieceStride + (long long)row * Kp + k0) =
          make_uint4(pc[0][p], pc[1][p], pc[2][p], pc[3][p]);
  } else {  // W: one quarter block (8 elements) per thread
    const long long g = (long long)(blockIdx.x - xBlocks) * blockDim.x + threadIdx.x;
    const int gpr = bpr * 4;
    if (g >= (long long)N * gpr) return;
    const int row = (int)(g / gpr), q = (int)(g % gpr), kb = q >> 2, part = q & 3;
    float w[8];
    ts_decode8<F>(codes + (long long)row * cbpr + (long long)kb * MxBlockBytes<F>::value, part, w);
    // value = (decoded * 2^shift) * scale: the first product is exact and in range, the second is the element's
    // true value (the host keeps weights BF16 cannot hold off the tensor cores: Bf16Exactness)
    const float sh = mx_pow2(MxShift<F>::value);
    const float s = mx_scale(scales[(long long)row * bpr + kb]);
    const int kLeft = K - kb * 32 - part * 8;
#pragma unroll
    for (int i = 0; i < 8; i++) w[i] = i < kLeft ? (w[i] * sh) * s : 0.0f;
    *reinterpret_cast<uint4*>(wb + (long long)row * Kp + kb * 32 + part * 8) =
        make_uint4(tc_pack_bf16(w[0], w[1]), tc_pack_bf16(w[2], w[3]), tc_pack_bf16(w[4], w[5]),
                   tc_pack_bf16(w[6], w[7]));
  }
}

// Shared memory of one 32-wide K sub-tile: the 3 pieces of BM rows and 64 weight rows, rows of TC_SROW BF16. A
// stage holds KS sub-tiles (one per K group); CudaMxLinear.presplitSharedBytes mirrors it.
template <int BM> struct TsTile {
  static constexpr int ROWS = 3 * BM + TS_BN;
  static constexpr int BYTES = ROWS * TC_SROW * 2;
};

// KS groups of BM / 16 warps: stage s holds K tiles s*KS .. s*KS+KS-1, group g multiplies tile s*KS+g into its own
// accumulator, so a CTA's dependent chain is ceil(K / 32 / KS) stages long; the groups' sums meet at the end in
// group order (deterministic).
template <int BM, int KS, int R>
__device__ __forceinline__ void gemm_tcs_body(const __nv_bfloat16* __restrict__ xp, long long pieceStride, int M,
                                              const __nv_bfloat16* __restrict__ wb, int Kp,
                                              const float* __restrict__ bias, float* __restrict__ y, int N,
                                              int act) {
  constexpr int TG = BM * 2;  // threads per group: BM / 32 warps along M times 2 along N, each 32 x 32
  constexpr int T = TG * KS;
  constexpr int MI = 2, NI = 4;
  constexpr int CHUNKS = KS * TsTile<BM>::ROWS * 4;  // 16-byte chunks per stage
  extern __shared__ __align__(16) uint8_t ts_smem[];
  const int tid = threadIdx.x, grp = tid / TG, lane = tid & 31, warp = (tid % TG) >> 5;
  const int wm = warp >> 1, wn = warp & 1;
  const int m0 = blockIdx.x * BM, n0 = blockIdx.y * TS_BN;
  const int nkt = Kp / TS_BK;
  const int nst = (nkt + KS - 1) / KS;
  auto tile = [&](int s, int j) {
    return reinterpret_cast<__nv_bfloat16*>(ts_smem + (s * KS + j) * TsTile<BM>::BYTES);
  };

  auto issue = [&](int st) {  // stage st into its ring slot; rows past M or N and tiles past K zero-filled
    const int slot = st % R;
#pragma unroll
    for (int i = tid; i < CHUNKS; i += T) {
      const int j = i / (TsTile<BM>::ROWS * 4), rc = i % (TsTile<BM>::ROWS * 4);
      const int r = rc >> 2, c = rc & 3;
      const int kt = st * KS + j;
      const __nv_bfloat16* src;
      bool ok;
      if (r < 3 * BM) {
        const int p = r / BM, gm = m0 + r % BM;
        ok = gm < M && kt < nkt;
        src = xp + p * pieceStride + (long long)(ok ? gm : 0) * Kp + (ok ? kt : 0) * TS_BK + c * 8;
      } else {
        const int gn = n0 + r - 3 * BM;
        ok = gn < N && kt < nkt;
        src = wb + (long long)(ok ? gn : 0) * Kp + (ok ? kt : 0) * TS_BK + c * 8;
      }
      ts_cp_async16(tile(slot, j) + r * TC_SROW + c * 8, src, ok ? 16 : 0);
    }
  };

  float acc[MI][NI][4];
#pragma unroll
  for (int i = 0; i < MI; i++)
#pragma unroll
    for (int j = 0; j < NI; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) acc[i][j][e] = 0.0f;

#pragma unroll
  for (int s = 0; s < R - 1; s++) {
    if (s < nst) issue(s);
    ts_cp_commit();
  }
  // Stage st: wait for it (own copies), barrier (everyone's copies visible; the slot of stage st-1 free), issue
  // stage st+R-1 into that slot, each group multiplies its tile of stage st.
  for (int st = 0; st < nst; st++) {
    ts_cp_wait<R - 2>();
    __syncthreads();
    if (st + R - 1 < nst) issue(st + R - 1);
    ts_cp_commit();
    const __nv_bfloat16* tl = tile(st % R, grp);
    float t[MI][NI][4];
    tc_tile_mma<3, MI, NI>(t, tl, BM * TC_SROW, tl + 3 * BM * TC_SROW, wm * 32, wn * 32, lane);
#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
      for (int j = 0; j < NI; j++)
#pragma unroll
        for (int e = 0; e < 4; e++) acc[i][j][e] += t[i][j][e];
  }

  if constexpr (KS > 1) {
    // groups 1.. hand their sums to group 0 through shared memory; group 0 adds them in group order
    ts_cp_wait<0>();
    __syncthreads();
    float* red = reinterpret_cast<float*>(ts_smem);
    constexpr int PER = MI * NI * 4;
    if (grp > 0) {
#pragma unroll
      for (int i = 0; i < MI; i++)
#pragma unroll
        for (int j = 0; j < NI; j++)
#pragma unroll
          for (int e = 0; e < 4; e++)
            red[(((grp - 1) * (TG / 32) + warp) * PER + (i * NI + j) * 4 + e) * 32 + lane] = acc[i][j][e];
    }
    __syncthreads();
    if (grp > 0) return;
#pragma unroll
    for (int g2 = 1; g2 < KS; g2++)
#pragma unroll
      for (int i = 0; i < MI; i++)
#pragma unroll
        for (int j = 0; j < NI; j++)
#pragma unroll
          for (int e = 0; e < 4; e++)
            acc[i][j][e] += red[(((g2 - 1) * (TG / 32) + warp) * PER + (i * NI + j) * 4 + e) * 32 + lane];
  }

  const int g = lane >> 2, t4 = lane & 3;
#pragma unroll
  for (int mi = 0; mi < MI; mi++)
#pragma unroll
    for (int ni = 0; ni < NI; ni++) {
      const int n = n0 + wn * 32 + ni * 8 + 2 * t4;
#pragma unroll
      for (int hh = 0; hh < 2; hh++) {
        const int m = m0 + wm * 32 + mi * 16 + g + hh * 8;
        if (m >= M) continue;
        float* yr = y + (long long)m * N;
        if (n < N) yr[n] = mx_epilogue(acc[mi][ni][2 * hh] + (bias != nullptr ? bias[n] : 0.0f), act);
        if (n + 1 < N) yr[n + 1] = mx_epilogue(acc[mi][ni][2 * hh + 1] + (bias != nullptr ? bias[n + 1] : 0.0f), act);
      }
    }
}
}  // namespace

// Grid: ceil(M * Kp / 8 / 256) + ceil(N * bpr * 4 / 256) blocks of 256 threads; xp: [3][M][Kp] BF16
// (pieceStride = M * Kp), wb: [N][Kp] BF16; Kp = 32 * bpr.
#define MX_TC_PREP(F)                                                                                         \
  extern "C" __global__ void __launch_bounds__(256) mx_tc_prep_f##F(                                          \
      const float* x, int M, int K, int Kp, __nv_bfloat16* xp, long long pieceStride, const uint8_t* codes,  \
      long long cbpr, const uint8_t* scales, int bpr, int N, __nv_bfloat16* wb, int xBlocks) {               \
    tc_prep_body<F>(x, M, K, Kp, xp, pieceStride, codes, cbpr, scales, bpr, N, wb, xBlocks);                  \
  }
MX_TC_PREP(0)
MX_TC_PREP(1)
MX_TC_PREP(2)
MX_TC_PREP(3)
MX_TC_PREP(4)
MX_TC_PREP(5)

// Grid: (ceil(M / BM), ceil(N / 64)), 2 * BM * KS threads, dynamic shared memory R * KS * TsTile<BM>::BYTES
// (above 48 KiB: the host raises the limit); act: mx_epilogue.
#define MX_GEMM_TCS(BM, KS, R, MINB)                                                                         \
  extern "C" __global__ void __launch_bounds__(2 * BM * KS, MINB) mx_gemm_tcs_m##BM##_k##KS##_r##R(          \
      const __nv_bfloat16* xp, long long pieceStride, int M, const __nv_bfloat16* wb, int Kp,               \
      const float* bias, float* y, int N, int act) {                                                         \
    gemm_tcs_body<BM, KS, R>(xp, pieceStride, M, wb, Kp, bias, y, N, act);                                  \
  }
MX_GEMM_TCS(32, 4, 2, 2)
MX_GEMM_TCS(64, 1, 3, 3)
MX_GEMM_TCS(64, 2, 2, 2)
MX_GEMM_TCS(64, 2, 3, 1)
MX_GEMM_TCS(64, 4, 2, 1)
MX_GEMM_TCS(128, 1, 4, 1)

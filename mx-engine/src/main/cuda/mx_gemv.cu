// Weight-only MX linear for small batches (GEMV-like): y[m, n] = sum_k x[m, k] * W[n, k] + bias[n].
// One warp owns R weight rows; each lane owns whole 32-element blocks (one scale per lane per row), loads
// the codes of a block with 16-byte (8-byte for FP6) loads, decodes in registers, and reuses each decoded
// weight for MB activation rows. Decoded values are exact halves times 2^-shift; the block sum is scaled
// back by 2^shift and by the E8M0 scale once per block.
#include "mx_common.cuh"

namespace {

template <int F> struct BlockRegs;
template <> struct BlockRegs<MX_E2M1> { uint4 a; };
template <> struct BlockRegs<MX_E3M2> { uint2 a, b, c; };
template <> struct BlockRegs<MX_E2M3> { uint2 a, b, c; };
template <> struct BlockRegs<MX_E4M3> { uint4 a, b; };
template <> struct BlockRegs<MX_E5M2> { uint4 a, b; };
template <> struct BlockRegs<MX_INT8> { uint4 a, b; };

template <int F> __device__ __forceinline__ void load_block(BlockRegs<F>& r, const uint8_t* p) {
  if constexpr (F == MX_E2M1) {
    r.a = __ldcs(reinterpret_cast<const uint4*>(p));
  } else if constexpr (F == MX_E3M2 || F == MX_E2M3) {
    const uint2* q = reinterpret_cast<const uint2*>(p);
    r.a = __ldcs(q); r.b = __ldcs(q + 1); r.c = __ldcs(q + 2);
  } else {
    const uint4* q = reinterpret_cast<const uint4*>(p);
    r.a = __ldcs(q); r.b = __ldcs(q + 1);
  }
}

__device__ __forceinline__ uint32_t word_of(const uint4& v, int i) {
  return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

// Decodes elements 8c..8c+7 of a block (values times 2^-shift) into w[0..7].
template <int F, int C> __device__ __forceinline__ void decode8(const BlockRegs<F>& r, float w[8]) {
  if constexpr (F == MX_E2M1) {
    // Each nibble s.e.e.m becomes the high byte s000.eem0 of an exact half (value * 2^-14): even
    // nibbles from (m << 1, s << 4), odd ones from (m >> 3, s), one LOP3 per four elements; a byte
    // permute with a zero register then forms each half2 (low bytes zero).
    const uint32_t word = word_of(r.a, C);
    const uint32_t m = word & 0x77777777u, sg = word & 0x88888888u;
    constexpr uint32_t MAG = 0x0E0E0E0Eu;
    const uint32_t ev = ((m << 1) & MAG) | ((sg << 4) & ~MAG);  // bytes: elements 0, 2, 4, 6
    const uint32_t od = ((m >> 3) & MAG) | (sg & ~MAG);         // bytes: elements 1, 3, 5, 7
    // [zero, byte k, zero, byte k+1]: a half2 of two elements, exact, value * 2^-14.
    uint32_t h0 = __byte_perm(ev, 0u, 0x1404u), h1 = __byte_perm(ev, 0u, 0x3424u);
    uint32_t h2 = __byte_perm(od, 0u, 0x1404u), h3 = __byte_perm(od, 0u, 0x3424u);
    float2 f;
    f = __half22float2(*reinterpret_cast<__half2*>(&h0)); w[0] = f.x; w[2] = f.y;
    f = __half22float2(*reinterpret_cast<__half2*>(&h1)); w[4] = f.x; w[6] = f.y;
    f = __half22float2(*reinterpret_cast<__half2*>(&h2)); w[1] = f.x; w[3] = f.y;
    f = __half22float2(*reinterpret_cast<__half2*>(&h3)); w[5] = f.x; w[7] = f.y;
  } else if constexpr (F == MX_E3M2 || F == MX_E2M3) {
    // FP6 in the GEMV plane layout (mx_fp6_planes): nibble word C holds the low fields of elements
    // 8C..8C+7 (nibble j = element 8C+j); planes A and B hold one more bit each, at positions that one
    // shift (even elements) or rotate (odd) brings to bit 4 of byte k for elements 8C+2k(+1).
    const uint32_t nw = C == 0 ? r.a.x : C == 1 ? r.a.y : C == 2 ? r.b.x : r.b.y;
    const uint32_t pa = r.c.x, pb = r.c.y;
    const uint32_t ne = nw & 0x0F0F0F0Fu, no = (nw >> 4) & 0x0F0F0F0Fu;
    const uint32_t ae = pa >> C, ao = __funnelshift_r(pa, pa, C + 4);
    const uint32_t be = pb >> C, bo = __funnelshift_r(pb, pb, C + 4);
    uint32_t h0, h1, h2, h3;
    if constexpr (F == MX_E3M2) {
      // high byte of the half = s.eeemm (value * 2^-12), low byte zero
      const uint32_t he = ne | (ae & 0x10101010u) | ((be << 3) & 0x80808080u);
      const uint32_t ho = no | (ao & 0x10101010u) | ((bo << 3) & 0x80808080u);
      h0 = __byte_perm(he, 0u, 0x1404u); h1 = __byte_perm(he, 0u, 0x3424u);
      h2 = __byte_perm(ho, 0u, 0x1404u); h3 = __byte_perm(ho, 0u, 0x3424u);
    } else {
      // E2M3: high byte s000.eemm (the code's bits 4..1), low byte m0 << 7 (value * 2^-14)
      const uint32_t he = ne | ((be << 3) & 0x80808080u), le = (ae << 3) & 0x80808080u;
      const uint32_t ho = no | ((bo << 3) & 0x80808080u), lo = (ao << 3) & 0x80808080u;
      h0 = __byte_perm(le, he, 0x5140u); h1 = __byte_perm(le, he, 0x7362u);
      h2 = __byte_perm(lo, ho, 0x5140u); h3 = __byte_perm(lo, ho, 0x7362u);
    }
    float2 f;
    f = __half22float2(*reinterpret_cast<__half2*>(&h0)); w[0] = f.x; w[2] = f.y;
    f = __half22float2(*reinterpret_cast<__half2*>(&h1)); w[4] = f.x; w[6] = f.y;
    f = __half22float2(*reinterpret_cast<__half2*>(&h2)); w[1] = f.x; w[3] = f.y;
    f = __half22float2(*reinterpret_cast<__half2*>(&h3)); w[5] = f.x; w[7] = f.y;
  } else {
    const uint4& v = (C < 2) ? r.a : r.b;
    uint32_t w0 = word_of(v, (C & 1) * 2), w1 = word_of(v, (C & 1) * 2 + 1);
    if constexpr (F == MX_INT8) {
#pragma unroll
      for (int j = 0; j < 4; j++) { w[j] = mx_int8_byte(w0, j); w[j + 4] = mx_int8_byte(w1, j); }
    } else {
      float2 f;
      f = mx_fp8x2_to_float2<F>(w0); w[0] = f.x; w[1] = f.y;
      f = mx_fp8x2_to_float2<F>(w0 >> 16); w[2] = f.x; w[3] = f.y;
      f = mx_fp8x2_to_float2<F>(w1); w[4] = f.x; w[5] = f.y;
      f = mx_fp8x2_to_float2<F>(w1 >> 16); w[6] = f.x; w[7] = f.y;
    }
  }
}

// One 8-element chunk of a block for R weight rows and MB activation rows. SCALED: the decoded weights are
// multiplied by their block scale first (sc) and accumulate straight into bs (the running totals).
// Slot of float4 number c (0..7) of block kb in the shared-memory copy of x: XOR-swizzled so that the
// lanes of a warp, which read the same chunk of consecutive blocks, hit distinct banks.
__device__ __forceinline__ int xs_slot(int kb, int c) { return kb * 8 + (c ^ (kb & 7)); }

template <int F, int R, int MB, int C, bool SCALED, bool XS>
__device__ __forceinline__ void chunk(const BlockRegs<F> (&wr)[R], const float (&sc)[R], const float* const (&xp)[MB],
                                      bool fast, int kLeft, float (&bs)[R][MB], const float4* __restrict__ xs, int kb) {
  float xv[MB][8];
#pragma unroll
  for (int mb = 0; mb < MB; mb++) {
    if constexpr (XS) {
      const float4 a = xs[xs_slot(kb, 2 * C)], b = xs[xs_slot(kb, 2 * C + 1)];
      xv[mb][0] = a.x; xv[mb][1] = a.y; xv[mb][2] = a.z; xv[mb][3] = a.w;
      xv[mb][4] = b.x; xv[mb][5] = b.y; xv[mb][6] = b.z; xv[mb][7] = b.w;
    } else if (fast) {
      float4 a = __ldg(reinterpret_cast<const float4*>(xp[mb] + 8 * C));
      float4 b = __ldg(reinterpret_cast<const float4*>(xp[mb] + 8 * C + 4));
      xv[mb][0] = a.x; xv[mb][1] = a.y; xv[mb][2] = a.z; xv[mb][3] = a.w;
      xv[mb][4] = b.x; xv[mb][5] = b.y; xv[mb][6] = b.z; xv[mb][7] = b.w;
    } else {
#pragma unroll
      for (int j = 0; j < 8; j++) xv[mb][j] = (8 * C + j < kLeft) ? xp[mb][8 * C + j] : 0.0f;
    }
  }
#pragma unroll
  for (int r = 0; r < R; r++) {
    float w[8];
    decode8<F, C>(wr[r], w);
    if constexpr (SCALED) {
#pragma unroll
      for (int j = 0; j < 8; j++) w[j] *= sc[r];
    }
#pragma unroll
    for (int mb = 0; mb < MB; mb++) {
#pragma unroll
      for (int j = 0; j < 8; j++) bs[r][mb] = fmaf(w[j], xv[mb][j], bs[r][mb]);
    }
  }
}

template <int F, int R, int MB, bool XS = false>
__device__ __forceinline__ void gemv_body(const float* __restrict__ x, int M, const uint8_t* __restrict__ codes,
                                          long long cbpr, const uint8_t* __restrict__ scales, int bpr,
                                          const float* __restrict__ bias, float* __restrict__ y, int N, int K, int act,
                                          float4* xs = nullptr) {
  const int lane = threadIdx.x & 31;
  if constexpr (XS) {
    // Batch 1: the CTA first copies x (zero-padded to whole blocks) into shared memory, so the inner
    // loop's x reads are short-latency LDS instead of L1/L2 round trips.
    const bool vec = (K & 3) == 0;
    for (int i = threadIdx.x; i < bpr * 8; i += blockDim.x) {
      const int e = 4 * i;
      float4 v;
      if (vec && e + 3 < K) {
        v = __ldg(reinterpret_cast<const float4*>(x + e));
      } else {
        v.x = e < K ? x[e] : 0.0f; v.y = e + 1 < K ? x[e + 1] : 0.0f;
        v.z = e + 2 < K ? x[e + 2] : 0.0f; v.w = e + 3 < K ? x[e + 3] : 0.0f;
      }
      xs[xs_slot(i >> 3, i & 7)] = v;
    }
    __syncthreads();
  }
  const int warps = gridDim.x * (blockDim.x >> 5);
  const int m0 = blockIdx.y * MB;
  for (int n0 = (blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5)) * R; n0 < N; n0 += warps * R) {
  const bool aligned = (K & 3) == 0;
  const float shiftf = mx_pow2(MxShift<F>::value);
  constexpr int BB = MxBlockBytes<F>::value;

  const uint8_t* wrow[R];
  const uint8_t* srow[R];
#pragma unroll
  for (int r = 0; r < R; r++) {
    int n = min(n0 + r, N - 1);
    wrow[r] = codes + (long long)n * cbpr;
    srow[r] = scales + (long long)n * bpr;
  }
  const float* xrow[MB];
#pragma unroll
  for (int mb = 0; mb < MB; mb++) xrow[mb] = x + (long long)min(m0 + mb, M - 1) * K;

  float acc[R][MB];
#pragma unroll
  for (int r = 0; r < R; r++)
#pragma unroll
    for (int mb = 0; mb < MB; mb++) acc[r][mb] = 0.0f;

  constexpr bool SCALED = MB > 1;
  // Software pipelining with two register sets used in turn (no copies): the next block's codes and
  // scales are loaded before this block is decoded, so every warp keeps requests in flight while it computes.
  BlockRegs<F> ra[R], rb[R];
  uint32_t sa_[R], sb_[R];
  auto load = [&](BlockRegs<F> (&dst)[R], uint32_t (&sdst)[R], int k) {
#pragma unroll
    for (int r = 0; r < R; r++) {
      load_block<F>(dst[r], wrow[r] + (long long)k * BB);
      sdst[r] = __ldcs(srow[r] + k);
    }
  };
  auto compute = [&](const BlockRegs<F> (&cur)[R], const uint32_t (&scur)[R], int k) {
    float sc[R];
#pragma unroll
    for (int r = 0; r < R; r++) sc[r] = SCALED ? shiftf * mx_scale(scur[r]) : mx_scale(scur[r]);
    const int kLeft = K - k * 32;
    const bool fast = aligned && kLeft >= 32;
    const float* xp[MB];
#pragma unroll
    for (int mb = 0; mb < MB; mb++) xp[mb] = xrow[mb] + k * 32;
    if constexpr (SCALED) {
      chunk<F, R, MB, 0, true, XS>(cur, sc, xp, fast, kLeft, acc, xs, k);
      chunk<F, R, MB, 1, true, XS>(cur, sc, xp, fast, kLeft, acc, xs, k);
      chunk<F, R, MB, 2, true, XS>(cur, sc, xp, fast, kLeft, acc, xs, k);
      chunk<F, R, MB, 3, true, XS>(cur, sc, xp, fast, kLeft, acc, xs, k);
    } else {
      float bs[R][MB];
#pragma unroll
      for (int r = 0; r < R; r++)
#pragma unroll
        for (int mb = 0; mb < MB; mb++) bs[r][mb] = 0.0f;
      chunk<F, R, MB, 0, false, XS>(cur, sc, xp, fast, kLeft, bs, xs, k);
      chunk<F, R, MB, 1, false, XS>(cur, sc, xp, fast, kLeft, bs, xs, k);
      chunk<F, R, MB, 2, false, XS>(cur, sc, xp, fast, kLeft, bs, xs, k);
      chunk<F, R, MB, 3, false, XS>(cur, sc, xp, fast, kLeft, bs, xs, k);
#pragma unroll
      for (int r = 0; r < R; r++)
#pragma unroll
        for (int mb = 0; mb < MB; mb++) acc[r][mb] = fmaf(bs[r][mb] * shiftf, sc[r], acc[r][mb]);
    }
  };
  if (lane < bpr) load(ra, sa_, lane);
  for (int kb = lane; kb < bpr; kb += 64) {
    if (kb + 32 < bpr) load(rb, sb_, kb + 32);
    compute(ra, sa_, kb);
    if (kb + 32 >= bpr) break;
    if (kb + 64 < bpr) load(ra, sa_, kb + 64);
    compute(rb, sb_, kb + 32);
  }
#pragma unroll
  for (int r = 0; r < R; r++)
#pragma unroll
    for (int mb = 0; mb < MB; mb++) {
      float v = acc[r][mb];
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
      acc[r][mb] = v;
    }
  if (lane == 0) {
#pragma unroll
    for (int r = 0; r < R; r++) {
      int n = n0 + r;
      if (n < N) {
        float b = bias != nullptr ? bias[n] : 0.0f;
#pragma unroll
        for (int mb = 0; mb < MB; mb++)
          if (m0 + mb < M) y[(long long)(m0 + mb) * N + n] = mx_epilogue(acc[r][mb] + b, act);
      }
    }
  }
  }
}

}  // namespace

#define MX_GEMV(NAME, F, R, MB)                                                                              \
  extern "C" __global__ void __launch_bounds__(256) NAME(const float* x, int M, const uint8_t* codes,         \
                                                         long long cbpr, const uint8_t* scales, int bpr,     \
                                                         const float* bias, float* y, int N, int K,          \
                                                         int act) {                                          \
    gemv_body<F, R, MB>(x, M, codes, cbpr, scales, bpr, bias, y, N, K, act);                                      \
  }
// Rows per warp: enough to reuse each x load several times, few enough to keep two blocks of codes
// (current + prefetched) in registers.
#define MX_GEMV_ALL(F)                                                  \
  MX_GEMV(mx_gemv_f##F##_b1, F, (MxBits<F>::value == 4 ? 8 : 4), 1)     \
  MX_GEMV(mx_gemv_f##F##_b2, F, 8, 2)                                   \
  MX_GEMV(mx_gemv_f##F##_b4, F, (MxBits<F>::value == 8 ? 4 : 8), 4)     \
  MX_GEMV(mx_gemv_f##F##_b8, F, 4, 8)

// Batch 1 with x staged in shared memory (dynamic size: blocks per row * 128 bytes).
#define MX_GEMV_XS(F)                                                                                          \
  extern "C" __global__ void __launch_bounds__(256, 2) mx_gemv_f##F##_b1s(                                      \
      const float* x, int M, const uint8_t* codes, long long cbpr, const uint8_t* scales, int bpr,            \
      const float* bias, float* y, int N, int K, int act) {                                                   \
    extern __shared__ float4 mx_xs[];                                                                         \
    gemv_body<F, (MxBits<F>::value == 4 ? 8 : 4), 1, true>(x, M, codes, cbpr, scales, bpr, bias, y, N, K, act, mx_xs); \
  }
MX_GEMV_XS(0)
MX_GEMV_XS(1)
MX_GEMV_XS(2)
MX_GEMV_XS(3)
MX_GEMV_XS(4)
MX_GEMV_XS(5)

MX_GEMV_ALL(0)
MX_GEMV_ALL(1)
MX_GEMV_ALL(2)
MX_GEMV_ALL(3)
MX_GEMV_ALL(4)
MX_GEMV_ALL(5)

// Repacks FP6 codes from the canonical 4-in-3 layout into the GEMV plane layout, block by block (24 bytes
// each, same size): 16 bytes of 4-bit fields, then two 32-bit planes of one bit per element. E3M2: fields
// c & 15, planes bit 4 and the sign; E2M3: fields (c >> 1) & 15, planes bit 0 and the sign. The plane bit of
// element 8q + 2k + o sits at (8k + 4 + q + 4o) mod 32. One thread per block.
template <int F>
__device__ __forceinline__ void fp6_planes_body(const uint8_t* __restrict__ in, uint8_t* __restrict__ out,
                                                long long blocks) {
  long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= blocks) return;
  const uint8_t* b = in + t * 24;
  uint32_t nib[4] = {0u, 0u, 0u, 0u}, pa = 0u, pb = 0u;
#pragma unroll
  for (int g = 0; g < 8; g++) {
    uint32_t bits = (uint32_t)b[3 * g] | ((uint32_t)b[3 * g + 1] << 8) | ((uint32_t)b[3 * g + 2] << 16);
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const int e = 4 * g + i;
      const uint32_t c = (bits >> (6 * i)) & 0x3Fu;
      const uint32_t field = F == MX_E3M2 ? (c & 15u) : ((c >> 1) & 15u);
      const uint32_t abit = F == MX_E3M2 ? ((c >> 4) & 1u) : (c & 1u);
      const int q = e >> 3, j = e & 7, k = j >> 1, o = j & 1;
      const int pos = (8 * k + 4 + q + 4 * o) & 31;
      nib[q] |= field << (4 * j);
      pa |= abit << pos;
      pb |= (c >> 5) << pos;
    }
  }
  uint2* o2 = reinterpret_cast<uint2*>(out + t * 24);
  o2[0] = make_uint2(nib[0], nib[1]);
  o2[1] = make_uint2(nib[2], nib[3]);
  o2[2] = make_uint2(pa, pb);
}
extern "C" __global__ void mx_fp6_planes_f2(const uint8_t* in, uint8_t* out, long long blocks) {
  fp6_planes_body<MX_E3M2>(in, out, blocks);
}
extern "C" __global__ void mx_fp6_planes_f3(const uint8_t* in, uint8_t* out, long long blocks) {
  fp6_planes_body<MX_E2M3>(in, out, blocks);
}

// MX attention on Hopper (sm_90a) after SageAttention: K smoothed by its token mean, Q (per token) and K (per
// 64-key tile) quantized to INT8, S = Q·Kᵀ on INT8 tensor cores (exact s32 accumulation), online softmax in
// FP32 (base 2), P rounded to FP8 E4M3 with the fixed scale 448, V to E4M3 with one scale per channel, P·V on
// FP8 tensor cores with f32 accumulation, two-level: each 64-key tile accumulates into fresh registers, then
// joins the running output in FP32. Two fused kernels: mx_attn_fwd_* (mma.sync m16n8k32, head dims 64 and
// 128) and mx_attn_wg*_d128 (warpgroup MMAs, wgmma, head dim 128; steps 5w and 5p below).
// Same semantics as the CPU kernel (io.djlmx.attention.CpuSageAttention): causal = key j visible to query i
// iff j <= i; a row whose every score is -inf gives zeros; NaN in an input propagates (quantization blocks
// carry a NaN scale).
//
// Steps 1-4 run by default as two launches (mx_attn_prep_dD, mx_attn_quant_kv(16)_dD: "Fused quantization"
// below, CudaAttention.Quantizer.FUSED); the four separate launches listed here remain (FOUR_LAUNCH).
// Launch sequence (all on one stream), B·H = bh, SkPad = key length rounded up to 64, SqPad = query length
// rounded up to 128; D = 64 or 128 in every kernel name; 256 threads per quantization CTA:
//   1. mx_attn_kv_stats_dD   grid (bh)                  -> kmean[bh][D], vscale[bh][D]
//   2. mx_attn_quant_k_dD    grid (SkPad/64, bh)        -> kq int8 (row-major [bh][SkPad][D], or tiled), kscale[bh][SkPad/64]
//   3. mx_attn_quant_q_dD    grid (SqPad/(1024/D), bh)  -> qq[bh][SqPad][D] int8, qscale[bh][SqPad]
//   4. mx_attn_quant_v_dD    grid (SkPad/64, bh)        -> vt e4m3 (transposed [bh][D][SkPad], or tiled)
//   5. mx_attn_fwd_dD        grid (SqPad/64, bh), block (128) -> out (FP32, strided like q)
//  5w. mx_attn_wg1b_d128 / mx_attn_wgb_d128  grid (SqPad/64 or SqPad/128, bh), block (128 or 256), dynamic
//      shared memory 3·(64·D + 64·D) + 64 bytes, on the tiled K/Vᵀ of steps 2 and 4 (their last argument 1);
//  5p. mx_attn_wg1p_d128: mx_attn_wg1b_d128 software-pipelined, row sums on the tensor cores (5p below)
//  5q. mx_attn_wg1q_d128 (default on Hopper at D = 128 with FP8 P·V): 5p with 128-key tiles and Q in shared
//      memory (mx_attention_wgp128.cu; SkPad rounded up to 128)
// FP16 P·V variant (SageAttention v1 style, more accurate): step 4 is mx_attn_quant_v16_dD (FP16, same
// scale) and step 5 mx_attn_fwd16_dD (mma.sync m16n8k16 f16) or mx_attn_wg1b16_d128 / mx_attn_wgb16_d128 /
// mx_attn_wg1o16_d128 (5o: 5p's step with one-level accumulation, the default on Hopper at D = 128).
// Tensors are FP32 with element strides (batch, head, seq) and a contiguous last axis (16-byte aligned rows:
// the quantization kernels read float4); heads = H, so bh index = b * H + h. Mask: additive FP32 with
// strides (batch, head, query), key stride 1, stride 0 to broadcast; null for none. Status: run and tested
// on an H100 through io.djlmx.kernel.cuda.CudaAttention.
#include <cstdint>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include "mx_attention_wgmma.cuh"

#define MX_ATTN_TILE 64
#define MX_ATTN_LOG2E 1.4426950408889634f
#define MX_ATTN_P_SCALE 448.0f

// max that lets NaN win (fmaxf drops it), so a NaN anywhere in a block makes the block's scale NaN.
__device__ __forceinline__ float mx_attn_nanmax(float a, float b) { return (b > a || isnan(b)) ? b : a; }

__device__ __forceinline__ float mx_attn_exp2(float x) {  // -inf -> 0, NaN -> NaN
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

__device__ __forceinline__ int8_t mx_attn_int8(float x, float inv) {
  // x·inv is within [-127, 127] (up to rounding) when inv = 127/amax; NaN blocks carry a NaN scale instead.
  int c = __float2int_rn(x * inv);
  return (int8_t)max(-127, min(127, c));
}

__device__ __forceinline__ long mx_attn_off(long sb, long sh, long ss, int bh, int heads, int s) {
  return (long)(bh / heads) * sb + (long)(bh % heads) * sh + (long)s * ss;
}

// Steps 1–4 read the FP32 inputs with 16-byte loads, a group of D/4 threads per token row (whole rows per
// warp, so every load instruction reads contiguous 512- or 256-byte rows), and write the quantized copies
// with 4- or 8-byte stores that are contiguous across the warp. Every input is read once, K twice (its mean
// must be known before any tile is quantized). The fused launches A and B also read BF16 and FP16 inputs
// (mx_attn_ld4x2: 16-byte loads shared by pairs of threads), widened exactly to FP32 before any arithmetic.

// |x| as bits: as unsigned integers they order like the magnitudes, and every NaN's lie above infinity's, so the
// integer max of them is a NaN-wins max of |x| at one integer instruction per value (every amax of steps 1-4).
__device__ __forceinline__ unsigned mx_attn_mag(float x) { return __float_as_uint(x) & 0x7FFFFFFFu; }
__device__ __forceinline__ unsigned mx_attn_umax4(unsigned a, float4 x) {
  return max(max(a, max(mx_attn_mag(x.x), mx_attn_mag(x.y))), max(mx_attn_mag(x.z), mx_attn_mag(x.w)));
}

__device__ __forceinline__ float4 mx_attn_ld4(const float* p) { return __ldg(reinterpret_cast<const float4*>(p)); }
// 4 BF16 or FP16 values (8 bytes) widened exactly to FP32.
__device__ __forceinline__ float4 mx_attn_widen4(uint2 w, const __nv_bfloat16*) {
  return make_float4(__uint_as_float(w.x << 16), __uint_as_float(w.x & 0xFFFF0000u), __uint_as_float(w.y << 16),
                     __uint_as_float(w.y & 0xFFFF0000u));
}
__device__ __forceinline__ float4 mx_attn_widen4(uint2 w, const __half*) {
  const float2 a = __half22float2(*reinterpret_cast<const __half2*>(&w.x));
  const float2 b = __half22float2(*reinterpret_cast<const __half2*>(&w.y));
  return make_float4(a.x, a.y, b.x, b.y);
}

// This thread's 4 channels of rows A and B (a and b point at them) as FP32, zero where a row is not valid.
// The thread and its partner (lane ^ PAIR, the adjacent 4 channels; the even one, odd false, holds the lower
// 4, at a multiple of 8) load as a pair: FP32 rows as two 16-byte loads each; BF16 and FP16 rows with one
// 16-byte load each (the even thread 8 values of row A, the odd one 8 of row B) after which each hands the
// other its half, so the 2-byte inputs need half the load instructions (8-byte loads left these launches
// bound by the loads in flight, not by DRAM). Every lane of the warp must call it (shuffles).
template <int PAIR, typename T>
__device__ __forceinline__ void mx_attn_ld4x2(const T* a, const T* b, bool va, bool vb, bool odd, float4& xa,
                                              float4& xb) {
  if constexpr (sizeof(T) == 4) {
    xa = va ? mx_attn_ld4(a) : make_float4(0.f, 0.f, 0.f, 0.f);
    xb = vb ? mx_attn_ld4(b) : make_float4(0.f, 0.f, 0.f, 0.f);
  } else {
    uint4 w = make_uint4(0u, 0u, 0u, 0u);
    if (odd ? vb : va) w = __ldg(reinterpret_cast<const uint4*>(odd ? b - 4 : a));
    const uint2 mine = odd ? make_uint2(w.z, w.w) : make_uint2(w.x, w.y);
    const uint2 theirs = make_uint2(__shfl_xor_sync(0xffffffffu, odd ? w.x : w.z, PAIR),
                                    __shfl_xor_sync(0xffffffffu, odd ? w.y : w.w, PAIR));
    xa = mx_attn_widen4(odd ? theirs : mine, a);
    xb = mx_attn_widen4(odd ? mine : theirs, a);
  }
}

__device__ __forceinline__ uint32_t mx_attn_int8x4(float4 x, float inv) {
  return (uint32_t)(uint8_t)mx_attn_int8(x.x, inv) | ((uint32_t)(uint8_t)mx_attn_int8(x.y, inv) << 8) |
         ((uint32_t)(uint8_t)mx_attn_int8(x.z, inv) << 16) | ((uint32_t)(uint8_t)mx_attn_int8(x.w, inv) << 24);
}

// 1. Per (batch, head): the token mean of K per channel (kmean) and the FP8 scale of V per channel
// (vscale = amax|V|/448, 1 for an all-zero channel, NaN where V holds a NaN). 256 threads: D/4 channel
// groups × 256/(D/4) row groups, each walking its rows, then a reduction over the row groups.
template <int D>
__device__ __forceinline__ void mx_attn_kv_stats(const float* __restrict__ k, const float* __restrict__ v, long sb,
                                                 long sh, long ss, int heads, int sk, float* __restrict__ kmean,
                                                 float* __restrict__ vscale) {
  constexpr int C4 = D / 4, RG = 256 / C4;
  __shared__ float4 sum[RG][C4];
  __shared__ uint4 amax[RG][C4];  // as bits (mx_attn_mag)
  const int bh = blockIdx.x, c4 = threadIdx.x % C4, rg = threadIdx.x / C4;
  const long base = mx_attn_off(sb, sh, ss, bh, heads, 0) + 4 * c4;
  float4 s = make_float4(0.f, 0.f, 0.f, 0.f);
  uint4 a = make_uint4(0u, 0u, 0u, 0u);
#pragma unroll 4
  for (int j = rg; j < sk; j += RG) {
    const float4 x = mx_attn_ld4(k + base + (long)j * ss);
    const float4 y = mx_attn_ld4(v + base + (long)j * ss);
    s.x += x.x; s.y += x.y; s.z += x.z; s.w += x.w;
    a = make_uint4(max(a.x, mx_attn_mag(y.x)), max(a.y, mx_attn_mag(y.y)), max(a.z, mx_attn_mag(y.z)),
                   max(a.w, mx_attn_mag(y.w)));
  }
  sum[rg][c4] = s;
  amax[rg][c4] = a;
  __syncthreads();
  if (threadIdx.x >= D) return;
  const int c = threadIdx.x, q = c / 4, e = c % 4;
  float t = 0.f;
  unsigned mb = 0u;
  for (int r = 0; r < RG; r++) {
    t += reinterpret_cast<const float*>(&sum[r][q])[e];
    mb = max(mb, reinterpret_cast<const unsigned*>(&amax[r][q])[e]);
  }
  const float m = __uint_as_float(mb);
  kmean[(long)bh * D + c] = t / (float)sk;
  vscale[(long)bh * D + c] = m == 0.f ? 1.f : m / 448.f;
}

// Byte offset of (row, byte b of the row) in a tile stored in the no-swizzle K-major core-matrix layout that
// wgmma reads (8 rows × 16 bytes per 128-byte core matrix, 16-byte chunks of a row 128 bytes apart, 8-row
// groups sbo bytes apart).
__device__ __forceinline__ int mx_attn_core(int row, int b, int sbo) {
  return (row >> 3) * sbo + (b >> 4) * 128 + (row & 7) * 16 + (b & 15);
}

// The amax over a 256-thread CTA from each thread's share (as bits, mx_attn_mag): warp shuffles, then the eight
// warps' maxima through red (the caller's shared array). Every thread gets it; contains a CTA barrier.
__device__ __forceinline__ float mx_attn_cta_amax(unsigned mag, unsigned* red) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) mag = max(mag, __shfl_xor_sync(0xffffffffu, mag, o));
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = mag;
  __syncthreads();
  mag = red[0];
#pragma unroll
  for (int w = 1; w < 8; w++) mag = max(mag, red[w]);
  return __uint_as_float(mag);
}

// 2. Smoothed K, INT8 per 64-key tile: one CTA per tile holds the tile in registers (D/16 float4 per thread),
// reduces its amax, then writes the codes (padding keys as 0) and the tile's scale. tiled != 0: each 64-key
// tile is stored as the core-matrix image the Hopper kernel copies into shared memory in one bulk copy,
// else row-major [key][D].
template <int D, typename T>
__device__ __forceinline__ void mx_attn_quant_k(const T* __restrict__ k, long sb, long sh, long ss, int heads,
                                                int sk, int skPad, const float* __restrict__ kmean,
                                                int8_t* __restrict__ kq, float* __restrict__ kscale, int tiled,
                                                int tile, int bh) {
  constexpr int C4 = D / 4, RPP = 256 / C4, PASSES = MX_ATTN_TILE / RPP;
  __shared__ unsigned red[8];
  const int c4 = threadIdx.x % C4, r = threadIdx.x / C4;
  const float4 mean = *reinterpret_cast<const float4*>(kmean + (long)bh * D + 4 * c4);
  float4 x[PASSES];
  unsigned mag = 0u;  // the tile's amax as bits (mx_attn_mag)
#pragma unroll
  for (int p = 0; p < PASSES; p += 2) {
    const int j = tile * MX_ATTN_TILE + p * RPP + r;
    float4 y[2];
    mx_attn_ld4x2<1>(k + mx_attn_off(sb, sh, ss, bh, heads, j) + 4 * c4,
                     k + mx_attn_off(sb, sh, ss, bh, heads, j + RPP) + 4 * c4, j < sk, j + RPP < sk, c4 & 1, y[0],
                     y[1]);
#pragma unroll
    for (int e = 0; e < 2; e++) {
      x[p + e] = j + e * RPP < sk ? make_float4(y[e].x - mean.x, y[e].y - mean.y, y[e].z - mean.z, y[e].w - mean.w)
                                  : make_float4(0.f, 0.f, 0.f, 0.f);
      mag = mx_attn_umax4(mag, x[p + e]);
    }
  }
  const float amax = mx_attn_cta_amax(mag, red);
  const float inv = amax == 0.f ? 0.f : 127.f / amax;
#pragma unroll
  for (int p = 0; p < PASSES; p++) {
    const int rt = p * RPP + r, j = tile * MX_ATTN_TILE + rt;
    const long at = tiled ? ((long)bh * skPad + tile * MX_ATTN_TILE) * D + mx_attn_core(rt, 4 * c4, D * 8)
                          : ((long)bh * skPad + j) * D + 4 * c4;
    *reinterpret_cast<uint32_t*>(kq + at) = j < sk ? mx_attn_int8x4(x[p], inv) : 0u;
  }
  if (threadIdx.x == 0) kscale[(long)bh * (skPad / MX_ATTN_TILE) + tile] = amax / 127.f;
}

// 3. Q, INT8 per token; the stored scale also carries the softmax scale and log2(e). One group of D/4
// threads per token (its amax by shuffles within the group), 256/(D/4) tokens per CTA; padding rows get
// zero codes and scale.
template <int D>
__device__ __forceinline__ void mx_attn_quant_q(const float* __restrict__ q, long sb, long sh, long ss, int heads,
                                                int sq, int sqPad, float softmaxScale, int8_t* __restrict__ qq,
                                                float* __restrict__ qscale) {
  constexpr int C4 = D / 4, RPB = 256 / C4;
  const int bh = blockIdx.y, c4 = threadIdx.x % C4, i = blockIdx.x * RPB + threadIdx.x / C4;
  float4 x = make_float4(0.f, 0.f, 0.f, 0.f);
  if (i < sq) x = mx_attn_ld4(q + mx_attn_off(sb, sh, ss, bh, heads, i) + 4 * c4);
  unsigned mag = mx_attn_umax4(0u, x);
#pragma unroll
  for (int o = C4 / 2; o > 0; o >>= 1) mag = max(mag, __shfl_xor_sync(0xffffffffu, mag, o));
  const float amax = __uint_as_float(mag);
  const float inv = amax == 0.f ? 0.f : 127.f / amax;
  *reinterpret_cast<uint32_t*>(qq + ((long)bh * sqPad + i) * D + 4 * c4) = i < sq ? mx_attn_int8x4(x, inv) : 0u;
  if (c4 == 0) qscale[(long)bh * sqPad + i] = i < sq ? amax / 127.f * softmaxScale * MX_ATTN_LOG2E : 0.f;
}

// The reciprocals 1/vscale of head bh's D channels into shared memory (threads < D), for mx_attn_quant_v; they
// are visible after the caller's next CTA barrier.
template <int D>
__device__ __forceinline__ void mx_attn_v_reciprocals(const float* __restrict__ vscale, int bh, float* vinv) {
  if (threadIdx.x < D) vinv[threadIdx.x] = 1.f / vscale[(long)bh * D + threadIdx.x];
}

// 4. V to E4M3 (or FP16) with the per-channel scale of step 1, stored transposed [channel][key] (the
// K-major B operand of P·V). One CTA per 64-key tile: thread = (word w of 4 keys, group of 4 channels);
// each 4-byte E4M3 word holds the keys of one mma slot group in P·V's key order (see mx_attn_fwd: word
// 4t of a 16-key chunk = keys 2t, 2t+1, 8+2t, 9+2t), so 16 threads write one channel's 64 bytes. The FP16
// variant keeps the keys in order (words of 4 consecutive keys, 8 bytes). Padding keys are 0 (NaN in a NaN
// channel, as the scale is). tiled != 0: each 64-key tile of Vᵀ is stored as its shared-memory core-matrix
// image (see step 2).
// vinv: the reciprocals 1/vscale of head bh's D channels in shared memory (mx_attn_v_reciprocals), once per CTA
// instead of 4 IEEE divisions per pass in every thread.
template <int D, bool PV16, typename T>
__device__ __forceinline__ void mx_attn_quant_v(const T* __restrict__ v, long sb, long sh, long ss, int heads,
                                                int sk, int skPad, const float* vinv, void* __restrict__ vtRaw,
                                                int tiled, int tile, int bh) {
  constexpr int CG = 16, PASSES = D / 4 / CG;
  const int w = threadIdx.x & 15, cg = threadIdx.x >> 4;
  int keys[4];
  if constexpr (PV16) {
    for (int u = 0; u < 4; u++) keys[u] = 4 * w + u;
  } else {
    const int c16 = (w >> 2) * 16, tq = w & 3;
    keys[0] = c16 + 2 * tq;
    keys[1] = c16 + 2 * tq + 1;
    keys[2] = c16 + 8 + 2 * tq;
    keys[3] = c16 + 9 + 2 * tq;
  }
#pragma unroll
  for (int p = 0; p < PASSES; p++) {
    const int c = (p * CG + cg) * 4;
    const float4 r4 = *reinterpret_cast<const float4*>(vinv + c);
    const float inv[4] = {r4.x, r4.y, r4.z, r4.w};
    float x[4][4];  // [key][channel]
#pragma unroll
    for (int u = 0; u < 4; u += 2) {
      // the channel-group pair (cg, cg ^ 1) is lanes (l, l ^ 16) of one warp, with the same keys
      const int j = tile * MX_ATTN_TILE + keys[u], j2 = tile * MX_ATTN_TILE + keys[u + 1];
      float4 y[2];
      mx_attn_ld4x2<16>(v + mx_attn_off(sb, sh, ss, bh, heads, j) + c, v + mx_attn_off(sb, sh, ss, bh, heads, j2) + c,
                        j < sk, j2 < sk, cg & 1, y[0], y[1]);
#pragma unroll
      for (int e = 0; e < 2; e++) {
        x[u + e][0] = y[e].x * inv[0];
        x[u + e][1] = y[e].y * inv[1];
        x[u + e][2] = y[e].z * inv[2];
        x[u + e][3] = y[e].w * inv[3];
      }
    }
#pragma unroll
    for (int e = 0; e < 4; e++) {
      // byte offset of this thread's word of channel c + e
      constexpr int ES = PV16 ? 2 : 1, TB = D * MX_ATTN_TILE * ES;
      const long at = tiled ? ((long)bh * (skPad / MX_ATTN_TILE) + tile) * TB +
                                  mx_attn_core(c + e, 4 * ES * w, MX_ATTN_TILE * ES * 8)
                            : (((long)bh * D + c + e) * skPad + tile * MX_ATTN_TILE + 4 * w) * ES;
      if constexpr (PV16) {
        __half2 lo = __floats2half2_rn(x[0][e], x[1][e]), hi = __floats2half2_rn(x[2][e], x[3][e]);
        uint2 word = make_uint2(*reinterpret_cast<uint32_t*>(&lo), *reinterpret_cast<uint32_t*>(&hi));
        *reinterpret_cast<uint2*>(static_cast<uint8_t*>(vtRaw) + at) = word;
      } else {
        const uint32_t lo = (uint32_t)__nv_cvt_float2_to_fp8x2(make_float2(x[0][e], x[1][e]), __NV_SATFINITE, __NV_E4M3);
        const uint32_t hi = (uint32_t)__nv_cvt_float2_to_fp8x2(make_float2(x[2][e], x[3][e]), __NV_SATFINITE, __NV_E4M3);
        *reinterpret_cast<uint32_t*>(static_cast<uint8_t*>(vtRaw) + at) = lo | (hi << 16);
      }
    }
  }
}

// Step 4 as its own launch (FOUR_LAUNCH): this CTA's reciprocals, a barrier, then its 64-key tile of head y.
template <int D, bool PV16>
__device__ __forceinline__ void mx_attn_quant_v_launch(const float* v, long sb, long sh, long ss, int heads, int sk,
                                                       int skPad, const float* vscale, void* vt, int tiled) {
  __shared__ __align__(16) float vinv[D];
  mx_attn_v_reciprocals<D>(vscale, blockIdx.y, vinv);
  __syncthreads();
  mx_attn_quant_v<D, PV16>(v, sb, sh, ss, heads, sk, skPad, vinv, vt, tiled, blockIdx.x, blockIdx.y);
}

#define MX_ATTN_QUANT(D)                                                                                       \
  extern "C" __global__ void __launch_bounds__(256) mx_attn_kv_stats_d##D(                                   \
      const float* k, const float* v, long sb, long sh, long ss, int heads, int sk, float* kmean,             \
      float* vscale) {                                                                                         \
    mx_attn_kv_stats<D>(k, v, sb, sh, ss, heads, sk, kmean, vscale);                                          \
  }                                                                                                            \
  extern "C" __global__ void __launch_bounds__(256) mx_attn_quant_k_d##D(                                    \
      const float* k, long sb, long sh, long ss, int heads, int sk, int skPad, const float* kmean, int8_t* kq, \
      float* kscale, int tiled) {                                                                              \
    mx_attn_quant_k<D>(k, sb, sh, ss, heads, sk, skPad, kmean, kq, kscale, tiled, blockIdx.x, blockIdx.y);                             \
  }                                                                                                            \
  extern "C" __global__ void __launch_bounds__(256) mx_attn_quant_q_d##D(                                    \
      const float* q, long sb, long sh, long ss, int heads, int sq, int sqPad, float softmaxScale, int8_t* qq, \
      float* qscale) {                                                                                         \
    mx_attn_quant_q<D>(q, sb, sh, ss, heads, sq, sqPad, softmaxScale, qq, qscale);                             \
  }                                                                                                            \
  extern "C" __global__ void __launch_bounds__(256) mx_attn_quant_v_d##D(                                    \
      const float* v, long sb, long sh, long ss, int heads, int sk, int skPad, const float* vscale, void* vt,  \
      int tiled) {                                                                                             \
    mx_attn_quant_v_launch<D, false>(v, sb, sh, ss, heads, sk, skPad, vscale, vt, tiled);                        \
  }                                                                                                            \
  extern "C" __global__ void __launch_bounds__(256) mx_attn_quant_v16_d##D(                                  \
      const float* v, long sb, long sh, long ss, int heads, int sk, int skPad, const float* vscale, void* vt,  \
      int tiled) {                                                                                             \
    mx_attn_quant_v_launch<D, true>(v, sb, sh, ss, heads, sk, skPad, vscale, vt, tiled);                        \
  }
MX_ATTN_QUANT(64)
MX_ATTN_QUANT(128)

// Fused quantization (the default launch sequence, two launches instead of steps 1-4):
//   A. mx_attn_prep_dD     grid (SqPad/64 + ceil(Sk/128), bh): the first SqPad/64 CTAs of each head are step 3
//      for 64 queries each; the others are step 1 split over 128-key chunks: each writes its chunk's K sums
//      and V amax (kvpart[bh][chunk][2][D]) and the last chunk CTA of the head to finish (a per-head ticket,
//      atomicInc wrapping back to 0 for the next call) reduces the partials in chunk order into kmean and
//      vscale. The order of the K sum differs from step 1's single CTA (the mean may differ in its last
//      bit), but is fixed, so results are reproducible; vscale is a max and identical.
//   B. mx_attn_quant_kv_dD grid (SkPad/64, bh): steps 2 and 4 for one 64-key tile in one CTA, heads in
//      reverse order (the last heads' K and V that launch A read are the likeliest still in L2); FP32: at
//      most 48 registers, five CTAs per SM (3% faster than four on the H100; 4 bytes of spill at D = 128);
//      BF16 and FP16: K at 16 channels per thread, four CTAs per SM (58 registers, none spilled).
#define MX_ATTN_CHUNK 128
#define MX_ATTN_QROWS 64

// Step 1 on keys [chunk·128, chunk·128 + 128) of head bh; see launch A above.
template <int D, typename T>
__device__ __forceinline__ void mx_attn_kv_partial(const T* __restrict__ k, const T* __restrict__ v,
                                                   long sb, long sh, long ss, int heads, int sk, int chunk,
                                                   int bh, float* __restrict__ kvpart,
                                                   unsigned* __restrict__ tickets, float* __restrict__ kmean,
                                                   float* __restrict__ vscale) {
  constexpr int C4 = D / 4, RG = 256 / C4;
  __shared__ float4 sum[RG][C4];
  __shared__ uint4 amax[RG][C4];  // V's column maxima as bits (mx_attn_mag)
  __shared__ bool lastChunk;
  const int c4 = threadIdx.x % C4, rg = threadIdx.x / C4;
  const int nChunks = (sk + MX_ATTN_CHUNK - 1) / MX_ATTN_CHUNK;
  const int j1 = min(sk, (chunk + 1) * MX_ATTN_CHUNK);
  const long base = mx_attn_off(sb, sh, ss, bh, heads, 0) + 4 * c4;
  float4 s = make_float4(0.f, 0.f, 0.f, 0.f);
  uint4 a = make_uint4(0u, 0u, 0u, 0u);
  // rows j0 + rg and j0 + RG + rg per step (j0 uniform: the pair loads' shuffles need whole warps)
#pragma unroll 4
  for (int j0 = chunk * MX_ATTN_CHUNK; j0 < j1; j0 += 2 * RG) {
    const int j = j0 + rg;
    float4 x[2], y[2];
    mx_attn_ld4x2<1>(k + base + (long)j * ss, k + base + (long)(j + RG) * ss, j < j1, j + RG < j1, c4 & 1, x[0],
                     x[1]);
    mx_attn_ld4x2<1>(v + base + (long)j * ss, v + base + (long)(j + RG) * ss, j < j1, j + RG < j1, c4 & 1, y[0],
                     y[1]);
#pragma unroll
    for (int e = 0; e < 2; e++) {
      s.x += x[e].x; s.y += x[e].y; s.z += x[e].z; s.w += x[e].w;
      a = make_uint4(max(a.x, mx_attn_mag(y[e].x)), max(a.y, mx_attn_mag(y[e].y)), max(a.z, mx_attn_mag(y[e].z)),
                     max(a.w, mx_attn_mag(y[e].w)));
    }
  }
  sum[rg][c4] = s;
  amax[rg][c4] = a;
  __syncthreads();
  const int c = threadIdx.x;
  if (c < D) {
    float t = 0.f;
    unsigned m = 0u;
    for (int r = 0; r < RG; r++) {
      t += reinterpret_cast<const float*>(&sum[r][c / 4])[c % 4];
      m = max(m, reinterpret_cast<const unsigned*>(&amax[r][c / 4])[c % 4]);
    }
    float* p = kvpart + ((long)bh * nChunks + chunk) * 2 * D;
    p[c] = t;
    p[D + c] = __uint_as_float(m);
    __threadfence();  // the partials are visible device-wide before this CTA takes its ticket
  }
  __syncthreads();
  if (threadIdx.x == 0) lastChunk = atomicInc(tickets + bh, (unsigned)nChunks - 1) == (unsigned)nChunks - 1;
  __syncthreads();
  if (!lastChunk || c >= D) return;
  __threadfence();
  float t = 0.f;
  unsigned mb = 0u;
  for (int i = 0; i < nChunks; i++) {
    const float* p = kvpart + ((long)bh * nChunks + i) * 2 * D;
    t += __ldcg(p + c);  // L2, not a stale L1 line
    mb = max(mb, __float_as_uint(__ldcg(p + D + c)));
  }
  const float m = __uint_as_float(mb);
  kmean[(long)bh * D + c] = t / (float)sk;
  vscale[(long)bh * D + c] = m == 0.f ? 1.f : m / 448.f;
}

// 16 consecutive values of a row (p, 16-byte aligned) as FP32, zeros where the row is not valid: four 16-byte
// loads of FP32, two of BF16 or FP16.
__device__ __forceinline__ void mx_attn_ld16(const float* p, bool valid, float4 (&x)[4]) {
#pragma unroll
  for (int e = 0; e < 4; e++) x[e] = valid ? mx_attn_ld4(p + 4 * e) : make_float4(0.f, 0.f, 0.f, 0.f);
}
template <typename T>
__device__ __forceinline__ void mx_attn_ld16(const T* p, bool valid, float4 (&x)[4]) {
#pragma unroll
  for (int h = 0; h < 2; h++) {
    const uint4 w = valid ? __ldg(reinterpret_cast<const uint4*>(p + 8 * h)) : make_uint4(0u, 0u, 0u, 0u);
    x[2 * h] = mx_attn_widen4(make_uint2(w.x, w.y), p);
    x[2 * h + 1] = mx_attn_widen4(make_uint2(w.z, w.w), p);
  }
}

// Step 3 for 64 queries per CTA (all loads issued before any math); the same per-token arithmetic. D/16 threads
// per query, 16 channels each: a query's amax reduction and its two divisions serve 16 values, not 4 (with 4
// channels per thread they made this launch ALU-bound: 14.5 instructions per value read), and its codes leave in
// one 16-byte store per thread.
template <int D, typename T>
__device__ __forceinline__ void mx_attn_quant_q64(const T* __restrict__ q, long sb, long sh, long ss, int heads,
                                                  int sq, int sqPad, float softmaxScale, int8_t* __restrict__ qq,
                                                  float* __restrict__ qscale, int blk, int bh) {
  constexpr int TPR = D / 16, RPP = 256 / TPR, PASSES = MX_ATTN_QROWS / RPP;
  const int c16 = threadIdx.x % TPR, r = threadIdx.x / TPR;
  float4 x[PASSES][4];
#pragma unroll
  for (int p = 0; p < PASSES; p++) {
    const int i = blk * MX_ATTN_QROWS + p * RPP + r;
    mx_attn_ld16(q + mx_attn_off(sb, sh, ss, bh, heads, i) + 16 * c16, i < sq, x[p]);
  }
#pragma unroll
  for (int p = 0; p < PASSES; p++) {
    const int i = blk * MX_ATTN_QROWS + p * RPP + r;
    unsigned mag = 0u;
#pragma unroll
    for (int e = 0; e < 4; e++) mag = mx_attn_umax4(mag, x[p][e]);
#pragma unroll
    for (int o = TPR / 2; o > 0; o >>= 1) mag = max(mag, __shfl_xor_sync(0xffffffffu, mag, o));
    const float amax = __uint_as_float(mag);
    const float inv = amax == 0.f ? 0.f : 127.f / amax;
    const uint4 codes = i < sq ? make_uint4(mx_attn_int8x4(x[p][0], inv), mx_attn_int8x4(x[p][1], inv),
                                            mx_attn_int8x4(x[p][2], inv), mx_attn_int8x4(x[p][3], inv))
                               : make_uint4(0u, 0u, 0u, 0u);
    *reinterpret_cast<uint4*>(qq + ((long)bh * sqPad + i) * D + 16 * c16) = codes;
    if (c16 == 0) qscale[(long)bh * sqPad + i] = i < sq ? amax / 127.f * softmaxScale * MX_ATTN_LOG2E : 0.f;
  }
}

// Step 2 for 2-byte inputs at 16 channels per thread, as mx_attn_quant_q64 does for Q: D/16 threads per key,
// two 16-byte loads per key and one 16-byte store of its codes, where mx_attn_quant_k pays pair shuffles, an
// address and a 4-byte store per 4 values. The per-value arithmetic is mx_attn_quant_k's, and the tile's amax is
// the same max over the same values, so the codes and the scale are the same bits. FP32 rows keep
// mx_attn_quant_k: this path spilled for them at launch B's five CTAs per SM and ran 7% slower at three (H200).
template <int D, typename T>
__device__ __forceinline__ void mx_attn_quant_k16(const T* __restrict__ k, long sb, long sh, long ss, int heads,
                                                  int sk, int skPad, const float* __restrict__ kmean,
                                                  int8_t* __restrict__ kq, float* __restrict__ kscale, int tiled,
                                                  int tile, int bh) {
  constexpr int TPR = D / 16, RPP = 256 / TPR, PASSES = MX_ATTN_TILE / RPP;
  __shared__ unsigned red[8];
  const int c16 = threadIdx.x % TPR, r = threadIdx.x / TPR;
  float4 x[PASSES][4];
#pragma unroll
  for (int p = 0; p < PASSES; p++) {
    const int j = tile * MX_ATTN_TILE + p * RPP + r;
    mx_attn_ld16(k + mx_attn_off(sb, sh, ss, bh, heads, j) + 16 * c16, j < sk, x[p]);
  }
  unsigned mag = 0u;  // the tile's amax as bits (mx_attn_mag)
#pragma unroll
  for (int e = 0; e < 4; e++) {
    const float4 mean = *reinterpret_cast<const float4*>(kmean + (long)bh * D + 16 * c16 + 4 * e);
#pragma unroll
    for (int p = 0; p < PASSES; p++) {
      const float4 y = x[p][e];
      x[p][e] = tile * MX_ATTN_TILE + p * RPP + r < sk
                    ? make_float4(y.x - mean.x, y.y - mean.y, y.z - mean.z, y.w - mean.w)
                    : make_float4(0.f, 0.f, 0.f, 0.f);
      mag = mx_attn_umax4(mag, x[p][e]);
    }
  }
  const float amax = mx_attn_cta_amax(mag, red);
  const float inv = amax == 0.f ? 0.f : 127.f / amax;
#pragma unroll
  for (int p = 0; p < PASSES; p++) {
    const int rt = p * RPP + r, j = tile * MX_ATTN_TILE + rt;
    const long at = tiled ? ((long)bh * skPad + tile * MX_ATTN_TILE) * D + mx_attn_core(rt, 16 * c16, D * 8)
                          : ((long)bh * skPad + j) * D + 16 * c16;
    *reinterpret_cast<uint4*>(kq + at) =
        j < sk ? make_uint4(mx_attn_int8x4(x[p][0], inv), mx_attn_int8x4(x[p][1], inv), mx_attn_int8x4(x[p][2], inv),
                            mx_attn_int8x4(x[p][3], inv))
               : make_uint4(0u, 0u, 0u, 0u);
  }
  if (threadIdx.x == 0) kscale[(long)bh * (skPad / MX_ATTN_TILE) + tile] = amax / 127.f;
}

// Launch B: steps 2 and 4 for one 64-key tile, heads taken in reverse order. V's D reciprocals are computed once
// per CTA (mx_attn_v_reciprocals), not 4 per pass by every thread; K of 2-byte inputs takes the 16-channel path. Both give the same bits as before (H200, 2026-11-29: every output of 42 cases equal;
// BF16 quantization 0.278 -> 0.266 ms, FP32 0.389 -> 0.383 ms at B=4, H=32, S=4096, D=128).
template <int D, bool PV16, typename T>
__device__ __forceinline__ void mx_attn_quant_kv(const T* k, const T* v, long sb, long sh, long ss, int heads,
                                                 int sk, int skPad, const float* kmean, int8_t* kq, float* kscale,
                                                 const float* vscale, void* vt, int tiled) {
  __shared__ __align__(16) float vinv[D];
  const int bh = gridDim.y - 1 - blockIdx.y;
  mx_attn_v_reciprocals<D>(vscale, bh, vinv);  // step 2's barrier publishes them
  if constexpr (sizeof(T) == 2) {
    mx_attn_quant_k16<D>(k, sb, sh, ss, heads, sk, skPad, kmean, kq, kscale, tiled, blockIdx.x, bh);
  } else {
    mx_attn_quant_k<D>(k, sb, sh, ss, heads, sk, skPad, kmean, kq, kscale, tiled, blockIdx.x, bh);
  }
  mx_attn_quant_v<D, PV16>(v, sb, sh, ss, heads, sk, skPad, vinv, vt, tiled, blockIdx.x, bh);
}

// One set of the fused launches per head dim D and input type T (IN: the name's input tag, empty for FP32);
// launch A's bounds MX_ATTN_LB_<ACTAS>: 2-byte loads carry half the bytes, so more CTAs per SM keep enough of
// them in flight (5, at 48 registers); FP32 (0) keeps its 62 registers and 4 CTAs (a bound of 4 makes ptxas
// spill, one of 1 lets it take registers enough for 2). Launch B's CTAs per SM, BCTAS: 5 for FP32, 4 for the
// 2-byte inputs' 16-channel K path (at 5 it spilled 20-28 bytes).
#define MX_ATTN_LB_0 __launch_bounds__(256)
#define MX_ATTN_LB_5 __launch_bounds__(256, 5)
#define MX_ATTN_PREP(D, T, IN, ACTAS, BCTAS)                                                                   \
  extern "C" __global__ void MX_ATTN_LB_##ACTAS mx_attn_prep##IN##_d##D(                                 \
      const T* q, const T* k, const T* v, long sb, long sh, long ss, long qsb, long qsh, long qss, int heads,  \
      int sq, int sqPad, int sk, float softmaxScale, int8_t* qq, float* qscale, float* kvpart,                 \
      unsigned* tickets, float* kmean, float* vscale) {                                                        \
    const int qBlocks = sqPad / MX_ATTN_QROWS;                                                                 \
    if ((int)blockIdx.x < qBlocks) {                                                                           \
      mx_attn_quant_q64<D>(q, qsb, qsh, qss, heads, sq, sqPad, softmaxScale, qq, qscale, blockIdx.x,          \
                           blockIdx.y);                                                                        \
    } else {                                                                                                   \
      mx_attn_kv_partial<D>(k, v, sb, sh, ss, heads, sk, blockIdx.x - qBlocks, blockIdx.y, kvpart, tickets,   \
                            kmean, vscale);                                                                    \
    }                                                                                                          \
  }                                                                                                            \
  extern "C" __global__ void __launch_bounds__(256, BCTAS) mx_attn_quant_kv##IN##_d##D(                      \
      const T* k, const T* v, long sb, long sh, long ss, int heads, int sk, int skPad, const float* kmean,     \
      int8_t* kq, float* kscale, const float* vscale, void* vt, int tiled) {                                   \
    mx_attn_quant_kv<D, false>(k, v, sb, sh, ss, heads, sk, skPad, kmean, kq, kscale, vscale, vt, tiled);   \
  }                                                                                                            \
  extern "C" __global__ void __launch_bounds__(256, BCTAS) mx_attn_quant_kv16##IN##_d##D(                    \
      const T* k, const T* v, long sb, long sh, long ss, int heads, int sk, int skPad, const float* kmean,     \
      int8_t* kq, float* kscale, const float* vscale, void* vt, int tiled) {                                   \
    mx_attn_quant_kv<D, true>(k, v, sb, sh, ss, heads, sk, skPad, kmean, kq, kscale, vscale, vt, tiled);    \
  }
MX_ATTN_PREP(64, float, , 0, 5)
MX_ATTN_PREP(128, float, , 0, 5)
MX_ATTN_PREP(64, __nv_bfloat16, _bf16, 5, 4)
MX_ATTN_PREP(128, __nv_bfloat16, _bf16, 5, 4)
MX_ATTN_PREP(64, __half, _f16, 5, 4)
MX_ATTN_PREP(128, __half, _f16, 5, 4)

__device__ __forceinline__ void mx_attn_mma_f16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                                uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t mx_attn_f16x2(float lo, float hi) {
  __half2 h = __floats2half2_rn(lo, hi);  // lo in the low half
  return *reinterpret_cast<uint32_t*>(&h);
}

__device__ __forceinline__ void mx_attn_mma_s8(int (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void mx_attn_mma_e4m3(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                                 uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// 16-byte global -> shared copy that bypasses the registers (and L1), completing on cp.async.wait_group.
__device__ __forceinline__ void mx_attn_cp16(void* smem, const void* gmem) {
  uint32_t sa = (uint32_t)__cvta_generic_to_shared(smem);
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(sa), "l"(gmem));
}
__device__ __forceinline__ void mx_attn_cp_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void mx_attn_cp_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ uint32_t mx_attn_fp8x2(float lo, float hi) {
  return (uint32_t)__nv_cvt_float2_to_fp8x2(make_float2(lo, hi), __NV_SATFINITE, __NV_E4M3);
}

// This thread's Q fragments (rows rA and rB = rA + 8; m16n8k32 / wgmma A layout: bytes 4t.. and 16 + 4t.. of
// each 32-byte k-step).
template <int D>
__device__ __forceinline__ void mx_attn_qfrag(const int8_t* __restrict__ qq, int bh, int sqPad, int rA, int rB, int t,
                                              uint32_t (&qf)[D / 32][4]) {
  const int8_t* qb = qq + (long)bh * sqPad * D;
#pragma unroll
  for (int ks = 0; ks < D / 32; ks++) {
    qf[ks][0] = *reinterpret_cast<const uint32_t*>(qb + (long)rA * D + ks * 32 + 4 * t);
    qf[ks][1] = *reinterpret_cast<const uint32_t*>(qb + (long)rB * D + ks * 32 + 4 * t);
    qf[ks][2] = *reinterpret_cast<const uint32_t*>(qb + (long)rA * D + ks * 32 + 16 + 4 * t);
    qf[ks][3] = *reinterpret_cast<const uint32_t*>(qb + (long)rB * D + ks * 32 + 16 + 4 * t);
  }
}

// The masked launches' tile constants. For each mask batch and head (grid z, hm heads: 1 where the mask broadcasts
// over heads), 64-query block (grid y; one block of one row where it broadcasts over queries: rows = 1) and
// 64-key tile (grid x): the mask's value times log2 e if it is the same over the block's rows (clamped to sq - 1)
// and the tile's keys below sk (-inf included), else NaN (also for any NaN in it, or a tile with no key). The
// pipelined kernels' "_mt" launches give such flat tiles the short softmax path with that offset; the others read
// the mask per element as before. 256 threads: key = tid % 64, rows tid / 64, +4, ...
extern "C" __global__ void __launch_bounds__(256) mx_attn_mask_tiles(const float* __restrict__ mask, long mb, long mh,
                                                                    long mq, int hm, int sq, int sk, int rows,
                                                                    float* __restrict__ tiles) {
  __shared__ float sLo[8], sHi[8];
  __shared__ int sNan[8], sAny[8];
  const int kt = blockIdx.x, qb = blockIdx.y, z = blockIdx.z, tid = threadIdx.x;
  const float* base = mask + (long)(z / hm) * mb + (long)(z % hm) * mh;
  const int key = kt * 64 + (tid & 63);
  float lo = INFINITY, hi = -INFINITY;
  int nan = 0, any = 0;
  if (key < sk) {
    for (int r = tid >> 6; r < rows; r += 4) {
      const float v = base[(long)min(qb * 64 + r, sq - 1) * mq + key];
      nan |= isnan(v);
      lo = fminf(lo, v);
      hi = fmaxf(hi, v);
      any = 1;
    }
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    lo = fminf(lo, __shfl_xor_sync(0xffffffffu, lo, o));
    hi = fmaxf(hi, __shfl_xor_sync(0xffffffffu, hi, o));
    nan |= __shfl_xor_sync(0xffffffffu, nan, o);
    any |= __shfl_xor_sync(0xffffffffu, any, o);
  }
  if ((tid & 31) == 0) {
    sLo[tid >> 5] = lo;
    sHi[tid >> 5] = hi;
    sNan[tid >> 5] = nan;
    sAny[tid >> 5] = any;
  }
  __syncthreads();
  if (tid == 0) {
    for (int w = 1; w < 8; w++) {
      lo = fminf(lo, sLo[w]);
      hi = fmaxf(hi, sHi[w]);
      nan |= sNan[w];
      any |= sAny[w];
    }
    tiles[((long)z * gridDim.y + qb) * gridDim.x + kt] = any && !nan && lo == hi ? lo * MX_ATTN_LOG2E : __int_as_float(0x7fc00000);
  }
}

// Per-thread setup shared by both fused kernels: this thread's Q fragments (mx_attn_qfrag) and its two mask
// rows (null without a mask).
template <int D>
__device__ __forceinline__ void mx_attn_rows(const int8_t* __restrict__ qq, int bh, int sqPad, int rA, int rB,
                                             int t, uint32_t (&qf)[D / 32][4], const float* mask, long mb,
                                             long mh, long mq, int heads, int sq, const float*& maskA,
                                             const float*& maskB) {
  maskA = nullptr;
  maskB = nullptr;
  if (mask != nullptr) {
    long base = (long)(bh / heads) * mb + (long)(bh % heads) * mh;
    maskA = mask + base + (long)min(rA, sq - 1) * mq;
    maskB = mask + base + (long)min(rB, sq - 1) * mq;
  }
  mx_attn_qfrag<D>(qq, bh, sqPad, rA, rB, t, qf);
}

// The general score path of one 64-key tile, shared by both fused kernels: s[4n + e] (n-tile n, row A for
// e < 2, B else, key j0 + 8n + 2t + (e & 1)) scaled, the additive mask added, padding keys and keys right of
// the causal diagonal set to -inf, into x; tmA / tmB get the tile's row maxima over the 4 threads of a row
// (NaN wins).
__device__ __forceinline__ void mx_attn_tile_scores(const int* s, float* x, int j0, int t, int sk, int causal,
                                                    int rA, int rB, float scA, float scB, const float* mask,
                                                    const float* maskA, const float* maskB, float& tmA,
                                                    float& tmB) {
  tmA = -INFINITY;
  tmB = -INFINITY;
#pragma unroll
  for (int n = 0; n < 8; n++) {
#pragma unroll
    for (int e = 0; e < 4; e++) {
      const int key = j0 + n * 8 + 2 * t + (e & 1);
      const bool rowB = e >= 2;
      float v = (float)s[4 * n + e] * (rowB ? scB : scA);
      if (mask != nullptr && key < sk) v += (rowB ? maskB : maskA)[key] * MX_ATTN_LOG2E;
      if (key >= sk || (causal && key > (rowB ? rB : rA))) v = -INFINITY;
      x[4 * n + e] = v;
      if (rowB) tmB = mx_attn_nanmax(tmB, v); else tmA = mx_attn_nanmax(tmA, v);
    }
  }
  tmA = mx_attn_nanmax(tmA, __shfl_xor_sync(0xffffffffu, tmA, 1));
  tmA = mx_attn_nanmax(tmA, __shfl_xor_sync(0xffffffffu, tmA, 2));
  tmB = mx_attn_nanmax(tmB, __shfl_xor_sync(0xffffffffu, tmB, 1));
  tmB = mx_attn_nanmax(tmB, __shfl_xor_sync(0xffffffffu, tmB, 2));
}

// 5. The fused forward pass. One CTA = 64 queries of one (batch, head); 4 warps of 16 query rows each.
// Fragment layouts of mma m16n8k32 (8-bit A/B), lane = 4·g + t: A row g / g+8, bytes k = 4t..4t+3 and
// 16+4t..; B column g, bytes k = 4t..4t+3 and 16+4t..; C rows g / g+8, columns 2t, 2t+1.
// P·V uses a key permutation so that P's C fragments become A fragments without shuffles: within each
// 32-key chunk, mma position 4t+{0,1,2,3} is key {2t, 2t+1, 8+2t, 9+2t} and 16+4t+{..} is key
// {16+2t, 17+2t, 24+2t, 25+2t}; V's B fragments are loaded in the same order.
template <int D, bool PV16>
__device__ __forceinline__ void mx_attn_fwd(const int8_t* __restrict__ qq, const float* __restrict__ qscale,
                                            const int8_t* __restrict__ kq, const float* __restrict__ kscale,
                                            const void* __restrict__ vtRaw, const float* __restrict__ vscale,
                                            const float* __restrict__ mask, long mb, long mh, long mq,
                                            float* __restrict__ out, long ob, long oh, long os, int heads,
                                            int sq, int sk, int sqPad, int skPad, int causal) {
  constexpr int KS = D / 32;  // k-steps of Q·Kᵀ
  constexpr int NT = D / 8;   // channel n-tiles of P·V
  const int bh = blockIdx.y;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int row0 = blockIdx.x * MX_ATTN_TILE + warp * 16;  // first query row of this warp
  const int rA = row0 + g, rB = row0 + g + 8;               // the two rows this thread holds
  const int8_t* kb = kq + (long)bh * skPad * D;
  const float* ksb = kscale + (long)bh * (skPad / MX_ATTN_TILE);
  const float qsA = qscale[(long)bh * sqPad + rA], qsB = qscale[(long)bh * sqPad + rB];
  const float* maskA;
  const float* maskB;
  uint32_t qf[KS][4];
  mx_attn_rows<D>(qq, bh, sqPad, rA, rB, t, qf, mask, mb, mh, mq, heads, sq, maskA, maskB);
  float o[NT][4];
#pragma unroll
  for (int n = 0; n < NT; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
  float mA = -INFINITY, mB = -INFINITY, lA = 0.f, lB = 0.f;  // l: this thread's partial row sums

  // The CTA's 64-key K tile and its V tile (D channels × 64 keys) are staged once in shared memory for all
  // 4 warps by cp.async, two stages deep where they fit the 48 KB of static shared memory (the next tile
  // loads while this one is computed), else one. Rows are padded by 16 bytes so that the 8 lane groups of a
  // fragment load land in different banks.
  constexpr int KROW = D + 16;                        // bytes per key row of K
  constexpr int VKEYB = PV16 ? 2 * MX_ATTN_TILE : MX_ATTN_TILE;  // bytes of one channel's 64 keys of V
  constexpr int VROW = VKEYB + 16;                    // bytes per channel row of V
  constexpr int KBYTES = MX_ATTN_TILE * KROW, STAGE = KBYTES + D * VROW;
  constexpr int STAGES = 2 * STAGE <= 48 * 1024 ? 2 : 1;
  __shared__ __align__(16) uint8_t attnSmem[STAGES * STAGE];
  const uint8_t* vg = static_cast<const uint8_t*>(vtRaw) + (long)bh * D * skPad * (PV16 ? 2 : 1);
  auto load = [&](int tl, int stage) {
    uint8_t* ks = attnSmem + stage * STAGE;
    uint8_t* vs = ks + KBYTES;
    const int8_t* kg = kb + (long)tl * MX_ATTN_TILE * D;
    constexpr int KCH = D / 16, VCH = VKEYB / 16;
#pragma unroll
    for (int i = threadIdx.x; i < MX_ATTN_TILE * KCH; i += 128)
      mx_attn_cp16(ks + (i / KCH) * KROW + (i % KCH) * 16, kg + (i / KCH) * D + (i % KCH) * 16);
    const uint8_t* vt0 = vg + (long)tl * VKEYB;
#pragma unroll
    for (int i = threadIdx.x; i < D * VCH; i += 128)
      mx_attn_cp16(vs + (i / VCH) * VROW + (i % VCH) * 16, vt0 + (long)(i / VCH) * skPad * (PV16 ? 2 : 1) + (i % VCH) * 16);
    mx_attn_cp_commit();
  };

  // Uniform over the CTA (its 64 rows lie in one query tile), so every warp meets every barrier.
  int tiles = skPad / MX_ATTN_TILE;
  if (causal) tiles = min(tiles, min((int)blockIdx.x * MX_ATTN_TILE + MX_ATTN_TILE - 1, sq - 1) / MX_ATTN_TILE + 1);
  if (tiles > 0) load(0, 0);
  for (int tile = 0; tile < tiles; tile++) {
    const int j0 = tile * MX_ATTN_TILE;
    if constexpr (STAGES == 2) {
      if (tile + 1 < tiles) load(tile + 1, (tile + 1) & 1); else mx_attn_cp_commit();
      mx_attn_cp_wait<1>();
    } else {
      mx_attn_cp_wait<0>();
    }
    __syncthreads();
    const uint8_t* ksm = attnSmem + (STAGES == 2 ? (tile & 1) * STAGE : 0);
    const uint8_t* vsm = ksm + KBYTES;
    // ---- S = Q·Kᵀ: 16 rows × 64 keys as 8 n-tiles ----
    int s[8][4];
#pragma unroll
    for (int n = 0; n < 8; n++) {
      s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0;
      const uint8_t* krow = ksm + (n * 8 + g) * KROW;
#pragma unroll
      for (int ks = 0; ks < KS; ks++) {
        uint32_t b0 = *reinterpret_cast<const uint32_t*>(krow + ks * 32 + 4 * t);
        uint32_t b1 = *reinterpret_cast<const uint32_t*>(krow + ks * 32 + 16 + 4 * t);
        mx_attn_mma_s8(s[n], qf[ks], b0, b1);
      }
    }
    // ---- scale, mask, padding, causal; row max ----
    const float ksc = ksb[tile];
    const float scA = qsA * ksc, scB = qsB * ksc;
    float f[8][4];
    float tmA, tmB;
    mx_attn_tile_scores(&s[0][0], &f[0][0], j0, t, sk, causal, rA, rB, scA, scB, mask, maskA, maskB, tmA, tmB);
    const float nmA = mx_attn_nanmax(mA, tmA), nmB = mx_attn_nanmax(mB, tmB);
    // Nothing visible yet in a row: its P is zero and its state unchanged.
    const float subA = nmA == -INFINITY ? 0.f : nmA, subB = nmB == -INFINITY ? 0.f : nmB;
    const float alA = nmA == -INFINITY ? 1.f : mx_attn_exp2(mA - nmA);
    const float alB = nmB == -INFINITY ? 1.f : mx_attn_exp2(mB - nmB);
    mA = nmA;
    mB = nmB;
    if constexpr (PV16) {
      // ---- P (FP32 sums, FP16 fragments of m16n8k16: k-step kk covers n-tiles 2kk and 2kk+1) ----
      uint32_t ph[4][4];
      float sumA = 0.f, sumB = 0.f;
#pragma unroll
      for (int n = 0; n < 8; n++) {
        float p0 = mx_attn_exp2(f[n][0] - subA), p1 = mx_attn_exp2(f[n][1] - subA);
        float p2 = mx_attn_exp2(f[n][2] - subB), p3 = mx_attn_exp2(f[n][3] - subB);
        sumA += p0 + p1;
        sumB += p2 + p3;
        ph[n >> 1][(n & 1) * 2] = mx_attn_f16x2(p0 * MX_ATTN_P_SCALE, p1 * MX_ATTN_P_SCALE);
        ph[n >> 1][(n & 1) * 2 + 1] = mx_attn_f16x2(p2 * MX_ATTN_P_SCALE, p3 * MX_ATTN_P_SCALE);
      }
      lA = lA * alA + sumA;
      lB = lB * alB + sumB;
#pragma unroll
      for (int n = 0; n < NT; n++) {
        float acc[4] = {0.f, 0.f, 0.f, 0.f};
        const __half* vrow = reinterpret_cast<const __half*>(vsm + (n * 8 + g) * VROW);
#pragma unroll
        for (int kk = 0; kk < 4; kk++) {
          uint32_t b0 = *reinterpret_cast<const uint32_t*>(vrow + kk * 16 + 2 * t);
          uint32_t b1 = *reinterpret_cast<const uint32_t*>(vrow + kk * 16 + 8 + 2 * t);
          mx_attn_mma_f16(acc, ph[kk], b0, b1);
        }
        o[n][0] = o[n][0] * alA + acc[0];
        o[n][1] = o[n][1] * alA + acc[1];
        o[n][2] = o[n][2] * alB + acc[2];
        o[n][3] = o[n][3] * alB + acc[3];
      }
      __syncthreads();  // every warp is done with this stage before it is loaded again
      if (STAGES == 1 && tile + 1 < tiles) load(tile + 1, 0);
      continue;
    }
    // ---- P (FP32 sums, E4M3 fragments) ----
    uint32_t pf[2][4];  // A fragments of the two 32-key chunks
    float sumA = 0.f, sumB = 0.f;
#pragma unroll
    for (int n = 0; n < 8; n++) {
      float p0 = mx_attn_exp2(f[n][0] - subA), p1 = mx_attn_exp2(f[n][1] - subA);
      float p2 = mx_attn_exp2(f[n][2] - subB), p3 = mx_attn_exp2(f[n][3] - subB);
      sumA += p0 + p1;
      sumB += p2 + p3;
      uint32_t lo = mx_attn_fp8x2(p0 * MX_ATTN_P_SCALE, p1 * MX_ATTN_P_SCALE);
      uint32_t hi = mx_attn_fp8x2(p2 * MX_ATTN_P_SCALE, p3 * MX_ATTN_P_SCALE);
      const int chunk = n >> 2, within = n & 3;  // n-tiles 0,1 -> regs 0/1; 2,3 -> regs 2/3
      const int reg = (within >> 1) * 2;
      const int shift = (within & 1) * 16;
      if (shift == 0) {
        pf[chunk][reg] = lo;
        pf[chunk][reg + 1] = hi;
      } else {
        pf[chunk][reg] |= lo << 16;
        pf[chunk][reg + 1] |= hi << 16;
      }
    }
    lA = lA * alA + sumA;
    lB = lB * alB + sumB;
    // ---- P·V of this tile into fresh accumulators, then O = alpha·O + tile (two-level FP32) ----
#pragma unroll
    for (int n = 0; n < NT; n++) {
      float acc[4] = {0.f, 0.f, 0.f, 0.f};
      const uint8_t* vrow = vsm + (n * 8 + g) * VROW;
#pragma unroll
      for (int chunk = 0; chunk < 2; chunk++) {
        const uint8_t* v0 = vrow + chunk * 32;
        // vt holds the keys already in mma order (mx_attn_quant_v): bytes 4t..4t+3 are keys 2t, 2t+1,
        // 8+2t, 9+2t.
        uint32_t b0 = *reinterpret_cast<const uint32_t*>(v0 + 4 * t);
        uint32_t b1 = *reinterpret_cast<const uint32_t*>(v0 + 16 + 4 * t);
        mx_attn_mma_e4m3(acc, pf[chunk], b0, b1);
      }
      o[n][0] = o[n][0] * alA + acc[0];
      o[n][1] = o[n][1] * alA + acc[1];
      o[n][2] = o[n][2] * alB + acc[2];
      o[n][3] = o[n][3] * alB + acc[3];
    }
    __syncthreads();  // every warp is done with this stage before it is loaded again
    if (STAGES == 1 && tile + 1 < tiles) load(tile + 1, 0);
  }
  // ---- normalize and store ----
  lA += __shfl_xor_sync(0xffffffffu, lA, 1);
  lA += __shfl_xor_sync(0xffffffffu, lA, 2);
  lB += __shfl_xor_sync(0xffffffffu, lB, 1);
  lB += __shfl_xor_sync(0xffffffffu, lB, 2);
  const float* vs = vscale + (long)bh * D;
  // l == 0: every score of the row was -inf -> zeros (NaN in l stays NaN).
  const float invA = lA == 0.f ? 0.f : 1.f / (lA * MX_ATTN_P_SCALE);
  const float invB = lB == 0.f ? 0.f : 1.f / (lB * MX_ATTN_P_SCALE);
  float* outA = rA < sq ? out + mx_attn_off(ob, oh, os, bh, heads, rA) : nullptr;
  float* outB = rB < sq ? out + mx_attn_off(ob, oh, os, bh, heads, rB) : nullptr;
#pragma unroll
  for (int n = 0; n < NT; n++) {
    const int c = n * 8 + 2 * t;
    const float v0 = vs[c], v1 = vs[c + 1];
    if (outA != nullptr) {
      outA[c] = lA == 0.f ? 0.f : o[n][0] * invA * v0;
      outA[c + 1] = lA == 0.f ? 0.f : o[n][1] * invA * v1;
    }
    if (outB != nullptr) {
      outB[c] = lB == 0.f ? 0.f : o[n][2] * invB * v0;
      outB[c + 1] = lB == 0.f ? 0.f : o[n][3] * invB * v1;
    }
  }
}

#define MX_ATTN_FWD(NAME, D, PV16)                                                                            \
  extern "C" __global__ void __launch_bounds__(128) NAME(                                                    \
      const int8_t* qq, const float* qscale, const int8_t* kq, const float* kscale, const void* vt,        \
      const float* vscale, const float* mask, long mb, long mh, long mq, float* out, long ob, long oh,       \
      long os, int heads, int sq, int sk, int sqPad, int skPad, int causal) {                                \
    mx_attn_fwd<D, PV16>(qq, qscale, kq, kscale, vt, vscale, mask, mb, mh, mq, out, ob, oh, os, heads, sq, sk,     \
                   sqPad, skPad, causal);                                                                     \
  }
MX_ATTN_FWD(mx_attn_fwd_d64, 64, false)
MX_ATTN_FWD(mx_attn_fwd_d128, 128, false)
MX_ATTN_FWD(mx_attn_fwd16_d64, 64, true)
MX_ATTN_FWD(mx_attn_fwd16_d128, 128, true)

// 5w. The Hopper forward pass (sm_90a, head dim 128): warpgroup MMAs (wgmma) with the A operands in
// registers and the K/V tiles in shared memory. One CTA = WGS warpgroups of 64 query rows of one (batch,
// head) that share each 64-key K/V tile. Steps 2 and 4 stored every K tile and Vᵀ tile as the exact image
// of its shared-memory stage (no-swizzle K-major core matrices, 8 rows × 16 bytes each), so one thread brings
// a tile in with two bulk copies (cp.async.bulk, the TMA engine) completing on the stage's mbarrier, three
// stages deep; per-thread cp.async of the same tiles ran 1.5x slower (issue-bound). Per tile and warpgroup:
//   S = Q·Kᵀ: D/32 × wgmma m64n64k32 s8 (Q fragments loaded once into registers, exact s32 sums);
//   online softmax in FP32, base 2, P·448 rounded to E4M3 (or FP16) straight from the accumulator layout
//   (the same key permutation as the mma kernel, so no shuffles);
//   P·V: wgmma m64nDk32 e4m3 (or m64nDk16 f16) into fresh accumulators, then O = alpha·O + tile (two-level).
// Interior tiles (every key valid and visible, no mask, positive scale) take a short path: the row max on
// the integer scores, and each P element costs one integer add (exact int->float via the 2^23 magic), one
// FMA and one exp2. A warpgroup whose rows are all left of a causal tile skips it.
// Head dim 64: the one-warpgroup variants; this one reloads the Q fragments for each tile, 5p reads Q from
// shared memory.
// Keeps the A fragments of an issued wgmma live and unmodified up to this point (call it after the wait):
// the asynchronous MMA reads them after the issuing instruction, so their registers must not be reused
// for other values before the wait.
__device__ __forceinline__ void mx_attn_keep(const uint32_t (&a)[4]) {
  asm volatile("" ::"r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]) : "memory");
}

// Bulk (TMA engine) copy global -> shared of one contiguous block, completing on an mbarrier's
// transaction count; and the mbarrier operations around it.
__device__ __forceinline__ void mx_attn_bulk(void* smem, const void* gmem, uint32_t bytes, uint32_t bar) {
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(
                   (uint32_t)__cvta_generic_to_shared(smem)),
               "l"(gmem), "r"(bytes), "r"(bar)
               : "memory");
}
__device__ __forceinline__ void mx_attn_bar_expect(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mx_attn_bar_wait(uint32_t bar, uint32_t parity) {
  uint32_t done;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
}

// Shared-memory matrix descriptor of a no-swizzle K-major tile (leading byte offset 128, stride sbo).
__device__ __forceinline__ uint64_t mx_attn_desc(const uint8_t* p, int sbo) {
  const uint32_t a = (uint32_t)__cvta_generic_to_shared(p);
  return (uint64_t)((a & 0x3FFFF) >> 4) | ((uint64_t)(128 >> 4) << 16) | ((uint64_t)(sbo >> 4) << 32);
}

// S = Q·Kᵀ of one 64-key tile (stage at ksm): D/32 wgmma s8 k-steps, committed as one group (not waited).
// kd: the descriptor of the K stage; k-step ks starts 256 bytes further (descriptor address field + 16).
template <int D>
__device__ __forceinline__ void mx_attn_wg_issue_qk(int (&s)[32], const uint32_t (&qf)[D / 32][4], uint64_t kd) {
#pragma unroll
  for (int ks = 0; ks < D / 32; ks++) mx_attn_wg_s8_n64(s, qf[ks], kd + 16 * ks, ks > 0);
  mx_attn_wg_commit();
}

// P·V of one 64-key tile (Vᵀ stage at vsm) into fresh accumulators: two k32 e4m3 steps (or four k16 f16
// steps), committed as one group (not waited).
// vd: the descriptor of the Vᵀ stage (mx_attn_vdesc); k-step kk starts 256 bytes further.
template <int D, bool PV16>
__device__ __forceinline__ void mx_attn_wg_issue_pv(float (&acc)[D / 2], const uint32_t (&pf)[PV16 ? 4 : 2][4],
                                                    uint64_t vd) {
#pragma unroll
  for (int kk = 0; kk < (PV16 ? 4 : 2); kk++) mx_attn_wg_pv<D, PV16>(acc, pf[kk], vd + 16 * kk, kk > 0);
  mx_attn_wg_commit();
}
template <int D>
__device__ __forceinline__ uint64_t mx_attn_kdesc(const uint8_t* ksm) { return mx_attn_desc(ksm, D * 8); }
template <bool PV16>
__device__ __forceinline__ uint64_t mx_attn_vdesc(const uint8_t* vsm) {
  return mx_attn_desc(vsm, MX_ATTN_TILE * (PV16 ? 2 : 1) * 8);  // 8-channel groups of Vᵀ
}

// Online softmax of one tile of NH 64-key halves for the wgmma kernels: s[4n + e] is row (e < 2 ? rA : rB),
// key j0 + 8n + 2t + (e & 1), n < 8·NH; half h has its own score scales scA[h], scB[h] (Q's scale times
// that 64-key tile's K scale). Updates the running row maxima m and this thread's partial sums l (of
// P·448), sets alpha (the factor that rescales the output accumulated so far) and p = P·448 (FP32, the S
// layout); mx_attn_wg_pack turns each half of p into P·V's A fragments.
// Interior tiles (every key valid and visible, no mask, scale >= 0) take the short path: the row max on
// the integer scores of each half, and each P element costs one integer add (exact int->float via the
// 2^23 magic), one FMA and one exp2; other tiles the general path (masks, causal diagonal, padding keys,
// NaN). SUM false: l is left alone (the P·V MMA sums the rows on the tensor cores, see mx_attn_fwd_wgp).
// OFF (masked launches, mx_attn_mask_tiles): an interior tile may carry a mask that is one constant over its
// 64 rows and each 64-key half, off[h] (log2 units, -inf allowed): the short path adds it to each half's
// row max and folds it into the exp2's offset, so a padding mask costs no per-element work where it is flat.
template <int NH, bool SUM = true, bool OFF = false>
__device__ __forceinline__ void mx_attn_wg_softmax_n(const int (&s)[32 * NH], bool interior, int j0, int t, int sk,
                                                     int causal, int rA, int rB, const float (&scA)[NH],
                                                     const float (&scB)[NH], const float* mask,
                                                     const float* maskA, const float* maskB, float& mA, float& mB,
                                                     float& lA, float& lB, float& alA, float& alB,
                                                     float (&p)[32 * NH], const float* off = nullptr) {
  constexpr float LOG2_P_SCALE = 8.807354922057604f;  // log2(448)
  constexpr float MAGIC = 12582912.f;                  // 1.5·2^23: int s <-> float bits of MAGIC + s
  float tA = -INFINITY, tB = -INFINITY;  // the tile's row maxima
  if (interior) {
#pragma unroll
    for (int h = 0; h < NH; h++) {
      int iA = s[32 * h], iB = s[32 * h + 2];
#pragma unroll
      for (int n = 8 * h; n < 8 * h + 8; n++) {
        iA = max(iA, max(s[4 * n], s[4 * n + 1]));
        iB = max(iB, max(s[4 * n + 2], s[4 * n + 3]));
      }
      // Each half has one scale per row: reduce its integers over the row's 4 threads, then scale (integer
      // max and shuffles, no NaN-aware float compares on the way to the first exp).
      iA = max(iA, __shfl_xor_sync(0xffffffffu, iA, 1));
      iA = max(iA, __shfl_xor_sync(0xffffffffu, iA, 2));
      iB = max(iB, __shfl_xor_sync(0xffffffffu, iB, 1));
      iB = max(iB, __shfl_xor_sync(0xffffffffu, iB, 2));
      // scale >= 0, so the largest integer score is the largest scaled one; NaN scales give NaN here.
      if constexpr (OFF) {
        tA = mx_attn_nanmax(tA, fmaf((float)iA, scA[h], off[h]));
        tB = mx_attn_nanmax(tB, fmaf((float)iB, scB[h], off[h]));
      } else {
        tA = mx_attn_nanmax(tA, (float)iA * scA[h]);
        tB = mx_attn_nanmax(tB, (float)iB * scB[h]);
      }
    }
    const float nmA = mx_attn_nanmax(mA, tA), nmB = mx_attn_nanmax(mB, tB);
    alA = mA == -INFINITY ? 1.f : mx_attn_exp2(mA - nmA);
    alB = mB == -INFINITY ? 1.f : mx_attn_exp2(mB - nmB);
    mA = nmA;
    mB = nmB;
    // p = exp2(s·sc - m + log2 448) = exp2(bits(MAGIC + s)·sc - (MAGIC·sc + m - log2 448)), per half
#pragma unroll
    for (int h = 0; h < NH; h++) {
      float cA, cB;
      if constexpr (OFF) {
        // a row that has seen only -inf halves keeps m = -inf: its P is zero (an offset of -inf makes c +inf)
        cA = fmaf(MAGIC, scA[h], (nmA == -INFINITY ? 0.f : nmA) - LOG2_P_SCALE - off[h]);
        cB = fmaf(MAGIC, scB[h], (nmB == -INFINITY ? 0.f : nmB) - LOG2_P_SCALE - off[h]);
      } else {
        cA = fmaf(MAGIC, scA[h], nmA - LOG2_P_SCALE);
        cB = fmaf(MAGIC, scB[h], nmB - LOG2_P_SCALE);
      }
#pragma unroll
      for (int n = 8 * h; n < 8 * h + 8; n++) {
        p[4 * n] = mx_attn_exp2(fmaf(__int_as_float(s[4 * n] + 0x4B400000), scA[h], -cA));
        p[4 * n + 1] = mx_attn_exp2(fmaf(__int_as_float(s[4 * n + 1] + 0x4B400000), scA[h], -cA));
        p[4 * n + 2] = mx_attn_exp2(fmaf(__int_as_float(s[4 * n + 2] + 0x4B400000), scB[h], -cB));
        p[4 * n + 3] = mx_attn_exp2(fmaf(__int_as_float(s[4 * n + 3] + 0x4B400000), scB[h], -cB));
      }
    }
  } else {
#pragma unroll
    for (int h = 0; h < NH; h++) {
      float hA, hB;
      mx_attn_tile_scores(s + 32 * h, p + 32 * h, j0 + MX_ATTN_TILE * h, t, sk, causal, rA, rB, scA[h], scB[h], mask,
                          maskA, maskB, hA, hB);
      tA = mx_attn_nanmax(tA, hA);
      tB = mx_attn_nanmax(tB, hB);
    }
    const float nmA = mx_attn_nanmax(mA, tA), nmB = mx_attn_nanmax(mB, tB);
    // Nothing visible yet in a row: its P is zero and its state unchanged.
    const float offA = (nmA == -INFINITY ? 0.f : nmA) - LOG2_P_SCALE;
    const float offB = (nmB == -INFINITY ? 0.f : nmB) - LOG2_P_SCALE;
    alA = nmA == -INFINITY ? 1.f : mx_attn_exp2(mA - nmA);
    alB = nmB == -INFINITY ? 1.f : mx_attn_exp2(mB - nmB);
    mA = nmA;
    mB = nmB;
#pragma unroll
    for (int n = 0; n < 8 * NH; n++) {
      p[4 * n] = mx_attn_exp2(p[4 * n] - offA);
      p[4 * n + 1] = mx_attn_exp2(p[4 * n + 1] - offA);
      p[4 * n + 2] = mx_attn_exp2(p[4 * n + 2] - offB);
      p[4 * n + 3] = mx_attn_exp2(p[4 * n + 3] - offB);
    }
  }
  if constexpr (SUM) {
    float sumA = 0.f, sumB = 0.f;
#pragma unroll
    for (int n = 0; n < 8 * NH; n++) {
      sumA += p[4 * n] + p[4 * n + 1];
      sumB += p[4 * n + 2] + p[4 * n + 3];
    }
    lA = lA * alA + sumA;
    lB = lB * alB + sumB;
  }
}

// The 64-key softmax (one half, one scale per row).
template <bool SUM = true, bool OFF = false>
__device__ __forceinline__ void mx_attn_wg_softmax(const int (&s)[32], bool interior, int j0, int t, int sk,
                                                   int causal, int rA, int rB, float scA, float scB,
                                                   const float* mask, const float* maskA, const float* maskB,
                                                   float& mA, float& mB, float& lA, float& lB, float& alA,
                                                   float& alB, float (&p)[32], const float* off = nullptr) {
  const float a[1] = {scA}, b[1] = {scB};
  mx_attn_wg_softmax_n<1, SUM, OFF>(s, interior, j0, t, sk, causal, rA, rB, a, b, mask, maskA, maskB, mA, mB, lA, lB,
                                    alA, alB, p, off);
}

// P (p of mx_attn_wg_softmax) as P·V's A fragments: E4M3 (or FP16) pairs straight from the S layout.
template <bool PV16>
__device__ __forceinline__ void mx_attn_wg_pack(const float (&p)[32], uint32_t (&pf)[PV16 ? 4 : 2][4]) {
  if constexpr (PV16) {
    // A fragments of m64nDk16: k-step kk covers keys 16kk..16kk+15 = n-tiles 2kk, 2kk+1 (keys in order).
#pragma unroll
    for (int kk = 0; kk < 4; kk++) {
      pf[kk][0] = mx_attn_f16x2(p[8 * kk], p[8 * kk + 1]);
      pf[kk][1] = mx_attn_f16x2(p[8 * kk + 2], p[8 * kk + 3]);
      pf[kk][2] = mx_attn_f16x2(p[8 * kk + 4], p[8 * kk + 5]);
      pf[kk][3] = mx_attn_f16x2(p[8 * kk + 6], p[8 * kk + 7]);
    }
  } else {
    // A fragments of m64nDk32 per 32-key chunk in the permuted key order (see mx_attn_fwd): register
    // 0/1 = rows A/B, keys {2t, 2t+1} of n-tile 4c and {2t, 2t+1} of n-tile 4c+1; 2/3 the same for n-tiles
    // 4c+2 and 4c+3.
#pragma unroll
    for (int c = 0; c < 2; c++) {
#pragma unroll
      for (int h = 0; h < 2; h++) {
        const int n0 = 4 * c + 2 * h;
        pf[c][2 * h] = mx_attn_fp8x2(p[4 * n0], p[4 * n0 + 1]) | (mx_attn_fp8x2(p[4 * n0 + 4], p[4 * n0 + 5]) << 16);
        pf[c][2 * h + 1] = mx_attn_fp8x2(p[4 * n0 + 2], p[4 * n0 + 3]) | (mx_attn_fp8x2(p[4 * n0 + 6], p[4 * n0 + 7]) << 16);
      }
    }
  }
}

// O = alpha·O + acc (the two-level accumulation: each tile's P·V in fresh accumulators joins O in FP32).
template <int NA>
__device__ __forceinline__ void mx_attn_wg_join(float (&o)[NA], const float (&acc)[NA], float alA, float alB) {
#pragma unroll
  for (int n = 0; n < NA / 4; n++) {
    o[4 * n] = fmaf(o[4 * n], alA, acc[4 * n]);
    o[4 * n + 1] = fmaf(o[4 * n + 1], alA, acc[4 * n + 1]);
    o[4 * n + 2] = fmaf(o[4 * n + 2], alB, acc[4 * n + 2]);
    o[4 * n + 3] = fmaf(o[4 * n + 3], alB, acc[4 * n + 3]);
  }
}

// Normalizes this thread's two output rows (the partial sums l joined over the 4 threads of a row) and
// stores them with V's per-channel scale applied; rows past sq are not stored. With NA = D/2 + 4 the
// accumulators past D/2 hold the whole row sums (the ones columns of mx_attn_fwd_wgp) and l is ignored.
template <int D, int NA>
__device__ __forceinline__ void mx_attn_wg_store(const float (&o)[NA], float lA, float lB, const float* vs,
                                                 float* __restrict__ out, long ob, long oh, long os, int bh,
                                                 int heads, int sq, int rA, int rB, int t) {
  static_assert(NA == D / 2 || NA == D / 2 + 4, "accumulators: D/2, or D/2 + 4 with the row sums");
  if constexpr (NA == D / 2 + 4) {
    lA = o[D / 2];
    lB = o[D / 2 + 2];
  } else {
    lA += __shfl_xor_sync(0xffffffffu, lA, 1);
    lA += __shfl_xor_sync(0xffffffffu, lA, 2);
    lB += __shfl_xor_sync(0xffffffffu, lB, 1);
    lB += __shfl_xor_sync(0xffffffffu, lB, 2);
  }
  // l == 0: every score of the row was -inf -> zeros (NaN in l stays NaN).
  const float invA = lA == 0.f ? 0.f : 1.f / lA;
  const float invB = lB == 0.f ? 0.f : 1.f / lB;
  float* outA = rA < sq ? out + mx_attn_off(ob, oh, os, bh, heads, rA) : nullptr;
  float* outB = rB < sq ? out + mx_attn_off(ob, oh, os, bh, heads, rB) : nullptr;
#pragma unroll
  for (int n = 0; n < D / 8; n++) {
    const int c = n * 8 + 2 * t;
    const float2 sc = *reinterpret_cast<const float2*>(vs + c);
    if (outA != nullptr)
      *reinterpret_cast<float2*>(outA + c) =
          lA == 0.f ? make_float2(0.f, 0.f) : make_float2(o[4 * n] * invA * sc.x, o[4 * n + 1] * invA * sc.y);
    if (outB != nullptr)
      *reinterpret_cast<float2*>(outB + c) =
          lB == 0.f ? make_float2(0.f, 0.f) : make_float2(o[4 * n + 2] * invB * sc.x, o[4 * n + 3] * invB * sc.y);
  }
}

// Initializes the stage barriers (one arrival each: the thread that issues the bulk copies).
template <int STAGES>
__device__ __forceinline__ void mx_attn_bar_init(uint64_t* fullBar) {
  if (threadIdx.x == 0) {
    for (int st = 0; st < STAGES; st++)
      asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;\n" ::"r"((uint32_t)__cvta_generic_to_shared(&fullBar[st])));
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();
}

// The quantization kernels stored each tile as its shared-memory image: two bulk copies by thread 0.
__device__ __forceinline__ void mx_attn_load_stage(uint8_t* stage, uint64_t* bar, const int8_t* ktile, int kbytes,
                                                   const uint8_t* vtile, int vbytes) {
  if (threadIdx.x == 0) {
    const uint32_t b = (uint32_t)__cvta_generic_to_shared(bar);
    mx_attn_bar_expect(b, kbytes + vbytes);
    mx_attn_bulk(stage, ktile, kbytes, b);
    mx_attn_bulk(stage + kbytes, vtile, vbytes, b);
  }
}

template <int D, bool PV16, int WGS>
__device__ __forceinline__ void mx_attn_fwd_wg(const int8_t* __restrict__ qq, const float* __restrict__ qscale,
                                               const int8_t* __restrict__ kq, const float* __restrict__ kscale,
                                               const void* __restrict__ vtRaw, const float* __restrict__ vscale,
                                               const float* __restrict__ mask, long mb, long mh, long mq,
                                               float* __restrict__ out, long ob, long oh, long os, int heads,
                                               int sq, int sk, int sqPad, int skPad, int causal, int posScale) {
  constexpr int BQ = 64 * WGS;                          // queries per CTA
  constexpr int KBYTES = MX_ATTN_TILE * D;              // K tile: 64 keys × D int8
  constexpr int VBYTES = D * MX_ATTN_TILE * (PV16 ? 2 : 1);  // Vᵀ tile: D channels × 64 keys
  constexpr int STAGE = KBYTES + VBYTES;
  // Three stages in dynamic shared memory (the launcher sets its size: 3·STAGE + 64 bytes for the barriers).
  constexpr int STAGES = 3;
  extern __shared__ __align__(128) uint8_t attnDynSmem[];
  uint8_t* attnSmem = attnDynSmem;
  uint64_t* fullBar = reinterpret_cast<uint64_t*>(attnDynSmem + STAGES * STAGE);  // tile landed in stage s

  const int bh = blockIdx.y, tid = threadIdx.x;
  const int warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3, wg = warp >> 2;
  const int q0 = blockIdx.x * BQ, wgRow0 = q0 + wg * 64;
  const int rA = q0 + warp * 16 + g, rB = rA + 8;  // the two rows this thread holds
  const int8_t* kb = kq + (long)bh * skPad * D;
  const uint8_t* vg = static_cast<const uint8_t*>(vtRaw) + (long)bh * D * skPad * (PV16 ? 2 : 1);
  const float* ksb = kscale + (long)bh * (skPad / MX_ATTN_TILE);
  const float qsA = qscale[(long)bh * sqPad + rA], qsB = qscale[(long)bh * sqPad + rB];
  const float* maskA;
  const float* maskB;
  uint32_t qf[D / 32][4];
  mx_attn_rows<D>(qq, bh, sqPad, rA, rB, t, qf, mask, mb, mh, mq, heads, sq, maskA, maskB);
  mx_attn_bar_init<STAGES>(fullBar);
  auto load = [&](int tl, int stage) {
    mx_attn_load_stage(attnSmem + stage * STAGE, &fullBar[stage], kb + (long)tl * KBYTES, KBYTES,
                       vg + (long)tl * VBYTES, VBYTES);
  };

  float o[D / 2];
#pragma unroll
  for (int i = 0; i < D / 2; i++) o[i] = 0.f;
  float mA = -INFINITY, mB = -INFINITY, lA = 0.f, lB = 0.f;  // l: this thread's partial sums of P·448

  int tiles = skPad / MX_ATTN_TILE;
  if (causal) tiles = min(tiles, min(q0 + BQ - 1, sq - 1) / MX_ATTN_TILE + 1);
#pragma unroll
  for (int s = 0; s < STAGES - 1; s++)
    if (s < tiles) load(s, s);
  for (int tile = 0; tile < tiles; tile++) {
    mx_attn_bar_wait((uint32_t)__cvta_generic_to_shared(&fullBar[tile % STAGES]), (tile / STAGES) & 1);
    __syncthreads();  // every warpgroup is done with the stage loaded next
    if (tile + STAGES - 1 < tiles) load(tile + STAGES - 1, (tile + STAGES - 1) % STAGES);
    const int j0 = tile * MX_ATTN_TILE;
    if (causal && j0 > wgRow0 + 63) continue;  // every key of the tile is right of every row of this warpgroup
    const uint8_t* ksm = attnSmem + (tile % STAGES) * STAGE;

    // ---- S = Q·Kᵀ (64 rows × 64 keys per warpgroup) ----
    int s[32];
#pragma unroll
    for (int i = 0; i < 32; i++) s[i] = 0;
    // At D = 64 ptxas reuses the Q fragment registers after the first tile's Q·Kᵀ (the SASS writes
    // softmax temporaries into them and never reloads them), so every later tile read garbage scores
    // (H200, 2026-11-28: tile 0 exact, tiles 1.. all wrong; the same MMA on one tile is exact). Loading
    // them again for each tile (8 words from L1) gives exact scores; D = 128 keeps its registers.
    if constexpr (D == 64) {
      if (tile > 0) mx_attn_qfrag<D>(qq, bh, sqPad, rA, rB, t, qf);
    }
    mx_attn_wg_fence();
    mx_attn_wg_issue_qk<D>(s, qf, mx_attn_kdesc<D>(ksm));
    mx_attn_wg_wait_i32(s);
#pragma unroll
    for (int ks = 0; ks < D / 32; ks++) mx_attn_keep(qf[ks]);

    // ---- online softmax ----
    const float ksc = ksb[tile];
    const bool interior = j0 + MX_ATTN_TILE <= sk && mask == nullptr && posScale &&
                          (!causal || j0 + MX_ATTN_TILE - 1 <= wgRow0);
    float alA, alB, p[32];
    uint32_t pf[PV16 ? 4 : 2][4];
    mx_attn_wg_softmax(s, interior, j0, t, sk, causal, rA, rB, qsA * ksc, qsB * ksc, mask, maskA, maskB, mA, mB, lA,
                       lB, alA, alB, p);
    mx_attn_wg_pack<PV16>(p, pf);

    // ---- P·V into fresh accumulators, then O = alpha·O + tile ----
    float acc[D / 2];
#pragma unroll
    for (int i = 0; i < D / 2; i++) acc[i] = 0.f;
    mx_attn_wg_fence();
    mx_attn_wg_issue_pv<D, PV16>(acc, pf, mx_attn_vdesc<PV16>(ksm + KBYTES));
    mx_attn_wg_wait_acc<D>(acc);
#pragma unroll
    for (int kk = 0; kk < (PV16 ? 4 : 2); kk++) mx_attn_keep(pf[kk]);
    mx_attn_wg_join(o, acc, alA, alB);
  }
  mx_attn_wg_store<D>(o, lA, lB, vscale + (long)bh * D, out, ob, oh, os, bh, heads, sq, rA, rB, t);
}

// 5p. The pipelined Hopper forward pass (one warpgroup, 64 queries per CTA, head dims 128 and 64): the same math
// as mx_attn_fwd_wg, but the tensor cores work during the softmax (FlashAttention-3's intra-warpgroup
// overlap). Step j (P(j) packed): issue Q·Kᵀ(j+1) and P·V(j) as two wgmma groups; wait for the first only
// (wait_group 1); tile j+1's softmax while P·V(j) runs; wait for P·V(j), fold it into O, then pack P(j+1)
// into the A-fragment registers (only now: the P·V in flight reads them). One 128-thread barrier per
// tile, after which the stage of tile j-1 takes tile j+2's bulk copies. Nothing is in flight across the
// loop's back edge and every issue and wait inside the loop is unconditional (the last tile is peeled):
// otherwise ptxas serializes every wgmma (warnings C7513/C7514; checked with -Xptxas -v). CTAs take
// query blocks in reverse order, so under a causal mask the longest ones start first.
// FP8 P·V (mx_attn_wg1p_d128): two-level, each tile's P·V in fresh accumulators joined into O in FP32. The
// row sums of P come from the tensor cores instead of one FADD per element: every stage has 8 rows of
// ones after its Vᵀ tile (written once here; the bulk copies never touch them), P·V runs with N = D + 8,
// and accumulators D/2.. hold each thread's two whole row sums (of P as rounded for the MMA), which the
// join rescales with O (H100, 2026-11-28: kernel 1.69 -> 1.60 ms non-causal, 0.91 -> 0.89 ms causal).
// 5o. FP16 P·V (mx_attn_wg1o16_d128): one level. The FP16 MMA accumulates in full FP32, so there is no
// narrower accumulator to guard against: P·V adds straight into O, which alpha rescales once each P·V
// completes (skipped by a warp whose rows' maxima did not move: a warp-uniform branch with no wgmma in
// it). Without the second accumulator set the kernel fits 168 registers, so three CTAs (12 warps) share
// an SM instead of two; the row sums are the softmax's (three stages of 24 KB plus the ones rows would
// exceed what three CTAs per SM may use). H100, 2026-11-28: kernel 1.87 -> 1.68 ms non-causal.
// Q's 64 rows (this thread's fragments qf: rows rl and rl + 8 of the CTA's 64, lane t) as the core-matrix image
// that wgmma reads as its A operand by descriptor (the layout of a K tile: 8-row groups D·8 bytes apart).
template <int D>
__device__ __forceinline__ void mx_attn_q_image(const uint32_t (&qf)[D / 32][4], uint8_t* qsm, int rl, int t) {
#pragma unroll
  for (int ks = 0; ks < D / 32; ks++) {
    *reinterpret_cast<uint32_t*>(qsm + mx_attn_core(rl, ks * 32 + 4 * t, D * 8)) = qf[ks][0];
    *reinterpret_cast<uint32_t*>(qsm + mx_attn_core(rl + 8, ks * 32 + 4 * t, D * 8)) = qf[ks][1];
    *reinterpret_cast<uint32_t*>(qsm + mx_attn_core(rl, ks * 32 + 16 + 4 * t, D * 8)) = qf[ks][2];
    *reinterpret_cast<uint32_t*>(qsm + mx_attn_core(rl + 8, ks * 32 + 16 + 4 * t, D * 8)) = qf[ks][3];
  }
}

// MT (the masked launches "_mt"): mtile holds, per 64-query block and 64-key tile of the mask, its constant value
// in log2 units or NaN where it varies (mx_attn_mask_tiles; element strides tb, th, tq for the mask's batch, head
// and query block, 0 where it broadcasts); constant tiles take the short softmax path with that offset.
template <int D, bool PV16, bool MT = false>
__device__ __forceinline__ void mx_attn_fwd_wgp(const int8_t* __restrict__ qq, const float* __restrict__ qscale,
                                                const int8_t* __restrict__ kq, const float* __restrict__ kscale,
                                                const void* __restrict__ vtRaw, const float* __restrict__ vscale,
                                                const float* __restrict__ mask, long mb, long mh, long mq,
                                                float* __restrict__ out, long ob, long oh, long os, int heads,
                                                int sq, int sk, int sqPad, int skPad, int causal, int posScale,
                                                const float* __restrict__ mtile = nullptr, long tb = 0, long th = 0,
                                                long tq = 0) {
  constexpr int KBYTES = MX_ATTN_TILE * D;
  constexpr int VBYTES = D * MX_ATTN_TILE * (PV16 ? 2 : 1);
  constexpr int ONES = PV16 ? 0 : 8 * MX_ATTN_TILE;  // FP8: 8 rows of ones after Vᵀ
  constexpr int STAGE = KBYTES + VBYTES + ONES;
  constexpr int STAGES = 3;  // tile j+1's K and tile j's V in use, tile j+2 landing
  constexpr int PSTEPS = PV16 ? 4 : 2;
  constexpr int NA = D / 2 + (PV16 ? 0 : 4);  // accumulators per thread: O (FP8: then the row sums)
  static_assert(D == 128 || D == 64, "the pipelined kernel: head dim 64 or 128");
  // D = 64: Q·Kᵀ reads Q from its shared-memory image (64 rows × 64 bytes after the barriers) by descriptor, as
  // the 128-key kernel does: with Q in registers ptxas reused their registers after the first tile at this head
  // dim (see mx_attn_fwd_wg). At 128 the image would cost the FP16 kernel its third CTA per SM.
  constexpr bool QSM = D == 64;
  extern __shared__ __align__(128) uint8_t attnDynSmem[];
  uint8_t* attnSmem = attnDynSmem;
  uint64_t* fullBar = reinterpret_cast<uint64_t*>(attnDynSmem + STAGES * STAGE);
  uint8_t* qsm = attnDynSmem + STAGES * STAGE + 64;

  const int bh = blockIdx.y, tid = threadIdx.x;
  const int warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
  const int q0 = (gridDim.x - 1 - blockIdx.x) * 64;
  const int rA = q0 + warp * 16 + g, rB = rA + 8;
  const int8_t* kb = kq + (long)bh * skPad * D;
  const uint8_t* vg = static_cast<const uint8_t*>(vtRaw) + (long)bh * D * skPad * (PV16 ? 2 : 1);
  const float* ksb = kscale + (long)bh * (skPad / MX_ATTN_TILE);
  const float qsA = qscale[(long)bh * sqPad + rA], qsB = qscale[(long)bh * sqPad + rB];
  const float* maskA;
  const float* maskB;
  uint32_t qf[D / 32][4];
  mx_attn_rows<D>(qq, bh, sqPad, rA, rB, t, qf, mask, mb, mh, mq, heads, sq, maskA, maskB);
  const float* mt = nullptr;  // this CTA's row of the mask's tile constants (MT)
  if constexpr (MT) mt = mtile + (long)(bh / heads) * tb + (long)(bh % heads) * th + (long)(q0 / 64) * tq;
  auto tileOff = [&](int tl) -> float {
    if constexpr (MT) return mt[tl]; else return 0.f;
  };
  if constexpr (QSM) mx_attn_q_image<D>(qf, qsm, warp * 16 + g, t);
  if constexpr (!PV16) {
    for (int i = tid; i < STAGES * ONES / 4; i += blockDim.x)  // E4M3 1.0
      reinterpret_cast<uint32_t*>(attnSmem + (i / (ONES / 4)) * STAGE + KBYTES + VBYTES)[i % (ONES / 4)] = 0x38383838u;
  }
  if constexpr (QSM || !PV16) {
    // the MMAs read shared memory through the async proxy: make these generic-proxy stores visible to it
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
  }
  const uint64_t qd = mx_attn_desc(qsm, D * 8);
  // S = Q·Kᵀ of one tile (K stage descriptor kd), one group (not waited)
  auto issueQk = [&](int (&sc)[32], uint64_t kd) {
    if constexpr (QSM) {
#pragma unroll
      for (int ks = 0; ks < D / 32; ks++) mx_attn_wg_s8_n64_ss(sc, qd + 16 * ks, kd + 16 * ks, ks > 0);
      mx_attn_wg_commit();
    } else {
      mx_attn_wg_issue_qk<D>(sc, qf, kd);
    }
  };
  mx_attn_bar_init<STAGES>(fullBar);  // its __syncthreads also publishes the ones and Q's image
  auto load = [&](int tl) {
    const int st = tl % STAGES;
    mx_attn_load_stage(attnSmem + st * STAGE, &fullBar[st], kb + (long)tl * KBYTES, KBYTES, vg + (long)tl * VBYTES,
                       VBYTES);
  };
  auto landed = [&](int tl) {
    mx_attn_bar_wait((uint32_t)__cvta_generic_to_shared(&fullBar[tl % STAGES]), (tl / STAGES) & 1);
  };
  auto stage = [&](int tl) -> const uint8_t* { return attnSmem + (tl % STAGES) * STAGE; };
  // ksc: tile tl's K scale, loaded a step ahead (a load in the step itself put its latency between the MMA issues)
  // moff: tile tl's mask constant (MT), loaded a step ahead with ksc
  auto softmax = [&](const int (&s)[32], int tl, float ksc, float moff, float& alA, float& alB, float (&p)[32],
                     float& mA, float& mB, float& lA, float& lB) {
    const int j0 = tl * MX_ATTN_TILE;
    const bool flat = MT ? !isnan(moff) : mask == nullptr;
    const bool interior = j0 + MX_ATTN_TILE <= sk && flat && posScale && (!causal || j0 + MX_ATTN_TILE - 1 <= q0);
    mx_attn_wg_softmax<PV16, MT>(s, interior, j0, t, sk, causal, rA, rB, qsA * ksc, qsB * ksc, mask, maskA, maskB,
                                 mA, mB, lA, lB, alA, alB, p, &moff);
  };

  float o[NA], acc[PV16 ? 1 : NA];  // FP16: P·V accumulates in O itself
#pragma unroll
  for (int i = 0; i < NA; i++) o[i] = 0.f;
  if constexpr (!PV16) {
#pragma unroll
    for (int i = 0; i < NA; i++) acc[i] = 0.f;
  }
  // P·V of one tile (fragments f, Vᵀ stage descriptor vd): FP8 into fresh accumulators with the row-sum
  // columns, FP16 added to O; one wgmma group (not waited).
  auto issuePv = [&](const uint32_t (&f)[PSTEPS][4], uint64_t vd) {
#pragma unroll
    for (int kk = 0; kk < PSTEPS; kk++) {
      if constexpr (PV16) mx_attn_wg_pv<D, true>(o, f[kk], vd + 16 * kk, 1);
      else mx_attn_wg_pv_sum<D>(acc, f[kk], vd + 16 * kk, kk > 0);
    }
    mx_attn_wg_commit();
  };
  auto waitPv = [&]() {
    if constexpr (PV16) mx_attn_wg_wait_acc<D>(o); else mx_attn_wg_wait_sum<D>(acc);
  };
  // Folds the finished P·V into O: FP8 O = alA·O + tile; FP16 O *= the next tile's alpha (nA, nB), by the
  // warps whose rows' maxima moved.
  auto fold = [&](float alA, float alB, float nA, float nB) {
    if constexpr (PV16) {
      if (__any_sync(0xffffffffu, nA != 1.f || nB != 1.f)) {
#pragma unroll
        for (int n = 0; n < D / 8; n++) {
          o[4 * n] *= nA;
          o[4 * n + 1] *= nA;
          o[4 * n + 2] *= nB;
          o[4 * n + 3] *= nB;
        }
      }
    } else {
      mx_attn_wg_join(o, acc, alA, alB);
    }
  };
  float mA = -INFINITY, mB = -INFINITY, lA = 0.f, lB = 0.f;

  int tiles = skPad / MX_ATTN_TILE;
  if (causal) tiles = min(tiles, min(q0 + 63, sq - 1) / MX_ATTN_TILE + 1);
  load(0);
  if (tiles > 1) load(1);

  // Tile 0: scores and P before the loop.
  int s[32];
#pragma unroll
  for (int i = 0; i < 32; i++) s[i] = 0;
  float alA, alB, p[32];
  uint32_t pf[PSTEPS][4];
  landed(0);
  mx_attn_wg_fence();
  issueQk(s, mx_attn_kdesc<D>(stage(0)));
  mx_attn_wg_wait_i32(s);
  softmax(s, 0, ksb[0], tileOff(0), alA, alB, p, mA, mB, lA, lB);
  mx_attn_wg_pack<PV16>(p, pf);
  float kNext = ksb[min(1, tiles - 1)];
  float mNext = tileOff(min(1, tiles - 1));

  // Branch-free steady state (a conditional wgmma issue or wait makes ptxas serialize every wgmma).
  for (int tile = 0; tile + 1 < tiles; tile++) {
    const float kScale = kNext, mOff = mNext;  // tile + 1's
    kNext = ksb[min(tile + 2, tiles - 1)];
    mNext = tileOff(min(tile + 2, tiles - 1));
    landed(tile + 1);
    __syncthreads();  // every thread is past P·V(tile-1)'s wait: that stage can be refilled
    const uint64_t kd = mx_attn_kdesc<D>(stage(tile + 1)), vd = mx_attn_vdesc<PV16>(stage(tile) + KBYTES);
    mx_attn_wg_fence();
    issueQk(s, kd);
    issuePv(pf, vd);
    // The refill after the MMA issue: the warpgroup's MMAs do not wait for the loading thread.
    if (tile + 2 < tiles) load(tile + 2);
    float nA, nB;
    mx_attn_wg_wait1_i32(s);  // Q·Kᵀ(tile+1) done, P·V(tile) may still run
    softmax(s, tile + 1, kScale, mOff, nA, nB, p, mA, mB, lA, lB);
    waitPv();
    if constexpr (!QSM) {
#pragma unroll
      for (int ks = 0; ks < D / 32; ks++) mx_attn_keep(qf[ks]);
    }
#pragma unroll
    for (int kk = 0; kk < PSTEPS; kk++) mx_attn_keep(pf[kk]);
    fold(alA, alB, nA, nB);
    alA = nA;
    alB = nB;
    // P's fragments are rewritten only now: P·V(tile) read them until the wait above.
    mx_attn_wg_pack<PV16>(p, pf);
  }
  // The last tile's P·V (its stage landed before its scores were computed).
  const uint64_t vd = mx_attn_vdesc<PV16>(stage(tiles - 1) + KBYTES);
  mx_attn_wg_fence();
  issuePv(pf, vd);
  waitPv();
#pragma unroll
  for (int kk = 0; kk < PSTEPS; kk++) mx_attn_keep(pf[kk]);
  fold(alA, alB, 1.f, 1.f);
  mx_attn_wg_store<D>(o, lA, lB, vscale + (long)bh * D, out, ob, oh, os, bh, heads, sq, rA, rB, t);
}

#define MX_ATTN_FWD_WG(NAME, D, PV16, WGS)                                                                    \
  extern "C" __global__ void __launch_bounds__(128 * WGS, 3 - WGS) NAME(                                     \
      const int8_t* qq, const float* qscale, const int8_t* kq, const float* kscale, const void* vt,        \
      const float* vscale, const float* mask, long mb, long mh, long mq, float* out, long ob, long oh,       \
      long os, int heads, int sq, int sk, int sqPad, int skPad, int causal, int posScale) {                  \
    mx_attn_fwd_wg<D, PV16, WGS>(qq, qscale, kq, kscale, vt, vscale, mask, mb, mh, mq, out, ob, oh, os, heads, \
                                 sq, sk, sqPad, skPad, causal, posScale);                                    \
  }
// "1": one warpgroup (64 queries) per CTA, two CTAs per SM running out of step, head dims 128 and 64 (the
// Q fragments reloaded per tile at 64, see above); else two warpgroups (128 queries) sharing each K/V tile,
// head dim 128; "1p": one warpgroup, pipelined, FP8 P·V (5p); "1o16": the same with FP16 P·V accumulated in
// one level (5o).
MX_ATTN_FWD_WG(mx_attn_wgb_d128, 128, false, 2)
MX_ATTN_FWD_WG(mx_attn_wgb16_d128, 128, true, 2)
MX_ATTN_FWD_WG(mx_attn_wg1b_d128, 128, false, 1)
MX_ATTN_FWD_WG(mx_attn_wg1b16_d128, 128, true, 1)
MX_ATTN_FWD_WG(mx_attn_wg1b_d64, 64, false, 1)
MX_ATTN_FWD_WG(mx_attn_wg1b16_d64, 64, true, 1)
#define MX_ATTN_FWD_WGP(NAME, D, PV16, CTAS)                                                                  \
  extern "C" __global__ void __launch_bounds__(128, CTAS) NAME(                                              \
      const int8_t* qq, const float* qscale, const int8_t* kq, const float* kscale, const void* vt,        \
      const float* vscale, const float* mask, long mb, long mh, long mq, float* out, long ob, long oh,       \
      long os, int heads, int sq, int sk, int sqPad, int skPad, int causal, int posScale) {                  \
    mx_attn_fwd_wgp<D, PV16>(qq, qscale, kq, kscale, vt, vscale, mask, mb, mh, mq, out, ob, oh, os, heads, sq, \
                             sk, sqPad, skPad, causal, posScale);                                            \
  }
// The masked launches: as above, with the mask's tile constants (mx_attn_mask_tiles).
#define MX_ATTN_FWD_WGP_MT(NAME, D, PV16, CTAS)                                                               \
  extern "C" __global__ void __launch_bounds__(128, CTAS) NAME(                                              \
      const int8_t* qq, const float* qscale, const int8_t* kq, const float* kscale, const void* vt,        \
      const float* vscale, const float* mask, long mb, long mh, long mq, float* out, long ob, long oh,       \
      long os, int heads, int sq, int sk, int sqPad, int skPad, int causal, int posScale, const float* mtile, \
      long tb, long th, long tq) {                                                                           \
    mx_attn_fwd_wgp<D, PV16, true>(qq, qscale, kq, kscale, vt, vscale, mask, mb, mh, mq, out, ob, oh, os, heads, \
                                   sq, sk, sqPad, skPad, causal, posScale, mtile, tb, th, tq);               \
  }
MX_ATTN_FWD_WGP(mx_attn_wg1p_d128, 128, false, 2)
MX_ATTN_FWD_WGP(mx_attn_wg1o16_d128, 128, true, 3)
// Head dim 64: P·V N = 72 (FP8, with the ones) or 64 (FP16), 152 / 127 registers, Q from shared memory. H200,
// 2026-11-28 17:09 UTC (then with the Q fragments reloaded per tile instead): kernel 1.319 ms (FP8 P·V) and
// 1.247 ms (FP16) against the mma.sync kernel's 3.082 ms at B=4 H=32 S=4096.
MX_ATTN_FWD_WGP(mx_attn_wg1p_d64, 64, false, 3)
MX_ATTN_FWD_WGP(mx_attn_wg1o16_d64, 64, true, 3)
MX_ATTN_FWD_WGP_MT(mx_attn_wg1p_mt_d128, 128, false, 2)
MX_ATTN_FWD_WGP_MT(mx_attn_wg1o16_mt_d128, 128, true, 3)
MX_ATTN_FWD_WGP_MT(mx_attn_wg1p_mt_d64, 64, false, 3)
MX_ATTN_FWD_WGP_MT(mx_attn_wg1o16_mt_d64, 64, true, 3)

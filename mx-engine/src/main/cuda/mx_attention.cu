// MX attention on Hopper (sm_90a) after SageAttention: K smoothed by its token mean, Q (per token) and K (per
// 64-key tile) quantized to INT8, S = Q·Kᵀ on INT8 tensor cores (mma.sync m16n8k32 s8, exact s32
// accumulation), online softmax in FP32 (base 2), P rounded to FP8 E4M3 with the fixed scale 448, V to E4M3
// with one scale per channel, P·V on FP8 tensor cores (mma.sync m16n8k32 e4m3, f32 accumulation), two-level:
// each 64-key tile accumulates into fresh registers, then joins the running output in FP32.
// Same semantics as the CPU kernel (io.djlmx.attention.CpuSageAttention): causal = key j visible to query i
// iff j <= i; a row whose every score is -inf gives zeros; NaN in an input propagates (quantization blocks
// carry a NaN scale).
//
// Launch sequence (all on one stream), B·H = bh, tiles of 64 tokens, SqPad/SkPad = lengths rounded up to 64:
//   1. mx_attn_k_mean      grid (bh), block (D)                 -> kmean[bh][D]            (skip: zeros)
//   2. mx_attn_quant_k     grid (SkPad/64, bh), block (64)      -> kq[bh][SkPad][D] int8, kscale[bh][SkPad/64]
//   3. mx_attn_quant_q     grid (SqPad/64, bh), block (64)      -> qq[bh][SqPad][D] int8, qscale[bh][SqPad]
//   4. mx_attn_quant_v     grid (D, bh), block (128)            -> vt[bh][D][SkPad] e4m3 (transposed), vscale[bh][D]
//   5. mx_attn_fwd_d64 / mx_attn_fwd_d128  grid (SqPad/64, bh), block (128) -> out (FP32, strided like q)
// FP16 P·V variant (SageAttention v1 style, more accurate): step 4 is mx_attn_quant_v16 (vt FP16, same
// scale) and step 5 mx_attn_fwd16_d64 / mx_attn_fwd16_d128 (mma.sync m16n8k16 f16, same grids).
// Tensors are FP32 with element strides (batch, head, seq) and a contiguous last axis; heads = H, so
// bh index = b * H + h. Mask: additive FP32 with strides (batch, head, query), key stride 1, stride 0 to
// broadcast; null for none. Status: run and tested on an H100 through io.djlmx.kernel.cuda.CudaAttention.
#include <cstdint>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

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

__device__ __forceinline__ float mx_attn_warp_nanmax(float v) {
  for (int o = 16; o > 0; o >>= 1) v = mx_attn_nanmax(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

__device__ __forceinline__ int8_t mx_attn_int8(float x, float inv) {
  // x·inv is within [-127, 127] (up to rounding) when inv = 127/amax; NaN blocks carry a NaN scale instead.
  int c = __float2int_rn(x * inv);
  return (int8_t)max(-127, min(127, c));
}

__device__ __forceinline__ long mx_attn_off(long sb, long sh, long ss, int bh, int heads, int s) {
  return (long)(bh / heads) * sb + (long)(bh % heads) * sh + (long)s * ss;
}

// 1. Mean of K over tokens, per channel.
extern "C" __global__ void mx_attn_k_mean(const float* __restrict__ k, long sb, long sh, long ss, int heads,
                                          int sk, int d, float* __restrict__ kmean) {
  int bh = blockIdx.x, c = threadIdx.x;
  if (c >= d) return;
  float sum = 0.f;
  for (int j = 0; j < sk; j++) sum += k[mx_attn_off(sb, sh, ss, bh, heads, j) + c];
  kmean[(long)bh * d + c] = sum / (float)sk;
}

// 2. Smoothed K, INT8 per 64-key tile. One thread per key row; the tile's amax through shared memory.
extern "C" __global__ void mx_attn_quant_k(const float* __restrict__ k, long sb, long sh, long ss, int heads,
                                           int sk, int d, int skPad, const float* __restrict__ kmean,
                                           int8_t* __restrict__ kq, float* __restrict__ kscale) {
  __shared__ float red[2];
  int bh = blockIdx.y, tile = blockIdx.x, j = tile * MX_ATTN_TILE + threadIdx.x;
  const float* mean = kmean + (long)bh * d;
  float amax = 0.f;
  if (j < sk) {
    const float* row = k + mx_attn_off(sb, sh, ss, bh, heads, j);
    for (int c = 0; c < d; c++) amax = mx_attn_nanmax(amax, fabsf(row[c] - mean[c]));
  }
  amax = mx_attn_warp_nanmax(amax);
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = amax;
  __syncthreads();
  amax = mx_attn_nanmax(red[0], red[1]);
  float inv = amax == 0.f ? 0.f : 127.f / amax;
  int8_t* out = kq + ((long)bh * skPad + j) * d;
  if (j < sk) {
    const float* row = k + mx_attn_off(sb, sh, ss, bh, heads, j);
    for (int c = 0; c < d; c++) out[c] = mx_attn_int8(row[c] - mean[c], inv);
  } else {
    for (int c = 0; c < d; c++) out[c] = 0;
  }
  if (threadIdx.x == 0) kscale[(long)bh * (skPad / MX_ATTN_TILE) + tile] = amax / 127.f;
}

// 3. Q, INT8 per token; the stored scale also carries the softmax scale and log2(e).
extern "C" __global__ void mx_attn_quant_q(const float* __restrict__ q, long sb, long sh, long ss, int heads,
                                           int sq, int d, int sqPad, float softmaxScale,
                                           int8_t* __restrict__ qq, float* __restrict__ qscale) {
  int bh = blockIdx.y, i = blockIdx.x * MX_ATTN_TILE + threadIdx.x;
  int8_t* out = qq + ((long)bh * sqPad + i) * d;
  if (i >= sq) {
    for (int c = 0; c < d; c++) out[c] = 0;
    qscale[(long)bh * sqPad + i] = 0.f;
    return;
  }
  const float* row = q + mx_attn_off(sb, sh, ss, bh, heads, i);
  float amax = 0.f;
  for (int c = 0; c < d; c++) amax = mx_attn_nanmax(amax, fabsf(row[c]));
  float inv = amax == 0.f ? 0.f : 127.f / amax;
  for (int c = 0; c < d; c++) out[c] = mx_attn_int8(row[c], inv);
  qscale[(long)bh * sqPad + i] = amax / 127.f * softmaxScale * MX_ATTN_LOG2E;
}

// Where key j sits in its channel row of the E4M3 vt: within each 32-key chunk, the keys are stored in the
// mma order of P·V's key permutation (see mx_attn_fwd: position 4t+{0,1,2,3} holds key {2t, 2t+1, 8+2t,
// 9+2t}, 16+4t+{..} key {16+2t, ..}), so that each B register of P·V is one aligned 4-byte load.
__device__ __forceinline__ int mx_attn_v8_slot(int j) {
  const int r = j & 15;
  return (j & ~15) + 4 * ((r & 7) >> 1) + (r & 1) + ((r >> 3) << 1);
}

// 4. V to E4M3 with one scale per channel, stored transposed [channel][key] (the col-major B operand of P·V),
// keys permuted within each 32-key chunk (mx_attn_v8_slot).
extern "C" __global__ void mx_attn_quant_v(const float* __restrict__ v, long sb, long sh, long ss, int heads,
                                           int sk, int d, int skPad, uint8_t* __restrict__ vt,
                                           float* __restrict__ vscale) {
  __shared__ float red[4];
  int bh = blockIdx.y, c = blockIdx.x;
  float amax = 0.f;
  for (int j = threadIdx.x; j < sk; j += blockDim.x)
    amax = mx_attn_nanmax(amax, fabsf(v[mx_attn_off(sb, sh, ss, bh, heads, j) + c]));
  amax = mx_attn_warp_nanmax(amax);
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = amax;
  __syncthreads();
  amax = mx_attn_nanmax(mx_attn_nanmax(red[0], red[1]), mx_attn_nanmax(red[2], red[3]));
  float inv = amax == 0.f ? 0.f : 448.f / amax;
  uint8_t* out = vt + ((long)bh * d + c) * skPad;
  for (int j = threadIdx.x; j < skPad; j += blockDim.x) {
    float x = j < sk ? v[mx_attn_off(sb, sh, ss, bh, heads, j) + c] * inv : 0.f;
    if (isnan(amax)) x = __int_as_float(0x7fc00000);
    out[mx_attn_v8_slot(j)] = (uint8_t)__nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3);
  }
  if (threadIdx.x == 0) vscale[(long)bh * d + c] = amax == 0.f ? 1.f : amax / 448.f;
}

// 4b. The FP16 P·V variant: V to FP16 with the same per-channel scale (amax/448), transposed.
extern "C" __global__ void mx_attn_quant_v16(const float* __restrict__ v, long sb, long sh, long ss, int heads,
                                             int sk, int d, int skPad, __half* __restrict__ vt,
                                             float* __restrict__ vscale) {
  __shared__ float red[4];
  int bh = blockIdx.y, c = blockIdx.x;
  float amax = 0.f;
  for (int j = threadIdx.x; j < sk; j += blockDim.x)
    amax = mx_attn_nanmax(amax, fabsf(v[mx_attn_off(sb, sh, ss, bh, heads, j) + c]));
  amax = mx_attn_warp_nanmax(amax);
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = amax;
  __syncthreads();
  amax = mx_attn_nanmax(mx_attn_nanmax(red[0], red[1]), mx_attn_nanmax(red[2], red[3]));
  float inv = amax == 0.f ? 0.f : 448.f / amax;
  __half* out = vt + ((long)bh * d + c) * skPad;
  for (int j = threadIdx.x; j < skPad; j += blockDim.x) {
    float x = j < sk ? v[mx_attn_off(sb, sh, ss, bh, heads, j) + c] * inv : 0.f;
    if (isnan(amax)) x = __int_as_float(0x7fc00000);
    out[j] = __float2half_rn(x);
  }
  if (threadIdx.x == 0) vscale[(long)bh * d + c] = amax == 0.f ? 1.f : amax / 448.f;
}

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
  const int8_t* qb = qq + (long)bh * sqPad * D;
  const int8_t* kb = kq + (long)bh * skPad * D;
  const float* ksb = kscale + (long)bh * (skPad / MX_ATTN_TILE);
  const float qsA = qscale[(long)bh * sqPad + rA], qsB = qscale[(long)bh * sqPad + rB];
  const float* maskA = nullptr;
  const float* maskB = nullptr;
  if (mask != nullptr) {
    long base = (long)(bh / heads) * mb + (long)(bh % heads) * mh;
    maskA = mask + base + (long)min(rA, sq - 1) * mq;
    maskB = mask + base + (long)min(rB, sq - 1) * mq;
  }

  uint32_t qf[KS][4];
#pragma unroll
  for (int ks = 0; ks < KS; ks++) {
    qf[ks][0] = *reinterpret_cast<const uint32_t*>(qb + (long)rA * D + ks * 32 + 4 * t);
    qf[ks][1] = *reinterpret_cast<const uint32_t*>(qb + (long)rB * D + ks * 32 + 4 * t);
    qf[ks][2] = *reinterpret_cast<const uint32_t*>(qb + (long)rA * D + ks * 32 + 16 + 4 * t);
    qf[ks][3] = *reinterpret_cast<const uint32_t*>(qb + (long)rB * D + ks * 32 + 16 + 4 * t);
  }
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
  __shared__ __align__(16) uint8_t smem[STAGES * STAGE];
  const uint8_t* vg = static_cast<const uint8_t*>(vtRaw) + (long)bh * D * skPad * (PV16 ? 2 : 1);
  auto load = [&](int tl, int stage) {
    uint8_t* ks = smem + stage * STAGE;
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
    const uint8_t* ksm = smem + (STAGES == 2 ? (tile & 1) * STAGE : 0);
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
    float tmA = -INFINITY, tmB = -INFINITY;
#pragma unroll
    for (int n = 0; n < 8; n++) {
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int key = j0 + n * 8 + 2 * t + (e & 1);
        const bool rowB = e >= 2;
        float x = (float)s[n][e] * (rowB ? scB : scA);
        if (mask != nullptr && key < sk) x += (rowB ? maskB : maskA)[key] * MX_ATTN_LOG2E;
        if (key >= sk || (causal && key > (rowB ? rB : rA))) x = -INFINITY;
        f[n][e] = x;
        if (rowB) tmB = mx_attn_nanmax(tmB, x); else tmA = mx_attn_nanmax(tmA, x);
      }
    }
    // The 4 threads of a group share the rows.
    tmA = mx_attn_nanmax(tmA, __shfl_xor_sync(0xffffffffu, tmA, 1));
    tmA = mx_attn_nanmax(tmA, __shfl_xor_sync(0xffffffffu, tmA, 2));
    tmB = mx_attn_nanmax(tmB, __shfl_xor_sync(0xffffffffu, tmB, 1));
    tmB = mx_attn_nanmax(tmB, __shfl_xor_sync(0xffffffffu, tmB, 2));
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
        // vt holds the keys already in mma order (mx_attn_v8_slot): bytes 4t..4t+3 are keys 2t, 2t+1,
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

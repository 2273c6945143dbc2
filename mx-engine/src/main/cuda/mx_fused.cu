// Fused kernels of a transformer encoder layer (io.djlmx.kernel.cuda.CudaFusedOps, reached through
// io.djlmx.engine.MxFusedOps): each replaces several mx_ndarray.cu launches and the round trips of their
// intermediates through device memory.
//   mx_fused_add_layernorm: layerNorm(x + residual) per row (a post-norm layer's residual add and norm).
//   mx_fused_attention_d*: softmax(Q·Kᵀ / div + mask)·V for every head, reading Q, K and V in the projections'
//     merged layout ([tokens, heads·D], any row stride) and writing the merged context: no head split or merge
//     copies, no score matrix in device memory. Padded batches (a sequence every S rows, an additive mask) or
//     packed ones (each sequence's first row and length in the launch parameters, no mask).
#include <math.h>
#include "mx_common.cuh"

namespace {


// Columns a lane keeps in registers in the add + layer norm kernel (rows up to 32 * 16 = 512 wide are read
// once; wider rows are read again for each of the three passes).
constexpr int FU_LN_CACHE = 16;

}  // namespace

// out[r, :] = (s - mean(s)) / sqrt(var(s) + eps) * gamma + beta with s = x[r, :] + res[r, :], biased variance
// (as PyTorch and CpuLayerNorm), two passes over s. One warp per row, 8 rows per 256-thread block. Each lane reads
// every element it writes before writing it, so out may be x or res. gamma and beta may be null (1 and 0).
extern "C" __global__ void __launch_bounds__(256) mx_fused_add_layernorm(float* out, const float* x,
                                                                           const float* res,
                                                                           const float* __restrict__ gamma,
                                                                           const float* __restrict__ beta,
                                                                           long long rows, int cols, float eps) {
  const int lane = threadIdx.x & 31;
  const long long r = blockIdx.x * 8LL + (threadIdx.x >> 5);
  if (r >= rows) return;
  const float* xr = x + r * cols;
  const float* rr = res + r * cols;
  float* yr = out + r * cols;
  float mean, rstd;
  if (cols <= 32 * FU_LN_CACHE) {
    float v[FU_LN_CACHE];
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < FU_LN_CACHE; j++) {
      const int c = lane + 32 * j;
      v[j] = c < cols ? xr[c] + rr[c] : 0.0f;
      s += v[j];
    }
    mean = mx_warp_sum(s) / cols;
    float q = 0.0f;
#pragma unroll
    for (int j = 0; j < FU_LN_CACHE; j++) {
      const int c = lane + 32 * j;
      const float d = v[j] - mean;
      if (c < cols) q = fmaf(d, d, q);
    }
    rstd = 1.0f / sqrtf(mx_warp_sum(q) / cols + eps);
#pragma unroll
    for (int j = 0; j < FU_LN_CACHE; j++) {
      const int c = lane + 32 * j;
      if (c < cols) {
        const float t = (v[j] - mean) * rstd;
        yr[c] = fmaf(t, gamma != nullptr ? gamma[c] : 1.0f, beta != nullptr ? beta[c] : 0.0f);
      }
    }
    return;
  }
  float s = 0.0f;
  for (int c = lane; c < cols; c += 32) s += xr[c] + rr[c];
  mean = mx_warp_sum(s) / cols;
  float q = 0.0f;
  for (int c = lane; c < cols; c += 32) {
    const float d = (xr[c] + rr[c]) - mean;
    q = fmaf(d, d, q);
  }
  rstd = 1.0f / sqrtf(mx_warp_sum(q) / cols + eps);
  for (int c = lane; c < cols; c += 32) {
    const float t = ((xr[c] + rr[c]) - mean) * rstd;
    yr[c] = fmaf(t, gamma != nullptr ? gamma[c] : 1.0f, beta != nullptr ? beta[c] : 0.0f);
  }
}

namespace {

constexpr int FU_KT = 32;    // keys per shared-memory tile (one per lane)
constexpr int FU_WARPS = 4;  // warps per CTA
constexpr int FU_QR = 4;     // query rows per warp
constexpr int FU_QT = FU_WARPS * FU_QR;

// One CTA: query rows [blockIdx.x * 16, +16) of head blockIdx.y of sequence blockIdx.z. Per key tile of 32 the
// CTA stages K (rows padded to D + 1 floats: lane t reads row t without bank conflicts) and V in shared memory;
// each warp then takes its 4 query rows side by side (independent FMA chains and shuffles): lane t computes key
// t's score for each row (a sequential FMA chain over D, the order mx_nd_matmul sums in), the warp updates each
// row's running max and sum (online softmax), and each lane accumulates the D / 32 output columns it owns from the
// tile's probabilities. At the end each row is divided by its sum (a row whose every score is -Inf gives 0 / 0 =
// NaN, as softmax does).
// The sequence's rows are [start, start + len) of every operand; mrow (nullable) is the mask of this sequence and
// head, element (i, j) at i * mq + j * mk.
template <int DPL>
__device__ __forceinline__ void fused_attention_body(float* __restrict__ out, const float* __restrict__ q,
                                                     const float* __restrict__ k, const float* __restrict__ v,
                                                     const float* __restrict__ mrow, long long start, int len,
                                                     int D, long long ldq, long long ldk, long long ldv,
                                                     long long ldo, long long mq, long long mk, float div) {
  extern __shared__ float fu_smem[];
  const int h = blockIdx.y;
  const int q0 = blockIdx.x * FU_QT;
  if (q0 >= len) return;  // uniform over the CTA
  float* ks = fu_smem;                  // [32][D + 1]
  float* vs = ks + FU_KT * (D + 1);     // [32][D]
  float* qs = vs + FU_KT * D;           // [16][D]
  float* ps = qs + FU_QT * D;           // [16 rows][32]
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int nr = min(FU_QR, len - (q0 + warp * FU_QR));  // this warp's rows that exist
  const long long col = (long long)h * D;
  for (int e = tid; e < FU_QT * D; e += blockDim.x) {
    const int rr = e / D, d = e % D;
    qs[e] = q0 + rr < len ? q[(start + q0 + rr) * ldq + col + d] : 0.0f;
  }
  float m[FU_QR], l[FU_QR], o[FU_QR][DPL];
#pragma unroll
  for (int r = 0; r < FU_QR; r++) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
#pragma unroll
    for (int j = 0; j < DPL; j++) o[r][j] = 0.0f;
  }
  for (int kt = 0; kt < len; kt += FU_KT) {
    __syncthreads();  // the previous tile is no longer read (and, the first time, qs is written)
    for (int e = tid; e < FU_KT * D; e += blockDim.x) {
      const int t = e / D, d = e % D;
      const bool in = kt + t < len;
      ks[t * (D + 1) + d] = in ? k[(start + kt + t) * ldk + col + d] : 0.0f;
      vs[t * D + d] = in ? v[(start + kt + t) * ldv + col + d] : 0.0f;
    }
    __syncthreads();
    const bool valid = kt + lane < len;
    if (nr <= 0) continue;  // uniform over the warp: it has no rows (it still joins the barriers above)
    // the warp's rows side by side, so that their FMA chains and shuffles are independent
    const float* krow = ks + lane * (D + 1);
    const float* qw = qs + warp * FU_QR * D;
    float sc[FU_QR];
#pragma unroll
    for (int r = 0; r < FU_QR; r++) sc[r] = 0.0f;
    for (int d = 0; d < D; d++) {
      const float kv = krow[d];
#pragma unroll
      for (int r = 0; r < FU_QR; r++) sc[r] = fmaf(qw[r * D + d], kv, sc[r]);
    }
    float mt[FU_QR];
#pragma unroll
    for (int r = 0; r < FU_QR; r++) {
      if (valid) {
        sc[r] = sc[r] / div;
        if (mrow != nullptr && r < nr) sc[r] += mrow[(long long)(q0 + warp * FU_QR + r) * mq + (long long)(kt + lane) * mk];
      } else {
        sc[r] = -INFINITY;
      }
      mt[r] = sc[r];
    }
#pragma unroll
    for (int o2 = 16; o2 > 0; o2 >>= 1)
#pragma unroll
      for (int r = 0; r < FU_QR; r++) mt[r] = fmaxf(mt[r], __shfl_xor_sync(0xffffffffu, mt[r], o2));
    float p[FU_QR], corr[FU_QR], st[FU_QR];
#pragma unroll
    for (int r = 0; r < FU_QR; r++) {
      const float mnew = fmaxf(m[r], mt[r]);
      p[r] = mnew == -INFINITY ? 0.0f : expf(sc[r] - mnew);
      corr[r] = m[r] == -INFINITY ? 0.0f : expf(m[r] - mnew);
      m[r] = mnew;
      st[r] = p[r];
      ps[(warp * FU_QR + r) * FU_KT + lane] = p[r];
    }
#pragma unroll
    for (int o2 = 16; o2 > 0; o2 >>= 1)
#pragma unroll
      for (int r = 0; r < FU_QR; r++) st[r] += __shfl_xor_sync(0xffffffffu, st[r], o2);
#pragma unroll
    for (int r = 0; r < FU_QR; r++) l[r] = l[r] * corr[r] + st[r];
    __syncwarp();
    const float* pw = ps + warp * FU_QR * FU_KT;
#pragma unroll
    for (int j = 0; j < DPL; j++) {
      const int d = lane + 32 * j;
      if (d < D) {
        float acc[FU_QR];
#pragma unroll
        for (int r = 0; r < FU_QR; r++) acc[r] = o[r][j] * corr[r];
#pragma unroll 8
        for (int t = 0; t < FU_KT; t++) {
          const float vv = vs[t * D + d];
#pragma unroll
          for (int r = 0; r < FU_QR; r++) acc[r] = fmaf(pw[r * FU_KT + t], vv, acc[r]);
        }
#pragma unroll
        for (int r = 0; r < FU_QR; r++) o[r][j] = acc[r];
      }
    }
    __syncwarp();
  }
#pragma unroll
  for (int r = 0; r < FU_QR; r++) {
    const int i = q0 + warp * FU_QR + r;
    if (i >= len) break;
    float* orow = out + (start + i) * ldo + col;
#pragma unroll
    for (int j = 0; j < DPL; j++) {
      const int d = lane + 32 * j;
      if (d < D) orow[d] = o[r][j] / l[r];
    }
  }
}

}  // namespace

// Padded batch. Grid (ceil(S / 16), H, B), 128 threads, dynamic shared memory 4 * (32 * (D + 1) + 32 * D + 16 * D +
// 16 * 32) bytes; D in (32 * (DPL - 1), 32 * DPL]. Sequence b's rows are [b * S, b * S + S); the mask (nullable)
// element (b, h, i, j) is at b * mb + h * mh + i * mq + j * mk (0 strides broadcast).
#define MX_FUSED_ATTENTION(DPL)                                                                                  \
  extern "C" __global__ void __launch_bounds__(128) mx_fused_attention_d##DPL(                                   \
      float* out, const float* q, const float* k, const float* v, const float* mask, int S, int D, long long ldq, \
      long long ldk, long long ldv, long long ldo, long long mb, long long mh, long long mq, long long mk,        \
      float div) {                                                                                               \
    const float* mrow = mask != nullptr ? mask + (long long)blockIdx.z * mb + (long long)blockIdx.y * mh : nullptr; \
    fused_attention_body<DPL>(out, q, k, v, mrow, (long long)blockIdx.z * S, S, D, ldq, ldk, ldv, ldo, mq, mk, div); \
  }
MX_FUSED_ATTENTION(1)
MX_FUSED_ATTENTION(2)
MX_FUSED_ATTENTION(3)
MX_FUSED_ATTENTION(4)

// Up to this many sequences per launch of the packed kernel (their rows travel in the parameters, so a launch
// needs no upload and no synchronisation); CudaFusedOps.PACKED_SEQUENCES mirrors it.
#define FU_SEQS 64
struct FuSeqs {
  int start[FU_SEQS];
  int len[FU_SEQS];
};

// Packed batch: sequence z (z < gridDim.z <= 64) holds rows [seqs.start[z], + seqs.len[z]) of every operand, no mask.
// Grid (ceil(longest / 16), H, sequences), block and shared memory as the padded kernel.
#define MX_FUSED_ATTENTION_PACKED(DPL)                                                                            \
  extern "C" __global__ void __launch_bounds__(128) mx_fused_attention_packed_d##DPL(                             \
      float* out, const float* q, const float* k, const float* v, FuSeqs seqs, int D, long long ldq, long long ldk, \
      long long ldv, long long ldo, float div) {                                                                 \
    fused_attention_body<DPL>(out, q, k, v, nullptr, (long long)seqs.start[blockIdx.z], seqs.len[blockIdx.z], D,  \
                              ldq, ldk, ldv, ldo, 0, 0, div);                                                    \
  }
MX_FUSED_ATTENTION_PACKED(1)
MX_FUSED_ATTENTION_PACKED(2)
MX_FUSED_ATTENTION_PACKED(3)
MX_FUSED_ATTENTION_PACKED(4)

// Fused kernels of a transformer encoder layer (io.djlmx.kernel.cuda.CudaFusedOps, reached through
// io.djlmx.engine.MxFusedOps): each replaces several mx_ndarray.cu launches and the round trips of their
// intermediates through device memory.
//   mx_fused_add_layernorm: layerNorm(x + residual) per row (a post-norm layer's residual add and norm).
//   mx_fused_attention_d*: softmax(Q·Kᵀ / div + mask)·V for every head, reading Q, K and V in the projections'
//     merged layout ([tokens, heads·D], any row stride) and writing the merged context: no head split or merge
//     copies, no score matrix in device memory. Padded batches (a sequence every S rows, an additive mask) or
//     packed ones (each sequence's first row and length, no mask).
#include <math.h>

namespace {

__device__ __forceinline__ float fu_warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float fu_warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

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
    mean = fu_warp_sum(s) / cols;
    float q = 0.0f;
#pragma unroll
    for (int j = 0; j < FU_LN_CACHE; j++) {
      const int c = lane + 32 * j;
      const float d = v[j] - mean;
      if (c < cols) q = fmaf(d, d, q);
    }
    rstd = 1.0f / sqrtf(fu_warp_sum(q) / cols + eps);
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
  mean = fu_warp_sum(s) / cols;
  float q = 0.0f;
  for (int c = lane; c < cols; c += 32) {
    const float d = (xr[c] + rr[c]) - mean;
    q = fmaf(d, d, q);
  }
  rstd = 1.0f / sqrtf(fu_warp_sum(q) / cols + eps);
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
// each warp then takes its 4 query rows one by one: lane t computes key t's score (a sequential FMA chain over D,
// the order mx_nd_matmul sums in), the warp updates the row's running max and sum (online softmax), and each lane
// accumulates the D / 32 output columns it owns from the tile's probabilities. At the end each row is divided by
// its sum (a row whose every score is -Inf gives 0 / 0 = NaN, as softmax does).
template <int DPL>
__device__ __forceinline__ void fused_attention_body(float* __restrict__ out, const float* __restrict__ q,
                                                     const float* __restrict__ k, const float* __restrict__ v,
                                                     const float* __restrict__ mask,
                                                     const int* __restrict__ seqStart,
                                                     const int* __restrict__ seqLen, int S, int H, int D,
                                                     long long ldq, long long ldk, long long ldv, long long ldo,
                                                     long long mb, long long mh, long long mq, long long mk,
                                                     float div) {
  extern __shared__ float fu_smem[];
  const int b = blockIdx.z, h = blockIdx.y;
  const long long start = seqStart != nullptr ? (long long)seqStart[b] : (long long)b * S;
  const int len = seqStart != nullptr ? seqLen[b] : S;
  const int q0 = blockIdx.x * FU_QT;
  if (q0 >= len) return;  // uniform over the CTA
  float* ks = fu_smem;                  // [32][D + 1]
  float* vs = ks + FU_KT * (D + 1);     // [32][D]
  float* qs = vs + FU_KT * D;           // [16][D]
  float* ps = qs + FU_QT * D;           // [4 warps][32]
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
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
  const float* mrow = mask != nullptr ? mask + (long long)b * mb + (long long)h * mh : nullptr;
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
#pragma unroll
    for (int r = 0; r < FU_QR; r++) {
      const int qr = warp * FU_QR + r;
      const int i = q0 + qr;
      if (i >= len) break;  // uniform over the warp
      const float* qrow = qs + qr * D;
      const float* krow = ks + lane * (D + 1);
      float dot = 0.0f;
      for (int d = 0; d < D; d++) dot = fmaf(qrow[d], krow[d], dot);
      float sc = -INFINITY;
      if (valid) {
        sc = dot / div;
        if (mrow != nullptr) sc += mrow[(long long)i * mq + (long long)(kt + lane) * mk];
      }
      const float mnew = fmaxf(m[r], fu_warp_max(sc));
      const float p = mnew == -INFINITY ? 0.0f : expf(sc - mnew);
      const float corr = m[r] == -INFINITY ? 0.0f : expf(m[r] - mnew);
      l[r] = l[r] * corr + fu_warp_sum(p);
      m[r] = mnew;
      ps[warp * FU_KT + lane] = p;
      __syncwarp();
#pragma unroll
      for (int j = 0; j < DPL; j++) {
        const int d = lane + 32 * j;
        if (d < D) {
          float acc = o[r][j] * corr;
#pragma unroll 8
          for (int t = 0; t < FU_KT; t++) acc = fmaf(ps[warp * FU_KT + t], vs[t * D + d], acc);
          o[r][j] = acc;
        }
      }
      __syncwarp();
    }
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

// Grid (ceil(S / 16), H, B), 128 threads, dynamic shared memory 4 * (32 * (D + 1) + 32 * D + 16 * D + 4 * 32) bytes;
// D in (32 * (DPL - 1), 32 * DPL]. Padded batch: seqStart == null, sequence b's rows are [b * S, b * S + S), mask
// (nullable) element (b, h, i, j) at b * mb + h * mh + i * mq + j * mk (0 strides broadcast). Packed batch:
// seqStart/seqLen (device INT32 [B]) give each sequence's rows, S is the longest, mask must be null.
#define MX_FUSED_ATTENTION(DPL)                                                                                  \
  extern "C" __global__ void __launch_bounds__(128) mx_fused_attention_d##DPL(                                   \
      float* out, const float* q, const float* k, const float* v, const float* mask, const int* seqStart,       \
      const int* seqLen, int S, int H, int D, long long ldq, long long ldk, long long ldv, long long ldo,        \
      long long mb, long long mh, long long mq, long long mk, float div) {                                       \
    fused_attention_body<DPL>(out, q, k, v, mask, seqStart, seqLen, S, H, D, ldq, ldk, ldv, ldo, mb, mh, mq, mk, \
                              div);                                                                              \
  }
MX_FUSED_ATTENTION(1)
MX_FUSED_ATTENTION(2)
MX_FUSED_ATTENTION(3)
MX_FUSED_ATTENTION(4)

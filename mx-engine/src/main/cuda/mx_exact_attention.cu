// Exact FP32 attention in one launch (io.djlmx.kernel.cuda.CudaExactAttention): softmax(scale * Q·Kᵀ + mask)·V for
// the head dims the MX attention kernels have no variant for, in any layout, with an online softmax, so no score
// matrix reaches device memory.
//   mx_exact_attention_d*: D in (32 * (DPL - 1), 32 * DPL], DPL 1 to 8.
// Semantics are those of the MX kernels and ReferenceAttention: causal hides key j from query i when j > i
// (top-left), a row whose every key is hidden gives zeros, a NaN score makes its own row NaN.
#include <math.h>
#include "mx_common.cuh"

namespace {

constexpr int EX_KT = 32;                  // keys per shared-memory tile, one per lane
constexpr int EX_WARPS = 4;                // warps per CTA
constexpr int EX_QR = 8;                   // query rows per warp
constexpr int EX_QT = EX_WARPS * EX_QR;    // query rows per CTA

// Asynchronous global -> shared copies (cp.async, no registers): N bytes, or N zeros where !in (src is then not read).
template <int N>
__device__ __forceinline__ void ex_copy(float* dst, const float* src, bool in) {
  const unsigned sa = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  if constexpr (N == 16) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(sa), "l"(src), "r"(in ? 16 : 0));
  } else {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(sa), "l"(src), "r"(in ? 4 : 0));
  }
}
__device__ __forceinline__ void ex_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void ex_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

// Starts copying rows [kt, kt + 32) of x (row stride ld, D floats each) into tile rows of stride st, zero-filling
// rows past len and columns [D, w), F floats per copy (w a multiple of F).
template <int F>
__device__ __forceinline__ void ex_stage_by(float* tile, const float* x, int kt, int len, int D, int w, int st,
                                            long long ld, int tid) {
  const int n = w / F;  // copies per row
  for (int e = tid; e < EX_KT * n; e += EX_WARPS * 32) {
    const int t = e / n, c = F * (e - t * n);
    const bool in = kt + t < len && c < D;
    ex_copy<4 * F>(tile + t * st + c, in ? x + (long long)(kt + t) * ld + c : x, in);
  }
}

// As ex_stage_by: 16-byte copies where every row starts 16-byte aligned (vec), else 4-byte ones.
__device__ __forceinline__ void ex_stage(float* tile, const float* x, int kt, int len, int D, int w, int st,
                                         long long ld, bool vec, int tid) {
  if (vec) {
    ex_stage_by<4>(tile, x, kt, len, D, w, st, ld, tid);
  } else {
    ex_stage_by<1>(tile, x, kt, len, D, w, st, ld, tid);
  }
}

// One CTA: query rows [blockIdx.x * 32, +32) of head blockIdx.y of batch blockIdx.z. Per tile of 32 keys the CTA
// stages K and V in shared memory; each warp takes 8 query rows. For the scores, lane (g, kk) computes rows
// 4g..4g+3 against keys kk and kk + 16 (8 independent FMA chains), reading Q and K as float4 (each Q read is shared
// by 16 lanes; K rows are padded to 4 mod 32 floats so a quarter-warp's float4 reads hit distinct banks). Each row
// group's 16 lanes update its rows' running max and sum, the warp writes the tile's weights key-major (the 8 rows of
// a key are two float4), and each lane accumulates the D / 32 output columns it owns for all 8 rows.
// q, k, v and out point at this batch and head; row i of each is ld* floats further. Q and K rows are zero-padded
// to a multiple of 4 in shared memory (zeros add nothing to a dot product). mrow (nullable) is the mask of this
// batch and head, element (i, j) at i * mq + j * mk.
template <int DPL>
__device__ __forceinline__ void exact_attention(float* __restrict__ out, const float* __restrict__ q,
                                                const float* __restrict__ k, const float* __restrict__ v,
                                                const float* __restrict__ mrow, int lq, int lk, int D,
                                                long long ldq, long long ldk, long long ldv, long long ldo,
                                                long long mq, long long mk, float scale, bool causal) {
  extern __shared__ __align__(16) float ex_smem[];
  const int q0 = blockIdx.x * EX_QT;
  if (q0 >= lq) return;  // uniform over the CTA
  const int d4 = (D + 3) / 4;                      // float4 per padded Q / K row
  const int dq = 4 * d4;                           // padded Q row
  const int ksd = ((D + 31) / 32) * 32 + 4;        // K row stride
  float* ks = ex_smem;                             // [32][ksd]
  float* qs = ks + EX_KT * ksd;                    // [32][dq]
  float* ps = qs + EX_QT * dq;                     // [4 warps][32 keys][8 rows]
  float* vs = ps + EX_WARPS * EX_KT * EX_QR;       // [32][D]
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int row0 = q0 + warp * EX_QR;              // this warp's first query
  const int nr = min(EX_QR, lq - row0);            // this warp's rows that exist
  for (int r = warp; r < EX_QT; r += EX_WARPS) {
    const bool in = q0 + r < lq;
    for (int d = lane; d < dq; d += 32) qs[r * dq + d] = in && d < D ? q[(long long)(q0 + r) * ldq + d] : 0.0f;
  }
  const int g = lane >> 4, kk = lane & 15;          // score phase: row group, key pair
  float m[4], l[4], o[EX_QR][DPL];                 // m, l: the row group's rows
#pragma unroll
  for (int r = 0; r < 4; r++) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
  }
#pragma unroll
  for (int r = 0; r < EX_QR; r++)
#pragma unroll
    for (int j = 0; j < DPL; j++) o[r][j] = 0.0f;
  const int kend = causal ? min(lk, q0 + EX_QT) : lk;  // no key right of the CTA's last row is visible
  // K and V rows start 16-byte aligned when D and the row strides are multiples of 4 (cudaMalloc'd bases)
  const bool vec = D % 4 == 0 && ldk % 4 == 0 && ldv % 4 == 0 && (reinterpret_cast<size_t>(k) & 15) == 0 &&
                   (reinterpret_cast<size_t>(v) & 15) == 0;
  // One K and one V buffer, refilled asynchronously: K(next) loads during this tile's P·V, V(next) during the next
  // tile's scores. Groups complete in order: K0 V0 | K1 V1 | ...
  ex_stage(ks, k, 0, lk, D, dq, ksd, ldk, vec, tid);
  ex_commit();
  ex_stage(vs, v, 0, lk, D, D, D, ldv, vec, tid);
  ex_commit();
  const bool rows = nr > 0;  // uniform over the warp; warps without rows still copy and join every barrier
  for (int kt = 0; kt < kend; kt += EX_KT) {
    const bool more = kt + EX_KT < kend;
    ex_wait<1>();     // K(kt) has landed (V(kt) may still be in flight)
    __syncthreads();  // ... for every thread's copies (and, the first time, qs is written)
    const int key0 = kt + kk, key1 = kt + kk + 16;
    float mv0[4], mv1[4];  // the mask values, loaded before the score loop so that their latency hides behind it
    bool v0[4], v1[4];
#pragma unroll
    for (int r = 0; r < 4; r++) {
      const int row = row0 + 4 * g + r;
      const bool rowIn = 4 * g + r < nr;
      v0[r] = rowIn && key0 < lk && (!causal || key0 <= row);
      v1[r] = rowIn && key1 < lk && (!causal || key1 <= row);
      const float* mr = mrow + (long long)row * mq;
      mv0[r] = mrow != nullptr && v0[r] ? mr[(long long)key0 * mk] : 0.0f;
      mv1[r] = mrow != nullptr && v1[r] ? mr[(long long)key1 * mk] : 0.0f;
    }
    // scores: lane = (row group g of 4 rows, key pair kk and kk + 16), 4 x 2 FMA chains
    const float4* k0 = reinterpret_cast<const float4*>(ks + kk * ksd);
    const float4* k1 = reinterpret_cast<const float4*>(ks + (kk + 16) * ksd);
    const float4* qg = reinterpret_cast<const float4*>(qs + (warp * EX_QR + 4 * g) * dq);
    float s0[4], s1[4];
#pragma unroll
    for (int r = 0; r < 4; r++) s0[r] = s1[r] = 0.0f;
    if (rows) {
      for (int c = 0; c < d4; c++) {
        const float4 a = k0[c], b = k1[c];
#pragma unroll
        for (int r = 0; r < 4; r++) {
          const float4 qv = qg[r * d4 + c];
          s0[r] = fmaf(qv.x, a.x, s0[r]);
          s1[r] = fmaf(qv.x, b.x, s1[r]);
          s0[r] = fmaf(qv.y, a.y, s0[r]);
          s1[r] = fmaf(qv.y, b.y, s1[r]);
          s0[r] = fmaf(qv.z, a.z, s0[r]);
          s1[r] = fmaf(qv.z, b.z, s1[r]);
          s0[r] = fmaf(qv.w, a.w, s0[r]);
          s1[r] = fmaf(qv.w, b.w, s1[r]);
        }
      }
    }
    __syncthreads();  // every warp is done with ks: refill it with the next tile while this one finishes
    if (more) ex_stage(ks, k, kt + EX_KT, lk, D, dq, ksd, ldk, vec, tid);
    ex_commit();  // (an empty group on the last tile keeps the count)
    float mt[4];
#pragma unroll
    for (int r = 0; r < 4; r++) {
      s0[r] = v0[r] ? s0[r] * scale + mv0[r] : -INFINITY;
      s1[r] = v1[r] ? s1[r] * scale + mv1[r] : -INFINITY;
      mt[r] = fmaxf(s0[r], s1[r]);
    }
#pragma unroll
    for (int o2 = 8; o2 > 0; o2 >>= 1)  // over the 16 lanes of the row group
#pragma unroll
      for (int r = 0; r < 4; r++) mt[r] = fmaxf(mt[r], __shfl_xor_sync(0xffffffffu, mt[r], o2));
    float p0[4], p1[4], corr[4], st[4];
#pragma unroll
    for (int r = 0; r < 4; r++) {
      const float mnew = fmaxf(m[r], mt[r]);  // fmaxf skips NaN: a NaN score reaches the row through p
      // every score so far -Inf or NaN: a NaN still reaches the row's sum and output
      p0[r] = mnew == -INFINITY ? (isnan(s0[r]) ? s0[r] : 0.0f) : expf(s0[r] - mnew);
      p1[r] = mnew == -INFINITY ? (isnan(s1[r]) ? s1[r] : 0.0f) : expf(s1[r] - mnew);
      corr[r] = m[r] == -INFINITY ? 0.0f : expf(m[r] - mnew);
      m[r] = mnew;
      st[r] = p0[r] + p1[r];
    }
    float* pk = ps + (warp * EX_KT + kk) * EX_QR + 4 * g;
    *reinterpret_cast<float4*>(pk) = make_float4(p0[0], p0[1], p0[2], p0[3]);
    *reinterpret_cast<float4*>(pk + 16 * EX_QR) = make_float4(p1[0], p1[1], p1[2], p1[3]);
#pragma unroll
    for (int o2 = 8; o2 > 0; o2 >>= 1)
#pragma unroll
      for (int r = 0; r < 4; r++) st[r] += __shfl_xor_sync(0xffffffffu, st[r], o2);
#pragma unroll
    for (int r = 0; r < 4; r++) l[r] = l[r] * corr[r] + st[r];
    // the output columns a lane owns belong to all 8 rows: rows 0-3 take their factors from lane 0, 4-7 from 16
#pragma unroll
    for (int r = 0; r < EX_QR; r++) {
      const float cr = __shfl_sync(0xffffffffu, corr[r & 3], (r >> 2) * 16);
#pragma unroll
      for (int j = 0; j < DPL; j++) o[r][j] *= cr;
    }
    ex_wait<1>();     // V(kt) has landed (K(next) may still be in flight)
    __syncthreads();  // ... for every thread's copies; also orders the weights' stores before their reads
    const float4* pw = reinterpret_cast<const float4*>(ps + warp * EX_KT * EX_QR);
#pragma unroll 4
    for (int t = 0; t < (rows ? EX_KT : 0); t++) {
      const float4 pa = pw[2 * t], pb = pw[2 * t + 1];
      const float* vr = vs + t * D;
#pragma unroll
      for (int j = 0; j < DPL; j++) {
        const int d = lane + 32 * j;
        if (d < D) {
          const float vv = vr[d];
          o[0][j] = fmaf(pa.x, vv, o[0][j]);
          o[1][j] = fmaf(pa.y, vv, o[1][j]);
          o[2][j] = fmaf(pa.z, vv, o[2][j]);
          o[3][j] = fmaf(pa.w, vv, o[3][j]);
          o[4][j] = fmaf(pb.x, vv, o[4][j]);
          o[5][j] = fmaf(pb.y, vv, o[5][j]);
          o[6][j] = fmaf(pb.z, vv, o[6][j]);
          o[7][j] = fmaf(pb.w, vv, o[7][j]);
        }
      }
    }
    __syncthreads();  // every warp is done with vs (and with its weights): refill it with the next tile
    if (more) ex_stage(vs, v, kt + EX_KT, lk, D, D, D, ldv, vec, tid);
    ex_commit();
  }
#pragma unroll
  for (int r = 0; r < EX_QR; r++) {
    const float lr = __shfl_sync(0xffffffffu, l[r & 3], (r >> 2) * 16);
    if (r >= nr) break;  // uniform over the warp, after the shuffle
    float* orow = out + (long long)(row0 + r) * ldo;
#pragma unroll
    for (int j = 0; j < DPL; j++) {
      const int d = lane + 32 * j;
      if (d < D) orow[d] = lr == 0.0f ? 0.0f : o[r][j] / lr;  // l == 0: every key hidden
    }
  }
}

}  // namespace

// Grid (ceil(Sq / 32), H, B), 128 threads, dynamic shared memory 4 * (32 * K stride + 32 * padded D + 1024 + 32 * D)
// bytes (CudaExactAttention.sharedBytes). Element (b, h, i, d) of q is at b * qb + h * qh + i * ldq + d, and likewise
// for k, v and out; the mask (nullable) element (b, h, i, j) at b * mb + h * mh + i * mq + j * mk.
#define MX_EXACT_ATTENTION(DPL)                                                                                   \
  extern "C" __global__ void __launch_bounds__(128) mx_exact_attention_d##DPL(                                    \
      float* out, const float* q, const float* k, const float* v, const float* mask, int Sq, int Sk, int D,        \
      int causal, long long qb, long long qh, long long ldq, long long kb, long long kh, long long ldk,            \
      long long vb, long long vh, long long ldv, long long ob, long long oh, long long ldo, long long mb,          \
      long long mh, long long mq, long long mk, float scale) {                                                    \
    const long long b = blockIdx.z, h = blockIdx.y;                                                               \
    const float* mrow = mask != nullptr ? mask + b * mb + h * mh : nullptr;                                       \
    exact_attention<DPL>(out + b * ob + h * oh, q + b * qb + h * qh, k + b * kb + h * kh, v + b * vb + h * vh,     \
                         mrow, Sq, Sk, D, ldq, ldk, ldv, ldo, mq, mk, scale, causal != 0);                        \
  }
MX_EXACT_ATTENTION(1)
MX_EXACT_ATTENTION(2)
MX_EXACT_ATTENTION(3)
MX_EXACT_ATTENTION(4)
MX_EXACT_ATTENTION(5)
MX_EXACT_ATTENTION(6)
MX_EXACT_ATTENTION(7)
MX_EXACT_ATTENTION(8)

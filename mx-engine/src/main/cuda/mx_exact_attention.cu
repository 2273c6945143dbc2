// Exact FP32 attention in one launch (io.djlmx.kernel.cuda.CudaExactAttention): softmax(scale * Q·Kᵀ + mask)·V for
// the head dims the MX attention kernels have no variant for, in any layout, with an online softmax, so no score
// matrix reaches device memory.
//   mx_exact_attention_dDPL: D in (32 * (DPL - 1), 32 * DPL], DPL 1 to 8, 8 query rows per warp;
//   mx_exact_attention_q16_dDPL: DPL 1 to 4, 16 query rows per warp (the default there, unless its grid would be
//   1 to 1.4 waves: CudaExactAttention.rowsPerWarp).
// Semantics are those of the MX kernels and ReferenceAttention: causal hides key j from query i when j > i
// (top-left), a row whose every key is hidden gives zeros, a NaN score makes its own row NaN.
#include <math.h>
#include "mx_common.cuh"

namespace {

constexpr int EX_KT = 32;                  // keys per shared-memory tile, one per lane
constexpr int EX_WARPS = 4;                // warps per CTA

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

// A thread's walk over the (row, copy) pairs of a 32-row tile of n copies per row, in steps of the CTA's 128
// threads, set up once per kernel so that the copy loops divide nothing: the thread starts at copy tid and each
// step moves dt rows and dc copies on.
struct ExWalk {
  int t0, c0, dt, dc, n;
};

__device__ __forceinline__ ExWalk ex_walk(int n, int tid) {
  const int t0 = tid / n, dt = (EX_WARPS * 32) / n;
  return ExWalk{t0, tid - t0 * n, dt, EX_WARPS * 32 - dt * n, n};
}

// Starts copying rows [kt, kt + 32) of x (row stride ld, D floats each) into tile rows of stride st, zero-filling
// rows past len and columns [D, w) (w = F * walk.n), F floats per copy.
template <int F>
__device__ __forceinline__ void ex_stage_by(float* tile, const float* x, int kt, int len, int D, int st,
                                            long long ld, ExWalk walk) {
  int c = walk.c0;
  for (int t = walk.t0; t < EX_KT; t += walk.dt) {
    const int col = F * c;
    const bool in = kt + t < len && col < D;
    ex_copy<4 * F>(tile + t * st + col, in ? x + (long long)(kt + t) * ld + col : x, in);
    c += walk.dc;
    if (c >= walk.n) {
      c -= walk.n;
      t++;
    }
  }
}

// As ex_stage_by: 16-byte copies where every row starts 16-byte aligned (vec, walk over w / 4 copies per row),
// else 4-byte ones (walk over w copies per row).
__device__ __forceinline__ void ex_stage(float* tile, const float* x, int kt, int len, int D, int st, long long ld,
                                         bool vec, ExWalk walk) {
  if (vec) {
    ex_stage_by<4>(tile, x, kt, len, D, st, ld, walk);
  } else {
    ex_stage_by<1>(tile, x, kt, len, D, st, ld, walk);
  }
}

// One CTA: query rows [blockIdx.x * 4 * QR, +4 * QR) of head blockIdx.y of batch blockIdx.z, QR = 8 or 16 rows per
// warp. Per tile of 32 keys the CTA stages K and V in shared memory. For the scores, the warp's lanes form QR / 4 row
// groups of KL = 128 / QR lanes; lane (g, kk) computes rows 4g..4g+3 against keys kk + KL * c, c < QR / 4 (a 4 x 2
// or 4 x 4 register tile of independent FMA chains), reading Q and K as float4 (each Q read is shared by KL lanes;
// K rows are padded to 4 mod 32 floats so that the float4 reads of distinct keys hit distinct banks). Each row
// group's lanes update its rows' running max and sum, the warp writes the tile's weights key-major (the QR rows of a
// key are QR / 4 float4), and each lane accumulates the D / 32 output columns it owns for all QR rows. Sixteen rows
// per warp halve the shared-memory reads per FMA of both products; they take 4 * DPL more accumulators per row
// group, so they serve the head dims up to 128.
// q, k, v and out point at this batch and head; row i of each is ld* floats further. Q and K rows are zero-padded
// to a multiple of 4 in shared memory (zeros add nothing to a dot product). mrow (nullable) is the mask of this
// batch and head, element (i, j) at i * mq + j * mk.
template <int DPL, int QR>
__device__ __forceinline__ void exact_attention(float* __restrict__ out, const float* __restrict__ q,
                                                const float* __restrict__ k, const float* __restrict__ v,
                                                const float* __restrict__ mrow, int lq, int lk, int D,
                                                long long ldq, long long ldk, long long ldv, long long ldo,
                                                long long mq, long long mk, float scale, bool causal) {
  constexpr int QT = EX_WARPS * QR;  // query rows per CTA
  constexpr int KC = QR / 4;         // keys per lane in the score phase (and row groups per warp)
  constexpr int KL = EX_KT / KC;     // lanes per row group
  extern __shared__ __align__(16) float ex_smem[];
  const int q0 = blockIdx.x * QT;
  if (q0 >= lq) return;  // uniform over the CTA
  const int d4 = (D + 3) / 4;                      // float4 per padded Q / K row
  const int dq = 4 * d4;                           // padded Q row
  const int ksd = ((D + 31) / 32) * 32 + 4;        // K row stride
  float* ks = ex_smem;                             // [32][ksd]
  float* qs = ks + EX_KT * ksd;                    // [QT][dq]
  float* ps = qs + QT * dq;                        // [4 warps][32 keys][QR rows]
  float* vs = ps + EX_WARPS * EX_KT * QR;          // [32][32 * DPL], zeros past D
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int row0 = q0 + warp * QR;                 // this warp's first query
  const int nr = min(QR, lq - row0);               // this warp's rows that exist
  for (int r = warp; r < QT; r += EX_WARPS) {
    const bool in = q0 + r < lq;
    for (int d = lane; d < dq; d += 32) qs[r * dq + d] = in && d < D ? q[(long long)(q0 + r) * ldq + d] : 0.0f;
  }
  const int g = lane / KL, kk = lane % KL;         // score phase: row group, first key
  float m[4], l[4], o[QR][DPL];                    // m, l: the row group's rows
#pragma unroll
  for (int r = 0; r < 4; r++) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
  }
#pragma unroll
  for (int r = 0; r < QR; r++)
#pragma unroll
    for (int j = 0; j < DPL; j++) o[r][j] = 0.0f;
  const int kend = causal ? min(lk, q0 + QT) : lk;  // no key right of the CTA's last row is visible
  // K and V rows start 16-byte aligned when D and the row strides are multiples of 4 (cudaMalloc'd bases)
  const bool vec = D % 4 == 0 && ldk % 4 == 0 && ldv % 4 == 0 && (reinterpret_cast<size_t>(k) & 15) == 0 &&
                   (reinterpret_cast<size_t>(v) & 15) == 0;
  constexpr int VW = 32 * DPL;  // V row stride in shared memory: every lane's columns, zero past D
  const ExWalk kWalk = ex_walk(vec ? d4 : dq, tid), vWalk = ex_walk(vec ? VW / 4 : VW, tid);
  // One K and one V buffer, refilled asynchronously: K(next) loads during this tile's P·V, V(next) during the next
  // tile's scores. Groups complete in order: K0 V0 | K1 V1 | ...
  ex_stage(ks, k, 0, lk, D, ksd, ldk, vec, kWalk);
  ex_commit();
  ex_stage(vs, v, 0, lk, D, VW, ldv, vec, vWalk);
  ex_commit();
  const bool rows = nr > 0;  // uniform over the warp; warps without rows still copy and join every barrier
  for (int kt = 0; kt < kend; kt += EX_KT) {
    const bool more = kt + EX_KT < kend;
    ex_wait<1>();     // K(kt) has landed (V(kt) may still be in flight)
    __syncthreads();  // ... for every thread's copies (and, the first time, qs is written)
    float mv[KC][4];  // the mask values, loaded before the score loop so that their latency hides behind it
    bool vis[KC][4];
#pragma unroll
    for (int c = 0; c < KC; c++) {
      const int key = kt + kk + KL * c;
#pragma unroll
      for (int r = 0; r < 4; r++) {
        const int row = row0 + 4 * g + r;
        vis[c][r] = 4 * g + r < nr && key < lk && (!causal || key <= row);
        mv[c][r] = mrow != nullptr && vis[c][r] ? mrow[(long long)row * mq + (long long)key * mk] : 0.0f;
      }
    }
    // scores: lane = (row group g of 4 rows, keys kk + KL * c), 4 x KC FMA chains
    const float4* qg = reinterpret_cast<const float4*>(qs + (warp * QR + 4 * g) * dq);
    float s[KC][4];
#pragma unroll
    for (int c = 0; c < KC; c++)
#pragma unroll
      for (int r = 0; r < 4; r++) s[c][r] = 0.0f;
    if (rows) {
      for (int i = 0; i < d4; i++) {
        float4 kv[KC];
#pragma unroll
        for (int c = 0; c < KC; c++) kv[c] = reinterpret_cast<const float4*>(ks + (kk + KL * c) * ksd)[i];
#pragma unroll
        for (int r = 0; r < 4; r++) {
          const float4 qv = qg[r * d4 + i];
#pragma unroll
          for (int c = 0; c < KC; c++) {
            s[c][r] = fmaf(qv.x, kv[c].x, s[c][r]);
            s[c][r] = fmaf(qv.y, kv[c].y, s[c][r]);
            s[c][r] = fmaf(qv.z, kv[c].z, s[c][r]);
            s[c][r] = fmaf(qv.w, kv[c].w, s[c][r]);
          }
        }
      }
    }
    __syncthreads();  // every warp is done with ks: refill it with the next tile while this one finishes
    if (more) ex_stage(ks, k, kt + EX_KT, lk, D, ksd, ldk, vec, kWalk);
    ex_commit();  // (an empty group on the last tile keeps the count)
    float mt[4];
#pragma unroll
    for (int r = 0; r < 4; r++) {
      mt[r] = -INFINITY;
#pragma unroll
      for (int c = 0; c < KC; c++) {
        s[c][r] = vis[c][r] ? s[c][r] * scale + mv[c][r] : -INFINITY;
        mt[r] = fmaxf(mt[r], s[c][r]);
      }
    }
#pragma unroll
    for (int o2 = KL / 2; o2 > 0; o2 >>= 1)  // over the KL lanes of the row group
#pragma unroll
      for (int r = 0; r < 4; r++) mt[r] = fmaxf(mt[r], __shfl_xor_sync(0xffffffffu, mt[r], o2));
    float corr[4], st[4];
#pragma unroll
    for (int r = 0; r < 4; r++) {
      const float mnew = fmaxf(m[r], mt[r]);  // fmaxf skips NaN: a NaN score reaches the row through p
      st[r] = 0.0f;
#pragma unroll
      for (int c = 0; c < KC; c++) {
        // every score so far -Inf or NaN: a NaN still reaches the row's sum and output
        s[c][r] = mnew == -INFINITY ? (isnan(s[c][r]) ? s[c][r] : 0.0f) : expf(s[c][r] - mnew);
        st[r] += s[c][r];
      }
      corr[r] = m[r] == -INFINITY ? 0.0f : expf(m[r] - mnew);
      m[r] = mnew;
    }
#pragma unroll
    for (int c = 0; c < KC; c++) {
      float* pk = ps + (warp * EX_KT + kk + KL * c) * QR + 4 * g;
      *reinterpret_cast<float4*>(pk) = make_float4(s[c][0], s[c][1], s[c][2], s[c][3]);
    }
#pragma unroll
    for (int o2 = KL / 2; o2 > 0; o2 >>= 1)
#pragma unroll
      for (int r = 0; r < 4; r++) st[r] += __shfl_xor_sync(0xffffffffu, st[r], o2);
#pragma unroll
    for (int r = 0; r < 4; r++) l[r] = l[r] * corr[r] + st[r];
    // the output columns a lane owns belong to all QR rows: rows 4g'..4g'+3 take their factors from lane g' * KL
#pragma unroll
    for (int r = 0; r < QR; r++) {
      const float cr = __shfl_sync(0xffffffffu, corr[r & 3], (r >> 2) * KL);
#pragma unroll
      for (int j = 0; j < DPL; j++) o[r][j] *= cr;
    }
    ex_wait<1>();     // V(kt) has landed (K(next) may still be in flight)
    __syncthreads();  // ... for every thread's copies; also orders the weights' stores before their reads
    const float4* pw = reinterpret_cast<const float4*>(ps + warp * EX_KT * QR);
#pragma unroll 4
    for (int t = 0; t < (rows ? EX_KT : 0); t++) {
      float4 pr[KC];
#pragma unroll
      for (int c = 0; c < KC; c++) pr[c] = pw[KC * t + c];
      const float* vr = vs + t * VW;
#pragma unroll
      for (int j = 0; j < DPL; j++) {
        const float vv = vr[lane + 32 * j];  // zero past D: those columns are never stored
#pragma unroll
        for (int c = 0; c < KC; c++) {
          o[4 * c][j] = fmaf(pr[c].x, vv, o[4 * c][j]);
          o[4 * c + 1][j] = fmaf(pr[c].y, vv, o[4 * c + 1][j]);
          o[4 * c + 2][j] = fmaf(pr[c].z, vv, o[4 * c + 2][j]);
          o[4 * c + 3][j] = fmaf(pr[c].w, vv, o[4 * c + 3][j]);
        }
      }
    }
    __syncthreads();  // every warp is done with vs (and with its weights): refill it with the next tile
    if (more) ex_stage(vs, v, kt + EX_KT, lk, D, VW, ldv, vec, vWalk);
    ex_commit();
  }
#pragma unroll
  for (int r = 0; r < QR; r++) {
    const float lr = __shfl_sync(0xffffffffu, l[r & 3], (r >> 2) * KL);
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

// Grid (ceil(Sq / (4 * QR)), H, B), 128 threads, dynamic shared memory 4 * (32 * K stride + 4 * QR * padded D +
// 128 * QR + 32 * 32 * DPL) bytes (CudaExactAttention.sharedBytes); mx_exact_attention_dDPL has QR = 8, mx_exact_attention_q16_dDPL
// QR = 16. Element (b, h, i, d) of q is at b * qb + h * qh + i * ldq + d, and likewise for k, v and out; the mask
// (nullable) element (b, h, i, j) at b * mb + h * mh + i * mq + j * mk.
#define MX_EXACT_ATTENTION(NAME, DPL, QR)                                                                         \
  extern "C" __global__ void __launch_bounds__(128) NAME(                                                         \
      float* out, const float* q, const float* k, const float* v, const float* mask, int Sq, int Sk, int D,        \
      int causal, long long qb, long long qh, long long ldq, long long kb, long long kh, long long ldk,            \
      long long vb, long long vh, long long ldv, long long ob, long long oh, long long ldo, long long mb,          \
      long long mh, long long mq, long long mk, float scale) {                                                    \
    const long long b = blockIdx.z, h = blockIdx.y;                                                               \
    const float* mrow = mask != nullptr ? mask + b * mb + h * mh : nullptr;                                       \
    exact_attention<DPL, QR>(out + b * ob + h * oh, q + b * qb + h * qh, k + b * kb + h * kh,                      \
                             v + b * vb + h * vh, mrow, Sq, Sk, D, ldq, ldk, ldv, ldo, mq, mk, scale, causal != 0); \
  }
MX_EXACT_ATTENTION(mx_exact_attention_d1, 1, 8)
MX_EXACT_ATTENTION(mx_exact_attention_d2, 2, 8)
MX_EXACT_ATTENTION(mx_exact_attention_d3, 3, 8)
MX_EXACT_ATTENTION(mx_exact_attention_d4, 4, 8)
MX_EXACT_ATTENTION(mx_exact_attention_d5, 5, 8)
MX_EXACT_ATTENTION(mx_exact_attention_d6, 6, 8)
MX_EXACT_ATTENTION(mx_exact_attention_d7, 7, 8)
MX_EXACT_ATTENTION(mx_exact_attention_d8, 8, 8)
MX_EXACT_ATTENTION(mx_exact_attention_q16_d1, 1, 16)
MX_EXACT_ATTENTION(mx_exact_attention_q16_d2, 2, 16)
MX_EXACT_ATTENTION(mx_exact_attention_q16_d3, 3, 16)
MX_EXACT_ATTENTION(mx_exact_attention_q16_d4, 4, 16)

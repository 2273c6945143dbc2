// Kernels of the device-resident MX arrays (io.djlmx.engine.MxCudaNDArray through io.djlmx.kernel.cuda.CudaOps):
// elementwise maps and broadcasting binary ops, strided copies (transpose, slice, broadcast), casts, softmax,
// layer norm, embedding gather, reductions along one axis and a batched FP32 matmul. Every array is dense and
// row-major; strided views are described by an NdGeom passed by value.
#include <cstdint>
#include <math.h>
#include "mx_common.cuh"

#define ND_MAXD 8

// Geometry of an op over a dense row-major output of n elements: the output's shape and, for up to two inputs,
// the element stride of each output axis (0 on a broadcast axis) and the element offset of the first element.
// Mirrored by CudaOps.geometry (28 longs).
struct NdGeom {
  long long rank;
  long long n;
  long long shape[ND_MAXD];
  long long s0[ND_MAXD];
  long long s1[ND_MAXD];
  long long off0;
  long long off1;
};

__device__ __forceinline__ void nd_offsets(const NdGeom& g, long long i, long long& o0, long long& o1) {
  o0 = g.off0;
  o1 = g.off1;
  for (int d = (int)g.rank - 1; d >= 0; --d) {
    long long len = g.shape[d];
    long long c = i % len;
    i /= len;
    o0 += c * g.s0[d];
    o1 += c * g.s1[d];
  }
}

// Unary maps and maps with one scalar p; ids follow CudaOps.Unary.ordinal().
__device__ __forceinline__ float nd_map(float x, int op, float p) {
  switch (op) {
    case 0: return -x;
    case 1: return fabsf(x);
    case 2: return expf(x);
    case 3: return logf(x);
    case 4: return sqrtf(x);
    case 5: return x * x;
    case 6: return tanhf(x);
    case 7: return 1.0f / (1.0f + expf(-x));
    case 8: return x > 0.0f ? x : 0.0f;
    case 9: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));  // exact GELU, as PyTorch's default
    case 10: return sinf(x);
    case 11: return cosf(x);
    case 12: return x + p;
    case 13: return x - p;
    case 14: return p - x;
    case 15: return x * p;
    case 16: return x / p;
    case 17: return p / x;
    case 18: return powf(x, p);
    case 19: return fmaxf(x, p);
    case 20: return fminf(x, p);
    case 21: return rsqrtf(x);
    case 22: return floorf(x);
    case 23: return ceilf(x);
    case 24: return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x);  // sign, NaN kept
    default: return __int_as_float(0x7fc00000);
  }
}

extern "C" __global__ void mx_nd_map(float* __restrict__ out, const float* __restrict__ a, long long n, int op,
                                     float p) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    out[i] = nd_map(a[i], op, p);
  }
}

// Binary ops with broadcasting; ids follow CudaOps.Binary.ordinal().
__device__ __forceinline__ float nd_binary(float x, float y, int op) {
  switch (op) {
    case 0: return x + y;
    case 1: return x - y;
    case 2: return x * y;
    case 3: return x / y;
    case 4: return fmaxf(x, y);
    case 5: return fminf(x, y);
    case 6: return powf(x, y);
    default: return __int_as_float(0x7fc00000);
  }
}

extern "C" __global__ void mx_nd_binary(float* __restrict__ out, const float* __restrict__ a,
                                        const float* __restrict__ b, NdGeom g, int op) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < g.n; i += (long long)gridDim.x * blockDim.x) {
    long long oa, ob;
    nd_offsets(g, i, oa, ob);
    out[i] = nd_binary(a[oa], b[ob], op);
  }
}

// Strided gathers into a dense output (transpose, slice, broadcast, contiguous copy) of 1, 4 or 8-byte elements.
#define ND_COPY(NAME, T)                                                                                           \
  extern "C" __global__ void NAME(T* __restrict__ out, const T* __restrict__ a, NdGeom g) {                       \
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < g.n;                                  \
         i += (long long)gridDim.x * blockDim.x) {                                                                 \
      long long oa, ob;                                                                                            \
      nd_offsets(g, i, oa, ob);                                                                                    \
      out[i] = a[oa];                                                                                              \
    }                                                                                                              \
  }
ND_COPY(mx_nd_copy1, uint8_t)
ND_COPY(mx_nd_copy4, uint32_t)
ND_COPY(mx_nd_copy8, unsigned long long)

// Element type conversion; type ids follow CudaOps.ElementType.ordinal(): 0 f32, 1 f64, 2 i32, 3 i64, 4 i8,
// 5 u8, 6 bool. To an integer type: truncation toward zero, as PyTorch's casts; to bool: x != 0.
__device__ __forceinline__ double nd_load(const void* p, long long i, int t) {
  switch (t) {
    case 0: return ((const float*)p)[i];
    case 1: return ((const double*)p)[i];
    case 2: return ((const int32_t*)p)[i];
    case 3: return (double)((const long long*)p)[i];
    case 4: return ((const int8_t*)p)[i];
    default: return ((const uint8_t*)p)[i];
  }
}

extern "C" __global__ void mx_nd_cast(void* __restrict__ out, const void* __restrict__ in, long long n, int from,
                                      int to) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    if (from == 3 && to == 3) {
      ((long long*)out)[i] = ((const long long*)in)[i];
      continue;
    }
    double v = nd_load(in, i, from);
    switch (to) {
      case 0: ((float*)out)[i] = (float)v; break;
      case 1: ((double*)out)[i] = v; break;
      case 2: ((int32_t*)out)[i] = (int32_t)v; break;
      case 3: ((long long*)out)[i] = (long long)v; break;
      case 4: ((int8_t*)out)[i] = (int8_t)(int)v; break;
      case 5: ((uint8_t*)out)[i] = (uint8_t)(int)v; break;
      default: ((uint8_t*)out)[i] = v != 0.0 ? 1 : 0; break;
    }
  }
}

// Block-wide reductions over 256 threads (8 warps).
__device__ float nd_block_sum(float v, float* sh) {
  v = mx_warp_sum(v);
  int w = threadIdx.x >> 5, l = threadIdx.x & 31;
  __syncthreads();
  if (l == 0) sh[w] = v;
  __syncthreads();
  float t = 0.0f;
  for (int i = 0; i < (int)(blockDim.x >> 5); ++i) t += sh[i];
  return t;
}
__device__ float nd_block_max(float v, float* sh) {
  v = mx_warp_max(v);
  int w = threadIdx.x >> 5, l = threadIdx.x & 31;
  __syncthreads();
  if (l == 0) sh[w] = v;
  __syncthreads();
  float t = -INFINITY;
  for (int i = 0; i < (int)(blockDim.x >> 5); ++i) t = fmaxf(t, sh[i]);
  return t;
}

// Softmax (or log-softmax) of each row of [rows, cols]; one 256-thread block per row.
extern "C" __global__ void __launch_bounds__(256) mx_nd_softmax(float* __restrict__ out, const float* __restrict__ in,
                                                                  long long rows, int cols, int logOut) {
  __shared__ float sh[32];
  long long r = blockIdx.x;
  if (r >= rows) return;
  const float* x = in + r * cols;
  float* y = out + r * cols;
  float m = -INFINITY;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, x[c]);
  m = nd_block_max(m, sh);
  float s = 0.0f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) s += expf(x[c] - m);
  s = nd_block_sum(s, sh);
  if (logOut) {
    float ls = logf(s);
    for (int c = threadIdx.x; c < cols; c += blockDim.x) y[c] = x[c] - m - ls;
  } else {
    float inv = 1.0f / s;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) y[c] = expf(x[c] - m) * inv;
  }
}

// Layer normalization of each row of [rows, cols]: (x - mean) / sqrt(var + eps) * gamma + beta (gamma, beta
// optional); biased variance, two passes over the row. One 256-thread block per row.
extern "C" __global__ void __launch_bounds__(256) mx_nd_layernorm(float* __restrict__ out, const float* __restrict__ in,
                                                                    const float* __restrict__ gamma,
                                                                    const float* __restrict__ beta, long long rows,
                                                                    int cols, float eps) {
  __shared__ float sh[32];
  long long r = blockIdx.x;
  if (r >= rows) return;
  const float* x = in + r * cols;
  float* y = out + r * cols;
  float s = 0.0f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) s += x[c];
  float mean = nd_block_sum(s, sh) / cols;
  float v = 0.0f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    float d = x[c] - mean;
    v += d * d;
  }
  float rstd = rsqrtf(nd_block_sum(v, sh) / cols + eps);
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    float t = (x[c] - mean) * rstd;
    if (gamma != nullptr) t *= gamma[c];
    if (beta != nullptr) t += beta[c];
    y[c] = t;
  }
}

// Embedding lookup: out[i, :] = table[idx[i], :] for n indices (INT32 or INT64) into a [vocab, cols] FP32 table.
// An index outside [0, vocab) writes NaN and records the first bad position in err[0] (host checks it).
extern "C" __global__ void mx_nd_gather_rows(float* __restrict__ out, const float* __restrict__ table,
                                             const void* __restrict__ idx, int idx64, long long n, int cols,
                                             long long vocab, unsigned long long* err) {
  for (long long i = blockIdx.x; i < n; i += gridDim.x) {
    long long id = idx64 ? ((const long long*)idx)[i] : (long long)((const int32_t*)idx)[i];
    bool ok = id >= 0 && id < vocab;
    if (!ok && threadIdx.x == 0) atomicMin(err, (unsigned long long)i);
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
      out[i * cols + c] = ok ? table[id * cols + c] : __int_as_float(0x7fc00000);
    }
  }
}

// Reductions along one axis of a tensor viewed as [outer, len, inner]; ids follow CudaOps.Reduce.ordinal():
// 0 sum, 1 mean, 2 max, 3 min, 4 prod. inner == 1 (the last axis): one warp per output; else one thread per output.
__device__ __forceinline__ float nd_reduce_init(int op) {
  return op == 2 ? -INFINITY : op == 3 ? INFINITY : op == 4 ? 1.0f : 0.0f;
}
__device__ __forceinline__ float nd_reduce_step(float acc, float v, int op) {
  switch (op) {
    case 2: return (v != v || acc != acc) ? __int_as_float(0x7fc00000) : fmaxf(acc, v);
    case 3: return (v != v || acc != acc) ? __int_as_float(0x7fc00000) : fminf(acc, v);
    case 4: return acc * v;
    default: return acc + v;
  }
}

extern "C" __global__ void mx_nd_reduce_last(float* __restrict__ out, const float* __restrict__ in, long long rows,
                                             long long len, int op) {
  long long warp = (blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5;
  int lane = threadIdx.x & 31;
  if (warp >= rows) return;
  const float* x = in + warp * len;
  float acc = nd_reduce_init(op);
  for (long long c = lane; c < len; c += 32) acc = nd_reduce_step(acc, x[c], op);
  for (int o = 16; o > 0; o >>= 1) acc = nd_reduce_step(acc, __shfl_xor_sync(0xffffffffu, acc, o), op);
  if (lane == 0) out[warp] = op == 1 ? acc / (float)len : acc;
}

extern "C" __global__ void mx_nd_reduce_mid(float* __restrict__ out, const float* __restrict__ in, long long outer,
                                            long long len, long long inner, int op) {
  long long n = outer * inner;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    long long o = i / inner, j = i % inner;
    const float* x = in + o * len * inner + j;
    float acc = nd_reduce_init(op);
    for (long long c = 0; c < len; ++c) acc = nd_reduce_step(acc, x[c * inner], op);
    out[i] = op == 1 ? acc / (float)len : acc;
  }
}

// Batched FP32 matmul C[b] = A[b] · B[b], A [M, K], B [K, N], C [M, N] row-major, batch strides in elements
// (0 broadcasts an operand). 64×64 tiles, K steps of 16, 256 threads each computing 4×4 outputs.
#define ND_TM 64
#define ND_TN 64
#define ND_TK 16
extern "C" __global__ void __launch_bounds__(256) mx_nd_matmul(float* __restrict__ C, const float* __restrict__ A,
                                                                 const float* __restrict__ B, int M, int N, int K,
                                                                 long long sa, long long sb, long long sc) {
  __shared__ float As[ND_TK][ND_TM + 4];
  __shared__ float Bs[ND_TK][ND_TN + 4];
  long long bz = blockIdx.z;
  A += bz * sa;
  B += bz * sb;
  C += bz * sc;
  int row0 = blockIdx.y * ND_TM, col0 = blockIdx.x * ND_TN;
  int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  float acc[4][4] = {};
  for (int k0 = 0; k0 < K; k0 += ND_TK) {
    for (int e = threadIdx.x; e < ND_TM * ND_TK; e += 256) {
      int r = e / ND_TK, k = e % ND_TK;  // A tile: consecutive threads read consecutive k of a row
      int gr = row0 + r, gk = k0 + k;
      As[k][r] = (gr < M && gk < K) ? A[(long long)gr * K + gk] : 0.0f;
    }
    for (int e = threadIdx.x; e < ND_TK * ND_TN; e += 256) {
      int k = e / ND_TN, c = e % ND_TN;
      int gk = k0 + k, gc = col0 + c;
      Bs[k][c] = (gk < K && gc < N) ? B[(long long)gk * N + gc] : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < ND_TK; ++k) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = As[k][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) b[j] = Bs[k][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    int r = row0 + ty + 16 * i;
    if (r >= M) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      int c = col0 + tx + 16 * j;
      if (c < N) C[(long long)r * N + c] = acc[i][j];
    }
  }
}

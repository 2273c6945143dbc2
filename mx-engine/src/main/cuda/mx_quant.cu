// Activation quantization on the device: one thread per (row, 32-block). Writes canonical codes and E8M0
// scale bytes, optionally the scales as floats at a caller-chosen layout (the tensor-core GEMM reads them
// K-slice-major), and optionally the dequantized values (the fake-quantized activation).
#include "mx_common.cuh"

namespace {
template <int F>
__device__ __forceinline__ void quant_body(const float* __restrict__ x, int M, int K, int bpr, int scaleMode,
                                           uint8_t* __restrict__ codes, long long cbpr,
                                           uint8_t* __restrict__ sbytes, float* __restrict__ sfloat,
                                           long long sfRow, long long sfCol, float* __restrict__ deq) {
  long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= (long long)M * bpr) return;
  const int m = (int)(t / bpr), kb = (int)(t % bpr);
  const float* xr = x + (long long)m * K + kb * 32;
  const int n = min(32, K - kb * 32);
  float v[32];
  float amax = 0.0f;
  bool bad = false;
#pragma unroll
  for (int i = 0; i < 32; i++) {
    v[i] = i < n ? xr[i] : 0.0f;
    float a = fabsf(v[i]);
    bad |= !(a <= 3.402823466e38f);
    amax = fmaxf(amax, a);
  }
  uint32_t biased;
  uint32_t c[32];
  if (bad) {
    biased = 0xFFu;
#pragma unroll
    for (int i = 0; i < 32; i++) c[i] = 0u;
  } else {
    int e = mx_shared_exp<F>(amax, scaleMode);
    biased = (uint32_t)(e + 127);
    float inv = mx_pow2(-e);
#pragma unroll
    for (int i = 0; i < 32; i++) c[i] = mx_encode<F>(v[i] * inv);
  }
  if (codes != nullptr) {
    uint8_t* out = codes + (long long)m * cbpr + (long long)kb * MxBlockBytes<F>::value;
    if constexpr (MxBits<F>::value == 8) {
      uint32_t w[8];
#pragma unroll
      for (int i = 0; i < 8; i++) w[i] = c[4 * i] | (c[4 * i + 1] << 8) | (c[4 * i + 2] << 16) | (c[4 * i + 3] << 24);
      reinterpret_cast<uint4*>(out)[0] = make_uint4(w[0], w[1], w[2], w[3]);
      reinterpret_cast<uint4*>(out)[1] = make_uint4(w[4], w[5], w[6], w[7]);
    } else if constexpr (MxBits<F>::value == 4) {
      uint32_t w[4];
#pragma unroll
      for (int i = 0; i < 4; i++) {
        w[i] = 0u;
#pragma unroll
        for (int j = 0; j < 8; j++) w[i] |= c[8 * i + j] << (4 * j);
      }
      reinterpret_cast<uint4*>(out)[0] = make_uint4(w[0], w[1], w[2], w[3]);
    } else {
      uint32_t w[6] = {0u, 0u, 0u, 0u, 0u, 0u};
#pragma unroll
      for (int i = 0; i < 32; i++) {
        int bit = 6 * i;
        w[bit >> 5] |= c[i] << (bit & 31);
        if ((bit & 31) > 26) w[(bit >> 5) + 1] |= c[i] >> (32 - (bit & 31));
      }
      uint2* o = reinterpret_cast<uint2*>(out);
      o[0] = make_uint2(w[0], w[1]); o[1] = make_uint2(w[2], w[3]); o[2] = make_uint2(w[4], w[5]);
    }
  }
  if (sbytes != nullptr) sbytes[(long long)m * bpr + kb] = (uint8_t)biased;
  const float s = mx_scale(biased);
  if (sfloat != nullptr) sfloat[m * sfRow + kb * sfCol] = s;
  if (deq != nullptr) {
    float* dr = deq + (long long)m * K + kb * 32;
    const float f = mx_pow2(MxShift<F>::value);
#pragma unroll
    for (int i = 0; i < 32; i++) {
      if (i < n) {
        float d;
        if constexpr (F == MX_E4M3 || F == MX_E5M2) d = mx_fp8x2_to_float2<F>(c[i]).x;
        else if constexpr (F == MX_INT8) d = (float)(int8_t)(uint8_t)c[i];
        else d = __half2float(__ushort_as_half((unsigned short)mx_half_bits<F>(c[i])));
        dr[i] = (d * f) * s;
      }
    }
  }
}

// Weight scales (canonical bytes [rows, bpr]) to floats, K-slice-major [bpr, ld].
__device__ __forceinline__ void scales_t_body(const uint8_t* __restrict__ s, int rows, int bpr, float* __restrict__ out,
                                              long long ld) {
  long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= (long long)rows * bpr) return;
  int r = (int)(t / bpr), kb = (int)(t % bpr);
  out[kb * ld + r] = mx_scale(s[t]);
}
}  // namespace

#define MX_QUANT(F)                                                                                             \
  extern "C" __global__ void mx_quantize_f##F(const float* x, int M, int K, int bpr, int scaleMode,            \
                                              uint8_t* codes, long long cbpr, uint8_t* sbytes, float* sfloat,  \
                                              long long sfRow, long long sfCol, float* deq) {                  \
    quant_body<F>(x, M, K, bpr, scaleMode, codes, cbpr, sbytes, sfloat, sfRow, sfCol, deq);                    \
  }
MX_QUANT(0)
MX_QUANT(1)
MX_QUANT(2)
MX_QUANT(3)
MX_QUANT(4)
MX_QUANT(5)

extern "C" __global__ void mx_scales_to_float_t(const uint8_t* s, int rows, int bpr, float* out, long long ld) {
  scales_t_body(s, rows, bpr, out, ld);
}

// Fills p[0..n) with reproducible pseudo-random values: a hash-based Box-Muller normal times
// scale * exp(0.5 * another normal), so blocks see a realistic spread of magnitudes (never all zero).
extern "C" __global__ void mx_fill_random(float* p, long long n, unsigned int seed, float scale) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  auto h = [](unsigned long long v) {
    v ^= v >> 33; v *= 0xff51afd7ed558ccdULL; v ^= v >> 33; v *= 0xc4ceb9fe1a85ec53ULL; v ^= v >> 33;
    return v;
  };
  unsigned long long a = h((unsigned long long)i * 2654435761ULL + seed);
  unsigned long long b = h(a + 0x9E3779B97F4A7C15ULL);
  float u1 = ((a >> 40) + 1) * (1.0f / 16777217.0f);
  float u2 = (b >> 40) * (1.0f / 16777216.0f);
  float u3 = ((b & 0xFFFFFF) + 1) * (1.0f / 16777217.0f);
  float r = sqrtf(-2.0f * logf(u1));
  float g = r * cospif(2.0f * u2);
  float g2 = sqrtf(-2.0f * logf(u3)) * sinpif(2.0f * u2);
  p[i] = scale * g * expf(0.5f * g2);
}

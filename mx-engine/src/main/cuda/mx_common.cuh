// Shared definitions of the MX CUDA kernels: format ids, E8M0 scales, element decode and encode.
// Format ids follow io.djlmx.format.MxFormat.ordinal().
#pragma once
#include <cstdint>
#include <cuda_fp16.h>

#define MX_E4M3 0
#define MX_E5M2 1
#define MX_E3M2 2
#define MX_E2M3 3
#define MX_E2M1 4
#define MX_INT8 5

// Sum and maximum over the 32 lanes of a warp; every lane gets the result.
__device__ __forceinline__ float mx_warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float mx_warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Bits of one element code.
template <int F> struct MxBits { static constexpr int value = (F == MX_E2M1) ? 4 : (F == MX_E3M2 || F == MX_E2M3) ? 6 : 8; };

// Code bytes of one 32-element block.
template <int F> struct MxBlockBytes { static constexpr int value = MxBits<F>::value * 4; };

// The half-precision decode of an element is its value times 2^-shift (so the half stays exact, subnormals
// included); the block sum is multiplied back by 2^shift once per block.
template <int F> struct MxShift {
  static constexpr int value = (F == MX_E3M2) ? 12 : (F == MX_E2M3 || F == MX_E2M1) ? 14 : (F == MX_INT8) ? -6 : 0;
};

__device__ __forceinline__ float mx_pow2(int e) {  // 2^e for e in [-149, 127], exact
  if (e >= -126) return __int_as_float((e + 127) << 23);
  return __int_as_float(1 << (e + 149));
}

// E8M0 scale byte to float: 2^(b-127), 0xFF = NaN.
__device__ __forceinline__ float mx_scale(uint32_t b) {
  if (b == 0xFFu) return __int_as_float(0x7fc00000);
  if (b == 0u) return __int_as_float(0x00400000);
  return __int_as_float(b << 23);
}

// Half bits (times 2^-shift) of a 4/6-bit float code held in the low bits of c.
template <int F> __device__ __forceinline__ uint32_t mx_half_bits(uint32_t c) {
  if (F == MX_E2M1) return ((c & 8u) << 12) | ((c & 7u) << 9);
  if (F == MX_E2M3) return ((c & 0x20u) << 10) | ((c & 0x1Fu) << 7);
  return ((c & 0x20u) << 10) | ((c & 0x1Fu) << 8);  // E3M2
}

// Two E4M3 / E5M2 codes (low 16 bits of v) to two halves, exact (NaN and Inf kept).
template <int F> __device__ __forceinline__ float2 mx_fp8x2_to_float2(uint32_t v) {
  uint32_t h;
  if (F == MX_E4M3) {
    unsigned short s = (unsigned short)(v & 0xFFFFu);
    asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(h) : "h"(s));
  } else {
    h = __byte_perm(v, 0u, 0x1404);  // [0, b0, 0, b1]: each byte becomes the high byte of a half
  }
  __half2 hh = *reinterpret_cast<__half2*>(&h);
  return __half22float2(hh);
}

// Exact value of MXINT8 code byte j of w, times 64.
__device__ __forceinline__ float mx_int8_byte(uint32_t w, int j) {
  uint32_t f = __byte_perm(w ^ 0x80808080u, 0x4B000000u, 0x7540u | (uint32_t)j);
  return __int_as_float(f) - 8388736.0f;  // 2^23 + 128
}

// Scalar decode of element i of a row of canonical codes, times 2^-shift.
template <int F> __device__ __forceinline__ float mx_decode_elem(const uint8_t* row, int i) {
  if (F == MX_E4M3 || F == MX_E5M2) {
    return mx_fp8x2_to_float2<F>((uint32_t)row[i]).x;
  } else if (F == MX_INT8) {
    return (float)(int8_t)row[i];
  } else if (F == MX_E2M1) {
    uint32_t c = (row[i >> 1] >> ((i & 1) * 4)) & 0xFu;
    return __half2float(__ushort_as_half((unsigned short)mx_half_bits<F>(c)));
  } else {
    const uint8_t* g = row + (i >> 2) * 3;
    uint32_t bits = (uint32_t)g[0] | ((uint32_t)g[1] << 8) | ((uint32_t)g[2] << 16);
    uint32_t c = (bits >> ((i & 3) * 6)) & 0x3Fu;
    return __half2float(__ushort_as_half((unsigned short)mx_half_bits<F>(c)));
  }
}

// floor(log2(a)) for finite a > 0, subnormals included.
__device__ __forceinline__ int mx_floor_log2(float a) {
  int b = __float_as_int(a);
  int e = (b >> 23) & 0xFF;
  if (e != 0) return e - 127;
  return -127 - (__clz(b & 0x7FFFFF) - 9);  // subnormal: leading bit position
}

// Element parameters for encoding.
template <int F> struct MxParams;
template <> struct MxParams<MX_E4M3> { static constexpr int EB = 4, MB = 3, BIAS = 7, EMAX = 8; };
template <> struct MxParams<MX_E5M2> { static constexpr int EB = 5, MB = 2, BIAS = 15, EMAX = 15; };
template <> struct MxParams<MX_E3M2> { static constexpr int EB = 3, MB = 2, BIAS = 3, EMAX = 4; };
template <> struct MxParams<MX_E2M3> { static constexpr int EB = 2, MB = 3, BIAS = 1, EMAX = 2; };
template <> struct MxParams<MX_E2M1> { static constexpr int EB = 2, MB = 1, BIAS = 1, EMAX = 2; };
template <> struct MxParams<MX_INT8> { static constexpr int EB = 0, MB = 0, BIAS = 0, EMAX = 0; };

__device__ __forceinline__ float mx_max_normal(int f) {
  switch (f) {
    case MX_E4M3: return 448.0f;
    case MX_E5M2: return 57344.0f;
    case MX_E3M2: return 28.0f;
    case MX_E2M3: return 7.5f;
    case MX_E2M1: return 6.0f;
    default: return 127.0f / 64.0f;
  }
}

// Encodes v (already divided by the block scale) with round-to-nearest-even, saturation and subnormals.
template <int F> __device__ __forceinline__ uint32_t mx_encode(float v) {
  if (F == MX_INT8) {
    float r = rintf(v * 64.0f);
    r = fminf(fmaxf(r, -127.0f), 127.0f);
    return ((uint32_t)(int)r) & 0xFFu;
  } else {
    using P = MxParams<F>;
    constexpr int EMIN = 1 - P::BIAS;
    const float maxn = mx_max_normal(F);
    uint32_t sign = (__float_as_uint(v) >> 31) & 1u;
    float a = fabsf(v);
    uint32_t mag;
    if (!(a < maxn)) {  // saturate (NaN blocks are flagged by the scale)
      mag = (F == MX_E4M3) ? 0x7Eu : (F == MX_E5M2) ? 0x7Bu : ((1u << (P::EB + P::MB)) - 1u);
    } else if (a == 0.0f) {
      mag = 0u;
    } else {
      int e = max(mx_floor_log2(a), EMIN);
      float r = rintf(a * mx_pow2(P::MB - e));  // exact scaling by a power of two, then ties-to-even
      if (r >= (float)(2 << P::MB)) { e += 1; r *= 0.5f; }
      if (r * mx_pow2(e - P::MB) > maxn) {
        mag = (F == MX_E4M3) ? 0x7Eu : (F == MX_E5M2) ? 0x7Bu : ((1u << (P::EB + P::MB)) - 1u);
      } else {
        uint32_t ri = (uint32_t)r;
        if (ri < (1u << P::MB)) mag = ri;  // subnormal (e == EMIN) or zero
        else mag = ((uint32_t)(e + P::BIAS) << P::MB) | (ri - (1u << P::MB));
      }
    }
    return (sign << (P::EB + P::MB)) | mag;
  }
}

// Shared block exponent (unbiased) of a finite block max; scaleMode 0 = FLOOR, 1 = RCEIL.
template <int F> __device__ __forceinline__ int mx_shared_exp(float amax, int scaleMode) {
  using P = MxParams<F>;
  if (amax == 0.0f) return max(-126 - P::EMAX, -127);
  int e = mx_floor_log2(amax) - P::EMAX;
  if (scaleMode == 1) {
    float maxn = mx_max_normal(F);
    if (e >= -127 && amax * mx_pow2(-e) > maxn) e += 1;
  }
  return min(max(e, -127), 127);
}

// Epilogue of the weight-only linear kernels, applied to y = x·Wᵀ + bias before the store; ids follow
// CudaMxLinear.Epilogue.ordinal(): 0 none, 1 the exact (erf) GELU with the same formula as mx_nd_map's, so a fused
// GELU equals the separate map bit for bit.
__device__ __forceinline__ float mx_epilogue(float v, int act) {
  return act == 1 ? 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)) : v;
}

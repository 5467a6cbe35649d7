#pragma once
// Elementwise math written so that the compiler vectorises it: no branches, no calls.
//
// float exp: exp(x) = 2^n * e^r with n = round(x / ln 2) and r = x - n ln 2 in
// [-ln2/2, ln2/2] (ln 2 split in two parts so that r is exact), e^r by its Taylor series to
// r^7/7! (truncation error below 6e-9 relative), and 2^n applied as two powers of two so that
// results in the subnormal range and up to FLT_MAX come out right and overflow gives inf.
// double uses the C library (it serves gradient checks, where accuracy is the point).
#include <bit>
#include <cmath>
#include <cstdint>

namespace tg::kernels {

inline float exp_impl(float x) {
  float xc = x < -104.0f ? -104.0f : x;  // plain selects (not fmin/fmax) so the loop vectorises
  xc = xc > 89.0f ? 89.0f : xc;
  const float n = std::floor(xc * 1.44269504088896341f + 0.5f);
  float r = xc - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const std::int32_t ni = static_cast<std::int32_t>(n);
  const std::int32_t n1 = ni >> 1;
  const std::int32_t n2 = ni - n1;
  const float s1 = std::bit_cast<float>((n1 + 127) << 23);
  const float s2 = std::bit_cast<float>((n2 + 127) << 23);
  const float result = p * s1 * s2;
  return x != x ? x : result;  // NaN in, NaN out
}
inline double exp_impl(double x) { return std::exp(x); }

/// tanh(x) = 1 - 2 / (e^{2x} + 1), with an odd Taylor series below |x| = 0.25 where that
/// formula would lose relative precision.
inline float tanh_impl(float x) {
  const float e = exp_impl(2.0f * x);
  const float big = 1.0f - 2.0f / (e + 1.0f);
  const float x2 = x * x;
  const float small = x * (1.0f + x2 * (-1.0f / 3.0f + x2 * (2.0f / 15.0f + x2 * (-17.0f / 315.0f + x2 * (62.0f / 2835.0f)))));
  return std::fabs(x) < 0.25f ? small : big;
}
inline double tanh_impl(double x) { return std::tanh(x); }

inline float sigmoid_impl(float x) { return 1.0f / (1.0f + exp_impl(-x)); }
inline double sigmoid_impl(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace tg::kernels

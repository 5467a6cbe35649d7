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

/// expm1(x) = e^x - 1 without cancellation near 0: with n and r as for exp, e^x - 1 =
/// 2^n (e^r - 1) + (2^n - 1), and e^r - 1 by its Taylor series (r + r^2/2 + ... + r^8/8!), so for
/// n = 0 the result is the series itself, accurate to a few ulp however small x is.
inline float expm1_impl(float x) {
  float xc = x < -104.0f ? -104.0f : x;
  xc = xc > 89.0f ? 89.0f : xc;
  const float n = std::floor(xc * 1.44269504088896341f + 0.5f);
  float r = xc - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.0f / 40320.0f;
  p = p * r + 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r * r + r;  // e^r - 1
  const std::int32_t ni = static_cast<std::int32_t>(n);
  const std::int32_t n1 = ni >> 1;
  const std::int32_t n2 = ni - n1;
  const float s1 = std::bit_cast<float>((n1 + 127) << 23);
  const float s2 = std::bit_cast<float>((n2 + 127) << 23);
  const float scale = s1 * s2;  // 2^n
  const float result = scale * p + (scale - 1.0f);
  return x != x ? x : result;
}
inline double expm1_impl(double x) { return std::expm1(x); }

/// tanh(|x|) = m / (m + 2) with m = expm1(2 |x|): no cancellation for small x, and |x| is
/// capped at 9, where tanh is 1 to float precision (and e^(2x) cannot overflow).
inline float tanh_impl(float x) {
  float a = std::fabs(x);
  a = a > 9.0f ? 9.0f : a;
  const float m = expm1_impl(2.0f * a);
  const float t = m / (m + 2.0f);
  return std::copysign(t, x);  // copysign keeps NaN a NaN
}
inline double tanh_impl(double x) { return std::tanh(x); }

inline float sigmoid_impl(float x) { return 1.0f / (1.0f + exp_impl(-x)); }
inline double sigmoid_impl(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace tg::kernels

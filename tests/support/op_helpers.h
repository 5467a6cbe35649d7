#pragma once
// Inputs and naive references shared by the op family tests under tests/core/.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "support/helpers.h"
#include "tapegrad/core.h"

namespace tg_test {

using tg::Tensor;

inline constexpr double kInf = std::numeric_limits<double>::infinity();

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

inline Tensor randn64(tg::IntArrayRef shape, std::uint64_t seed) {
  tg::Generator g(seed);
  return tg::randn(shape, tg::kFloat64, &g);
}

inline Tensor any64(tg::IntArrayRef shape, std::uint64_t seed) { return uniform64(shape, -2.0, 2.0, seed); }

inline Tensor positive64(tg::IntArrayRef shape, std::uint64_t seed) { return uniform64(shape, 0.5, 2.0, seed); }

inline std::vector<std::int64_t> ints(const Tensor& t) { return t.to_vector<std::int64_t>(); }

inline Tensor index64(const std::vector<std::int64_t>& v, tg::IntArrayRef shape) { return tg::from_vector(v, shape); }

inline Tensor mask(const std::vector<bool>& v, tg::IntArrayRef shape) { return tg::from_vector(v, shape); }

inline Tensor away64(tg::IntArrayRef shape, std::uint64_t seed) { return tg_test::away_from_zero64(shape, seed); }

inline Tensor constant64(const tg::NestedList& v) { return tg::tensor(v, tg::kFloat64); }

/// A float64 leaf whose values are all different, at least 0.1 apart (a permutation of
/// 0.1 * (i - n/2)): the arg-max of every pooling window is unique and far from ties.
inline Tensor distinct64(tg::IntArrayRef shape, std::int64_t stride = 7919) {
  const std::int64_t n = tg::numel_of(shape);
  std::vector<double> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    v[static_cast<std::size_t>(i)] = 0.1 * static_cast<double>((i * stride) % n - n / 2);
  return tg::from_vector(v, shape).requires_grad_();
}

inline Tensor leaf(tg::IntArrayRef shape) { return tg::ones(shape).requires_grad_(); }

}  // namespace tg_test

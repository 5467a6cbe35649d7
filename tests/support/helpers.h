#pragma once
// The helpers every test file shares: the message of a tg::Error (error_of, CHECK_TG_ERROR),
// deterministic float64 inputs for gradient checks, element-wise comparison of tensors with
// expected numbers, and bit-exact comparison (same_bits, the same results on 1 and 2 threads).
// tests/helpers.h forwards here.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "tapegrad/core.h"

/// expr throws a tg::Error (not merely some std::exception) whose message matches.
#define CHECK_TG_ERROR(expr, matcher) \
  do {                                \
    CHECK_THROWS_AS(expr, tg::Error); \
    CHECK_THROWS_WITH(expr, matcher); \
  } while (0)

namespace tg_test {

/// Runs fn once (for errors whose cause is consumed by the attempt, like a backward that frees
/// the graph as it goes) and returns the message of the tg::Error it throws. Another exception,
/// or none, is a failed check, and the returned text says what happened instead.
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const tg::Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL_CHECK("not a tg::Error: " << e.what());
    return std::string("<not a tg::Error: ") + e.what() + ">";
  }
  FAIL_CHECK("no tg::Error was thrown");
  return "<no error>";
}

/// A float64 leaf that requires grad, uniform in [lo, hi), reproducible from seed.
inline tg::Tensor uniform64(tg::IntArrayRef shape, double lo, double hi, std::uint64_t seed) {
  tg::Generator gen(seed);
  tg::Tensor u = tg::rand(shape, tg::kFloat64, &gen);
  tg::Tensor x = u * (hi - lo) + lo;
  return x.detach().clone().requires_grad_();
}

/// A float64 leaf that requires grad, with values in (-2, -0.5] U [0.5, 2): away from 0, so that
/// abs and relu are differentiable at every point within the gradient check's eps.
inline tg::Tensor away_from_zero64(tg::IntArrayRef shape, std::uint64_t seed) {
  tg::Generator gen(seed);
  tg::Tensor u = tg::rand(shape, tg::kFloat64, &gen);
  std::vector<double> v = u.to_vector<double>();
  for (double& x : v) x = x < 0.5 ? -(0.5 + 3 * x) : 0.5 + 3 * (x - 0.5);  // (-2, -0.5] U [0.5, 2)
  return tg::from_vector(v, shape).requires_grad_();
}

/// A float64 leaf that requires grad, from a nested list.
inline tg::Tensor leaf64(const tg::NestedList& values) { return tg::tensor(values, tg::kFloat64).requires_grad_(); }

inline std::vector<double> values(const tg::Tensor& t) { return t.to_vector<double>(); }

/// t's values as float64, whatever its dtype and strides.
inline std::vector<double> values64(const tg::Tensor& t) { return t.to(tg::kFloat64).contiguous().to_vector<double>(); }

/// No NaN and no infinity in t.
inline bool all_finite(const tg::Tensor& t) {
  for (double v : values64(t))
    if (!std::isfinite(v)) return false;
  return true;
}

inline std::vector<std::int64_t> shape_of(const tg::Tensor& t) { return t.shape().vec(); }

/// Element-wise closeness (relative and absolute), reporting the first mismatch.
inline bool all_close(const std::vector<double>& got, const std::vector<double>& want, double rtol = 1e-6,
                      double atol = 1e-9) {
  if (got.size() != want.size()) {
    UNSCOPED_INFO("size " << got.size() << " != " << want.size());
    return false;
  }
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double tol = atol + rtol * std::abs(want[i]);
    if (!(std::abs(got[i] - want[i]) <= tol)) {
      UNSCOPED_INFO("element " << i << ": got " << got[i] << ", want " << want[i]);
      return false;
    }
  }
  return true;
}

/// Same dtype, same shape and the same bytes (so NaN payloads and -0 count).
inline bool same_bits(const tg::Tensor& a, const tg::Tensor& b) {
  if (a.dtype() != b.dtype() || !(a.shape() == b.shape())) return false;
  const tg::Tensor ca = a.contiguous(), cb = b.contiguous();
  const std::size_t n = static_cast<std::size_t>(ca.numel()) * tg::itemsize(ca.dtype());
  return n == 0 || std::memcmp(ca.data_ptr(), cb.data_ptr(), n) == 0;
}

/// Runs compute (which returns the tensors to compare) with 1 thread, then with 2, and checks that
/// each tensor has the same bits both times; restores the thread count.
template <typename Compute>
void check_same_bits_on_1_and_2_threads(Compute&& compute) {
  const int before = tg::get_num_threads();
  tg::set_num_threads(1);
  const std::vector<tg::Tensor> one = compute();
  tg::set_num_threads(2);
  const std::vector<tg::Tensor> two = compute();
  tg::set_num_threads(before);
  REQUIRE(one.size() == two.size());
  for (std::size_t i = 0; i < one.size(); ++i) {
    INFO("result " << i);
    CHECK(same_bits(one[i], two[i]));
  }
}

}  // namespace tg_test

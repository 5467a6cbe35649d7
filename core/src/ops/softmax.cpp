// softmax and log_softmax over a dim, fused and numerically stable: each row's maximum is
// subtracted before exponentiating, so large logits neither overflow nor lose precision.
//
// The fused kernels work on rows (the dim is the innermost and the tensor is contiguous), the
// layout of attention scores and classifier logits. Any other dim takes the composed path
// (amax, exp, sum), which is also the fused kernels' reference in the tests.
#include "tapegrad/core/ops/softmax.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/parallel.h"
#include "kernels/vec_math.h"
#include "tapegrad/core/autograd.h"
#include "tapegrad/core/ops.h"
#include "tensor_detail.h"

namespace tg {
namespace {

using autograd::BackwardContext;
using autograd::SavedTensor;

/// Max of a row (NaN ignored, as x > m ? x : m does), one 32-byte vector of lanes at a time:
/// GCC does not vectorise the max of an array of lanes, its vector extension gives vmaxps.
template <typename T>
T row_max(const T* x, std::int64_t n) {
  constexpr int kLanes = 32 / sizeof(T);
  typedef T Vec __attribute__((vector_size(32)));  // NOLINT(modernize-use-using): GCC attribute syntax
  Vec acc;
  for (int l = 0; l < kLanes; ++l) acc[l] = -std::numeric_limits<T>::infinity();
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    Vec v;
    std::memcpy(&v, x + i, sizeof(Vec));
    acc = v > acc ? v : acc;
  }
  T m = acc[0];
  for (int l = 1; l < kLanes; ++l) m = acc[l] > m ? acc[l] : m;
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

/// Sum of a row, in 8 lanes.
template <typename T>
T row_sum(const T* x, std::int64_t n) {
  T lane[8] = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) lane[l] += x[i + l];
  for (; i < n; ++i) lane[0] += x[i];
  T s = 0;
  for (int l = 0; l < 8; ++l) s += lane[l];
  return s;
}

template <typename T>
void softmax_row(const T* x, T* y, std::int64_t n, bool log) {
  const T m = row_max(x, n);
  const T shift = std::isinf(m) ? T(0) : m;  // never compute inf - inf
  for (std::int64_t i = 0; i < n; ++i) y[i] = kernels::exp_impl(x[i] - shift);
  const T s = row_sum(y, n);
  if (log) {
    // (x - shift) - log(s): subtracting the shift first keeps large logits exact.
    const T log_s = std::log(s);
    for (std::int64_t i = 0; i < n; ++i) y[i] = (x[i] - shift) - log_s;
  } else {
    const T inv = T(1) / s;
    for (std::int64_t i = 0; i < n; ++i) y[i] *= inv;
  }
}

/// softmax: dx = y (g - sum(g y)); log_softmax: dx = g - exp(y) sum(g).
template <typename T>
void softmax_backward_row(const T* g, const T* y, T* dx, std::int64_t n, bool log) {
  if (log) {
    const T s = row_sum(g, n);
    for (std::int64_t i = 0; i < n; ++i) dx[i] = g[i] - kernels::exp_impl(y[i]) * s;
  } else {
    T lane[8] = {};
    std::int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      for (int l = 0; l < 8; ++l) lane[l] += g[i + l] * y[i + l];
    for (; i < n; ++i) lane[0] += g[i] * y[i];
    T dot = 0;
    for (int l = 0; l < 8; ++l) dot += lane[l];
    for (i = 0; i < n; ++i) dx[i] = y[i] * (g[i] - dot);
  }
}

/// Runs f(row) for every row of a contiguous [rows, n] layout, in parallel above the grain.
template <typename F>
void for_rows(std::int64_t rows, std::int64_t n, F f) {
  kernels::parallel_for(rows, std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(n, 1)),
                        [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) f(r);
  });
}

Tensor softmax_backward(const Tensor& g0, const Tensor& y, bool log) {
  const Tensor g = detail::as_contiguous(detail::convert(g0, y.dtype()));
  Tensor dx = detail::new_empty(y.shape(), y.dtype());
  const std::int64_t n = y.dim() == 0 ? 1 : y.size(-1), rows = n == 0 ? 0 : y.numel() / n;
  dispatch_floating(y.dtype(), "softmax_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* gp = static_cast<const T*>(g.data_ptr());
    const T* yp = static_cast<const T*>(y.data_ptr());
    T* dp = static_cast<T*>(dx.data_ptr());
    for_rows(rows, n, [&](std::int64_t r) { softmax_backward_row(gp + r * n, yp + r * n, dp + r * n, n, log); });
  });
  return dx;
}

Tensor softmax_impl(const Tensor& a, std::int64_t dim, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  const std::int64_t d = normalize_dim(dim, a.dim(), op);
  dispatch_floating(a.dtype(), op, [](auto) {});
  if (a.dim() > 0 && d != a.dim() - 1) {
    // Composed path for an inner dim: x - max, exp, normalise.
    const Tensor shifted = sub(a, amax(a, {d}, true).detach());
    if (log) return sub(shifted, tg::log(sum(exp(shifted), {d}, true)));
    const Tensor e = exp(shifted);
    return div(e, sum(e, {d}, true));
  }
  const Tensor x = detail::as_contiguous(a);
  Tensor y = detail::new_empty(a.shape(), a.dtype());
  const std::int64_t n = a.dim() == 0 ? 1 : a.size(-1), rows = n == 0 ? 0 : a.numel() / n;
  dispatch_floating(a.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = static_cast<const T*>(x.data_ptr());
    T* yp = static_cast<T*>(y.data_ptr());
    for_rows(rows, n, [&](std::int64_t r) { softmax_row(xp + r * n, yp + r * n, n, log); });
  });
  if (autograd::needs_grad(a)) {
    autograd::record(op, y, {&a}, [so = SavedTensor::output(y), log](BackwardContext& c) {
      c.set(0, softmax_backward(c.grad(), c.unpack(so), log));
    });
  }
  return y;
}

}  // namespace

Tensor softmax(const Tensor& a, std::int64_t dim) { return softmax_impl(a, dim, false); }
Tensor log_softmax(const Tensor& a, std::int64_t dim) { return softmax_impl(a, dim, true); }

}  // namespace tg

#pragma once
// The shape of every optimizer update: one loop over the elements of a parameter that reads and
// writes each array once (parameter, gradient, state buffers), with no temporaries. Tensors above
// the grain run in chunks on tapegrad's threads (tg::parallel_for); the result of an element
// depends only on that element, so it is the same whatever the thread count.
#include <cstdint>
#include <type_traits>
#include <utility>

#include "tapegrad/core/factory.h"
#include "tapegrad/core/parallel.h"
#include "tapegrad/core/tensor.h"
#include "tapegrad/optim/optimizer.h"

namespace tg::optim::detail {

/// Elements per task: large enough that a task streams a few hundred KB.
inline constexpr std::int64_t kGrain = 1 << 16;

/// Runs body(begin, end) over [0, n): inline when small (no std::function, no allocation),
/// else in chunks on tapegrad's threads.
template <typename Body>
void fused_loop(std::int64_t n, const Body& body) {
  if (n <= kGrain) {
    if (n > 0) body(std::int64_t{0}, n);
    return;
  }
  tg::parallel_for(n, kGrain, body);
}

/// Calls fn(std::bool_constant<b>...) so that loop-invariant flags become template arguments
/// and each combination compiles to a branch-free loop.
template <typename Fn>
decltype(auto) with_flags(Fn&& fn) {
  return fn();
}
template <typename Fn, typename... Rest>
decltype(auto) with_flags(Fn&& fn, bool flag, Rest... rest) {
  if (flag) {
    return with_flags([&](auto... fs) { return fn(std::true_type{}, fs...); }, rest...);
  }
  return with_flags([&](auto... fs) { return fn(std::false_type{}, fs...); }, rest...);
}

/// Increments a parameter's "step" (a 0-d float64 tensor, created at 0) and returns the new count.
inline double increment_step(ParamState& state) {
  Tensor step = state.find("step");
  if (!step.defined()) {
    step = tg::zeros({}, kFloat64);
    state.set("step", step);
  }
  double* s = step.data<double>();
  *s += 1;
  return *s;
}

/// Marks an in-place write of the parameter for autograd's version checks.
inline void bump_version(const Tensor& t, const char* op) { t.impl()->storage->bump_version(op); }

}  // namespace tg::optim::detail

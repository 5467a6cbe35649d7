#include "tapegrad/optim/adagrad.h"

#include <cmath>

#include "checks.h"
#include "fused.h"
#include "tapegrad/core/factory.h"

namespace tg::optim {

namespace {

// Adagrad over n elements, as PyTorch's op sequence (addcmul with value 1 is self + t1 * t2,
// addcdiv self + (value * t1) / t2). A plain function with restrict pointers, so that it vectorises.
template <typename T, bool kMaximize, bool kDecay>
void adagrad_kernel(std::int64_t n, T* __restrict p, const T* __restrict g, T* __restrict sum, const T weight_decay,
                    const T eps, const T neg_clr) {
  for (std::int64_t i = 0; i < n; ++i) {
    T gi = kMaximize ? -g[i] : g[i];
    if constexpr (kDecay) gi = gi + weight_decay * p[i];
    const T si = sum[i] + gi * gi;
    sum[i] = si;
    p[i] = p[i] + neg_clr * gi / (std::sqrt(si) + eps);
  }
}

}  // namespace

void Adagrad::update(const Tensor& param, const Tensor& grad, ParamState& state, const OptimizerOptions& options) {
  const auto& o = static_cast<const AdagradOptions&>(options);
  const double step = detail::increment_step(state);
  Tensor sum = state.find("sum");
  if (!sum.defined()) {
    sum = tg::full_like(param, o.initial_accumulator_value());
    state.set("sum", sum);
  }
  const double clr = o.lr() / (1 + (step - 1) * o.lr_decay());
  dispatch_floating(param.dtype(), "Adagrad.step", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* s = sum.data<T>();
    const T wd = static_cast<T>(o.weight_decay()), eps = static_cast<T>(o.eps()), neg_clr = static_cast<T>(-clr);
    detail::with_flags(
        [&](auto maximize, auto decay) {
      constexpr auto kernel = adagrad_kernel<T, decltype(maximize)::value, decltype(decay)::value>;
      detail::fused_loop(param.numel(), [&](std::int64_t begin, std::int64_t end) {
        kernel(end - begin, p + begin, g + begin, s + begin, wd, eps, neg_clr);
      });
        },
        o.maximize(), o.weight_decay() != 0);
  });
}

std::vector<std::string> Adagrad::required_state(const OptimizerOptions&) const { return {"step", "sum"}; }

}  // namespace tg::optim

#include "tapegrad/optim/rmsprop.h"

#include <cmath>

#include "checks.h"
#include "fused.h"
#include "tapegrad/core/factory.h"

namespace tg::optim {

namespace {
/// The state tensor under name, created as zeros like param when missing.
Tensor zeros_state(ParamState& state, const char* name, const Tensor& param) {
  Tensor t = state.find(name);
  if (!t.defined()) {
    t = tg::zeros_like(param);
    state.set(name, t);
  }
  return t;
}

template <typename T>
struct RMSpropScalars {
  T alpha, one_minus_alpha, eps, weight_decay, momentum, neg_lr;
};

// RMSprop over n elements, as PyTorch's op sequence (addcmul is self + (value * t1) * t2 and
// addcdiv self + (value * t1) / t2). A plain function with restrict pointers, so that it vectorises.
template <typename T, bool kMaximize, bool kDecay, bool kCentered, bool kMomentum>
void rmsprop_kernel(std::int64_t n, T* __restrict p, const T* __restrict g, T* __restrict sq, T* __restrict buf,
                    T* __restrict grad_avg, const RMSpropScalars<T> s) {
  for (std::int64_t i = 0; i < n; ++i) {
    T gi = kMaximize ? -g[i] : g[i];
    if constexpr (kDecay) gi = gi + s.weight_decay * p[i];
    const T si = sq[i] * s.alpha + s.one_minus_alpha * gi * gi;
    sq[i] = si;
    T avg;
    if constexpr (kCentered) {
      const T ga = grad_avg[i] * s.alpha + s.one_minus_alpha * gi;
      grad_avg[i] = ga;
      avg = std::sqrt(si + T(-1) * ga * ga);
    } else {
      avg = std::sqrt(si);
    }
    avg = avg + s.eps;
    if constexpr (kMomentum) {
      const T b = buf[i] * s.momentum + gi / avg;
      buf[i] = b;
      p[i] = p[i] + s.neg_lr * b;
    } else {
      p[i] = p[i] + s.neg_lr * gi / avg;
    }
  }
}

}  // namespace

void RMSprop::update(const Tensor& param, const Tensor& grad, ParamState& state, const OptimizerOptions& options) {
  const auto& o = static_cast<const RMSpropOptions&>(options);
  detail::increment_step(state);
  const Tensor square_avg = zeros_state(state, "square_avg", param);
  const Tensor buf = o.momentum() > 0 ? zeros_state(state, "momentum_buffer", param) : Tensor();
  const Tensor grad_avg = o.centered() ? zeros_state(state, "grad_avg", param) : Tensor();
  dispatch_floating(param.dtype(), "RMSprop.step", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* sq = square_avg.data<T>();
    T* b = buf.defined() ? buf.data<T>() : nullptr;
    T* ga = grad_avg.defined() ? grad_avg.data<T>() : nullptr;
    const RMSpropScalars<T> s{static_cast<T>(o.alpha()),        static_cast<T>(1 - o.alpha()), static_cast<T>(o.eps()),
                              static_cast<T>(o.weight_decay()), static_cast<T>(o.momentum()),  static_cast<T>(-o.lr())};
    detail::with_flags(
        [&](auto maximize, auto decay, auto centered, auto momentum) {
      constexpr auto kernel = rmsprop_kernel<T, decltype(maximize)::value, decltype(decay)::value,
                                             decltype(centered)::value, decltype(momentum)::value>;
      detail::fused_loop(param.numel(), [&](std::int64_t begin, std::int64_t end) {
        kernel(end - begin, p + begin, g + begin, sq + begin, b ? b + begin : nullptr, ga ? ga + begin : nullptr, s);
      });
        },
        o.maximize(), o.weight_decay() != 0, o.centered(), o.momentum() > 0);
  });
}

std::vector<std::string> RMSprop::required_state(const OptimizerOptions& options) const {
  const auto& o = static_cast<const RMSpropOptions&>(options);
  std::vector<std::string> keys{"step", "square_avg"};
  if (o.momentum() > 0) keys.emplace_back("momentum_buffer");
  if (o.centered()) keys.emplace_back("grad_avg");
  return keys;
}

}  // namespace tg::optim

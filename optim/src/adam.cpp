#include "tapegrad/optim/adam.h"

#include <cmath>

#include "checks.h"
#include "fused.h"
#include "tapegrad/core/factory.h"

namespace tg::optim {
namespace {

struct AdamHyper {
  double lr, beta1, beta2, eps, weight_decay;
  bool amsgrad, maximize, decoupled;  // decoupled: AdamW's weight decay
};

template <typename O>
AdamHyper hyper_of(const O& o, bool decoupled) {
  return {o.lr(), o.beta1(), o.beta2(), o.eps(), o.weight_decay(), o.amsgrad(), o.maximize(), decoupled};
}

/// Adam's per-step constants, in the parameter's type.
template <typename T>
struct AdamScalars {
  T beta1, one_minus_beta1, beta2, one_minus_beta2, weight_decay, eps, decay_factor, neg_step_size, bc2_sqrt;
};

// Adam over n elements. The arithmetic follows PyTorch's op sequence (mul_ then add_/addcmul_,
// then addcdiv_ with value -step_size), element by element: addcmul is self + (value * t1) * t2
// and addcdiv is self + (value * t1) / t2. A plain function with restrict pointers, so that the
// compiler vectorises it (sqrt and division included).
template <typename T, bool kMaximize, bool kL2, bool kDecoupled, bool kAmsgrad>
void adam_kernel(std::int64_t n, T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v,
                 T* __restrict vmax, const AdamScalars<T> s) {
  for (std::int64_t i = 0; i < n; ++i) {
    T gi = kMaximize ? -g[i] : g[i];
    T pi = p[i];
    if constexpr (kDecoupled) pi = pi * s.decay_factor;  // AdamW: param.mul_(1 - lr * weight_decay)
    if constexpr (kL2) gi = gi + s.weight_decay * pi;    // Adam: grad.add(param, alpha=weight_decay)
    const T mi = m[i] * s.beta1 + s.one_minus_beta1 * gi;
    const T vi = v[i] * s.beta2 + s.one_minus_beta2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    T second = vi;
    if constexpr (kAmsgrad) {
      const T mx = vmax[i];
      second = (mx < vi || vi != vi) ? vi : mx;  // torch.maximum: NaN wins
      vmax[i] = second;
    }
    const T denom = std::sqrt(second) / s.bc2_sqrt + s.eps;
    p[i] = pi + s.neg_step_size * mi / denom;
  }
}

std::vector<std::string> adam_state_keys(bool amsgrad) {
  std::vector<std::string> keys{"step", "exp_avg", "exp_avg_sq"};
  if (amsgrad) keys.emplace_back("max_exp_avg_sq");
  return keys;
}

void adam_update(const Tensor& param, const Tensor& grad, ParamState& state, const AdamHyper& h) {
  // State in PyTorch's order: step, exp_avg, exp_avg_sq, max_exp_avg_sq.
  const double step = detail::increment_step(state);
  Tensor exp_avg = state.find("exp_avg"), exp_avg_sq = state.find("exp_avg_sq");
  if (!exp_avg.defined()) {
    exp_avg = tg::zeros_like(param);
    exp_avg_sq = tg::zeros_like(param);
    state.set("exp_avg", exp_avg);
    state.set("exp_avg_sq", exp_avg_sq);
  }
  Tensor max_sq;
  if (h.amsgrad) {
    max_sq = state.find("max_exp_avg_sq");
    if (!max_sq.defined()) {
      max_sq = tg::zeros_like(param);
      state.set("max_exp_avg_sq", max_sq);
    }
  }
  const double bias_correction1 = 1 - std::pow(h.beta1, step);
  const double bias_correction2 = 1 - std::pow(h.beta2, step);
  const double step_size = h.lr / bias_correction1;
  const double bias_correction2_sqrt = std::sqrt(bias_correction2);

  dispatch_floating(param.dtype(), "Adam.step", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* m = exp_avg.data<T>();
    T* v = exp_avg_sq.data<T>();
    T* vmax = max_sq.defined() ? max_sq.data<T>() : nullptr;
    const AdamScalars<T> s{static_cast<T>(h.beta1),
                           static_cast<T>(1 - h.beta1),
                           static_cast<T>(h.beta2),
                           static_cast<T>(1 - h.beta2),
                           static_cast<T>(h.weight_decay),
                           static_cast<T>(h.eps),
                           static_cast<T>(1 - h.lr * h.weight_decay),
                           static_cast<T>(-step_size),
                           static_cast<T>(bias_correction2_sqrt)};
    detail::with_flags(
        [&](auto maximize, auto l2, auto decoupled, auto amsgrad) {
      constexpr auto kernel = adam_kernel<T, decltype(maximize)::value, decltype(l2)::value, decltype(decoupled)::value,
                                          decltype(amsgrad)::value>;
      detail::fused_loop(param.numel(), [&](std::int64_t begin, std::int64_t end) {
        kernel(end - begin, p + begin, g + begin, m + begin, v + begin, vmax ? vmax + begin : nullptr, s);
      });
        },
        h.maximize, !h.decoupled && h.weight_decay != 0, h.decoupled && h.weight_decay != 0, h.amsgrad);
  });
}

}  // namespace

// ---- Adam and AdamW ---------------------------------------------------------------------------

template <typename Options>
void AdamBase<Options>::update(const Tensor& param, const Tensor& grad, ParamState& state,
                               const OptimizerOptions& options) {
  adam_update(param, grad, state, hyper_of(static_cast<const Options&>(options), Options::kDecoupled));
}

template <typename Options>
std::vector<std::string> AdamBase<Options>::required_state(const OptimizerOptions& options) const {
  return adam_state_keys(static_cast<const Options&>(options).amsgrad());
}

template class AdamBase<AdamOptions>;
template class AdamBase<AdamWOptions>;

}  // namespace tg::optim

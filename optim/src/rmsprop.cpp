#include "tapegrad/optim/rmsprop.h"

#include <cmath>

#include "checks.h"
#include "fused.h"
#include "tapegrad/core/factory.h"

namespace tg::optim {

void RMSpropOptions::validate() const {
  detail::check_nonnegative("RMSprop", "learning rate", lr_);
  detail::check_nonnegative("RMSprop", "eps", eps_);
  detail::check_nonnegative("RMSprop", "momentum", momentum_);
  detail::check_nonnegative("RMSprop", "weight_decay", weight_decay_);
  detail::check_unit_closed("RMSprop", "alpha", alpha_);
}

std::map<std::string, double> RMSpropOptions::to_map() const {
  return {{"lr", lr_},
          {"alpha", alpha_},
          {"eps", eps_},
          {"weight_decay", weight_decay_},
          {"momentum", momentum_},
          {"centered", centered_ ? 1.0 : 0.0},
          {"maximize", maximize_ ? 1.0 : 0.0}};
}

void RMSpropOptions::from_map(const std::map<std::string, double>& values) {
  detail::OptionReader r(values, type_name());
  RMSpropOptions o(r.num("lr"));
  o.alpha(r.num("alpha")).eps(r.num("eps")).weight_decay(r.num("weight_decay")).momentum(r.num("momentum"));
  o.centered(r.flag("centered")).maximize(r.flag("maximize"));
  r.finish();
  o.validate();
  *this = o;
}

RMSprop::RMSprop(std::vector<Tensor> params, const RMSpropOptions& options)
    : RMSprop(std::vector<ParamGroup>{ParamGroup(std::move(params))}, options) {}

RMSprop::RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& defaults)
    : Optimizer("RMSprop", std::move(groups), defaults) {}

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
}  // namespace

// addcmul is self + (value * t1) * t2 and addcdiv self + (value * t1) / t2, as in PyTorch.
void RMSprop::update(const Tensor& param, const Tensor& grad, ParamState& state, const OptimizerOptions& options) {
  const auto& o = static_cast<const RMSpropOptions&>(options);
  detail::increment_step(state);
  const Tensor square_avg = zeros_state(state, "square_avg", param);
  const Tensor buf = o.momentum() > 0 ? zeros_state(state, "momentum_buffer", param) : Tensor();
  const Tensor grad_avg = o.centered() ? zeros_state(state, "grad_avg", param) : Tensor();
  dispatch_floating(param.dtype(), "RMSprop.step", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* __restrict p = param.data<T>();
    const T* __restrict g = grad.data<T>();
    T* __restrict sq = square_avg.data<T>();
    T* __restrict b = buf.defined() ? buf.data<T>() : nullptr;
    T* __restrict ga = grad_avg.defined() ? grad_avg.data<T>() : nullptr;
    const T alpha = static_cast<T>(o.alpha()), one_minus_alpha = static_cast<T>(1 - o.alpha());
    const T eps = static_cast<T>(o.eps()), wd = static_cast<T>(o.weight_decay());
    const T mom = static_cast<T>(o.momentum()), neg_lr = static_cast<T>(-o.lr());
    detail::with_flags(
        [&](auto maximize, auto decay, auto centered, auto momentum) {
          constexpr bool kMaximize = decltype(maximize)::value, kDecay = decltype(decay)::value;
          constexpr bool kCentered = decltype(centered)::value, kMomentum = decltype(momentum)::value;
          detail::fused_loop(param.numel(), [&](std::int64_t begin, std::int64_t end) {
            for (std::int64_t i = begin; i < end; ++i) {
              T gi = kMaximize ? -g[i] : g[i];
              if constexpr (kDecay) gi = gi + wd * p[i];
              const T si = sq[i] * alpha + one_minus_alpha * gi * gi;
              sq[i] = si;
              T avg;
              if constexpr (kCentered) {
                const T gai = ga[i] * alpha + one_minus_alpha * gi;
                ga[i] = gai;
                avg = std::sqrt(si + T(-1) * gai * gai);
              } else {
                avg = std::sqrt(si);
              }
              avg = avg + eps;
              if constexpr (kMomentum) {
                const T bi = b[i] * mom + gi / avg;
                b[i] = bi;
                p[i] = p[i] + neg_lr * bi;
              } else {
                p[i] = p[i] + neg_lr * gi / avg;
              }
            }
          });
        },
        o.maximize(), o.weight_decay() != 0, o.centered(), o.momentum() > 0);
  });
}

}  // namespace tg::optim

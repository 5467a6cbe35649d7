#include "tapegrad/optim/sgd.h"

#include "checks.h"
#include "fused.h"
#include "tapegrad/core/factory.h"

namespace tg::optim {

void SGDOptions::validate() const {
  detail::check_nonnegative("SGD", "learning rate", lr_);
  detail::check_nonnegative("SGD", "momentum", momentum_);
  detail::check_finite("SGD", "dampening", dampening_);
  detail::check_nonnegative("SGD", "weight_decay", weight_decay_);
  TG_CHECK(!nesterov_ || (momentum_ > 0 && dampening_ == 0),
           "SGD: nesterov momentum requires a momentum > 0 and zero dampening (got momentum {}, dampening {})",
           momentum_, dampening_);
}

std::map<std::string, double> SGDOptions::to_map() const {
  return {{"lr", lr_},
          {"momentum", momentum_},
          {"dampening", dampening_},
          {"weight_decay", weight_decay_},
          {"nesterov", nesterov_ ? 1.0 : 0.0},
          {"maximize", maximize_ ? 1.0 : 0.0}};
}

void SGDOptions::from_map(const std::map<std::string, double>& values) {
  detail::OptionReader r(values, type_name());
  SGDOptions o(r.num("lr"));
  o.momentum(r.num("momentum")).dampening(r.num("dampening")).weight_decay(r.num("weight_decay"));
  o.nesterov(r.flag("nesterov")).maximize(r.flag("maximize"));
  r.finish();
  o.validate();
  *this = o;
}

SGD::SGD(std::vector<Tensor> params, double lr) : SGD(std::move(params), SGDOptions(lr)) {}

SGD::SGD(std::vector<Tensor> params, const SGDOptions& options)
    : SGD(std::vector<ParamGroup>{ParamGroup(std::move(params))}, options) {}

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults) : Optimizer("SGD", std::move(groups), defaults) {}

void SGD::update(const Tensor& param, const Tensor& grad, ParamState& state, const OptimizerOptions& options) {
  const auto& o = static_cast<const SGDOptions&>(options);
  Tensor buf;
  bool first = false;
  if (o.momentum() != 0) {
    buf = state.find("momentum_buffer");
    if (!buf.defined()) {
      buf = tg::empty_like(param);  // written with the first d below (PyTorch: a clone of d)
      state.set("momentum_buffer", buf);
      first = true;
    }
  }
  dispatch_floating(param.dtype(), "SGD.step", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* __restrict p = param.data<T>();
    const T* __restrict g = grad.data<T>();
    T* __restrict b = buf.defined() ? buf.data<T>() : nullptr;
    const T wd = static_cast<T>(o.weight_decay()), mom = static_cast<T>(o.momentum());
    const T keep = static_cast<T>(1 - o.dampening()), neg_lr = static_cast<T>(-o.lr());
    detail::with_flags(
        [&](auto maximize, auto decay, auto momentum, auto first_step, auto nesterov) {
          constexpr bool kMaximize = decltype(maximize)::value, kDecay = decltype(decay)::value;
          constexpr bool kMomentum = decltype(momentum)::value;
          [[maybe_unused]] constexpr bool kFirst = decltype(first_step)::value;
          [[maybe_unused]] constexpr bool kNesterov = decltype(nesterov)::value;
          detail::fused_loop(param.numel(), [&](std::int64_t begin, std::int64_t end) {
            for (std::int64_t i = begin; i < end; ++i) {
              T d = kMaximize ? -g[i] : g[i];
              if constexpr (kDecay) d = d + wd * p[i];
              if constexpr (kMomentum) {
                const T bi = kFirst ? d : b[i] * mom + keep * d;
                b[i] = bi;
                d = kNesterov ? d + mom * bi : bi;
              }
              p[i] = p[i] + neg_lr * d;
            }
          });
        },
        o.maximize(), o.weight_decay() != 0, o.momentum() != 0, first, o.nesterov() && o.momentum() != 0);
  });
}

}  // namespace tg::optim

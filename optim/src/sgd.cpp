#include "tapegrad/optim/sgd.h"

#include "checks.h"
#include "fused.h"
#include "tapegrad/core/factory.h"

namespace tg::optim {

void SGDOptions::check_more() const {
  TG_CHECK(!nesterov_ || (momentum_ > 0 && dampening_ == 0),
           "SGD: nesterov momentum requires a momentum > 0 and zero dampening (got momentum {}, dampening {})",
           momentum_, dampening_);
}

SGD::SGD(std::vector<Tensor> params, double lr) : SGD(std::move(params), SGDOptions(lr)) {}

namespace {

template <typename T>
struct SGDScalars {
  T weight_decay, momentum, keep, neg_lr;  // keep = 1 - dampening
};

// SGD over n elements, as PyTorch's op sequence: d = ±g (+ wd * p); buf = d on the first step,
// else buf * momentum + (1 - dampening) * d; d = d + momentum * buf (nesterov) or buf;
// p = p + (-lr) * d. A plain function with restrict pointers, so that it vectorises.
template <typename T, bool kMaximize, bool kDecay, bool kMomentum, bool kFirst, bool kNesterov>
void sgd_kernel(std::int64_t n, T* __restrict p, const T* __restrict g, T* __restrict buf, const SGDScalars<T> s) {
  for (std::int64_t i = 0; i < n; ++i) {
    T d = kMaximize ? -g[i] : g[i];
    if constexpr (kDecay) d = d + s.weight_decay * p[i];
    if constexpr (kMomentum) {
      const T b = kFirst ? d : buf[i] * s.momentum + s.keep * d;
      buf[i] = b;
      d = kNesterov ? d + s.momentum * b : b;
    }
    p[i] = p[i] + s.neg_lr * d;
  }
}

}  // namespace

void SGD::update(const Tensor& param, const Tensor& grad, ParamState& state, const OptimizerOptions& options) {
  const auto& o = static_cast<const SGDOptions&>(options);
  Tensor buf;
  bool first = false;
  if (o.momentum() != 0) {
    buf = state.find("momentum_buffer");
    if (!buf.defined()) {
      buf = tg::empty_like(param);  // written with the first d (PyTorch: a clone of d)
      state.set("momentum_buffer", buf);
      first = true;
    }
  }
  dispatch_floating(param.dtype(), "SGD.step", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* b = buf.defined() ? buf.data<T>() : nullptr;
    const SGDScalars<T> s{static_cast<T>(o.weight_decay()), static_cast<T>(o.momentum()),
                          static_cast<T>(1 - o.dampening()), static_cast<T>(-o.lr())};
    detail::with_flags(
        [&](auto maximize, auto decay, auto momentum, auto first_step, auto nesterov) {
      constexpr auto kernel =
          sgd_kernel<T, decltype(maximize)::value, decltype(decay)::value, decltype(momentum)::value,
                     decltype(first_step)::value, decltype(nesterov)::value>;
      detail::fused_loop(param.numel(), [&](std::int64_t begin, std::int64_t end) {
        kernel(end - begin, p + begin, g + begin, b ? b + begin : nullptr, s);
      });
        },
        o.maximize(), o.weight_decay() != 0, o.momentum() != 0, first, o.nesterov() && o.momentum() != 0);
  });
}

std::vector<std::string> SGD::required_state(const OptimizerOptions& options) const {
  if (static_cast<const SGDOptions&>(options).momentum() == 0) return {};
  return {"momentum_buffer"};
}

}  // namespace tg::optim

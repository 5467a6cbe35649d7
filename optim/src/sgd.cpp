#include "tapegrad/optim/sgd.h"

#include <cmath>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/ops.h"

namespace tg::optim {

SGD::SGD(std::vector<Tensor> params, double lr) : params_(std::move(params)), lr_(0) {
  set_lr(lr);
  for (std::size_t i = 0; i < params_.size(); ++i) {
    TG_CHECK(params_[i].defined() && params_[i].is_leaf() && params_[i].requires_grad(),
             "SGD: parameter {} must be a leaf tensor that requires grad", i);
  }
}

void SGD::set_lr(double lr) {
  TG_CHECK(std::isfinite(lr) && lr >= 0, "SGD: invalid learning rate {} (expected a finite value >= 0)", lr);
  lr_ = lr;
}

void SGD::step() {
  NoGradGuard guard;
  for (const Tensor& p : params_) {
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    // p += -lr * g, as one pass over memory.
    dispatch_floating(p.dtype(), "SGD.step", [&](auto tag) {
      using T = typename decltype(tag)::type;
      if (p.is_contiguous() && g.is_contiguous()) {
        T* pp = p.data<T>();
        const T* gp = g.data<T>();
        const T lr = static_cast<T>(lr_);
        for (std::int64_t i = 0, n = p.numel(); i < n; ++i) pp[i] -= lr * gp[i];
        p.impl()->storage->bump_version("SGD.step");
      } else {
        p.add_(tg::mul(g.to(p.dtype()), -lr_));
      }
    });
  }
}

void SGD::zero_grad(bool set_to_none) {
  for (const Tensor& p : params_) p.zero_grad(set_to_none);
}

}  // namespace tg::optim

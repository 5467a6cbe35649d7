#pragma once
/// Adam and AdamW, as torch.optim.Adam / AdamW (PyTorch 1.13) compute them, step t from 1:
///   g = ±grad (+ weight_decay * p for Adam's L2 penalty; AdamW instead first does
///        p = p * (1 - lr * weight_decay))
///   m = beta1 * m + (1 - beta1) * g          v = beta2 * v + (1 - beta2) * g * g
///   v_max = max(v_max, v) (amsgrad, which then uses v_max for v below)
///   step_size = lr / (1 - beta1^t)           denom = sqrt(v) / sqrt(1 - beta2^t) + eps
///   p = p - step_size * m / denom
#include <memory>
#include <vector>

#include "tapegrad/optim/options.h"

namespace tg::optim {

/// The options Adam and AdamW share (PyTorch's defaults; AdamW's weight decay is decoupled and
/// defaults to 1e-2). Checked when an optimizer adopts them: lr, eps, weight_decay finite and
/// >= 0; beta1 and beta2 in [0, 1).
template <typename Derived>
class AdamOptionsBase : public OptionsBase<Derived> {
 public:
  explicit AdamOptionsBase(double lr, double weight_decay) : OptionsBase<Derived>(lr, weight_decay) {}
  Derived& betas(double beta1, double beta2) {
    beta1_ = beta1;
    return this->assign(beta2_, beta2);
  }
  Derived& eps(double v) { return this->assign(eps_, v); }
  Derived& amsgrad(bool v) { return this->assign(amsgrad_, v); }
  double beta1() const { return beta1_; }
  double beta2() const { return beta2_; }
  double eps() const { return eps_; }
  bool amsgrad() const { return amsgrad_; }

  /// lr, eps, beta1, beta2, weight_decay, amsgrad, maximize (validated in this order).
  static constexpr std::array<Field<Derived>, 7> fields() {
    return {AdamOptionsBase::lr_field(),
            number_field<Derived>("eps", &AdamOptionsBase::eps_, Check::NonNegative),
            number_field<Derived>("beta1", &AdamOptionsBase::beta1_, Check::UnitOpen),
            number_field<Derived>("beta2", &AdamOptionsBase::beta2_, Check::UnitOpen),
            AdamOptionsBase::weight_decay_field(),
            flag_field<Derived>("amsgrad", &AdamOptionsBase::amsgrad_),
            AdamOptionsBase::maximize_field()};
  }

 private:
  friend class OptionsBase<Derived>;
  double beta1_ = 0.9;
  double beta2_ = 0.999;
  double eps_ = 1e-8;
  bool amsgrad_ = false;
};

/// Adam's options: weight decay (an L2 penalty added to the gradient) defaults to 0.
class AdamOptions : public AdamOptionsBase<AdamOptions> {
 public:
  static constexpr const char* kTypeName = "AdamOptions";
  static constexpr const char* kWho = "Adam";
  static constexpr bool kDecoupled = false;  // the weight decay is an L2 penalty on the gradient
  explicit AdamOptions(double lr = 1e-3) : AdamOptionsBase(lr, 0.0) {}
};

/// AdamW's options: Adam's, with decoupled weight decay defaulting to 1e-2 (as in PyTorch).
class AdamWOptions : public AdamOptionsBase<AdamWOptions> {
 public:
  static constexpr const char* kTypeName = "AdamWOptions";
  static constexpr const char* kWho = "AdamW";
  static constexpr bool kDecoupled = true;  // the weight decay shrinks the parameters directly
  explicit AdamWOptions(double lr = 1e-3) : AdamOptionsBase(lr, 1e-2) {}
};

/// What Adam and AdamW share: the update above, with Options::kDecoupled choosing the weight
/// decay, and the state per parameter: "step", "exp_avg", "exp_avg_sq", and "max_exp_avg_sq"
/// (amsgrad).
template <typename Options>
class AdamBase : public OptimizerOf<Options> {
 public:
  using OptimizerOf<Options>::OptimizerOf;

 protected:
  void update(const Tensor& param, const Tensor& grad, ParamState& state, const OptimizerOptions& options) override;
  std::vector<std::string> required_state(const OptimizerOptions& options) const override;
};

extern template class AdamBase<AdamOptions>;
extern template class AdamBase<AdamWOptions>;

/// Adam (Kingma & Ba).
class Adam : public AdamBase<AdamOptions> {
 public:
  using AdamBase::AdamBase;
};

/// Adam with decoupled weight decay (Loshchilov & Hutter).
class AdamW : public AdamBase<AdamWOptions> {
 public:
  using AdamBase::AdamBase;
};

}  // namespace tg::optim

#pragma once
/// RMSprop, as torch.optim.RMSprop (PyTorch 1.13) computes it:
///   g = ±grad + weight_decay * p
///   sq = alpha * sq + (1 - alpha) * g * g
///   avg = sqrt(sq - ga * ga) + eps, with ga = alpha * ga + (1 - alpha) * g   (centered)
///   avg = sqrt(sq) + eps                                                      (otherwise)
///   buf = momentum * buf + g / avg,  p = p - lr * buf                         (momentum > 0)
///   p = p - lr * g / avg                                                      (otherwise)
#include <memory>
#include <vector>

#include "tapegrad/optim/options.h"

namespace tg::optim {

/// RMSprop's options (PyTorch's defaults). Checked when an optimizer adopts them: lr, eps,
/// weight_decay, momentum finite and >= 0; alpha in [0, 1].
class RMSpropOptions : public OptionsBase<RMSpropOptions> {
 public:
  static constexpr const char* kTypeName = "RMSpropOptions";
  static constexpr const char* kWho = "RMSprop";
  explicit RMSpropOptions(double lr = 1e-2) : OptionsBase(lr) {}
  RMSpropOptions& alpha(double v) { return assign(alpha_, v); }
  RMSpropOptions& eps(double v) { return assign(eps_, v); }
  RMSpropOptions& momentum(double v) { return assign(momentum_, v); }
  RMSpropOptions& centered(bool v) { return assign(centered_, v); }
  double alpha() const { return alpha_; }
  double eps() const { return eps_; }
  double momentum() const { return momentum_; }
  bool centered() const { return centered_; }

  /// lr, eps, momentum, weight_decay, alpha, centered, maximize (validated in this order).
  static constexpr std::array<Field<RMSpropOptions>, 7> fields() {
    return {lr_field(),
            number_field("eps", &RMSpropOptions::eps_, Check::NonNegative),
            number_field("momentum", &RMSpropOptions::momentum_, Check::NonNegative),
            weight_decay_field(),
            number_field("alpha", &RMSpropOptions::alpha_, Check::UnitClosed),
            flag_field("centered", &RMSpropOptions::centered_),
            maximize_field()};
  }

 private:
  friend class OptionsBase<RMSpropOptions>;
  double alpha_ = 0.99;
  double eps_ = 1e-8;
  double momentum_ = 0;
  bool centered_ = false;
};

/// State per parameter: "step", "square_avg", "momentum_buffer" (momentum > 0, zeros at first),
/// "grad_avg" (centered).
class RMSprop : public OptimizerOf<RMSpropOptions> {
 public:
  using OptimizerOf::OptimizerOf;

 protected:
  void update(const Tensor& param, const Tensor& grad, ParamState& state, const OptimizerOptions& options) override;
  std::vector<std::string> required_state(const OptimizerOptions& options) const override;
};

}  // namespace tg::optim

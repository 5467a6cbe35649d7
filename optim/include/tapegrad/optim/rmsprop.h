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
  explicit RMSpropOptions(double lr = 1e-2) : lr_(lr) {}
  RMSpropOptions& lr(double v) { return assign(lr_, v); }
  RMSpropOptions& alpha(double v) { return assign(alpha_, v); }
  RMSpropOptions& eps(double v) { return assign(eps_, v); }
  RMSpropOptions& weight_decay(double v) { return assign(weight_decay_, v); }
  RMSpropOptions& momentum(double v) { return assign(momentum_, v); }
  RMSpropOptions& centered(bool v) { return assign(centered_, v); }
  RMSpropOptions& maximize(bool v) { return assign(maximize_, v); }
  double lr() const { return lr_; }
  double alpha() const { return alpha_; }
  double eps() const { return eps_; }
  double weight_decay() const { return weight_decay_; }
  double momentum() const { return momentum_; }
  bool centered() const { return centered_; }
  bool maximize() const { return maximize_; }

  /// lr, eps, momentum, weight_decay, alpha, centered, maximize (validated in this order).
  static constexpr std::array<Field<RMSpropOptions>, 7> fields() {
    return {number_field("lr", &RMSpropOptions::lr_, Check::NonNegative, "learning rate"),
            number_field("eps", &RMSpropOptions::eps_, Check::NonNegative),
            number_field("momentum", &RMSpropOptions::momentum_, Check::NonNegative),
            number_field("weight_decay", &RMSpropOptions::weight_decay_, Check::NonNegative),
            number_field("alpha", &RMSpropOptions::alpha_, Check::UnitClosed),
            flag_field("centered", &RMSpropOptions::centered_),
            flag_field("maximize", &RMSpropOptions::maximize_)};
  }

 private:
  friend class OptionsBase<RMSpropOptions>;
  double lr_;
  double alpha_ = 0.99;
  double eps_ = 1e-8;
  double weight_decay_ = 0;
  double momentum_ = 0;
  bool centered_ = false;
  bool maximize_ = false;
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

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

#include "tapegrad/optim/optimizer.h"

namespace tg::optim {

/// RMSprop's options (PyTorch's defaults). Checked when an optimizer adopts them: lr, eps,
/// weight_decay, momentum finite and >= 0; alpha in [0, 1].
class RMSpropOptions : public OptimizerOptions {
 public:
  explicit RMSpropOptions(double lr = 1e-2) : lr_(lr) {}
  RMSpropOptions& lr(double v) {
    lr_ = v;
    return *this;
  }
  RMSpropOptions& alpha(double v) {
    alpha_ = v;
    return *this;
  }
  RMSpropOptions& eps(double v) {
    eps_ = v;
    return *this;
  }
  RMSpropOptions& weight_decay(double v) {
    weight_decay_ = v;
    return *this;
  }
  RMSpropOptions& momentum(double v) {
    momentum_ = v;
    return *this;
  }
  RMSpropOptions& centered(bool v) {
    centered_ = v;
    return *this;
  }
  RMSpropOptions& maximize(bool v) {
    maximize_ = v;
    return *this;
  }
  double lr() const { return lr_; }
  double alpha() const { return alpha_; }
  double eps() const { return eps_; }
  double weight_decay() const { return weight_decay_; }
  double momentum() const { return momentum_; }
  bool centered() const { return centered_; }
  bool maximize() const { return maximize_; }

  const char* type_name() const override { return "RMSpropOptions"; }
  std::unique_ptr<OptimizerOptions> clone() const override { return std::make_unique<RMSpropOptions>(*this); }
  void validate() const override;
  /// lr, alpha, eps, weight_decay, momentum, centered, maximize.
  std::map<std::string, double> to_map() const override;
  void from_map(const std::map<std::string, double>& values) override;
  double get_lr() const override { return lr_; }
  void set_lr(double v) override { lr_ = v; }

 private:
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
class RMSprop : public Optimizer {
 public:
  explicit RMSprop(std::vector<Tensor> params, const RMSpropOptions& options = RMSpropOptions());
  RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& defaults);

 protected:
  void update(const Tensor& param, const Tensor& grad, ParamState& state, const OptimizerOptions& options) override;
};

}  // namespace tg::optim

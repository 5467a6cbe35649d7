#pragma once
/// Adagrad, as torch.optim.Adagrad (PyTorch 1.13) computes it, step t from 1:
///   g = ±grad + weight_decay * p
///   clr = lr / (1 + (t - 1) * lr_decay)
///   sum = sum + g * g                     (sum starts at initial_accumulator_value)
///   p = p - clr * g / (sqrt(sum) + eps)
#include <memory>
#include <vector>

#include "tapegrad/optim/optimizer.h"

namespace tg::optim {

/// Adagrad's options (PyTorch's defaults). Checked when an optimizer adopts them: lr, lr_decay,
/// weight_decay, initial_accumulator_value, eps finite and >= 0.
class AdagradOptions : public OptimizerOptions {
 public:
  explicit AdagradOptions(double lr = 1e-2) : lr_(lr) {}
  AdagradOptions& lr(double v) {
    lr_ = v;
    return *this;
  }
  AdagradOptions& lr_decay(double v) {
    lr_decay_ = v;
    return *this;
  }
  AdagradOptions& weight_decay(double v) {
    weight_decay_ = v;
    return *this;
  }
  AdagradOptions& initial_accumulator_value(double v) {
    initial_accumulator_value_ = v;
    return *this;
  }
  AdagradOptions& eps(double v) {
    eps_ = v;
    return *this;
  }
  AdagradOptions& maximize(bool v) {
    maximize_ = v;
    return *this;
  }
  double lr() const { return lr_; }
  double lr_decay() const { return lr_decay_; }
  double weight_decay() const { return weight_decay_; }
  double initial_accumulator_value() const { return initial_accumulator_value_; }
  double eps() const { return eps_; }
  bool maximize() const { return maximize_; }

  const char* type_name() const override { return "AdagradOptions"; }
  std::unique_ptr<OptimizerOptions> clone() const override { return std::make_unique<AdagradOptions>(*this); }
  void validate() const override;
  /// lr, lr_decay, weight_decay, initial_accumulator_value, eps, maximize.
  std::map<std::string, double> to_map() const override;
  void from_map(const std::map<std::string, double>& values) override;
  double get_lr() const override { return lr_; }
  void set_lr(double v) override { lr_ = v; }

 private:
  double lr_;
  double lr_decay_ = 0;
  double weight_decay_ = 0;
  double initial_accumulator_value_ = 0;
  double eps_ = 1e-10;
  bool maximize_ = false;
};

/// State per parameter: "step" and "sum" (created at a parameter's first step, filled with its
/// group's initial_accumulator_value; PyTorch 1.13 creates them in the constructor, filled with
/// the constructor's value whatever a group says, and not for groups added later).
class Adagrad : public Optimizer {
 public:
  explicit Adagrad(std::vector<Tensor> params, const AdagradOptions& options = AdagradOptions());
  Adagrad(std::vector<ParamGroup> groups, const AdagradOptions& defaults);

 protected:
  void update(const Tensor& param, const Tensor& grad, ParamState& state, const OptimizerOptions& options) override;
};

}  // namespace tg::optim

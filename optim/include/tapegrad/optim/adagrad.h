#pragma once
/// Adagrad, as torch.optim.Adagrad (PyTorch 1.13) computes it, step t from 1:
///   g = ±grad + weight_decay * p
///   clr = lr / (1 + (t - 1) * lr_decay)
///   sum = sum + g * g                     (sum starts at initial_accumulator_value)
///   p = p - clr * g / (sqrt(sum) + eps)
#include <memory>
#include <vector>

#include "tapegrad/optim/options.h"

namespace tg::optim {

/// Adagrad's options (PyTorch's defaults). Checked when an optimizer adopts them: lr, lr_decay,
/// weight_decay, initial_accumulator_value, eps finite and >= 0.
class AdagradOptions : public OptionsBase<AdagradOptions> {
 public:
  static constexpr const char* kTypeName = "AdagradOptions";
  static constexpr const char* kWho = "Adagrad";
  explicit AdagradOptions(double lr = 1e-2) : OptionsBase(lr) {}
  AdagradOptions& lr_decay(double v) { return assign(lr_decay_, v); }
  AdagradOptions& initial_accumulator_value(double v) { return assign(initial_accumulator_value_, v); }
  AdagradOptions& eps(double v) { return assign(eps_, v); }
  double lr_decay() const { return lr_decay_; }
  double initial_accumulator_value() const { return initial_accumulator_value_; }
  double eps() const { return eps_; }

  /// lr, lr_decay, weight_decay, initial_accumulator_value, eps, maximize.
  static constexpr std::array<Field<AdagradOptions>, 6> fields() {
    return {lr_field(),
            number_field("lr_decay", &AdagradOptions::lr_decay_, Check::NonNegative),
            weight_decay_field(),
            number_field("initial_accumulator_value", &AdagradOptions::initial_accumulator_value_, Check::NonNegative),
            number_field("eps", &AdagradOptions::eps_, Check::NonNegative),
            maximize_field()};
  }

 private:
  friend class OptionsBase<AdagradOptions>;
  double lr_decay_ = 0;
  double initial_accumulator_value_ = 0;
  double eps_ = 1e-10;
};

/// State per parameter: "step" and "sum" (created at a parameter's first step, filled with its
/// group's initial_accumulator_value; PyTorch 1.13 creates them in the constructor, filled with
/// the constructor's value whatever a group says, and not for groups added later).
class Adagrad : public OptimizerOf<AdagradOptions> {
 public:
  using OptimizerOf::OptimizerOf;

 protected:
  void update(const Tensor& param, const Tensor& grad, ParamState& state, const OptimizerOptions& options) override;
  std::vector<std::string> required_state(const OptimizerOptions& options) const override;
};

}  // namespace tg::optim

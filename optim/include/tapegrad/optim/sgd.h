#pragma once
/// Stochastic gradient descent with momentum, dampening, Nesterov momentum, weight decay and
/// maximize, as torch.optim.SGD (PyTorch 1.13) computes it:
///   d = ±grad + weight_decay * p
///   buf = d (first step), else buf = momentum * buf + (1 - dampening) * d
///   d = d + momentum * buf (nesterov), else d = buf          [when momentum != 0]
///   p = p - lr * d
#include <memory>
#include <vector>

#include "tapegrad/optim/options.h"

namespace tg::optim {

/// SGD's options. lr has no default (as in PyTorch). Checked when an optimizer adopts them:
/// lr, momentum, weight_decay finite and >= 0, dampening finite, nesterov needs momentum > 0
/// and dampening 0.
class SGDOptions : public OptionsBase<SGDOptions> {
 public:
  static constexpr const char* kTypeName = "SGDOptions";
  static constexpr const char* kWho = "SGD";
  explicit SGDOptions(double lr) : OptionsBase(lr) {}
  SGDOptions& momentum(double v) { return assign(momentum_, v); }
  SGDOptions& dampening(double v) { return assign(dampening_, v); }
  SGDOptions& nesterov(bool v) { return assign(nesterov_, v); }
  double momentum() const { return momentum_; }
  double dampening() const { return dampening_; }
  bool nesterov() const { return nesterov_; }

  /// lr, momentum, dampening, weight_decay, nesterov, maximize (validated in this order).
  static constexpr std::array<Field<SGDOptions>, 6> fields() {
    return {lr_field(),
            number_field("momentum", &SGDOptions::momentum_, Check::NonNegative),
            number_field("dampening", &SGDOptions::dampening_, Check::Finite),
            weight_decay_field(),
            flag_field("nesterov", &SGDOptions::nesterov_),
            maximize_field()};
  }
  /// Nesterov momentum needs momentum > 0 and zero dampening.
  void check_more() const;

 private:
  friend class OptionsBase<SGDOptions>;
  double momentum_ = 0;
  double dampening_ = 0;
  bool nesterov_ = false;
};

/// State per parameter: "momentum_buffer" (when momentum != 0, from the first step).
class SGD : public OptimizerOf<SGDOptions> {
 public:
  using OptimizerOf::OptimizerOf;
  /// Plain SGD with learning rate lr over params.
  SGD(std::vector<Tensor> params, double lr);

 protected:
  void update(const Tensor& param, const Tensor& grad, ParamState& state, const OptimizerOptions& options) override;
  std::vector<std::string> required_state(const OptimizerOptions& options) const override;
};

}  // namespace tg::optim

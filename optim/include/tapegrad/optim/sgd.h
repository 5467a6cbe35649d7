#pragma once
/// Stochastic gradient descent with momentum, dampening, Nesterov momentum, weight decay and
/// maximize, as torch.optim.SGD (PyTorch 1.13) computes it:
///   d = ±grad + weight_decay * p
///   buf = d (first step), else buf = momentum * buf + (1 - dampening) * d
///   d = d + momentum * buf (nesterov), else d = buf          [when momentum != 0]
///   p = p - lr * d
#include <memory>
#include <vector>

#include "tapegrad/optim/optimizer.h"

namespace tg::optim {

/// SGD's options. lr has no default (as in PyTorch). Checked when an optimizer adopts them:
/// lr, momentum, weight_decay finite and >= 0, dampening finite, nesterov needs momentum > 0
/// and dampening 0.
class SGDOptions : public OptimizerOptions {
 public:
  explicit SGDOptions(double lr) : lr_(lr) {}
  SGDOptions& lr(double v) {
    lr_ = v;
    return *this;
  }
  SGDOptions& momentum(double v) {
    momentum_ = v;
    return *this;
  }
  SGDOptions& dampening(double v) {
    dampening_ = v;
    return *this;
  }
  SGDOptions& weight_decay(double v) {
    weight_decay_ = v;
    return *this;
  }
  SGDOptions& nesterov(bool v) {
    nesterov_ = v;
    return *this;
  }
  SGDOptions& maximize(bool v) {
    maximize_ = v;
    return *this;
  }
  double lr() const { return lr_; }
  double momentum() const { return momentum_; }
  double dampening() const { return dampening_; }
  double weight_decay() const { return weight_decay_; }
  bool nesterov() const { return nesterov_; }
  bool maximize() const { return maximize_; }

  const char* type_name() const override { return "SGDOptions"; }
  std::unique_ptr<OptimizerOptions> clone() const override { return std::make_unique<SGDOptions>(*this); }
  void validate() const override;
  /// lr, momentum, dampening, weight_decay, nesterov, maximize.
  std::map<std::string, double> to_map() const override;
  void from_map(const std::map<std::string, double>& values) override;
  double get_lr() const override { return lr_; }
  void set_lr(double v) override { lr_ = v; }

 private:
  double lr_;
  double momentum_ = 0;
  double dampening_ = 0;
  double weight_decay_ = 0;
  bool nesterov_ = false;
  bool maximize_ = false;
};

/// State per parameter: "momentum_buffer" (when momentum != 0, from the first step).
class SGD : public Optimizer {
 public:
  /// Plain SGD with learning rate lr over params.
  SGD(std::vector<Tensor> params, double lr);
  SGD(std::vector<Tensor> params, const SGDOptions& options);
  /// Groups given without options take `defaults`.
  SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults);

 protected:
  void update(const Tensor& param, const Tensor& grad, ParamState& state, const OptimizerOptions& options) override;
};

}  // namespace tg::optim

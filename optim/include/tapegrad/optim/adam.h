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

#include "tapegrad/optim/optimizer.h"

namespace tg::optim {

/// Adam's options (PyTorch's defaults). Checked when an optimizer adopts them: lr, eps,
/// weight_decay finite and >= 0; beta1 and beta2 in [0, 1).
class AdamOptions : public OptimizerOptions {
 public:
  explicit AdamOptions(double lr = 1e-3) : lr_(lr) {}
  AdamOptions& lr(double v) {
    lr_ = v;
    return *this;
  }
  AdamOptions& betas(double beta1, double beta2) {
    beta1_ = beta1;
    beta2_ = beta2;
    return *this;
  }
  AdamOptions& eps(double v) {
    eps_ = v;
    return *this;
  }
  AdamOptions& weight_decay(double v) {
    weight_decay_ = v;
    return *this;
  }
  AdamOptions& amsgrad(bool v) {
    amsgrad_ = v;
    return *this;
  }
  AdamOptions& maximize(bool v) {
    maximize_ = v;
    return *this;
  }
  double lr() const { return lr_; }
  double beta1() const { return beta1_; }
  double beta2() const { return beta2_; }
  double eps() const { return eps_; }
  double weight_decay() const { return weight_decay_; }
  bool amsgrad() const { return amsgrad_; }
  bool maximize() const { return maximize_; }

  const char* type_name() const override { return "AdamOptions"; }
  std::unique_ptr<OptimizerOptions> clone() const override { return std::make_unique<AdamOptions>(*this); }
  void validate() const override;
  /// lr, beta1, beta2, eps, weight_decay, amsgrad, maximize.
  std::map<std::string, double> to_map() const override;
  void from_map(const std::map<std::string, double>& values) override;
  double get_lr() const override { return lr_; }
  void set_lr(double v) override { lr_ = v; }

 private:
  double lr_;
  double beta1_ = 0.9;
  double beta2_ = 0.999;
  double eps_ = 1e-8;
  double weight_decay_ = 0;
  bool amsgrad_ = false;
  bool maximize_ = false;
};

/// AdamW's options: Adam's, with decoupled weight decay defaulting to 1e-2 (as in PyTorch).
class AdamWOptions : public OptimizerOptions {
 public:
  explicit AdamWOptions(double lr = 1e-3) : lr_(lr) {}
  AdamWOptions& lr(double v) {
    lr_ = v;
    return *this;
  }
  AdamWOptions& betas(double beta1, double beta2) {
    beta1_ = beta1;
    beta2_ = beta2;
    return *this;
  }
  AdamWOptions& eps(double v) {
    eps_ = v;
    return *this;
  }
  AdamWOptions& weight_decay(double v) {
    weight_decay_ = v;
    return *this;
  }
  AdamWOptions& amsgrad(bool v) {
    amsgrad_ = v;
    return *this;
  }
  AdamWOptions& maximize(bool v) {
    maximize_ = v;
    return *this;
  }
  double lr() const { return lr_; }
  double beta1() const { return beta1_; }
  double beta2() const { return beta2_; }
  double eps() const { return eps_; }
  double weight_decay() const { return weight_decay_; }
  bool amsgrad() const { return amsgrad_; }
  bool maximize() const { return maximize_; }

  const char* type_name() const override { return "AdamWOptions"; }
  std::unique_ptr<OptimizerOptions> clone() const override { return std::make_unique<AdamWOptions>(*this); }
  void validate() const override;
  /// lr, beta1, beta2, eps, weight_decay, amsgrad, maximize.
  std::map<std::string, double> to_map() const override;
  void from_map(const std::map<std::string, double>& values) override;
  double get_lr() const override { return lr_; }
  void set_lr(double v) override { lr_ = v; }

 private:
  double lr_;
  double beta1_ = 0.9;
  double beta2_ = 0.999;
  double eps_ = 1e-8;
  double weight_decay_ = 1e-2;
  bool amsgrad_ = false;
  bool maximize_ = false;
};

/// State per parameter: "step", "exp_avg", "exp_avg_sq", and "max_exp_avg_sq" (amsgrad).
class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<Tensor> params, const AdamOptions& options = AdamOptions());
  Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults);

 protected:
  void update(const Tensor& param, const Tensor& grad, ParamState& state, const OptimizerOptions& options) override;
};

/// Adam with decoupled weight decay (Loshchilov & Hutter); the same state as Adam.
class AdamW : public Optimizer {
 public:
  explicit AdamW(std::vector<Tensor> params, const AdamWOptions& options = AdamWOptions());
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& defaults);

 protected:
  void update(const Tensor& param, const Tensor& grad, ParamState& state, const OptimizerOptions& options) override;
};

}  // namespace tg::optim

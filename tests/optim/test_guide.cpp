// The programs docs/optim.md shows: each region between "// [doc:NAME]" and "// [/doc:NAME]" is
// quoted word for word by the page (checked by the doc_snippets test), and runs here as a test.
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tapegrad/tapegrad.h"

using namespace tg;

namespace guide {

// [doc:loop]
/// Fits model to (x, y) for 200 steps; returns the first and the last loss.
std::pair<double, double> fit(nn::Module& model, const Tensor& x, const Tensor& y) {
  optim::AdamW opt(model.parameters(), optim::AdamWOptions(1e-2).weight_decay(1e-4));
  // 10 steps of linear warm-up from lr / 10, then cosine decay over the other 190.
  auto warmup = std::make_shared<optim::LinearLR>(opt, 0.1, 1.0, 10);
  auto cosine = std::make_shared<optim::CosineAnnealingLR>(opt, 190);
  optim::SequentialLR schedule(opt, {warmup, cosine}, {10});

  double first = 0, last = 0;
  for (int step = 0; step < 200; ++step) {
    opt.zero_grad();
    const Tensor loss = (model(x) - y).pow(2.0).mean();
    loss.backward();
    optim::clip_grad_norm_(model.parameters(), 1.0);  // returns the norm before clipping
    opt.step();
    schedule.step();
    (step == 0 ? first : last) = loss.item();
  }
  return {first, last};
}
// [/doc:loop]

// [doc:groups]
/// SGD on a Linear layer: weight decay on the weight only, a larger lr for the bias.
optim::SGD make_sgd(nn::Linear& layer) {
  optim::SGD opt({optim::ParamGroup({layer.weight}),  // takes the defaults below
                  optim::ParamGroup({layer.bias}, optim::SGDOptions(0.05).momentum(0.9))},
                 optim::SGDOptions(0.01).momentum(0.9).weight_decay(5e-4));
  opt.param_groups()[0].set_lr(0.02);                                    // one group's lr, by hand
  opt.param_groups()[1].options_as<optim::SGDOptions>().nesterov(true);  // any option
  return opt;
}
// [/doc:groups]

// [doc:transformer]
/// Adam with the Transformer's schedule: lr = d_model^-0.5 * min(s^-0.5, s * warmup^-1.5) at
/// step s = 1, 2, ... (LambdaLR's epoch e is s - 1).
std::unique_ptr<optim::LambdaLR> transformer_schedule(optim::Adam& opt, double d_model, double warmup) {
  for (optim::ParamGroup& g : opt.param_groups()) g.set_lr(std::pow(d_model, -0.5));
  return std::make_unique<optim::LambdaLR>(opt, [=](std::int64_t e) {
    const double s = static_cast<double>(e + 1);
    return std::min(1 / std::sqrt(s), s * std::pow(warmup, -1.5));
  });
}
// [/doc:transformer]

// [doc:plateau]
/// Halves the lr once the validation loss has not improved for more than 2 epochs.
double plateau_lr(optim::SGD& opt) {
  optim::ReduceLROnPlateau plateau(opt, optim::ReduceLROnPlateauOptions().factor(0.5).patience(2).min_lr(1e-4));
  for (double validation_loss : {1.0, 0.8, 0.8, 0.8, 0.8}) plateau.step(validation_loss);
  return plateau.get_last_lr()[0];  // 3 epochs without improvement: halved once
}
// [/doc:plateau]

/// The loss the checkpoint example trains on.
Tensor quartic(const Tensor& w) { return (w * w * w * w).sum(); }

/// n Adam steps under StepLR.
void train(const Tensor& w, optim::Adam& opt, optim::StepLR& sched, int n) {
  for (int i = 0; i < n; ++i) {
    opt.zero_grad();
    quartic(w).backward();
    opt.step();
    sched.step();
  }
}

// [doc:checkpoint]
/// What a checkpoint holds besides the model's weights.
struct TrainingState {
  optim::OptimizerState optimizer;  // each group's options; copies of "step", "exp_avg", ...
  optim::SchedulerState scheduler;  // last_epoch, base_lrs, last_lr
};

TrainingState save(const optim::Optimizer& opt, const optim::LRScheduler& sched) {
  return {opt.state_dict(), sched.state_dict()};
}

/// Resumes: the objects are made as at the start, then the saved state is loaded into them.
void resume(const Tensor& w, const TrainingState& saved, int more_steps) {
  optim::Adam opt({w}, optim::AdamOptions(0.05).amsgrad(true));
  optim::StepLR sched(opt, 5, 0.5);
  opt.load_state_dict(saved.optimizer);
  sched.load_state_dict(saved.scheduler);
  train(w, opt, sched, more_steps);
}
// [/doc:checkpoint]

// [doc:custom]
/// Sign descent: p <- p - lr * sign(grad). An options struct and one update function.
class SignSGDOptions : public optim::OptimizerOptions {
 public:
  explicit SignSGDOptions(double lr) : lr_(lr) {}
  const char* type_name() const override { return "SignSGDOptions"; }
  std::unique_ptr<OptimizerOptions> clone() const override { return std::make_unique<SignSGDOptions>(*this); }
  void validate() const override { TG_CHECK(lr_ >= 0, "SignSGD: invalid learning rate {}", lr_); }
  std::map<std::string, double> to_map() const override { return {{"lr", lr_}}; }
  void from_map(const std::map<std::string, double>& values) override {
    TG_CHECK(values.size() == 1 && values.count("lr"), "SignSGDOptions::from_map: expected only 'lr'");
    SignSGDOptions o(values.at("lr"));
    o.validate();
    *this = o;
  }
  double get_lr() const override { return lr_; }
  void set_lr(double lr) override { lr_ = lr; }

 private:
  double lr_;
};

class SignSGD : public optim::Optimizer {
 public:
  SignSGD(std::vector<Tensor> params, const SignSGDOptions& options)
      : Optimizer("SignSGD", {optim::ParamGroup(std::move(params))}, options) {}

 protected:
  // param and grad are contiguous, of one dtype (float32 here); grad mode is off.
  void update(const Tensor& param, const Tensor& grad, optim::ParamState& /*state*/,
              const optim::OptimizerOptions& options) override {
    const float lr = static_cast<float>(options.get_lr());
    float* p = param.data<float>();
    const float* g = grad.data<float>();
    for (std::int64_t i = 0; i < param.numel(); ++i) p[i] -= lr * static_cast<float>((g[i] > 0) - (g[i] < 0));
  }
};
// [/doc:custom]

}  // namespace guide

TEST_CASE("guide: a training loop with AdamW, warm-up and cosine decay, and gradient clipping", "[optim][guide]") {
  manual_seed(3);  // the layers' initialisation, whatever tests ran before
  Generator gen(3);
  const Tensor x = tg::randn({64, 2}, kFloat32, &gen);
  const Tensor y = (x.select(1, 0) * 3.0 - x.select(1, 1) * 2.0 + 0.5).tanh().unsqueeze(1);
  nn::Sequential model(
      {std::make_shared<nn::Linear>(2, 16), std::make_shared<nn::Tanh>(), std::make_shared<nn::Linear>(16, 1)});
  const auto [first, last] = guide::fit(model, x, y);
  CHECK(last < 0.1 * first);
}

TEST_CASE("guide: param groups with their own options", "[optim][guide]") {
  nn::Linear layer(8, 4);
  optim::SGD opt = guide::make_sgd(layer);
  CHECK(opt.param_groups()[0].lr() == 0.02);
  CHECK(opt.param_groups()[0].options->get("weight_decay") == 5e-4);
  CHECK(opt.param_groups()[1].options->get("nesterov") == 1.0);
  CHECK(opt.param_groups()[1].options->get("weight_decay") == 0.0);
}

TEST_CASE("guide: the Transformer's schedule peaks at the end of the warm-up", "[optim][guide]") {
  const Tensor w = zeros({4}).requires_grad_();
  optim::Adam opt({w}, optim::AdamOptions().betas(0.9, 0.98).eps(1e-9));
  auto schedule = guide::transformer_schedule(opt, 512, 4000);
  for (int e = 1; e < 4000; ++e) schedule->step();  // epoch 3999 is step 4000, the peak
  CHECK(opt.param_groups()[0].lr() == Approx(std::pow(512.0, -0.5) / std::sqrt(4000.0)));
  schedule->step();
  CHECK(opt.param_groups()[0].lr() < std::pow(512.0, -0.5) / std::sqrt(4000.0));
}

TEST_CASE("guide: ReduceLROnPlateau halves the lr after patience epochs", "[optim][guide]") {
  optim::SGD opt({zeros({2}).requires_grad_()}, 0.1);
  CHECK(guide::plateau_lr(opt) == 0.05);
}

TEST_CASE("guide: a checkpoint of optimizer and scheduler resumes training exactly", "[optim][guide]") {
  const Tensor w0 = tg::tensor({1.0f, -2.0f, 0.5f});
  const Tensor straight = w0.clone().requires_grad_();
  {
    optim::Adam opt({straight}, optim::AdamOptions(0.05).amsgrad(true));
    optim::StepLR sched(opt, 5, 0.5);
    guide::train(straight, opt, sched, 20);
  }
  Tensor saved_w;
  guide::TrainingState saved;
  {
    const Tensor w = w0.clone().requires_grad_();
    optim::Adam opt({w}, optim::AdamOptions(0.05).amsgrad(true));
    optim::StepLR sched(opt, 5, 0.5);
    guide::train(w, opt, sched, 10);
    saved_w = w.detach().clone();
    saved = guide::save(opt, sched);
  }
  const Tensor w = saved_w.clone().requires_grad_();
  guide::resume(w, saved, 10);
  CHECK(w.to_vector<float>() == straight.to_vector<float>());
  CHECK(saved.optimizer.state[0].tensors.size() == 4);
}

TEST_CASE("guide: a new optimizer is an options struct and one update function", "[optim][guide]") {
  const Tensor w = tg::tensor({1.0f, -2.0f}).requires_grad_();
  guide::SignSGD opt({w}, guide::SignSGDOptions(0.25));
  optim::StepLR sched(opt, 1, 0.5);  // schedulers work with it unchanged
  (w * w).sum().backward();
  opt.step();
  sched.step();
  CHECK(w.to_vector<float>() == std::vector<float>{0.75f, -1.75f});
  CHECK(opt.param_groups()[0].lr() == 0.125);
}

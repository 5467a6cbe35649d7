// Golden tests of optim against PyTorch 1.13 (fixtures from tests/golden_optim/make_optim_fixtures.py):
// 20-step trajectories of every optimizer and option in float64, 50-step learning-rate sequences
// of every scheduler, and gradient clipping.
#include <catch2/catch.hpp>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "support/fixtures.h"
#include "tapegrad/tapegrad.h"

using namespace tg;
using namespace tg::optim;
namespace fx = tg_fixtures;

namespace {

/// Largest |got - want| / |want| over two lists (|want| floored at 1e-3, so that values that
/// cross zero are compared absolutely there).
double max_rel_error(const std::vector<double>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(got[i] - want[i]) / std::max(std::abs(want[i]), 1e-3);
    worst = std::isnan(err) ? INFINITY : std::max(worst, err);
  }
  return worst;
}

std::unique_ptr<OptimizerOptions> default_options(const std::string& kind) {
  if (kind == "SGD") return std::make_unique<SGDOptions>(0.1);  // lr is required: the fixtures give it
  if (kind == "Adam") return std::make_unique<AdamOptions>();
  if (kind == "AdamW") return std::make_unique<AdamWOptions>();
  if (kind == "RMSprop") return std::make_unique<RMSpropOptions>();
  if (kind == "Adagrad") return std::make_unique<AdagradOptions>();
  FAIL("unknown optimizer " << kind);
  return nullptr;
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& kind, std::vector<ParamGroup> groups,
                                          const OptimizerOptions& defaults) {
  if (kind == "SGD") return std::make_unique<SGD>(std::move(groups), dynamic_cast<const SGDOptions&>(defaults));
  if (kind == "Adam") return std::make_unique<Adam>(std::move(groups), dynamic_cast<const AdamOptions&>(defaults));
  if (kind == "AdamW") return std::make_unique<AdamW>(std::move(groups), dynamic_cast<const AdamWOptions&>(defaults));
  if (kind == "RMSprop")
    return std::make_unique<RMSprop>(std::move(groups), dynamic_cast<const RMSpropOptions&>(defaults));
  if (kind == "Adagrad")
    return std::make_unique<Adagrad>(std::move(groups), dynamic_cast<const AdagradOptions&>(defaults));
  FAIL("unknown optimizer " << kind);
  return nullptr;
}

/// The options of group i of a case: PyTorch's defaults with the "group0.<name>" numbers applied
/// (the constructor's defaults), then for group 1 the "group1.<name>" numbers.
std::unique_ptr<OptimizerOptions> group_options(const fx::Case& c, int i) {
  auto options = default_options(c.text("optimizer"));
  auto values = options->to_map();
  for (int k = 0; k <= i; ++k) {
    const std::string prefix = "group" + std::to_string(k) + ".";
    for (const std::string& key : c.keys_of("num")) {
      if (key.rfind(prefix, 0) != 0) continue;
      const std::string name = key.substr(prefix.size());
      REQUIRE(values.count(name) == 1);
      values[name] = c.numbers(key)[0];
    }
  }
  options->from_map(values);
  return options;
}

/// The fixtures' problem: mean((tanh(x @ w + b) - y)^2).
Tensor problem_loss(const Tensor& x, const Tensor& y, const Tensor& w, const Tensor& b) {
  return tg::mean(tg::pow(tg::sub(tg::tanh(tg::add(tg::matmul(x, w), b)), y), 2.0));
}

const std::vector<fx::Case>& optimizer_cases() {
  static const std::vector<fx::Case> cases = fx::load("golden_optim", "optimizers");
  return cases;
}

}  // namespace

TEST_CASE("optimizer defaults equal PyTorch's", "[optim][golden]") {
  for (const fx::Case& c : optimizer_cases()) {
    if (c.name.rfind("defaults.", 0) != 0) continue;
    INFO(c.name);
    auto options = default_options(c.text("optimizer"));
    const auto values = options->to_map();
    CHECK(values.size() == c.keys_of("num").size());
    for (const std::string& name : c.keys_of("num")) {
      INFO(name);
      REQUIRE(values.count(name) == 1);
      CHECK(values.at(name) == c.numbers(name)[0]);
    }
  }
}

TEST_CASE("every optimizer and option follows PyTorch's 20-step trajectory within 1e-6 relative", "[optim][golden]") {
  const auto& cases = optimizer_cases();
  const fx::Case& problem = fx::find(cases, "problem");
  const Tensor x = problem.tensor("x"), y = problem.tensor("y");
  double worst = 0;
  int checked = 0;
  for (const fx::Case& c : cases) {
    if (c.name == "problem" || c.name.rfind("defaults.", 0) == 0) continue;
    INFO(c.name);
    const Tensor w = problem.tensor("w").requires_grad_();
    const Tensor b = problem.tensor("b").requires_grad_();
    std::vector<ParamGroup> groups;
    auto defaults = group_options(c, 0);
    if (c.num("groups") == 1) {
      groups.emplace_back(std::vector<Tensor>{w, b});
    } else {
      groups.emplace_back(std::vector<Tensor>{w});  // takes the defaults: group 0's options
      groups.emplace_back(std::vector<Tensor>{b}, *group_options(c, 1));
    }
    auto opt = make_optimizer(c.text("optimizer"), std::move(groups), *defaults);
    const Tensor want_w = c.tensor("w"), want_b = c.tensor("b");
    double case_worst = 0;
    for (std::int64_t step = 0; step < want_w.size(0); ++step) {
      opt->zero_grad();
      problem_loss(x, y, w, b).backward();
      opt->step();
      case_worst =
          std::max(case_worst, max_rel_error(w.to_vector<double>(), want_w.select(0, step).to_vector<double>()));
      case_worst =
          std::max(case_worst, max_rel_error(b.to_vector<double>(), want_b.select(0, step).to_vector<double>()));
    }
    CHECK(case_worst < 1e-6);
    worst = std::max(worst, case_worst);
    ++checked;
  }
  CHECK(checked == 39);
  INFO(fmt::format("largest relative error over every optimizer case and step: {:.3g}", worst));
  CHECK(worst < 1e-6);
}

// ---- schedulers -----------------------------------------------------------------------------

namespace {

/// Reads "arg.<name>" numbers and words of a scheduler description (prefix "" or "child<i>.").
struct Args {
  const fx::Case& c;
  std::string prefix;
  bool has(const std::string& n) const { return c.has_param(prefix + "arg." + n); }
  double num(const std::string& n, double fallback) const { return c.num_or(prefix + "arg." + n, fallback); }
  std::int64_t integer(const std::string& n) const { return static_cast<std::int64_t>(c.num(prefix + "arg." + n)); }
  std::vector<double> list(const std::string& n) const { return c.numbers(prefix + "arg." + n); }
  std::string text(const std::string& n, const std::string& fallback) const {
    return c.has_param(prefix + "arg." + n) ? c.text(prefix + "arg." + n) : fallback;
  }
};

std::shared_ptr<LRScheduler> make_scheduler(Optimizer& opt, const std::string& kind, const Args& a) {
  if (kind == "StepLR") return std::make_shared<StepLR>(opt, a.integer("step_size"), a.num("gamma", 0.1));
  if (kind == "MultiStepLR") {
    std::vector<std::int64_t> milestones;
    for (double m : a.list("milestones")) milestones.push_back(static_cast<std::int64_t>(m));
    return std::make_shared<MultiStepLR>(opt, milestones, a.num("gamma", 0.1));
  }
  if (kind == "ExponentialLR") return std::make_shared<ExponentialLR>(opt, a.num("gamma", 0));
  if (kind == "CosineAnnealingLR")
    return std::make_shared<CosineAnnealingLR>(opt, a.integer("T_max"), a.num("eta_min", 0.0));
  if (kind == "LinearLR") {
    return a.has("total_iters")
               ? std::make_shared<LinearLR>(opt, a.num("start_factor", 1.0 / 3), a.num("end_factor", 1.0),
                                            a.integer("total_iters"))
               : std::make_shared<LinearLR>(opt, a.num("start_factor", 1.0 / 3), a.num("end_factor", 1.0));
  }
  if (kind == "OneCycleLR") {
    OneCycleLROptions o(0.0, a.integer("total_steps"));
    o.max_lrs(a.list("max_lr")).pct_start(a.num("pct_start", 0.3)).cycle_momentum(a.num("cycle_momentum", 1) != 0);
    o.base_momentum(a.num("base_momentum", 0.85)).max_momentum(a.num("max_momentum", 0.95));
    o.div_factor(a.num("div_factor", 25.0)).final_div_factor(a.num("final_div_factor", 1e4));
    o.three_phase(a.num("three_phase", 0) != 0);
    o.anneal_strategy(a.text("anneal_strategy", "cos") == "linear" ? AnnealStrategy::kLinear : AnnealStrategy::kCos);
    return std::make_shared<OneCycleLR>(opt, o);
  }
  if (kind == "LambdaLR") {
    REQUIRE(a.text("lambda", "inverse_sqrt_warmup") == "inverse_sqrt_warmup");
    const double warmup = a.num("warmup", 0);
    // The Transformer's schedule, as the fixture script's lambda writes it.
    return std::make_shared<LambdaLR>(opt, [warmup](std::int64_t e) {
      const double s = static_cast<double>(e + 1);
      return std::min(std::pow(s, -0.5), s * std::pow(warmup, -1.5));
    });
  }
  if (kind == "SequentialLR") {
    std::vector<std::shared_ptr<LRScheduler>> children;
    for (int i = 0; i < static_cast<int>(a.c.num("children")); ++i) {
      const std::string p = "child" + std::to_string(i) + ".";
      children.push_back(make_scheduler(opt, a.c.text("child" + std::to_string(i)), Args{a.c, p}));
    }
    std::vector<std::int64_t> milestones;
    for (double m : a.list("milestones")) milestones.push_back(static_cast<std::int64_t>(m));
    return std::make_shared<SequentialLR>(opt, children, milestones);
  }
  FAIL("unknown scheduler " << kind);
  return nullptr;
}

std::unique_ptr<ReduceLROnPlateau> make_plateau(Optimizer& opt, const Args& a) {
  ReduceLROnPlateauOptions o;
  o.mode(a.text("mode", "min") == "max" ? PlateauMode::kMax : PlateauMode::kMin);
  o.threshold_mode(a.text("threshold_mode", "rel") == "abs" ? ThresholdMode::kAbs : ThresholdMode::kRel);
  o.factor(a.num("factor", 0.1)).patience(static_cast<std::int64_t>(a.num("patience", 10)));
  o.threshold(a.num("threshold", 1e-4)).cooldown(static_cast<std::int64_t>(a.num("cooldown", 0)));
  o.eps(a.num("eps", 1e-8));
  if (a.has("min_lr")) o.min_lrs(a.list("min_lr"));
  return std::make_unique<ReduceLROnPlateau>(opt, o);
}

}  // namespace

TEST_CASE("every scheduler's 50-step learning-rate sequence equals PyTorch's bit for bit", "[optim][golden]") {
  const std::vector<fx::Case> cases = fx::load("golden_optim", "schedulers");
  double worst = 0;
  for (const fx::Case& c : cases) {
    INFO(c.name);
    const Tensor p0 = zeros({2}, kFloat64).requires_grad_(), p1 = zeros({3}, kFloat64).requires_grad_();
    std::unique_ptr<Optimizer> opt;
    if (c.text("optimizer") == "SGD") {
      opt = std::make_unique<SGD>(
          std::vector<ParamGroup>{ParamGroup({p0}), ParamGroup({p1}, SGDOptions(0.02).momentum(0.9))},
          SGDOptions(0.1).momentum(0.9));
    } else {
      opt = std::make_unique<Adam>(std::vector<ParamGroup>{ParamGroup({p0}), ParamGroup({p1}, AdamOptions(0.02))},
                                   AdamOptions(0.1));
    }
    const std::string kind = c.text("scheduler");
    std::shared_ptr<LRScheduler> sched;
    std::unique_ptr<ReduceLROnPlateau> plateau;
    if (kind == "ReduceLROnPlateau") {
      plateau = make_plateau(*opt, Args{c, ""});
    } else {
      sched = make_scheduler(*opt, kind, Args{c, ""});
    }
    const std::string momentum = c.text("optimizer") == "SGD" ? "momentum" : "beta1";
    std::vector<double> lrs, moms;
    auto record = [&] {
      for (const ParamGroup& g : opt->param_groups()) {
        lrs.push_back(g.lr());
        moms.push_back(g.options->get(momentum));
      }
    };
    record();
    const std::vector<double> metrics = plateau ? c.stored("metrics").values : std::vector<double>();
    for (int e = 0; e < 50; ++e) {
      opt->step();
      if (plateau) {
        plateau->step(metrics[static_cast<std::size_t>(e)]);
        CHECK(plateau->get_last_lr() == std::vector<double>{opt->param_groups()[0].lr(), opt->param_groups()[1].lr()});
      } else {
        sched->step();
        CHECK(sched->get_last_lr() == std::vector<double>{opt->param_groups()[0].lr(), opt->param_groups()[1].lr()});
      }
      record();
    }
    // Same expressions in the same order as PyTorch's Python: the same bits.
    const double err = max_rel_error(lrs, c.stored("lr").values);
    CHECK(err == 0);
    worst = std::max(worst, err);
    if (c.has_tensor("momentum")) {
      const double merr = max_rel_error(moms, c.stored("momentum").values);
      CHECK(merr == 0);
      worst = std::max(worst, merr);
    }
  }
  INFO(fmt::format("largest relative error over every lr and momentum sequence: {:.3g}", worst));
  CHECK(worst == 0);
}

// ---- clipping -------------------------------------------------------------------------------

TEST_CASE("clip_grad_norm_ and clip_grad_value_ equal PyTorch's", "[optim][golden]") {
  const std::vector<fx::Case> cases = fx::load("golden_optim", "clip");
  double worst = 0;
  for (const fx::Case& c : cases) {
    INFO(c.name);
    const Tensor p0 = zeros({3, 4}, kFloat64).requires_grad_(), p1 = zeros({5}, kFloat64).requires_grad_();
    const Tensor p2 = zeros({2}, kFloat64).requires_grad_();  // no gradient: skipped
    p0.set_grad(c.tensor("g0"));
    p1.set_grad(c.tensor("g1"));
    if (c.has_param("clip_value")) {
      clip_grad_value_({p0, p1, p2}, c.num("clip_value"));
    } else {
      const double total = clip_grad_norm_({p0, p1, p2}, c.num("max_norm"), c.num("norm_type"));
      const double err = max_rel_error({total}, c.stored("total").values);
      CHECK(err < 1e-12);
      worst = std::max(worst, err);
    }
    CHECK_FALSE(p2.grad().defined());
    const double err = std::max(max_rel_error(p0.grad().to_vector<double>(), c.stored("after0").values),
                                max_rel_error(p1.grad().to_vector<double>(), c.stored("after1").values));
    CHECK(err < 1e-12);
    worst = std::max(worst, err);
  }
  INFO(fmt::format("largest relative error over every clipping case: {:.3g}", worst));
  CHECK(worst < 1e-12);
}

// The schedulers follow torch/optim/lr_scheduler.py (PyTorch 1.13) expression by expression, in
// the same order of floating-point operations, so that their sequences equal PyTorch's: the
// chained forms (which read the groups' current lrs) for step(), the closed forms for step_to().
#include "tapegrad/optim/lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "checks.h"

namespace tg::optim {

const std::vector<double>& SchedulerState::at(const std::string& name) const {
  auto it = values.find(name);
  TG_CHECK(it != values.end(), "load_state_dict: the scheduler state has no entry '{}'", name);
  return it->second;
}

namespace {

/// The list under name, which must have n entries.
const std::vector<double>& sized(const SchedulerState& s, const std::string& who, const std::string& name,
                                 std::size_t n) {
  const std::vector<double>& v = s.at(name);
  TG_CHECK(v.size() == n, "{}.load_state_dict: entry '{}' has {} values, expected {}", who, name, v.size(), n);
  return v;
}

std::int64_t as_int(double v) { return static_cast<std::int64_t>(v); }

}  // namespace

// ---- LRScheduler ------------------------------------------------------------------------------

LRScheduler::LRScheduler(Optimizer& optimizer, std::string name) : name_(std::move(name)), optimizer_(&optimizer) {
  for (ParamGroup& g : optimizer.param_groups()) {
    if (!g.initial_lr) g.initial_lr = g.lr();
    base_lrs_.push_back(*g.initial_lr);
  }
}

void LRScheduler::initial_step() { step(); }

std::vector<double> LRScheduler::group_lrs() const {
  std::vector<double> lrs;
  for (const ParamGroup& g : optimizer_->param_groups()) lrs.push_back(g.lr());
  return lrs;
}

std::vector<double> LRScheduler::scaled_group_lrs(double factor) const {
  std::vector<double> lrs = group_lrs();
  for (double& lr : lrs) lr = lr * factor;
  return lrs;
}

std::vector<double> LRScheduler::scaled_base_lrs(double factor) const {
  std::vector<double> lrs;
  for (double base : base_lrs_) lrs.push_back(base * factor);
  return lrs;
}

void LRScheduler::apply(const std::vector<double>& lrs) {
  auto& groups = optimizer_->param_groups();
  TG_CHECK(lrs.size() == groups.size(), "{}: the optimizer has {} param groups, the scheduler was made for {}", name_,
           groups.size(), lrs.size());
  for (std::size_t i = 0; i < groups.size(); ++i) groups[i].set_lr(lrs[i]);
  last_lr_ = group_lrs();
}

void LRScheduler::step() {
  ++last_epoch_;
  apply(get_lr());
}

void LRScheduler::step_to(std::int64_t epoch) {
  last_epoch_ = epoch;
  apply(closed_form_lr());
}

SchedulerState LRScheduler::state_dict() const {
  SchedulerState s;
  s.values["last_epoch"] = {static_cast<double>(last_epoch_)};
  s.values["base_lrs"] = base_lrs_;
  s.values["last_lr"] = last_lr_;
  return s;
}

void LRScheduler::load_state_dict(const SchedulerState& s) {
  const std::size_t n = optimizer_->param_groups().size();
  const double epoch = sized(s, name_, "last_epoch", 1)[0];
  std::vector<double> base = sized(s, name_, "base_lrs", n), last = sized(s, name_, "last_lr", n);
  last_epoch_ = as_int(epoch);
  base_lrs_ = std::move(base);
  last_lr_ = std::move(last);
}

// ---- LambdaLR ---------------------------------------------------------------------------------

LambdaLR::LambdaLR(Optimizer& optimizer, Lambda lr_lambda)
    : LambdaLR(optimizer, std::vector<Lambda>(optimizer.param_groups().size(), lr_lambda)) {}

LambdaLR::LambdaLR(Optimizer& optimizer, std::vector<Lambda> lr_lambdas)
    : LRScheduler(optimizer, "LambdaLR"), lambdas_(std::move(lr_lambdas)) {
  TG_CHECK(lambdas_.size() == base_lrs_.size(), "LambdaLR: expected {} lr_lambdas (one per param group), got {}",
           base_lrs_.size(), lambdas_.size());
  for (std::size_t i = 0; i < lambdas_.size(); ++i)
    TG_CHECK(lambdas_[i] != nullptr, "LambdaLR: lr_lambda {} is empty", i);
  initial_step();
}

std::vector<double> LambdaLR::get_lr() {
  std::vector<double> lrs;
  for (std::size_t i = 0; i < base_lrs_.size(); ++i) lrs.push_back(base_lrs_[i] * lambdas_[i](last_epoch_));
  return lrs;
}

// ---- StepLR, MultiStepLR, ExponentialLR --------------------------------------------------------

StepLR::StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma)
    : LRScheduler(optimizer, "StepLR"), step_size_(step_size), gamma_(gamma) {
  TG_CHECK(step_size > 0, "StepLR: invalid step_size {} (expected > 0)", step_size);
  detail::check_nonnegative("StepLR", "gamma", gamma);
  initial_step();
}

std::vector<double> StepLR::get_lr() {
  return scaled_group_lrs(last_epoch_ == 0 || last_epoch_ % step_size_ != 0 ? 1.0 : gamma_);
}

std::vector<double> StepLR::closed_form_lr() {
  return scaled_base_lrs(std::pow(gamma_, static_cast<double>(last_epoch_ / step_size_)));
}

MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<std::int64_t> milestones, double gamma)
    : LRScheduler(optimizer, "MultiStepLR"), milestones_(std::move(milestones)), gamma_(gamma) {
  for (std::int64_t m : milestones_) TG_CHECK(m >= 0, "MultiStepLR: invalid milestone {} (expected >= 0)", m);
  detail::check_nonnegative("MultiStepLR", "gamma", gamma);
  std::sort(milestones_.begin(), milestones_.end());
  initial_step();
}

std::vector<double> MultiStepLR::get_lr() {
  const auto count = std::count(milestones_.begin(), milestones_.end(), last_epoch_);
  return scaled_group_lrs(count == 0 ? 1.0 : std::pow(gamma_, static_cast<double>(count)));
}

std::vector<double> MultiStepLR::closed_form_lr() {
  const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) - milestones_.begin();
  return scaled_base_lrs(std::pow(gamma_, static_cast<double>(passed)));
}

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma)
    : LRScheduler(optimizer, "ExponentialLR"), gamma_(gamma) {
  detail::check_nonnegative("ExponentialLR", "gamma", gamma);
  initial_step();
}

std::vector<double> ExponentialLR::get_lr() { return scaled_group_lrs(last_epoch_ == 0 ? 1.0 : gamma_); }

std::vector<double> ExponentialLR::closed_form_lr() {
  return scaled_base_lrs(std::pow(gamma_, static_cast<double>(last_epoch_)));
}

// ---- CosineAnnealingLR ------------------------------------------------------------------------

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, std::int64_t T_max, double eta_min)
    : LRScheduler(optimizer, "CosineAnnealingLR"), T_max_(T_max), eta_min_(eta_min) {
  TG_CHECK(T_max > 0, "CosineAnnealingLR: invalid T_max {} (expected > 0)", T_max);
  detail::check_finite("CosineAnnealingLR", "eta_min", eta_min);
  initial_step();
}

std::vector<double> CosineAnnealingLR::get_lr() {
  constexpr double pi = std::numbers::pi;
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0) return lrs;
  const double e = static_cast<double>(last_epoch_), T = static_cast<double>(T_max_);
  if ((last_epoch_ - 1 - T_max_) % (2 * T_max_) == 0) {
    // The step out of a minimum: PyTorch adds the increment rather than dividing by ~0.
    for (std::size_t i = 0; i < lrs.size(); ++i)
      lrs[i] = lrs[i] + (base_lrs_[i] - eta_min_) * (1 - std::cos(pi / T)) / 2;
    return lrs;
  }
  for (double& lr : lrs)
    lr = (1 + std::cos(pi * e / T)) / (1 + std::cos(pi * (e - 1) / T)) * (lr - eta_min_) + eta_min_;
  return lrs;
}

std::vector<double> CosineAnnealingLR::closed_form_lr() {
  constexpr double pi = std::numbers::pi;
  std::vector<double> lrs;
  const double e = static_cast<double>(last_epoch_), T = static_cast<double>(T_max_);
  for (double base : base_lrs_) lrs.push_back(eta_min_ + (base - eta_min_) * (1 + std::cos(pi * e / T)) / 2);
  return lrs;
}

// ---- LinearLR ---------------------------------------------------------------------------------

LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor, std::int64_t total_iters)
    : LRScheduler(optimizer, "LinearLR"),
      start_factor_(start_factor),
      end_factor_(end_factor),
      total_iters_(total_iters) {
  TG_CHECK(start_factor > 0 && start_factor <= 1, "LinearLR: invalid start_factor {} (expected a value in (0, 1])",
           start_factor);
  detail::check_unit_closed("LinearLR", "end_factor", end_factor);
  TG_CHECK(total_iters > 0, "LinearLR: invalid total_iters {} (expected > 0)", total_iters);
  initial_step();
}

std::vector<double> LinearLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0) {
    for (double& lr : lrs) lr = lr * start_factor_;
    return lrs;
  }
  if (last_epoch_ > total_iters_) return lrs;
  const double delta = end_factor_ - start_factor_;
  const double denom = static_cast<double>(total_iters_) * start_factor_ + static_cast<double>(last_epoch_ - 1) * delta;
  for (double& lr : lrs) lr = lr * (1. + delta / denom);
  return lrs;
}

std::vector<double> LinearLR::closed_form_lr() {
  std::vector<double> lrs;
  const double done = static_cast<double>(std::min(total_iters_, last_epoch_));
  for (double base : base_lrs_)
    lrs.push_back(base * (start_factor_ + (end_factor_ - start_factor_) * done / static_cast<double>(total_iters_)));
  return lrs;
}

// ---- OneCycleLR -------------------------------------------------------------------------------

OneCycleLR::OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& options)
    : LRScheduler(optimizer, "OneCycleLR"), options_(options) {
  const std::size_t n = base_lrs_.size();
  const OneCycleLROptions& o = options_;
  TG_CHECK(o.total_steps() > 0, "OneCycleLR: invalid total_steps {} (expected > 0)", o.total_steps());
  TG_CHECK(o.pct_start() >= 0 && o.pct_start() <= 1, "OneCycleLR: invalid pct_start {} (expected a value in [0, 1])",
           o.pct_start());
  TG_CHECK(o.max_lrs().size() == 1 || o.max_lrs().size() == n,
           "OneCycleLR: expected 1 max_lr or {} (one per param group), got {}", n, o.max_lrs().size());
  for (double m : o.max_lrs()) detail::check_nonnegative("OneCycleLR", "max_lr", m);
  TG_CHECK(o.div_factor() > 0 && std::isfinite(o.div_factor()), "OneCycleLR: invalid div_factor {} (expected > 0)",
           o.div_factor());
  TG_CHECK(o.final_div_factor() > 0 && std::isfinite(o.final_div_factor()),
           "OneCycleLR: invalid final_div_factor {} (expected > 0)", o.final_div_factor());
  detail::check_finite("OneCycleLR", "base_momentum", o.base_momentum());
  detail::check_finite("OneCycleLR", "max_momentum", o.max_momentum());

  const double total = static_cast<double>(o.total_steps());
  if (o.three_phase()) {
    phases_ = {{o.pct_start() * total - 1, Level::kInitial, Level::kMax, true, false},
               {2 * o.pct_start() * total - 2, Level::kMax, Level::kInitial, false, true},
               {total - 1, Level::kInitial, Level::kMin, true, true}};
  } else {
    phases_ = {{o.pct_start() * total - 1, Level::kInitial, Level::kMax, true, false},
               {total - 1, Level::kMax, Level::kMin, false, true}};
  }

  auto& groups = optimizer.param_groups();
  for (std::size_t i = 0; i < n; ++i) {
    const double max_lr = o.max_lrs().size() == 1 ? o.max_lrs()[0] : o.max_lrs()[i];
    groups[i].initial_lr = max_lr / o.div_factor();
    initial_lrs_.push_back(*groups[i].initial_lr);
    max_lrs_.push_back(max_lr);
    min_lrs_.push_back(*groups[i].initial_lr / o.final_div_factor());
  }
  base_lrs_ = initial_lrs_;

  if (o.cycle_momentum()) {
    const OptimizerOptions& defaults = optimizer.defaults();
    TG_CHECK(defaults.has("momentum") || defaults.has("beta1"),
             "OneCycleLR: cycle_momentum needs an optimizer with a momentum or beta1 option ({} has neither)",
             optimizer.name());
    momentum_name_ = defaults.has("momentum") ? "momentum" : "beta1";
    for (ParamGroup& g : groups) g.options->set(momentum_name_, o.max_momentum());
  }
  initial_step();
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (options_.anneal_strategy() == AnnealStrategy::kLinear) return (end - start) * pct + start;
  const double cos_out = std::cos(std::numbers::pi * pct) + 1;
  return end + (start - end) / 2.0 * cos_out;
}

std::vector<double> OneCycleLR::get_lr() {
  TG_CHECK(last_epoch_ <= options_.total_steps(), "OneCycleLR: tried to step {} times; total_steps is {}",
           last_epoch_ + 1, options_.total_steps());
  const double step = static_cast<double>(last_epoch_);
  auto& groups = optimizer_->param_groups();
  std::vector<double> lrs;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const double levels[] = {initial_lrs_[i], max_lrs_[i], min_lrs_[i]};
    double start_step = 0, lr = 0, momentum = 0;
    for (std::size_t k = 0; k < phases_.size(); ++k) {
      const Phase& ph = phases_[k];
      if (step <= ph.end_step || k == phases_.size() - 1) {
        const double pct = (step - start_step) / (ph.end_step - start_step);
        lr = anneal(levels[static_cast<int>(ph.start_lr)], levels[static_cast<int>(ph.end_lr)], pct);
        const double m0 = ph.start_momentum_max ? options_.max_momentum() : options_.base_momentum();
        const double m1 = ph.end_momentum_max ? options_.max_momentum() : options_.base_momentum();
        momentum = anneal(m0, m1, pct);
        break;
      }
      start_step = ph.end_step;
    }
    lrs.push_back(lr);
    if (momentum_name_ != nullptr) groups[i].options->set(momentum_name_, momentum);
  }
  return lrs;
}

// ---- SequentialLR -----------------------------------------------------------------------------

SequentialLR::SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
                           std::vector<std::int64_t> milestones)
    : LRScheduler(optimizer, "SequentialLR"), schedulers_(std::move(schedulers)), milestones_(std::move(milestones)) {
  TG_CHECK(!schedulers_.empty(), "SequentialLR: expected at least one scheduler");
  for (std::size_t i = 0; i < schedulers_.size(); ++i) {
    TG_CHECK(schedulers_[i] != nullptr, "SequentialLR: scheduler {} is null", i);
    TG_CHECK(&schedulers_[i]->optimizer() == &optimizer,
             "SequentialLR: scheduler {} ({}) acts on another optimizer than the one passed in", i,
             schedulers_[i]->name());
  }
  TG_CHECK(milestones_.size() + 1 == schedulers_.size(),
           "SequentialLR: expected one milestone fewer than schedulers, got {} schedulers and {} milestones",
           schedulers_.size(), milestones_.size());
  for (std::size_t i = 0; i < milestones_.size(); ++i) {
    TG_CHECK(milestones_[i] > 0 && (i == 0 || milestones_[i] > milestones_[i - 1]),
             "SequentialLR: milestones must be positive and increasing, got {} after {}", milestones_[i],
             i == 0 ? 0 : milestones_[i - 1]);
  }
  // As PyTorch: back to the initial lrs, every scheduler one epoch back, the first one restarted.
  last_epoch_ = 0;
  for (ParamGroup& g : optimizer.param_groups()) g.set_lr(*g.initial_lr);
  for (auto& s : schedulers_) --s->last_epoch_;
  schedulers_[0]->initial_step();
  last_lr_ = schedulers_[0]->get_last_lr();
}

void SequentialLR::step() {
  ++last_epoch_;
  const auto idx = static_cast<std::size_t>(std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) -
                                            milestones_.begin());
  LRScheduler& s = *schedulers_[idx];
  if (idx > 0 && milestones_[idx - 1] == last_epoch_) {
    s.step_to(0);
  } else {
    s.step();
  }
  last_lr_ = s.get_last_lr();
}

SchedulerState SequentialLR::state_dict() const {
  SchedulerState out;
  out.values["last_epoch"] = {static_cast<double>(last_epoch_)};
  out.values["last_lr"] = last_lr_;
  for (std::size_t i = 0; i < schedulers_.size(); ++i) {
    const std::string prefix = "schedulers." + std::to_string(i) + ".";
    for (auto& [key, value] : schedulers_[i]->state_dict().values) out.values[prefix + key] = value;
  }
  return out;
}

void SequentialLR::load_state_dict(const SchedulerState& s) {
  const std::size_t n = optimizer_->param_groups().size();
  const double epoch = sized(s, name_, "last_epoch", 1)[0];
  std::vector<double> last = sized(s, name_, "last_lr", n);
  std::vector<SchedulerState> parts(schedulers_.size());
  for (const auto& [key, value] : s.values) {
    if (key.rfind("schedulers.", 0) != 0) continue;
    const std::size_t dot = key.find('.', 11);
    TG_CHECK(dot != std::string::npos, "SequentialLR.load_state_dict: malformed entry '{}'", key);
    const std::size_t i = std::stoul(key.substr(11, dot - 11));
    TG_CHECK(i < parts.size(), "SequentialLR.load_state_dict: entry '{}' for scheduler {}, but there are {}", key, i,
             parts.size());
    parts[i].values[key.substr(dot + 1)] = value;
  }
  for (std::size_t i = 0; i < schedulers_.size(); ++i) schedulers_[i]->load_state_dict(parts[i]);
  last_epoch_ = as_int(epoch);
  last_lr_ = std::move(last);
}

// ---- ReduceLROnPlateau ------------------------------------------------------------------------

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options)
    : optimizer_(&optimizer), options_(options) {
  const std::size_t n = optimizer.param_groups().size();
  const ReduceLROnPlateauOptions& o = options_;
  TG_CHECK(o.factor() >= 0 && o.factor() < 1, "ReduceLROnPlateau: invalid factor {} (expected a value in [0, 1))",
           o.factor());
  TG_CHECK(o.patience() >= 0, "ReduceLROnPlateau: invalid patience {} (expected >= 0)", o.patience());
  TG_CHECK(o.cooldown() >= 0, "ReduceLROnPlateau: invalid cooldown {} (expected >= 0)", o.cooldown());
  detail::check_nonnegative("ReduceLROnPlateau", "threshold", o.threshold());
  detail::check_nonnegative("ReduceLROnPlateau", "eps", o.eps());
  TG_CHECK(o.min_lrs().size() == 1 || o.min_lrs().size() == n,
           "ReduceLROnPlateau: expected 1 min_lr or {} (one per param group), got {}", n, o.min_lrs().size());
  for (double m : o.min_lrs()) detail::check_nonnegative("ReduceLROnPlateau", "min_lr", m);
  min_lrs_ = o.min_lrs().size() == 1 ? std::vector<double>(n, o.min_lrs()[0]) : o.min_lrs();
  best_ = o.mode() == PlateauMode::kMin ? std::numeric_limits<double>::infinity()
                                        : -std::numeric_limits<double>::infinity();
  for (const ParamGroup& g : optimizer.param_groups()) last_lr_.push_back(g.lr());
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
  const double t = options_.threshold();
  const bool rel = options_.threshold_mode() == ThresholdMode::kRel;
  if (options_.mode() == PlateauMode::kMin) return rel ? a < best * (1. - t) : a < best - t;
  return rel ? a > best * (t + 1.) : a > best + t;
}

void ReduceLROnPlateau::step(double metric) {
  ++last_epoch_;
  if (is_better(metric, best_)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // bad epochs during cooldown do not count
  }
  auto& groups = optimizer_->param_groups();
  TG_CHECK(groups.size() == min_lrs_.size(),
           "ReduceLROnPlateau: the optimizer has {} param groups, the scheduler "
           "was made for {}",
           groups.size(), min_lrs_.size());
  if (num_bad_epochs_ > options_.patience()) {
    for (std::size_t i = 0; i < groups.size(); ++i) {
      const double old_lr = groups[i].lr();
      const double new_lr = std::max(old_lr * options_.factor(), min_lrs_[i]);
      if (old_lr - new_lr > options_.eps()) groups[i].set_lr(new_lr);
    }
    cooldown_counter_ = options_.cooldown();
    num_bad_epochs_ = 0;
  }
  last_lr_.clear();
  for (const ParamGroup& g : groups) last_lr_.push_back(g.lr());
}

SchedulerState ReduceLROnPlateau::state_dict() const {
  SchedulerState s;
  s.values["last_epoch"] = {static_cast<double>(last_epoch_)};
  s.values["best"] = {best_};
  s.values["num_bad_epochs"] = {static_cast<double>(num_bad_epochs_)};
  s.values["cooldown_counter"] = {static_cast<double>(cooldown_counter_)};
  s.values["last_lr"] = last_lr_;
  return s;
}

void ReduceLROnPlateau::load_state_dict(const SchedulerState& s) {
  const char* who = "ReduceLROnPlateau";
  const double epoch = sized(s, who, "last_epoch", 1)[0], best = sized(s, who, "best", 1)[0];
  const double bad = sized(s, who, "num_bad_epochs", 1)[0], cooldown = sized(s, who, "cooldown_counter", 1)[0];
  std::vector<double> last = sized(s, who, "last_lr", optimizer_->param_groups().size());
  last_epoch_ = as_int(epoch);
  best_ = best;
  num_bad_epochs_ = as_int(bad);
  cooldown_counter_ = as_int(cooldown);
  last_lr_ = std::move(last);
}

}  // namespace tg::optim

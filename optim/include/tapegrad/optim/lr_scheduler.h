#pragma once
/// Learning-rate schedulers, as torch.optim.lr_scheduler (PyTorch 1.13) computes them: each
/// writes new learning rates into its optimizer's param groups. Construction performs PyTorch's
/// initial step (epoch 0); call step() once per epoch (or iteration), after optimizer.step().
/// Schedulers hold a reference to their optimizer, which must outlive them (and not be moved).
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tapegrad/core/options.h"
#include "tapegrad/optim/optimizer.h"

namespace tg::optim {

/// What a scheduler's state_dict() holds: its counters and per-group values as named lists of
/// numbers ("last_epoch", "base_lrs", "last_lr", ...), ready for a checkpoint format.
struct SchedulerState {
  std::map<std::string, std::vector<double>> values;
  /// The list under name (errors naming it when absent).
  const std::vector<double>& at(const std::string& name) const;
};

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  /// Advances one epoch and writes the new learning rates into the optimizer's groups.
  virtual void step();
  /// The learning rates of the last step (one per group).
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  /// 0 after construction, then the number of step() calls.
  std::int64_t last_epoch() const { return last_epoch_; }
  /// Each group's initial_lr when the scheduler was made: what the schedule scales.
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  Optimizer& optimizer() const { return *optimizer_; }
  const std::string& name() const { return name_; }

  /// last_epoch, base_lrs, last_lr (and what a scheduler adds).
  virtual SchedulerState state_dict() const;
  /// Restores state_dict() of a scheduler of the same kind on an optimizer with as many groups.
  virtual void load_state_dict(const SchedulerState& state);

 protected:
  /// Sets each group's initial_lr to its lr where no scheduler did already; base_lrs = those.
  LRScheduler(Optimizer& optimizer, std::string name);
  /// PyTorch's initial step: every constructor of a concrete scheduler ends with it.
  void initial_step();
  /// The learning rates at last_epoch_, in PyTorch's chained form (which reads the groups' lrs).
  virtual std::vector<double> get_lr() = 0;
  /// The learning rates at last_epoch_ in closed form, where PyTorch has one (else get_lr()).
  virtual std::vector<double> closed_form_lr() { return get_lr(); }
  /// PyTorch's step(epoch): jumps to epoch by the closed form (SequentialLR, at a milestone).
  void step_to(std::int64_t epoch);
  /// The groups' current learning rates.
  std::vector<double> group_lrs() const;
  /// group_lrs(), each times factor (the chained form of StepLR, MultiStepLR, ExponentialLR).
  std::vector<double> scaled_group_lrs(double factor) const;
  /// base_lrs(), each times factor (their closed forms).
  std::vector<double> scaled_base_lrs(double factor) const;
  void apply(const std::vector<double>& lrs);

  std::string name_;
  Optimizer* optimizer_;
  std::int64_t last_epoch_ = -1;
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;

  friend class SequentialLR;
};

/// lr = base_lr * lr_lambda(epoch). The Transformer's warm-up (Vaswani et al.), with the lr set
/// to d_model^-0.5 and s = e + 1, is one line (see docs/optim.md):
///   LambdaLR(opt, [](std::int64_t e) { double s = e + 1; return std::min(1 / sqrt(s), s * pow(4000, -1.5)); })
class LambdaLR : public LRScheduler {
 public:
  using Lambda = std::function<double(std::int64_t epoch)>;
  LambdaLR(Optimizer& optimizer, Lambda lr_lambda);
  /// One lambda per param group.
  LambdaLR(Optimizer& optimizer, std::vector<Lambda> lr_lambdas);

 protected:
  std::vector<double> get_lr() override;

 private:
  std::vector<Lambda> lambdas_;
};

/// Multiplies the lr by gamma every step_size epochs (step_size > 0).
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() override;
  std::vector<double> closed_form_lr() override;

 private:
  std::int64_t step_size_;
  double gamma_;
};

/// Multiplies the lr by gamma at each milestone (epochs >= 0; a repeated milestone counts twice).
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, std::vector<std::int64_t> milestones, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() override;
  std::vector<double> closed_form_lr() override;

 private:
  std::vector<std::int64_t> milestones_;  // sorted
  double gamma_;
};

/// Multiplies the lr by gamma every epoch.
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);

 protected:
  std::vector<double> get_lr() override;
  std::vector<double> closed_form_lr() override;

 private:
  double gamma_;
};

/// Cosine annealing from base_lr to eta_min over T_max epochs (and back up, periodically, if
/// stepped further): eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2,
/// computed in PyTorch's chained form.
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, std::int64_t T_max, double eta_min = 0.0);

 protected:
  std::vector<double> get_lr() override;
  std::vector<double> closed_form_lr() override;

 private:
  std::int64_t T_max_;
  double eta_min_;
};

/// Linear warm-up (or decay): the factor on base_lr goes from start_factor (in (0, 1]) to
/// end_factor (in [0, 1]) over total_iters epochs (> 0), then stays.
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0, std::int64_t total_iters = 5);

 protected:
  std::vector<double> get_lr() override;
  std::vector<double> closed_form_lr() override;

 private:
  double start_factor_, end_factor_;
  std::int64_t total_iters_;
};

enum class AnnealStrategy { kCos, kLinear };

/// OneCycleLR's options (PyTorch's defaults). total_steps > 0 (epochs * steps_per_epoch when
/// counting that way); pct_start in [0, 1]; div_factor, final_div_factor > 0.
class OneCycleLROptions : public ChainedOptions<OneCycleLROptions> {
 public:
  OneCycleLROptions(double max_lr, std::int64_t total_steps) : max_lrs_{max_lr}, total_steps_(total_steps) {}
  /// One max_lr per param group.
  OneCycleLROptions& max_lrs(std::vector<double> v) { return assign(max_lrs_, std::move(v)); }
  OneCycleLROptions& total_steps(std::int64_t v) { return assign(total_steps_, v); }
  OneCycleLROptions& pct_start(double v) { return assign(pct_start_, v); }
  OneCycleLROptions& anneal_strategy(AnnealStrategy v) { return assign(anneal_strategy_, v); }
  OneCycleLROptions& cycle_momentum(bool v) { return assign(cycle_momentum_, v); }
  OneCycleLROptions& base_momentum(double v) { return assign(base_momentum_, v); }
  OneCycleLROptions& max_momentum(double v) { return assign(max_momentum_, v); }
  OneCycleLROptions& div_factor(double v) { return assign(div_factor_, v); }
  OneCycleLROptions& final_div_factor(double v) { return assign(final_div_factor_, v); }
  OneCycleLROptions& three_phase(bool v) { return assign(three_phase_, v); }
  const std::vector<double>& max_lrs() const { return max_lrs_; }
  std::int64_t total_steps() const { return total_steps_; }
  double pct_start() const { return pct_start_; }
  AnnealStrategy anneal_strategy() const { return anneal_strategy_; }
  bool cycle_momentum() const { return cycle_momentum_; }
  double base_momentum() const { return base_momentum_; }
  double max_momentum() const { return max_momentum_; }
  double div_factor() const { return div_factor_; }
  double final_div_factor() const { return final_div_factor_; }
  bool three_phase() const { return three_phase_; }

 private:
  std::vector<double> max_lrs_;
  std::int64_t total_steps_;
  double pct_start_ = 0.3;
  AnnealStrategy anneal_strategy_ = AnnealStrategy::kCos;
  bool cycle_momentum_ = true;
  double base_momentum_ = 0.85;
  double max_momentum_ = 0.95;
  double div_factor_ = 25.0;
  double final_div_factor_ = 1e4;
  bool three_phase_ = false;
};

/// The 1cycle policy (Smith & Topin): lr rises from max_lr / div_factor to max_lr over
/// pct_start of the steps, then anneals to max_lr / div_factor / final_div_factor (three_phase:
/// back to the start first). With cycle_momentum, the momentum (SGD, RMSprop) or beta1 (Adam,
/// AdamW) moves inversely between max_momentum and base_momentum. Step once per batch; stepping
/// past total_steps is an error.
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& options);

 protected:
  std::vector<double> get_lr() override;

 private:
  enum class Level { kInitial, kMax, kMin };
  struct Phase {
    double end_step;
    Level start_lr, end_lr;
    bool start_momentum_max, end_momentum_max;  // else base_momentum
  };
  double anneal(double start, double end, double pct) const;

  OneCycleLROptions options_;
  std::vector<Phase> phases_;
  std::vector<double> initial_lrs_, max_lrs_, min_lrs_;
  const char* momentum_name_ = nullptr;  // "momentum" or "beta1" when cycling momentum
};

/// Runs schedulers one after another: schedulers[i + 1] takes over at milestones[i] (there is one
/// milestone fewer than schedulers; increasing). All must act on this optimizer; build them
/// first, then this (as in PyTorch, which rewinds them).
class SequentialLR : public LRScheduler {
 public:
  SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
               std::vector<std::int64_t> milestones);
  void step() override;
  /// Its own last_epoch and last_lr, and each scheduler's state under "schedulers.<i>.".
  SchedulerState state_dict() const override;
  void load_state_dict(const SchedulerState& state) override;

 protected:
  std::vector<double> get_lr() override { return group_lrs(); }

 private:
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
  std::vector<std::int64_t> milestones_;
};

enum class PlateauMode { kMin, kMax };
enum class ThresholdMode { kRel, kAbs };

/// ReduceLROnPlateau's options (PyTorch's defaults): factor in [0, 1); patience, cooldown >= 0;
/// threshold, min_lr, eps finite and >= 0.
class ReduceLROnPlateauOptions : public ChainedOptions<ReduceLROnPlateauOptions> {
 public:
  ReduceLROnPlateauOptions() = default;
  ReduceLROnPlateauOptions& mode(PlateauMode v) { return assign(mode_, v); }
  ReduceLROnPlateauOptions& factor(double v) { return assign(factor_, v); }
  ReduceLROnPlateauOptions& patience(std::int64_t v) { return assign(patience_, v); }
  ReduceLROnPlateauOptions& threshold(double v) { return assign(threshold_, v); }
  ReduceLROnPlateauOptions& threshold_mode(ThresholdMode v) { return assign(threshold_mode_, v); }
  ReduceLROnPlateauOptions& cooldown(std::int64_t v) { return assign(cooldown_, v); }
  /// The same floor for every group.
  ReduceLROnPlateauOptions& min_lr(double v) {
    min_lrs_ = {v};
    return *this;
  }
  /// One floor per group.
  ReduceLROnPlateauOptions& min_lrs(std::vector<double> v) { return assign(min_lrs_, std::move(v)); }
  ReduceLROnPlateauOptions& eps(double v) { return assign(eps_, v); }
  PlateauMode mode() const { return mode_; }
  double factor() const { return factor_; }
  std::int64_t patience() const { return patience_; }
  double threshold() const { return threshold_; }
  ThresholdMode threshold_mode() const { return threshold_mode_; }
  std::int64_t cooldown() const { return cooldown_; }
  const std::vector<double>& min_lrs() const { return min_lrs_; }
  double eps() const { return eps_; }

 private:
  PlateauMode mode_ = PlateauMode::kMin;
  double factor_ = 0.1;
  std::int64_t patience_ = 10;
  double threshold_ = 1e-4;
  ThresholdMode threshold_mode_ = ThresholdMode::kRel;
  std::int64_t cooldown_ = 0;
  std::vector<double> min_lrs_{0.0};
  double eps_ = 1e-8;
};

/// Multiplies the lrs by factor (not below min_lr; changes smaller than eps are skipped) once
/// the metric has not improved for more than patience steps, then waits cooldown steps. An
/// improvement is metric < best * (1 - threshold) (min, rel), metric < best - threshold (min,
/// abs), metric > best * (1 + threshold) (max, rel) or metric > best + threshold (max, abs).
class ReduceLROnPlateau {
 public:
  explicit ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options = {});
  /// One epoch, with the metric it ended on (a validation loss, an accuracy).
  void step(double metric);
  /// The groups' lrs after the last step (their current lrs before the first).
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  std::int64_t last_epoch() const { return last_epoch_; }
  double best() const { return best_; }
  std::int64_t num_bad_epochs() const { return num_bad_epochs_; }
  std::int64_t cooldown_counter() const { return cooldown_counter_; }
  Optimizer& optimizer() const { return *optimizer_; }

  /// last_epoch, best, num_bad_epochs, cooldown_counter, last_lr.
  SchedulerState state_dict() const;
  void load_state_dict(const SchedulerState& state);

 private:
  bool is_better(double a, double best) const;

  Optimizer* optimizer_;
  ReduceLROnPlateauOptions options_;
  std::vector<double> min_lrs_;
  std::int64_t last_epoch_ = 0;
  double best_;
  std::int64_t num_bad_epochs_ = 0;
  std::int64_t cooldown_counter_ = 0;
  std::vector<double> last_lr_;
};

}  // namespace tg::optim

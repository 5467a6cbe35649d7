#pragma once
/// The Optimizer base: parameter groups, each with its own options; per-parameter state kept
/// apart from the options; step(), zero_grad(), add_param_group(), state_dict() and
/// load_state_dict(). A concrete optimizer (SGD, Adam, ...) supplies its options struct and one
/// update function. See docs/optim.md.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tapegrad/core/error.h"
#include "tapegrad/core/tensor.h"

namespace tg::optim {

/// The options of one optimizer (SGDOptions, AdamOptions, ...): plain values with chained
/// setters, checked by validate() when an optimizer adopts them. This base gives the generic,
/// by-name view that schedulers and state dicts use.
class OptimizerOptions {
 public:
  virtual ~OptimizerOptions() = default;
  /// "SGDOptions", "AdamOptions", ...
  virtual const char* type_name() const = 0;
  virtual std::unique_ptr<OptimizerOptions> clone() const = 0;
  /// Throws tg::Error naming the first bad value ("Adam: invalid beta1 1 (expected ...)").
  virtual void validate() const = 0;
  /// Every option under PyTorch's name; flags are 0 or 1, Adam's betas are "beta1", "beta2".
  virtual std::map<std::string, double> to_map() const = 0;
  /// Sets every option from a map with exactly the names to_map() gives, then validates; on an
  /// error (unknown or missing name, bad value) the options are left unchanged.
  virtual void from_map(const std::map<std::string, double>& values) = 0;

  /// The learning rate (what schedulers read and write; not validated here).
  virtual double get_lr() const = 0;
  virtual void set_lr(double lr) = 0;

  /// True when the options have an entry of that name.
  bool has(const std::string& name) const;
  /// One option by name (errors on an unknown name).
  double get(const std::string& name) const;
  /// Sets one option by name and validates (errors on an unknown name or a bad value).
  void set(const std::string& name, double value);
};

/// Parameters that share options. Without options, a group takes the optimizer's defaults.
struct ParamGroup {
  explicit ParamGroup(std::vector<Tensor> params);
  /// A group with its own options, which must be the optimizer's kind (SGDOptions for SGD).
  ParamGroup(std::vector<Tensor> params, const OptimizerOptions& options);
  ParamGroup(const ParamGroup& other);
  ParamGroup& operator=(const ParamGroup& other);
  ParamGroup(ParamGroup&&) noexcept = default;
  ParamGroup& operator=(ParamGroup&&) noexcept = default;
  ~ParamGroup() = default;

  std::vector<Tensor> params;
  /// The group's options; never null once an optimizer holds the group.
  std::unique_ptr<OptimizerOptions> options;
  /// The learning rate before any scheduler changed it: set by the first scheduler built on the
  /// optimizer (PyTorch's group['initial_lr']), read by the next ones and by SequentialLR.
  std::optional<double> initial_lr;

  double lr() const { return options->get_lr(); }
  void set_lr(double lr) { options->set_lr(lr); }
  /// The options as the concrete type (errors if they are another optimizer's).
  template <typename O>
  O& options_as() const {
    auto* o = dynamic_cast<O*>(options.get());
    TG_CHECK(o != nullptr, "ParamGroup: options are {}, not the requested type",
             options ? options->type_name() : "missing");
    return *o;
  }
};

/// The state of one parameter: named tensors ("step", "exp_avg", "momentum_buffer", ...).
/// "step", where an optimizer keeps one, is a 0-d float64 tensor.
class ParamState {
 public:
  using Entries = std::vector<std::pair<std::string, Tensor>>;
  /// The tensor under name, or an undefined tensor.
  Tensor find(std::string_view name) const;
  /// Adds the entry, or replaces the tensor under that name.
  void set(std::string_view name, Tensor value);
  bool empty() const { return entries_.empty(); }
  void clear() { entries_.clear(); }
  const Entries& entries() const { return entries_; }

 private:
  Entries entries_;
};

/// What state_dict() returns and load_state_dict() takes: a plain description of an optimizer
/// that a checkpoint format can write as is. Parameters are numbered 0, 1, ... in the order of
/// the groups and, within a group, of its params (PyTorch's numbering); tensors are copies.
struct OptimizerState {
  struct Group {
    /// The group's options (OptimizerOptions::to_map()), plus "initial_lr" when a scheduler set it.
    std::map<std::string, double> options;
    /// The indices of the group's parameters.
    std::vector<std::int64_t> params;
  };
  struct Entry {
    std::int64_t param = 0;  // an index from Group::params
    std::vector<std::pair<std::string, Tensor>> tensors;
  };
  /// The optimizer's name ("SGD", "Adam", ...); load_state_dict() checks it.
  std::string optimizer;
  std::vector<Group> groups;
  /// Only parameters that have state appear (an Adam parameter after its first step, ...).
  std::vector<Entry> state;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;
  /// Movable; a scheduler holds a reference to its optimizer, so move before making one.
  Optimizer(Optimizer&&) noexcept = default;
  Optimizer& operator=(Optimizer&&) noexcept = default;

  /// "SGD", "Adam", ...
  const std::string& name() const { return name_; }

  /// One update of every parameter that has a gradient (others are skipped), with grad mode
  /// off. Each group's options are validated first.
  void step();
  /// Zeroes the gradients in place, or drops them when set_to_none.
  void zero_grad(bool set_to_none = true);
  /// Adds parameters (none already held) with their own options or the defaults.
  void add_param_group(ParamGroup group);

  /// The groups: options may be changed here (step() validates them); add parameters through
  /// add_param_group() only.
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  const OptimizerOptions& defaults() const { return *defaults_; }
  /// Every parameter, in PyTorch's numbering (groups in order).
  std::vector<Tensor> parameters() const;
  /// The state of parameter index (PyTorch's numbering); empty until its first step.
  const ParamState& state(std::int64_t index) const;

  /// Options of each group and copies of the per-parameter state.
  OptimizerState state_dict() const;
  /// Restores options and state from state_dict() of an optimizer of the same kind whose groups
  /// have the same sizes; parameters are matched by position, state tensors copied (and
  /// converted to each parameter's dtype, except "step"). Everything is checked before anything
  /// is written: a parameter with state must have every key of state_keys() for its group's
  /// (loaded) options, each a floating tensor of the parameter's shape, and "step" a single
  /// finite, non-negative whole number. The error names the optimizer, the parameter index and
  /// the key; on an error nothing changes.
  void load_state_dict(const OptimizerState& state);

  /// The state keys a parameter has after a step under these options (of this optimizer's
  /// kind), which load_state_dict() requires: Adam and AdamW {"step", "exp_avg", "exp_avg_sq"}
  /// (+ "max_exp_avg_sq" with amsgrad); SGD {"momentum_buffer"} with momentum, else none;
  /// RMSprop {"step", "square_avg"} (+ "momentum_buffer", "grad_avg"); Adagrad {"step", "sum"}.
  /// options must be this optimizer's kind (AdamOptions for Adam).
  std::vector<std::string> state_keys(const OptimizerOptions& options) const;
  /// state_keys() under the defaults.
  std::vector<std::string> state_keys() const { return required_state(*defaults_); }

 protected:
  /// name: "SGD"; defaults: the options of groups given without their own.
  Optimizer(std::string name, std::vector<ParamGroup> groups, const OptimizerOptions& defaults);

  /// The optimizer's update of one parameter, in place, with grad mode off: param and grad are
  /// contiguous, of one floating dtype and shape; options are the group's (of the optimizer's
  /// own options type). One fused pass over memory (see src/fused.h).
  virtual void update(const Tensor& param, const Tensor& grad, ParamState& state, const OptimizerOptions& options) = 0;
  /// What state_keys() returns; an optimizer that keeps state overrides it (the default: none).
  virtual std::vector<std::string> required_state(const OptimizerOptions& options) const;

 private:
  void adopt(ParamGroup& group) const;

  std::string name_;
  std::unique_ptr<OptimizerOptions> defaults_;
  std::vector<ParamGroup> groups_;
  std::vector<ParamState> state_;  // by parameter index
};

}  // namespace tg::optim

#include "tapegrad/optim/optimizer.h"

#include <cmath>
#include <typeinfo>
#include <unordered_set>

#include "fused.h"
#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"

namespace tg::optim {

// ---- OptimizerOptions -------------------------------------------------------------------------

bool OptimizerOptions::has(const std::string& name) const { return to_map().count(name) != 0; }

double OptimizerOptions::get(const std::string& name) const {
  const auto values = to_map();
  auto it = values.find(name);
  TG_CHECK(it != values.end(), "{}: no option named '{}'", type_name(), name);
  return it->second;
}

void OptimizerOptions::set(const std::string& name, double value) {
  auto values = to_map();
  auto it = values.find(name);
  TG_CHECK(it != values.end(), "{}: no option named '{}'", type_name(), name);
  it->second = value;
  from_map(values);
}

// ---- ParamGroup, ParamState -------------------------------------------------------------------

ParamGroup::ParamGroup(std::vector<Tensor> params) : params(std::move(params)) {}

ParamGroup::ParamGroup(std::vector<Tensor> params, const OptimizerOptions& options)
    : params(std::move(params)), options(options.clone()) {}

ParamGroup::ParamGroup(const ParamGroup& other)
    : params(other.params), options(other.options ? other.options->clone() : nullptr), initial_lr(other.initial_lr) {}

ParamGroup& ParamGroup::operator=(const ParamGroup& other) {
  if (this != &other) *this = ParamGroup(other);
  return *this;
}

Tensor ParamState::find(std::string_view name) const {
  for (const auto& [key, value] : entries_) {
    if (key == name) return value;
  }
  return {};
}

void ParamState::set(std::string_view name, Tensor value) {
  for (auto& [key, old] : entries_) {
    if (key == name) {
      old = std::move(value);
      return;
    }
  }
  entries_.emplace_back(std::string(name), std::move(value));
}

// ---- Optimizer --------------------------------------------------------------------------------

std::vector<std::string> Optimizer::required_state(const OptimizerOptions&) const { return {}; }

std::vector<std::string> Optimizer::state_keys(const OptimizerOptions& options) const {
  TG_CHECK(typeid(options) == typeid(*defaults_), "{}.state_keys: options of type {}, expected {}", name_,
           options.type_name(), defaults_->type_name());
  return required_state(options);
}

Optimizer::Optimizer(std::string name, std::vector<ParamGroup> groups, const OptimizerOptions& defaults)
    : name_(std::move(name)), defaults_(defaults.clone()) {
  defaults_->validate();
  std::size_t total = 0;
  for (const ParamGroup& g : groups) total += g.params.size();
  TG_CHECK(!groups.empty() && total > 0, "{}: got an empty parameter list", name_);
  for (ParamGroup& g : groups) add_param_group(std::move(g));
}

void Optimizer::adopt(ParamGroup& group) const {
  if (!group.options) group.options = defaults_->clone();
  const OptimizerOptions& o = *group.options;
  TG_CHECK(typeid(o) == typeid(*defaults_), "{}: a param group has options of type {}, expected {}", name_,
           o.type_name(), defaults_->type_name());
  o.validate();

  std::unordered_set<const TensorImpl*> held;
  for (const ParamGroup& g : groups_) {
    for (const Tensor& p : g.params) held.insert(p.impl());
  }
  for (std::size_t i = 0; i < group.params.size(); ++i) {
    const Tensor& p = group.params[i];
    TG_CHECK(p.defined(), "{}: parameter {} of the new group is an undefined tensor", name_, i);
    TG_CHECK(p.is_leaf(),
             "{}: parameter {} of the new group is not a leaf (cannot optimize a tensor computed "
             "by recorded ops; detach it first)",
             name_, i);
    TG_CHECK(is_floating(p.dtype()), "{}: parameter {} of the new group has dtype {} (expected float32 or float64)",
             name_, i, dtype_name(p.dtype()));
    TG_CHECK(held.insert(p.impl()).second,
             "{}: parameter {} of the new group (shape {}) appears more than once among the parameters", name_, i,
             p.shape());
  }
}

void Optimizer::add_param_group(ParamGroup group) {
  adopt(group);
  state_.resize(state_.size() + group.params.size());
  groups_.push_back(std::move(group));
}

std::vector<Tensor> Optimizer::parameters() const {
  std::vector<Tensor> out;
  for (const ParamGroup& g : groups_) out.insert(out.end(), g.params.begin(), g.params.end());
  return out;
}

const ParamState& Optimizer::state(std::int64_t index) const {
  TG_CHECK(index >= 0 && index < static_cast<std::int64_t>(state_.size()),
           "{}: no parameter {} (the optimizer holds {})", name_, index, state_.size());
  return state_[static_cast<std::size_t>(index)];
}

void Optimizer::step() {
  NoGradGuard no_grad;
  for (const ParamGroup& g : groups_) g.options->validate();
  std::size_t index = 0;
  for (const ParamGroup& g : groups_) {
    for (const Tensor& p : g.params) {
      ParamState& state = state_[index++];
      const Tensor grad = p.grad();
      if (!grad.defined()) continue;
      TG_CHECK(grad.shape() == p.shape(), "{}.step: the gradient of parameter {} has shape {}, the parameter {}", name_,
               index - 1, grad.shape(), p.shape());
      // The update wants both contiguous and of one dtype; copies only for unusual tensors.
      const Tensor g_use = (grad.dtype() == p.dtype() ? grad : grad.to(p.dtype())).contiguous();
      if (p.is_contiguous()) {
        update(p, g_use, state, *g.options);
        detail::bump_version(p, "optimizer.step");
      } else {
        const Tensor work = p.contiguous();
        update(work, g_use, state, *g.options);
        p.copy_(work);
      }
    }
  }
}

void Optimizer::zero_grad(bool set_to_none) {
  for (const ParamGroup& g : groups_) {
    for (const Tensor& p : g.params) p.zero_grad(set_to_none);
  }
}

// ---- state dict -------------------------------------------------------------------------------

namespace {

/// "step, exp_avg" (or "nothing") for an error message.
std::string entry_names(const OptimizerState::Entry& e) {
  if (e.tensors.empty()) return "nothing";
  std::string out;
  for (const auto& [name, t] : e.tensors) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

OptimizerState Optimizer::state_dict() const {
  OptimizerState out;
  out.optimizer = name_;
  std::int64_t index = 0;
  for (const ParamGroup& g : groups_) {
    OptimizerState::Group packed;
    packed.options = g.options->to_map();
    if (g.initial_lr) packed.options["initial_lr"] = *g.initial_lr;
    for (std::size_t i = 0; i < g.params.size(); ++i) packed.params.push_back(index++);
    out.groups.push_back(std::move(packed));
  }
  for (std::size_t i = 0; i < state_.size(); ++i) {
    if (state_[i].empty()) continue;
    OptimizerState::Entry entry;
    entry.param = static_cast<std::int64_t>(i);
    for (const auto& [name, t] : state_[i].entries()) entry.tensors.emplace_back(name, t.detach().clone());
    out.state.push_back(std::move(entry));
  }
  return out;
}

void Optimizer::load_state_dict(const OptimizerState& saved) {
  TG_CHECK(saved.optimizer == name_, "{}.load_state_dict: the state is of a {} optimizer", name_, saved.optimizer);
  TG_CHECK(saved.groups.size() == groups_.size(), "{}.load_state_dict: the state has {} param groups, the optimizer {}",
           name_, saved.groups.size(), groups_.size());

  // Everything is built aside first, so that an error leaves the optimizer as it was.
  std::vector<std::unique_ptr<OptimizerOptions>> options;
  std::vector<std::optional<double>> initial_lrs;
  std::map<std::int64_t, std::int64_t> index_of;  // saved index -> our index, by position
  std::int64_t ours = 0;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    const OptimizerState::Group& sg = saved.groups[gi];
    TG_CHECK(sg.params.size() == groups_[gi].params.size(),
             "{}.load_state_dict: param group {} has {} parameters in the state, {} in the optimizer", name_, gi,
             sg.params.size(), groups_[gi].params.size());
    std::map<std::string, double> values = sg.options;
    std::optional<double> initial_lr;
    if (auto it = values.find("initial_lr"); it != values.end()) {
      initial_lr = it->second;
      values.erase(it);
    }
    auto o = defaults_->clone();
    o->from_map(values);
    options.push_back(std::move(o));
    initial_lrs.push_back(initial_lr);
    for (std::int64_t s : sg.params) {
      TG_CHECK(index_of.emplace(s, ours++).second, "{}.load_state_dict: parameter index {} appears twice", name_, s);
    }
  }

  // The group (and so the options) each of our parameters belongs to.
  std::vector<std::size_t> group_of;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) group_of.resize(group_of.size() + groups_[gi].params.size(), gi);

  const std::vector<Tensor> params = parameters();
  std::vector<ParamState> state(state_.size());
  for (const OptimizerState::Entry& e : saved.state) {
    auto it = index_of.find(e.param);
    TG_CHECK(it != index_of.end(), "{}.load_state_dict: state for parameter {}, which no group holds", name_, e.param);
    const std::size_t ours_index = static_cast<std::size_t>(it->second);
    const Tensor& p = params[ours_index];
    ParamState& ps = state[ours_index];
    for (const auto& [name, t] : e.tensors) {
      TG_CHECK(t.defined(), "{}.load_state_dict: state '{}' of parameter {} is undefined", name_, name, e.param);
      TG_CHECK(ps.find(name).defined() == false, "{}.load_state_dict: state '{}' of parameter {} appears twice", name_,
               name, e.param);
      if (name == "step") {
        TG_CHECK(t.numel() == 1, "{}.load_state_dict: 'step' of parameter {} has {} elements (expected 1)", name_,
                 e.param, t.numel());
        TG_CHECK(t.dtype() != kBool, "{}.load_state_dict: 'step' of parameter {} is a bool tensor", name_, e.param);
        const double step = t.to(kFloat64).item();
        TG_CHECK(std::isfinite(step) && step >= 0 && std::floor(step) == step,
                 "{}.load_state_dict: 'step' of parameter {} is {} (expected a finite whole number >= 0)", name_,
                 e.param, step);
        ps.set(name, tg::full({}, step, kFloat64));
      } else {
        TG_CHECK(t.shape() == p.shape(),
                 "{}.load_state_dict: state '{}' of parameter {} has shape {}, the parameter {}", name_, name, e.param,
                 t.shape(), p.shape());
        TG_CHECK(is_floating(t.dtype()),
                 "{}.load_state_dict: state '{}' of parameter {} has dtype {} (expected a floating dtype, converted "
                 "to the parameter's {})",
                 name_, name, e.param, dtype_name(t.dtype()), dtype_name(p.dtype()));
        ps.set(name, t.detach().to(p.dtype()).clone());
      }
    }
    // Every key the update reads must be there: a half-restored state would crash or restart
    // the moments of one parameter silently.
    const std::vector<std::string> needed = required_state(*options[group_of[ours_index]]);
    for (const std::string& key : needed) {
      TG_CHECK(ps.find(key).defined(),
               "{}.load_state_dict: the state of parameter {} (shape {}) has no '{}' (it has: {}; {} needs: {})", name_,
               e.param, p.shape(), key, entry_names(e), name_, fmt::join(needed, ", "));
    }
  }

  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    groups_[gi].options = std::move(options[gi]);
    groups_[gi].initial_lr = initial_lrs[gi];
  }
  state_ = std::move(state);
}

}  // namespace tg::optim

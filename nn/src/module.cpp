#include "tapegrad/nn/module.h"

#include <fmt/format.h>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/format.h"

namespace tg::nn {

// ---- StateDict --------------------------------------------------------------------------------

void StateDict::insert(std::string name, Tensor value) {
  const auto [it, added] = index_.try_emplace(name, entries_.size());
  if (added) {
    entries_.emplace_back(std::move(name), std::move(value));
  } else {
    entries_[it->second].second = std::move(value);
  }
}

Tensor StateDict::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? Tensor() : entries_[it->second].second;
}

std::vector<std::string> StateDict::keys() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : entries_) out.push_back(k);
  return out;
}

// ---- Module -------------------------------------------------------------------------------------

Module::Module(std::string type_name) : type_name_(std::move(type_name)) {}

Tensor Module::forward(const Tensor&) {
  fail("{}: this module has no forward(Tensor); call its own forward with the arguments it takes", type_name_);
}

namespace {
/// summary()'s recorder: when set, every module call reports its output shape.
thread_local std::function<void(Module*, const Tensor&)>* tl_summary_hook = nullptr;

void check_name(const std::string& name, const std::string& owner) {
  TG_CHECK(!name.empty() && name.find('.') == std::string::npos,
           "{}: invalid name \"{}\" (names are non-empty and contain no '.')", owner, name);
}

/// The tensors of named, in order, without their names.
std::vector<Tensor> tensors_of(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<Tensor> out;
  out.reserve(named.size());
  for (const auto& [k, v] : named) out.push_back(v);
  return out;
}
}  // namespace

Tensor Module::operator()(const Tensor& input) {
  Tensor out = forward(input);
  note_output(out);
  return out;
}

void Module::note_output(const Tensor& out) {
  if (tl_summary_hook != nullptr) (*tl_summary_hook)(this, out);
}

// One namespace for parameters, buffers and submodules, as in PyTorch: a state-dict key must
// name one thing.
void Module::check_unused(const std::string& name) const {
  for (const auto& [k, v] : parameters_)
    TG_CHECK(k != name, "{}: \"{}\" is already registered as a parameter", type_name_, name);
  for (const auto& [k, v] : buffers_)
    TG_CHECK(k != name, "{}: \"{}\" is already registered as a buffer", type_name_, name);
  for (const auto& [k, v] : children_)
    TG_CHECK(k != name, "{}: \"{}\" is already registered as a submodule", type_name_, name);
}

Tensor Module::register_parameter(const std::string& name, Tensor value, bool requires_grad) {
  check_name(name, type_name_);
  TG_CHECK(value.defined(), "{}: parameter \"{}\" is undefined", type_name_, name);
  TG_CHECK(value.is_leaf(), "{}: parameter \"{}\" must be a leaf tensor (detach() it first)", type_name_, name);
  check_unused(name);
  value.requires_grad_(requires_grad);
  parameters_.emplace_back(name, value);
  return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
  check_name(name, type_name_);
  check_unused(name);
  buffers_.emplace_back(name, value);
  return value;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_name(name, type_name_);
  TG_CHECK(module != nullptr, "{}: submodule \"{}\" is null", type_name_, name);
  check_unused(name);
  children_.emplace_back(name, std::move(module));
}

void Module::collect(const std::string& prefix, bool recurse, bool params,
                     std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [k, v] : params ? parameters_ : buffers_) {
    if (v.defined()) out.emplace_back(prefix + k, v);
  }
  if (!recurse) return;
  for (const auto& [k, child] : children_) child->collect(prefix + k + ".", true, params, out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", recurse, true, out);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const { return tensors_of(named_parameters(recurse)); }

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", recurse, false, out);
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const { return tensors_of(named_buffers(recurse)); }

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (const auto& [k, v] : children_) out.push_back(v);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  // Depth first, pre-order, with an explicit stack (children pushed in reverse).
  std::vector<std::pair<std::string, Module*>> out;
  std::vector<std::pair<std::string, Module*>> stack{{"", this}};
  while (!stack.empty()) {
    auto [name, m] = stack.back();
    stack.pop_back();
    out.emplace_back(name, m);
    for (auto it = m->children_.rbegin(); it != m->children_.rend(); ++it)
      stack.emplace_back(name.empty() ? it->first : name + "." + it->first, it->second.get());
  }
  return out;
}

std::vector<Module*> Module::modules() {
  std::vector<Module*> out;
  for (auto& [k, m] : named_modules()) out.push_back(m);
  return out;
}

void Module::apply(const std::function<void(Module&)>& fn) {
  for (auto& [k, child] : children_) child->apply(fn);
  fn(*this);
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [k, child] : children_) child->train(on);
}

void Module::zero_grad(bool set_to_none) {
  for (const Tensor& p : parameters()) p.zero_grad(set_to_none);
}

void Module::to(DType dtype) {
  NoGradGuard guard;
  for (auto* list : {&parameters_, &buffers_})
    for (auto& [k, v] : *list)
      if (v.defined() && is_floating(v.dtype()) && v.dtype() != dtype) v.set_data(v.detach().to(dtype));
  for (auto& [k, child] : children_) child->to(dtype);
}

StateDict Module::state_dict() const {
  StateDict out;
  // PyTorch's order: a module's parameters, then its buffers, then each child's state.
  std::vector<std::pair<std::string, const Module*>> stack{{"", this}};
  while (!stack.empty()) {
    auto [prefix, m] = stack.back();
    stack.pop_back();
    for (const auto& [k, v] : m->parameters_)
      if (v.defined()) out.insert(prefix + k, v.detach());
    for (const auto& [k, v] : m->buffers_)
      if (v.defined()) out.insert(prefix + k, v.detach());
    for (auto it = m->children_.rbegin(); it != m->children_.rend(); ++it)
      stack.emplace_back(prefix + it->first + ".", it->second.get());
  }
  return out;
}

namespace {
/// PyTorch's one shape exception: a 0-d entry loads from a tensor of shape [1].
bool loads_into(IntArrayRef src, IntArrayRef dst) {
  return same_values(src, dst) || (dst.empty() && src.size() == 1 && src[0] == 1);
}
}  // namespace

IncompatibleKeys Module::load_state_dict(const StateDict& state, bool strict) {
  const StateDict own = state_dict();
  std::vector<std::string> missing, unexpected, mismatched;
  for (const auto& [k, v] : own) {
    const Tensor src = state.find(k);
    if (!src.defined()) missing.push_back(k);
    else if (!loads_into(src.shape(), v.shape()))
      mismatched.push_back(fmt::format("{} (expected {}, got {})", k, v.shape(), src.shape()));
  }
  for (const auto& [k, v] : state)
    if (!own.contains(k)) unexpected.push_back(k);
  const bool bad = !mismatched.empty() || (strict && (!missing.empty() || !unexpected.empty()));
  if (bad) {
    std::string msg = fmt::format("load_state_dict: error(s) loading the state of {}:", type_name_);
    if (!missing.empty()) msg += fmt::format(" missing keys: {};", fmt::join(missing, ", "));
    if (!unexpected.empty()) msg += fmt::format(" unexpected keys: {};", fmt::join(unexpected, ", "));
    if (!mismatched.empty()) msg += fmt::format(" shape mismatches: {};", fmt::join(mismatched, "; "));
    msg.pop_back();
    throw Error(msg);
  }
  NoGradGuard guard;
  // Conversions that can fail (a floating value into an int64 buffer such as BatchNorm's
  // num_batches_tracked: NaN, inf or out of range) are done before anything is written, so an
  // error leaves the module as it was.
  std::vector<std::pair<Tensor, Tensor>> writes;  // destination, source
  for (const auto& [k, v] : own) {
    Tensor src = state.find(k);
    if (!src.defined()) continue;
    if (v.dtype() == kInt64 && is_floating(src.dtype())) {
      try {
        src = src.detach().to(kInt64);
      } catch (const Error& e) {
        fail("load_state_dict: error loading '{}' of {} into an int64 tensor: {}", k, type_name_, e.what());
      }
    }
    writes.emplace_back(v, src.dim() == v.dim() ? src : src.reshape(v.shape()));
  }
  for (const auto& [dst, src] : writes) dst.copy_(src);
  return {std::move(missing), std::move(unexpected)};
}

std::shared_ptr<Module> Module::clone() const {
  fail("{}: clone() needs the module to derive from nn::Cloneable<{}>", type_name_, type_name_);
}

void Module::clear_registrations() {
  parameters_.clear();
  buffers_.clear();
  children_.clear();
}

void Module::clone_missing_children_from(const Module& other) {
  for (const auto& [k, child] : other.children_) {
    bool present = false;
    for (const auto& [k2, c2] : children_) present = present || k2 == k;
    if (!present) add_child(k, child->clone());
  }
}

void Module::copy_state_from(const Module& other) {
  NoGradGuard guard;
  const auto theirs = other.named_parameters();
  for (auto& [k, v] : named_parameters()) {
    for (const auto& [k2, src] : theirs) {
      if (k2 != k) continue;
      if (v.dtype() != src.dtype() || !same_values(v.shape(), src.shape())) v.set_data(src.detach().clone());
      else v.copy_(src);
      v.requires_grad_(src.requires_grad());
    }
  }
  const auto their_buffers = other.named_buffers();
  for (auto& [k, v] : named_buffers()) {
    for (const auto& [k2, src] : their_buffers)
      if (k2 == k) v.set_data(src.detach().clone());
  }
}

// ---- summary --------------------------------------------------------------------------------------

std::string summary(Module& module, IntArrayRef input_shape, DType dtype) {
  const auto named = module.named_modules();
  struct Row {
    std::string name, type, shape;
    std::int64_t params;
  };
  std::vector<Row> rows;
  std::function<void(Module*, const Tensor&)> hook = [&](Module* m, const Tensor& out) {
    std::string name = "?";
    for (const auto& [k, p] : named)
      if (p == m) name = k.empty() ? "(model)" : k;
    std::int64_t n = 0;
    for (const Tensor& p : m->parameters(false)) n += p.numel();
    rows.push_back({name, m->type_name(), fmt::format("{}", out.shape()), n});
  };
  {
    NoGradGuard guard;
    tl_summary_hook = &hook;
    struct Reset {
      ~Reset() { tl_summary_hook = nullptr; }
    } reset;
    module(zeros(input_shape, dtype));
  }
  std::int64_t total = 0, trainable = 0;
  for (const Tensor& p : module.parameters()) {
    total += p.numel();
    if (p.requires_grad()) trainable += p.numel();
  }
  std::size_t w0 = 5, w1 = 4, w2 = 12;
  for (const Row& r : rows) {
    w0 = std::max(w0, r.name.size());
    w1 = std::max(w1, r.type.size());
    w2 = std::max(w2, r.shape.size());
  }
  std::string out =
      fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>10}\n", "Layer", w0, "Type", w1, "Output shape", w2, "Params");
  out += std::string(w0 + w1 + w2 + 16, '-') + "\n";
  for (const Row& r : rows)
    out += fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>10}\n", r.name, w0, r.type, w1, r.shape, w2, r.params);
  out += std::string(w0 + w1 + w2 + 16, '-') + "\n";
  out += fmt::format("Total parameters: {}\nTrainable parameters: {}\n", total, trainable);
  return out;
}

void Module::check_input_dtype(const std::string& who, const Tensor& input, const Tensor& param) {
  if (!param.defined()) return;
  const auto constant = [](DType d) {
    return d == kFloat64 ? "kFloat64" : d == kFloat32 ? "kFloat32" : "a float dtype";
  };
  TG_CHECK(is_floating(input.dtype()), "{}: expected float input, got {}; call .to({})", who, dtype_name(input.dtype()),
           constant(param.dtype()));
  TG_CHECK(input.dtype() == param.dtype(),
           "{}: the input is {} but the parameters are {}; call input.to({}) or convert the module with .to({})", who,
           dtype_name(input.dtype()), dtype_name(param.dtype()), constant(param.dtype()), constant(input.dtype()));
}

}  // namespace tg::nn

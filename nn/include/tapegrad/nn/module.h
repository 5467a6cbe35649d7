#pragma once
/// nn::Module: parameters, buffers and submodules registered by name. Dotted names
/// ("encoder.layers.0.linear1.weight") are the keys of state_dict(), identical to PyTorch's for
/// the same architecture, so weights move between the two by name.
///
/// A module creates and registers everything it owns in reset(), which its constructor calls;
/// clone() (written once, in Cloneable) relies on that to build an independent copy.
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tapegrad/core/tensor.h"

namespace tg::nn {

/// An ordered list of (dotted name, tensor): what state_dict() returns and load_state_dict() takes.
/// Names are indexed by a hash map, so insert and find take constant time (a checkpoint of 200,000
/// tensors builds in linear time).
class StateDict {
 public:
  /// Appends (name, value), or replaces the value of an existing name in its place.
  void insert(std::string name, Tensor value);
  /// The tensor under name, or an undefined tensor.
  Tensor find(const std::string& name) const;
  bool contains(const std::string& name) const { return find(name).defined(); }
  std::size_t size() const { return entries_.size(); }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }
  std::vector<std::string> keys() const;

 private:
  std::vector<std::pair<std::string, Tensor>> entries_;
  std::unordered_map<std::string, std::size_t> index_;  // name -> position in entries_
};

/// What load_state_dict(state, strict = false) could not match: PyTorch's
/// `missing_keys, unexpected_keys = model.load_state_dict(sd, strict=False)`.
struct IncompatibleKeys {
  std::vector<std::string> missing_keys;     // the module's keys that state lacks
  std::vector<std::string> unexpected_keys;  // state's keys that the module lacks
};

class Module {
 public:
  /// type_name is the class's name ("Linear"), used in errors and summaries.
  explicit Module(std::string type_name);
  virtual ~Module() = default;
  Module(const Module&) = default;
  Module& operator=(const Module&) = default;

  const std::string& type_name() const { return type_name_; }

  /// The forward of a module that maps one tensor to one tensor. Modules with other signatures
  /// (LSTM) define their own forward and leave this one raising an error.
  virtual Tensor forward(const Tensor& input);
  /// Calls forward (and records the output shape when summary() is running).
  Tensor operator()(const Tensor& input);

  // ---- registration ----------------------------------------------------------------------
  /// Registers a parameter (a leaf; requires_grad set as asked) and returns the handle to keep.
  Tensor register_parameter(const std::string& name, Tensor value, bool requires_grad = true);
  /// Registers a buffer (state that is saved but not trained, like running means).
  Tensor register_buffer(const std::string& name, Tensor value);
  /// Registers a submodule and returns it.
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

  // ---- traversal ----------------------------------------------------------------------------
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  std::vector<std::shared_ptr<Module>> children() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  /// This module and every descendant, depth first (non-owning pointers).
  std::vector<Module*> modules();
  /// Dotted names of this module ("") and every descendant, depth first.
  std::vector<std::pair<std::string, Module*>> named_modules();
  /// Calls fn on every descendant, then on this module.
  void apply(const std::function<void(Module&)>& fn);

  // ---- state --------------------------------------------------------------------------------
  /// Training mode (dropout active, batch norm updating statistics), recursively.
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  /// Zeroes (or drops, by default) the gradients of every parameter.
  void zero_grad(bool set_to_none = true);
  /// Converts every floating parameter and buffer to dtype, in place (handles stay valid).
  void to(DType dtype);
  /// Parameters then buffers of this module, then each child's, under dotted names.
  StateDict state_dict() const;
  /// Copies values by name. strict: every key must match, with the same shape; the error lists
  /// missing keys, unexpected keys and shape mismatches by name. Not strict: the keys present in
  /// both are loaded and the others are returned (shape mismatches stay errors). As in PyTorch,
  /// a 0-d entry (num_batches_tracked) accepts a 1-element tensor of shape [1].
  IncompatibleKeys load_state_dict(const StateDict& state, bool strict = true);
  /// An independent deep copy (see Cloneable).
  virtual std::shared_ptr<Module> clone() const;

  /// Creates and registers this module's parameters, buffers and submodules (a module's
  /// constructor calls it; clone() calls it on the copy).
  virtual void reset() {}

  /// Checks that input is floating and of the dtype of the module's parameters (param; skipped
  /// when undefined). The error names the module as `who` ("Linear(784 -> 10)") and the fix:
  /// "expected float input, got int64; call .to(kFloat32)".
  static void check_input_dtype(const std::string& who, const Tensor& input, const Tensor& param);

 protected:
  /// Tells a running summary() that this module produced out (for modules whose operator()
  /// is their own, such as LSTM's, which returns more than one tensor).
  void note_output(const Tensor& out);
  /// The one deep copy: Derived's copy constructor (options and plain members), registrations
  /// rebuilt by reset(), children that reset() does not create (those of containers) cloned,
  /// then parameter and buffer values copied by name.
  template <typename Derived>
  static std::shared_ptr<Module> clone_as(const Derived& self) {
    auto copy = std::make_shared<Derived>(self);
    copy->clear_registrations();
    copy->reset();
    copy->clone_missing_children_from(self);
    copy->copy_state_from(self);
    copy->train(self.is_training());
    return copy;
  }
  /// Forgets every registration (used by clone before reset()).
  void clear_registrations();
  /// Copies parameter and buffer values (and requires_grad flags) from other, by name.
  void copy_state_from(const Module& other);
  /// Registers under name a clone of each of other's children that reset() did not recreate.
  void clone_missing_children_from(const Module& other);

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  /// Errors when name is already a parameter, buffer or submodule of this module.
  void check_unused(const std::string& name) const;
  void collect(const std::string& prefix, bool recurse, bool params,
               std::vector<std::pair<std::string, Tensor>>& out) const;

  std::string type_name_;
  std::vector<std::pair<std::string, Tensor>> parameters_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

/// Base of every concrete module: gives it clone() (see Module::clone_as).
template <typename Derived>
class Cloneable : public Module {
 public:
  using Module::Module;
  std::shared_ptr<Module> clone() const override { return clone_as(static_cast<const Derived&>(*this)); }
};

/// Base of a module built from an options struct (Linear from LinearOptions, ...): Cloneable's
/// clone(), and the options, kept as given (the module's constructor checks them; reset() builds
/// from them) and read back through options().
template <typename Derived, typename Options>
class WithOptions : public Cloneable<Derived> {
 public:
  const Options& options() const { return options_; }

 protected:
  WithOptions(std::string type_name, Options options)
      : Cloneable<Derived>(std::move(type_name)), options_(std::move(options)) {}
  Options options_;
};

/// A printable table of the layers of module for an input of input_shape: each submodule's
/// dotted name, type, output shape and parameter count, then the totals. Runs one forward
/// pass on zeros without recording.
std::string summary(Module& module, IntArrayRef input_shape, DType dtype = kFloat32);

}  // namespace tg::nn

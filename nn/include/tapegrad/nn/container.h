#pragma once
/// Containers: Sequential (runs its modules in order), ModuleList and ModuleDict (hold modules
/// under "0", "1", ... or under keys, so their parameters get PyTorch's dotted names).
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/nn/module.h"

namespace tg::nn {

namespace detail {
/// child (the i-th module of a container) as M, or a tg::Error naming the container, i and the
/// child's type.
template <typename M>
std::shared_ptr<M> child_as(const std::shared_ptr<Module>& child, std::size_t i, const char* container) {
  auto m = std::dynamic_pointer_cast<M>(child);
  TG_CHECK(m != nullptr, "{}: module {} is a {}, not the type asked for", container, i, child->type_name());
  return m;
}
}  // namespace detail

namespace detail {
/// What Sequential and ModuleList share: modules held in order under "0", "1", ..., and read by
/// index.
template <typename Derived>
class ModuleSequence : public Cloneable<Derived> {
 public:
  /// Appends a module under the next index ("0", "1", ...).
  void push_back(std::shared_ptr<Module> module) { this->register_module(std::to_string(size()), std::move(module)); }
  std::size_t size() const { return this->named_children().size(); }
  /// The i-th module (an error if there is none).
  std::shared_ptr<Module> operator[](std::size_t i) const {
    TG_CHECK(i < size(), "{}: index {} is out of range for {} modules", this->type_name(), i, size());
    return this->named_children()[i].second;
  }
  /// The i-th module as M (an error if it is not one).
  template <typename M>
  std::shared_ptr<M> at(std::size_t i) const {
    return child_as<M>((*this)[i], i, this->type_name().c_str());
  }

 protected:
  explicit ModuleSequence(std::string type_name) : Cloneable<Derived>(std::move(type_name)) {}
};
}  // namespace detail

class Sequential : public detail::ModuleSequence<Sequential> {
 public:
  Sequential() : ModuleSequence("Sequential") {}
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules);
  explicit Sequential(const std::vector<std::shared_ptr<Module>>& modules);
  /// Modules under the given names, in order (PyTorch's Sequential(OrderedDict(...))).
  Sequential(std::initializer_list<std::pair<std::string, std::shared_ptr<Module>>> named_modules);
  explicit Sequential(const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_modules);
  /// Feeds input through every module in order.
  Tensor forward(const Tensor& input) override;
};

class ModuleList : public detail::ModuleSequence<ModuleList> {
 public:
  ModuleList() : ModuleSequence("ModuleList") {}
  ModuleList(std::initializer_list<std::shared_ptr<Module>> modules);
};

class ModuleDict : public Cloneable<ModuleDict> {
 public:
  ModuleDict() : Cloneable("ModuleDict") {}
  void insert(const std::string& key, std::shared_ptr<Module> module);
  bool contains(const std::string& key) const;
  std::shared_ptr<Module> operator[](const std::string& key) const;
  std::vector<std::string> keys() const;
  std::size_t size() const { return named_children().size(); }
};

}  // namespace tg::nn

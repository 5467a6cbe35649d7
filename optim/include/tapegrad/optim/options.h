#pragma once
/// The machinery behind the optimizers' options structs. Each struct lists its fields once
/// (PyTorch's name, the member that holds it, how it is checked) in a static fields(); this base
/// derives validate(), to_map(), from_map(), clone() and the learning-rate accessors from that
/// one list, so that adding an option is a member, a setter, a getter and one line in fields().
#include <array>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/core/options.h"
#include "tapegrad/optim/optimizer.h"

namespace tg::optim {

/// How an option is checked when an optimizer adopts it (flags are always 0 or 1).
enum class Check { None, Finite, NonNegative, UnitOpen, UnitClosed };

/// One option of O: its key in to_map()/from_map() (PyTorch's name), the word error messages use
/// for it, and the member that holds it: a number (double) or a flag (bool).
template <typename O>
struct Field {
  const char* key;
  const char* label;
  double O::*number;
  bool O::*flag;
  Check check;
};

/// A numeric option; label defaults to the key.
template <typename O>
constexpr Field<O> number_field(const char* key, double O::*member, Check check, const char* label = nullptr) {
  return {key, label ? label : key, member, nullptr, check};
}
/// A flag (0 or 1 in the map).
template <typename O>
constexpr Field<O> flag_field(const char* key, bool O::*member) {
  return {key, key, nullptr, member, Check::None};
}

namespace detail {
/// Throws tg::Error "<who>: invalid <label> <value> (expected ...)" when value fails check.
void check_option(const char* who, const char* label, double value, Check check);
/// The number under key in values, or a tg::Error naming type and key.
double read_option(const std::map<std::string, double>& values, const char* type, const char* key, bool is_flag);
/// A tg::Error for the first key of values that is not among the keys.
void reject_unknown_options(const std::map<std::string, double>& values, const char* type, const char* const* keys,
                            std::size_t count);
}  // namespace detail

/// CRTP base of SGDOptions, AdamOptions, ...: Derived has `static constexpr const char* kTypeName`
/// ("AdamOptions"), `kWho` (the optimizer, for messages: "Adam"), a static `fields()` array, and
/// may hide `check_more()` for checks that involve several options. The three options every
/// optimizer has live here, with their fields for Derived::fields(): lr, weight_decay, maximize.
template <typename Derived>
class OptionsBase : public OptimizerOptions, public ChainedOptions<Derived> {
 public:
  Derived& lr(double v) { return this->assign(lr_, v); }
  Derived& weight_decay(double v) { return this->assign(weight_decay_, v); }
  Derived& maximize(bool v) { return this->assign(maximize_, v); }
  double lr() const { return lr_; }
  double weight_decay() const { return weight_decay_; }
  bool maximize() const { return maximize_; }

  const char* type_name() const override { return Derived::kTypeName; }
  std::unique_ptr<OptimizerOptions> clone() const override { return std::make_unique<Derived>(self()); }
  void validate() const override {
    for (const auto& f : Derived::fields()) {
      if (f.number) detail::check_option(Derived::kWho, f.label, self().*f.number, f.check);
    }
    self().check_more();
  }
  std::map<std::string, double> to_map() const override {
    std::map<std::string, double> out;
    for (const auto& f : Derived::fields()) out[f.key] = f.number ? self().*f.number : (self().*f.flag ? 1.0 : 0.0);
    return out;
  }
  void from_map(const std::map<std::string, double>& values) override {
    Derived o = self();
    constexpr std::size_t n = std::tuple_size_v<std::decay_t<decltype(Derived::fields())>>;
    std::array<const char*, n> keys{};
    std::size_t i = 0;
    for (const auto& f : Derived::fields()) {
      keys[i++] = f.key;
      const double v = detail::read_option(values, Derived::kTypeName, f.key, f.flag != nullptr);
      if (f.number) o.*f.number = v;
      else o.*f.flag = v != 0;
    }
    detail::reject_unknown_options(values, Derived::kTypeName, keys.data(), keys.size());
    o.validate();
    self_mut() = o;
  }
  double get_lr() const override { return lr_; }
  void set_lr(double v) override { lr_ = v; }

 protected:
  explicit OptionsBase(double lr, double weight_decay = 0) : lr_(lr), weight_decay_(weight_decay) {}
  /// Checks that involve several options (SGD's nesterov rule); none by default.
  void check_more() const {}
  /// The fields of the common options, under PyTorch's keys.
  static constexpr Field<Derived> lr_field() {
    return number_field<Derived>("lr", &OptionsBase::lr_, Check::NonNegative, "learning rate");
  }
  static constexpr Field<Derived> weight_decay_field() {
    return number_field<Derived>("weight_decay", &OptionsBase::weight_decay_, Check::NonNegative);
  }
  static constexpr Field<Derived> maximize_field() { return flag_field<Derived>("maximize", &OptionsBase::maximize_); }

  double lr_;
  double weight_decay_;
  bool maximize_ = false;

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
  Derived& self_mut() { return static_cast<Derived&>(*this); }
};

/// Base of the optimizers over one options type (SGD over SGDOptions, ...), named Options::kWho,
/// with the two constructors they all have: every parameter in one group with `options`, or
/// groups, where a group given without options takes `defaults`.
template <typename Options>
class OptimizerOf : public Optimizer {
 public:
  explicit OptimizerOf(std::vector<Tensor> params, const Options& options = Options())
      : OptimizerOf(std::vector<ParamGroup>{ParamGroup(std::move(params))}, options) {}
  OptimizerOf(std::vector<ParamGroup> groups, const Options& defaults)
      : Optimizer(Options::kWho, std::move(groups), defaults) {}
};

}  // namespace tg::optim

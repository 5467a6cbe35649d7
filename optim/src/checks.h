#pragma once
// Helpers shared by the options structs: range checks whose messages name the optimizer, the
// option and the bad value, and the reader behind from_map().
#include <cmath>
#include <map>
#include <set>
#include <string>

#include "tapegrad/core/error.h"

namespace tg::optim::detail {

/// value must be finite and >= 0 (NaN fails).
inline void check_nonnegative(const char* who, const char* what, double value) {
  TG_CHECK(std::isfinite(value) && value >= 0, "{}: invalid {} {} (expected a finite value >= 0)", who, what, value);
}

/// value must lie in [0, 1).
inline void check_unit_open(const char* who, const char* what, double value) {
  TG_CHECK(value >= 0 && value < 1, "{}: invalid {} {} (expected a value in [0, 1))", who, what, value);
}

/// value must lie in [0, 1].
inline void check_unit_closed(const char* who, const char* what, double value) {
  TG_CHECK(value >= 0 && value <= 1, "{}: invalid {} {} (expected a value in [0, 1])", who, what, value);
}

/// value must be finite.
inline void check_finite(const char* who, const char* what, double value) {
  TG_CHECK(std::isfinite(value), "{}: invalid {} {} (expected a finite value)", who, what, value);
}

/// Reads the options of a from_map() call by name: a missing name is an error, and so is a
/// name that no read asked for (checked by finish()).
class OptionReader {
 public:
  OptionReader(const std::map<std::string, double>& values, const char* type) : values_(values), type_(type) {}
  double num(const char* name) {
    auto it = values_.find(name);
    TG_CHECK(it != values_.end(), "{}::from_map: missing option '{}'", type_, name);
    read_.insert(name);
    return it->second;
  }
  bool flag(const char* name) {
    const double v = num(name);
    TG_CHECK(v == 0 || v == 1, "{}::from_map: option '{}' is a flag (0 or 1), got {}", type_, name, v);
    return v != 0;
  }
  void finish() const {
    for (const auto& [name, value] : values_) {
      TG_CHECK(read_.count(name) != 0, "{}::from_map: unknown option '{}' (value {})", type_, name, value);
    }
  }

 private:
  const std::map<std::string, double>& values_;
  const char* type_;
  std::set<std::string> read_;
};

}  // namespace tg::optim::detail

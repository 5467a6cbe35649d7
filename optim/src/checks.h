#pragma once
// Range checks whose messages name the optimizer (or scheduler), the option and the bad value.
#include <cmath>

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

}  // namespace tg::optim::detail

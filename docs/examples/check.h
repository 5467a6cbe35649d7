#pragma once
// A tiny checker for the programs the docs show: each failed check prints where it failed, and
// main() returns exit_code(), which is non-zero after any failure, so ctest reports it.
#include <cmath>
#include <cstdio>
#include <functional>
#include <source_location>
#include <string>
#include <vector>

#include "tapegrad/tapegrad.h"

namespace doc {

inline int failures = 0;

inline void check(bool ok, std::source_location where = std::source_location::current()) {
  if (ok) return;
  ++failures;
  std::fprintf(stderr, "check failed at %s:%u in %s\n", where.file_name(), static_cast<unsigned>(where.line()),
               where.function_name());
}

/// |got - want| within a relative tolerance.
inline bool near(double got, double want, double rtol = 1e-6) {
  return std::abs(got - want) <= rtol * std::max(1.0, std::abs(want));
}

/// Every element of t (row-major) near the expected values.
inline bool near(const tg::Tensor& t, const std::vector<double>& want, double rtol = 1e-6) {
  const std::vector<double> got = t.to_vector<double>();
  if (got.size() != want.size()) return false;
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!near(got[i], want[i], rtol)) return false;
  return true;
}

/// The message of the tg::Error that f throws, or "(no error)".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const tg::Error& e) {
    return e.what();
  }
  return "(no error)";
}

inline int exit_code() {
  if (failures > 0) std::fprintf(stderr, "%d check(s) failed\n", failures);
  return failures == 0 ? 0 : 1;
}

}  // namespace doc

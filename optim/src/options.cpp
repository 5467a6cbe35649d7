// The checks and the map reading behind OptionsBase (options.h).
#include "tapegrad/optim/options.h"

#include <algorithm>
#include <cstring>

#include "checks.h"

namespace tg::optim::detail {

void check_option(const char* who, const char* label, double value, Check check) {
  switch (check) {
    case Check::None: return;
    case Check::Finite: return check_finite(who, label, value);
    case Check::NonNegative: return check_nonnegative(who, label, value);
    case Check::UnitOpen: return check_unit_open(who, label, value);
    case Check::UnitClosed: return check_unit_closed(who, label, value);
  }
}

double read_option(const std::map<std::string, double>& values, const char* type, const char* key, bool is_flag) {
  auto it = values.find(key);
  TG_CHECK(it != values.end(), "{}::from_map: missing option '{}'", type, key);
  TG_CHECK(!is_flag || it->second == 0 || it->second == 1, "{}::from_map: option '{}' is a flag (0 or 1), got {}", type,
           key, it->second);
  return it->second;
}

void reject_unknown_options(const std::map<std::string, double>& values, const char* type, const char* const* keys,
                            std::size_t count) {
  for (const auto& [name, value] : values) {
    const bool known =
        std::any_of(keys, keys + count, [&name = name](const char* k) { return std::strcmp(k, name.c_str()) == 0; });
    TG_CHECK(known, "{}::from_map: unknown option '{}' (value {})", type, name, value);
  }
}

}  // namespace tg::optim::detail

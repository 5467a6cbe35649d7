#pragma once
/// tg::Error and the checks that raise it. Every shape, dtype, index, option or state error
/// in tapegrad is a tg::Error whose message names the op and the offending values.
#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace tg {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Throws tg::Error with a message formatted by fmt.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace tg

/// TG_CHECK(cond, "op: message {}", value) throws tg::Error when cond is false.
#define TG_CHECK(cond, ...)         \
  do {                              \
    if (!(cond)) [[unlikely]] {     \
      ::tg::fail(__VA_ARGS__);      \
    }                               \
  } while (0)

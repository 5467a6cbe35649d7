#pragma once
/// Printing tensors in PyTorch's manner: values (summarised past 1000 elements), then shape,
/// dtype, and grad_fn or requires_grad. Works with fmt::format("{}", t) and std::ostream.
#include <fmt/format.h>

#include <iosfwd>
#include <string>

#include "tapegrad/core/tensor.h"

namespace tg {

std::string to_string(const Tensor& t);
std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace tg

template <>
struct fmt::formatter<tg::Tensor> : fmt::formatter<std::string_view> {
  auto format(const tg::Tensor& t, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(tg::to_string(t), ctx);
  }
};

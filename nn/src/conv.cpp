#include "tapegrad/nn/conv.h"

#include <cmath>

#include "tapegrad/core/factory.h"
#include "tapegrad/nn/init.h"

namespace tg::nn {
namespace {

void check_conv_options(const ConvOptions& o, const char* name) {
  TG_CHECK(o.in_channels() > 0 && o.out_channels() > 0, "{}: channel counts must be positive, got in={}, out={}", name,
           o.in_channels(), o.out_channels());
  TG_CHECK(o.groups() > 0, "{}: groups must be positive, got {}", name, o.groups());
  TG_CHECK(o.in_channels() % o.groups() == 0, "{}: groups ({}) must divide in_channels ({})", name, o.groups(),
           o.in_channels());
  TG_CHECK(o.out_channels() % o.groups() == 0, "{}: groups ({}) must divide out_channels ({})", name, o.groups(),
           o.out_channels());
  TG_CHECK(o.kernel_size().h > 0 && o.kernel_size().w > 0, "{}: kernel size must be positive, got ({}, {})", name,
           o.kernel_size().h, o.kernel_size().w);
}

/// PyTorch's default: kaiming_uniform_(a = sqrt(5)) for the weight, U(+-1/sqrt(fan_in)) for the bias.
void init_conv(Tensor& weight, Tensor& bias, std::int64_t fan_in) {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    init::uniform_(bias, -bound, bound);
  }
}

}  // namespace

Conv2d::Conv2d(ConvOptions options) : ConvNd("Conv2d", options) {
  check_conv_options(options_, "Conv2d");
  reset();
}

void Conv2d::reset() {
  const auto& o = options_;
  weight = register_parameter(
      "weight", empty({o.out_channels(), o.in_channels() / o.groups(), o.kernel_size().h, o.kernel_size().w}));
  bias = o.bias() ? register_parameter("bias", empty({o.out_channels()})) : Tensor();
  init_conv(weight, bias, o.in_channels() / o.groups() * o.kernel_size().h * o.kernel_size().w);
}

Tensor Conv2d::forward(const Tensor& input) {
  TG_CHECK((input.dim() == 3 || input.dim() == 4) && input.size(-3) == options_.in_channels(),
           "Conv2d: expected input [N, {}, H, W], got shape {}", options_.in_channels(), input.shape());
  check_input_dtype(fmt::format("Conv2d({} -> {})", options_.in_channels(), options_.out_channels()), input, weight);
  return conv2d(input, weight, bias, options_.stride(), options_.padding(), options_.dilation(), options_.groups());
}

Conv1d::Conv1d(ConvOptions options) : ConvNd("Conv1d", options) {
  check_conv_options(options_, "Conv1d");
  reset();
}

void Conv1d::reset() {
  const auto& o = options_;
  weight = register_parameter("weight", empty({o.out_channels(), o.in_channels() / o.groups(), o.kernel_size().w}));
  bias = o.bias() ? register_parameter("bias", empty({o.out_channels()})) : Tensor();
  init_conv(weight, bias, o.in_channels() / o.groups() * o.kernel_size().w);
}

Tensor Conv1d::forward(const Tensor& input) {
  TG_CHECK((input.dim() == 2 || input.dim() == 3) && input.size(-2) == options_.in_channels(),
           "Conv1d: expected input [N, {}, L], got shape {}", options_.in_channels(), input.shape());
  check_input_dtype(fmt::format("Conv1d({} -> {})", options_.in_channels(), options_.out_channels()), input, weight);
  return conv1d(input, weight, bias, options_.stride().w, options_.padding().w, options_.dilation().w,
                options_.groups());
}

}  // namespace tg::nn

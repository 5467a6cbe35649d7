#pragma once
/// Conv1d, Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d and AdaptiveMaxPool2d: modules over
/// core/ops/conv.h and core/ops/pool.h.
#include <optional>

#include "tapegrad/core/ops/conv.h"
#include "tapegrad/core/ops/pool.h"
#include "tapegrad/core/options.h"
#include "tapegrad/nn/module.h"

namespace tg::nn {

struct ConvOptions : public ChainedOptions<ConvOptions> {
  ConvOptions(std::int64_t in_channels, std::int64_t out_channels, Int2 kernel_size)
      : in_(in_channels), out_(out_channels), kernel_(kernel_size) {}
  ConvOptions& stride(Int2 s) { return assign(stride_, s); }
  ConvOptions& padding(Int2 p) { return assign(padding_, p); }
  ConvOptions& dilation(Int2 d) { return assign(dilation_, d); }
  ConvOptions& groups(std::int64_t g) { return assign(groups_, g); }
  ConvOptions& bias(bool on) { return assign(bias_, on); }
  std::int64_t in_channels() const { return in_; }
  std::int64_t out_channels() const { return out_; }
  Int2 kernel_size() const { return kernel_; }
  Int2 stride() const { return stride_; }
  Int2 padding() const { return padding_; }
  Int2 dilation() const { return dilation_; }
  std::int64_t groups() const { return groups_; }
  bool bias() const { return bias_; }

 private:
  std::int64_t in_, out_;
  Int2 kernel_, stride_ = 1, padding_ = 0, dilation_ = 1;
  std::int64_t groups_ = 1;
  bool bias_ = true;
};

/// What Conv1d and Conv2d share: their options and parameters (bias undefined without one).
template <typename Derived>
class ConvNd : public WithOptions<Derived, ConvOptions> {
 public:
  Tensor weight, bias;

 protected:
  ConvNd(const char* type_name, ConvOptions options) : WithOptions<Derived, ConvOptions>(type_name, options) {}
};

/// 2-d convolution: [N, C, H, W] -> [N, O, Ho, Wo]; weight [O, C / groups, kH, kW], bias [O],
/// both uniform in +-1/sqrt(fan_in) as in PyTorch.
class Conv2d : public ConvNd<Conv2d> {
 public:
  explicit Conv2d(ConvOptions options);
  void reset() override;
  Tensor forward(const Tensor& input) override;
};

/// 1-d convolution: [N, C, L] -> [N, O, Lo]; the height parts of the options are ignored
/// (give kernel, stride, padding and dilation as single ints).
class Conv1d : public ConvNd<Conv1d> {
 public:
  explicit Conv1d(ConvOptions options);
  void reset() override;
  Tensor forward(const Tensor& input) override;
};

namespace detail {
/// What MaxPool2d and AvgPool2d share: the window (kernel_size; stride, the kernel's when absent;
/// padding) and ceil_mode.
template <typename Derived>
class Pool2dWindow : public Cloneable<Derived> {
 protected:
  Pool2dWindow(const char* type_name, Int2 kernel_size, std::optional<Int2> stride, Int2 padding, bool ceil_mode)
      : Cloneable<Derived>(type_name), kernel_(kernel_size), stride_(stride), padding_(padding), ceil_(ceil_mode) {}
  Int2 kernel_;
  std::optional<Int2> stride_;
  Int2 padding_;
  bool ceil_;
};
}  // namespace detail

class MaxPool2d : public detail::Pool2dWindow<MaxPool2d> {
 public:
  explicit MaxPool2d(Int2 kernel_size, std::optional<Int2> stride = std::nullopt, Int2 padding = 0, Int2 dilation = 1,
                     bool ceil_mode = false)
      : Pool2dWindow("MaxPool2d", kernel_size, stride, padding, ceil_mode), dilation_(dilation) {}
  Tensor forward(const Tensor& input) override {
    return max_pool2d(input, kernel_, stride_, padding_, dilation_, ceil_);
  }

 private:
  Int2 dilation_;
};

class AvgPool2d : public detail::Pool2dWindow<AvgPool2d> {
 public:
  explicit AvgPool2d(Int2 kernel_size, std::optional<Int2> stride = std::nullopt, Int2 padding = 0,
                     bool ceil_mode = false, bool count_include_pad = true)
      : Pool2dWindow("AvgPool2d", kernel_size, stride, padding, ceil_mode), count_include_pad_(count_include_pad) {}
  Tensor forward(const Tensor& input) override {
    return avg_pool2d(input, kernel_, stride_, padding_, ceil_, count_include_pad_);
  }

 private:
  bool count_include_pad_;
};

namespace detail {
/// What AdaptiveAvgPool2d and AdaptiveMaxPool2d share: the output size.
template <typename Derived>
class AdaptivePool2d : public Cloneable<Derived> {
 protected:
  AdaptivePool2d(const char* type_name, Int2 output_size) : Cloneable<Derived>(type_name), size_(output_size) {}
  Int2 size_;
};
}  // namespace detail

class AdaptiveAvgPool2d : public detail::AdaptivePool2d<AdaptiveAvgPool2d> {
 public:
  explicit AdaptiveAvgPool2d(Int2 output_size) : AdaptivePool2d("AdaptiveAvgPool2d", output_size) {}
  Tensor forward(const Tensor& input) override { return adaptive_avg_pool2d(input, size_); }
};

class AdaptiveMaxPool2d : public detail::AdaptivePool2d<AdaptiveMaxPool2d> {
 public:
  explicit AdaptiveMaxPool2d(Int2 output_size) : AdaptivePool2d("AdaptiveMaxPool2d", output_size) {}
  Tensor forward(const Tensor& input) override { return adaptive_max_pool2d(input, size_); }
};

}  // namespace tg::nn

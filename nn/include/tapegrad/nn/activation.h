#pragma once
/// Activation modules: thin shells over the functions of core/activation.h and core/ops.h.
#include <optional>
#include <string>
#include <utility>

#include "tapegrad/core/ops.h"
#include "tapegrad/core/ops/activation.h"
#include "tapegrad/core/ops/dropout.h"
#include "tapegrad/core/ops/elementwise.h"
#include "tapegrad/core/ops/reduce.h"
#include "tapegrad/core/ops/softmax.h"
#include "tapegrad/nn/module.h"

namespace tg::nn {

/// max(x, 0); with inplace, overwrites its input (see relu_).
class ReLU : public Cloneable<ReLU> {
 public:
  explicit ReLU(bool inplace = false) : Cloneable("ReLU"), inplace_(inplace) {}
  Tensor forward(const Tensor& x) override { return inplace_ ? relu_(x) : relu(x); }

 private:
  bool inplace_;
};

class LeakyReLU : public Cloneable<LeakyReLU> {
 public:
  explicit LeakyReLU(double negative_slope = 0.01, bool inplace = false)
      : Cloneable("LeakyReLU"), slope_(negative_slope), inplace_(inplace) {}
  Tensor forward(const Tensor& x) override { return inplace_ ? leaky_relu_(x, slope_) : leaky_relu(x, slope_); }

 private:
  double slope_;
  bool inplace_;
};

class GELU : public Cloneable<GELU> {
 public:
  /// approximate: "none" (erf) or "tanh".
  explicit GELU(std::string approximate = "none");
  Tensor forward(const Tensor& x) override { return gelu(x, approximate_); }

 private:
  std::string approximate_;
};

class Tanh : public Cloneable<Tanh> {
 public:
  Tanh() : Cloneable("Tanh") {}
  Tensor forward(const Tensor& x) override { return tanh(x); }
};

class Sigmoid : public Cloneable<Sigmoid> {
 public:
  Sigmoid() : Cloneable("Sigmoid") {}
  Tensor forward(const Tensor& x) override { return sigmoid(x); }
};

class SiLU : public Cloneable<SiLU> {
 public:
  SiLU() : Cloneable("SiLU") {}
  Tensor forward(const Tensor& x) override { return silu(x); }
};

/// The dim a Softmax or LogSoftmax module built without one uses: PyTorch's implicit choice,
/// 0 for 0-, 1- and 3-d inputs and 1 otherwise (give the dim to say what you mean).
std::int64_t implicit_softmax_dim(std::int64_t ndim);

namespace detail {
/// What Softmax and LogSoftmax share: the dim they normalise along, given or implicit.
template <typename Derived>
class SoftmaxDim : public Cloneable<Derived> {
 protected:
  SoftmaxDim(std::string type_name, std::optional<std::int64_t> dim)
      : Cloneable<Derived>(std::move(type_name)), dim_(dim) {}
  /// The dim for x: the one given, else implicit_softmax_dim(x.dim()).
  std::int64_t dim_for(const Tensor& x) const { return dim_.value_or(implicit_softmax_dim(x.dim())); }

 private:
  std::optional<std::int64_t> dim_;
};
}  // namespace detail

/// softmax(x, dim); without a dim, the implicit one (implicit_softmax_dim).
class Softmax : public detail::SoftmaxDim<Softmax> {
 public:
  explicit Softmax(std::optional<std::int64_t> dim = std::nullopt) : SoftmaxDim("Softmax", dim) {}
  Tensor forward(const Tensor& x) override { return softmax(x, dim_for(x)); }
};

/// log_softmax(x, dim); without a dim, the implicit one (implicit_softmax_dim).
class LogSoftmax : public detail::SoftmaxDim<LogSoftmax> {
 public:
  explicit LogSoftmax(std::optional<std::int64_t> dim = std::nullopt) : SoftmaxDim("LogSoftmax", dim) {}
  Tensor forward(const Tensor& x) override { return log_softmax(x, dim_for(x)); }
};

}  // namespace tg::nn

#pragma once
/// Linear, Bilinear, Identity and Flatten.
#include "tapegrad/core/options.h"
#include "tapegrad/nn/module.h"

namespace tg::nn {

struct LinearOptions : public ChainedOptions<LinearOptions> {
  LinearOptions(std::int64_t in_features, std::int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}
  LinearOptions& bias(bool on) { return assign(bias_, on); }
  std::int64_t in_features() const { return in_features_; }
  std::int64_t out_features() const { return out_features_; }
  bool bias() const { return bias_; }

 private:
  std::int64_t in_features_, out_features_;
  bool bias_ = true;
};

/// y = x W^T + b: [..., in] -> [..., out]. weight [out, in] and bias [out] start uniform in
/// +-1/sqrt(in), as in PyTorch.
class Linear : public WithOptions<Linear, LinearOptions> {
 public:
  explicit Linear(LinearOptions options);
  Linear(std::int64_t in_features, std::int64_t out_features) : Linear(LinearOptions(in_features, out_features)) {}
  void reset() override;
  Tensor forward(const Tensor& input) override;
  Tensor weight, bias;
};

struct BilinearOptions : public ChainedOptions<BilinearOptions> {
  BilinearOptions(std::int64_t in1, std::int64_t in2, std::int64_t out) : in1_(in1), in2_(in2), out_(out) {}
  BilinearOptions& bias(bool on) { return assign(bias_, on); }
  std::int64_t in1_features() const { return in1_; }
  std::int64_t in2_features() const { return in2_; }
  std::int64_t out_features() const { return out_; }
  bool bias() const { return bias_; }

 private:
  std::int64_t in1_, in2_, out_;
  bool bias_ = true;
};

/// y_k = x1^T W_k x2 + b_k: ([..., in1], [..., in2]) -> [..., out]; weight [out, in1, in2].
class Bilinear : public WithOptions<Bilinear, BilinearOptions> {
 public:
  explicit Bilinear(BilinearOptions options);
  void reset() override;
  Tensor forward(const Tensor& x1, const Tensor& x2);
  Tensor weight, bias;
};

/// Returns its input.
class Identity : public Cloneable<Identity> {
 public:
  Identity() : Cloneable("Identity") {}
  Tensor forward(const Tensor& input) override { return input; }
};

/// Merges dims start_dim..end_dim (by default all but the batch dim).
class Flatten : public Cloneable<Flatten> {
 public:
  explicit Flatten(std::int64_t start_dim = 1, std::int64_t end_dim = -1)
      : Cloneable("Flatten"), start_dim_(start_dim), end_dim_(end_dim) {}
  Tensor forward(const Tensor& input) override;

 private:
  std::int64_t start_dim_, end_dim_;
};

/// Splits dim into sizes (one of them may be -1): the inverse of Flatten.
class Unflatten : public Cloneable<Unflatten> {
 public:
  Unflatten(std::int64_t dim, std::vector<std::int64_t> sizes)
      : Cloneable("Unflatten"), dim_(dim), sizes_(std::move(sizes)) {}
  Tensor forward(const Tensor& input) override;

 private:
  std::int64_t dim_;
  std::vector<std::int64_t> sizes_;
};

}  // namespace tg::nn

#pragma once
/// LayerNorm, BatchNorm1d and BatchNorm2d.
#include <initializer_list>
#include <vector>

#include "tapegrad/core/options.h"
#include "tapegrad/nn/module.h"

namespace tg::nn {

struct LayerNormOptions : public ChainedOptions<LayerNormOptions> {
  LayerNormOptions(std::vector<std::int64_t> normalized_shape) : shape_(std::move(normalized_shape)) {}  // NOLINT
  LayerNormOptions& eps(double e) { return assign(eps_, e); }
  LayerNormOptions& elementwise_affine(bool on) { return assign(affine_, on); }
  const std::vector<std::int64_t>& normalized_shape() const { return shape_; }
  double eps() const { return eps_; }
  bool elementwise_affine() const { return affine_; }

 private:
  std::vector<std::int64_t> shape_;
  double eps_ = 1e-5;
  bool affine_ = true;
};

/// Normalises over the last dims (normalized_shape), then scales and shifts (weight 1, bias 0).
class LayerNorm : public WithOptions<LayerNorm, LayerNormOptions> {
 public:
  explicit LayerNorm(LayerNormOptions options);
  void reset() override;
  Tensor forward(const Tensor& input) override;
  Tensor weight, bias;
};

struct BatchNormOptions : public ChainedOptions<BatchNormOptions> {
  BatchNormOptions(std::int64_t num_features) : num_features_(num_features) {}  // NOLINT
  BatchNormOptions& eps(double e) { return assign(eps_, e); }
  BatchNormOptions& momentum(double m) { return assign(momentum_, m); }
  BatchNormOptions& affine(bool on) { return assign(affine_, on); }
  BatchNormOptions& track_running_stats(bool on) { return assign(track_, on); }
  std::int64_t num_features() const { return num_features_; }
  double eps() const { return eps_; }
  double momentum() const { return momentum_; }
  bool affine() const { return affine_; }
  bool track_running_stats() const { return track_; }

 private:
  std::int64_t num_features_;
  double eps_ = 1e-5, momentum_ = 0.1;
  bool affine_ = true, track_ = true;
};

/// Parameters, buffers and reset of both batch norms (running_mean, running_var and
/// num_batches_tracked, as in PyTorch). Registers in reset(); forward checks the input rank.
class BatchNormCore {
 protected:
  void reset_state(Module& m, const BatchNormOptions& o);
  Tensor run(const Module& m, const BatchNormOptions& o, const Tensor& input,
             std::initializer_list<std::int64_t> ranks);

 public:
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
};

/// Batch normalisation of [N, C] or [N, C, L], over every dim but C.
class BatchNorm1d : public WithOptions<BatchNorm1d, BatchNormOptions>, public BatchNormCore {
 public:
  explicit BatchNorm1d(BatchNormOptions options);
  void reset() override { reset_state(*this, options_); }
  Tensor forward(const Tensor& input) override { return run(*this, options_, input, {2, 3}); }
};

/// Batch normalisation of [N, C, H, W], over every dim but C.
class BatchNorm2d : public WithOptions<BatchNorm2d, BatchNormOptions>, public BatchNormCore {
 public:
  explicit BatchNorm2d(BatchNormOptions options);
  void reset() override { reset_state(*this, options_); }
  Tensor forward(const Tensor& input) override { return run(*this, options_, input, {4}); }
};

}  // namespace tg::nn

#include "tapegrad/nn/normalization.h"

#include <algorithm>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops/norm.h"
#include "tapegrad/nn/functional.h"

namespace tg::nn {

LayerNorm::LayerNorm(LayerNormOptions options) : WithOptions("LayerNorm", std::move(options)) {
  TG_CHECK(!options_.normalized_shape().empty(), "LayerNorm: normalized_shape must not be empty");
  for (auto s : options_.normalized_shape())
    TG_CHECK(s > 0, "LayerNorm: normalized_shape {} has a non-positive size", IntArrayRef(options_.normalized_shape()));
  TG_CHECK(options_.eps() >= 0, "LayerNorm: eps must be non-negative, got {}", options_.eps());
  reset();
}

void LayerNorm::reset() {
  weight = bias = Tensor();
  if (!options_.elementwise_affine()) return;
  weight = register_parameter("weight", ones(options_.normalized_shape()));
  bias = register_parameter("bias", zeros(options_.normalized_shape()));
}

Tensor LayerNorm::forward(const Tensor& input) {
  const auto& ns = options_.normalized_shape();
  const auto nd = static_cast<std::int64_t>(ns.size());
  bool ok = input.dim() >= nd;
  for (std::int64_t i = 0; ok && i < nd; ++i)
    ok = input.shape()[input.dim() - nd + i] == ns[static_cast<std::size_t>(i)];
  TG_CHECK(ok, "LayerNorm: expected an input whose last dims are {}, got last dims {} (input shape {})",
           IntArrayRef(ns),
           IntArrayRef(input.shape().data() + std::max<std::int64_t>(input.dim() - nd, 0),
                       static_cast<std::size_t>(std::min<std::int64_t>(nd, input.dim()))),
           input.shape());
  check_input_dtype("LayerNorm", input, weight);
  return layer_norm(input, options_.normalized_shape(), weight, bias, options_.eps());
}

namespace {
void check_batch_norm_options(const BatchNormOptions& o, const char* name) {
  TG_CHECK(o.num_features() > 0, "{}: num_features must be positive, got {}", name, o.num_features());
  TG_CHECK(o.eps() > 0, "{}: eps must be positive, got {}", name, o.eps());
  TG_CHECK(o.momentum() >= 0 && o.momentum() <= 1, "{}: momentum must be in [0, 1], got {}", name, o.momentum());
}
}  // namespace

BatchNorm1d::BatchNorm1d(BatchNormOptions options) : WithOptions("BatchNorm1d", options) {
  check_batch_norm_options(options_, "BatchNorm1d");
  reset();
}

BatchNorm2d::BatchNorm2d(BatchNormOptions options) : WithOptions("BatchNorm2d", options) {
  check_batch_norm_options(options_, "BatchNorm2d");
  reset();
}

void BatchNormCore::reset_state(Module& m, const BatchNormOptions& o) {
  const std::int64_t C = o.num_features();
  weight = bias = running_mean = running_var = num_batches_tracked = Tensor();
  if (o.affine()) {
    weight = m.register_parameter("weight", ones({C}));
    bias = m.register_parameter("bias", zeros({C}));
  }
  if (o.track_running_stats()) {
    running_mean = m.register_buffer("running_mean", zeros({C}));
    running_var = m.register_buffer("running_var", ones({C}));
    num_batches_tracked = m.register_buffer("num_batches_tracked", zeros({}, kInt64));
  }
}

Tensor BatchNormCore::run(const Module& m, const BatchNormOptions& o, const Tensor& input,
                          std::initializer_list<std::int64_t> ranks) {
  TG_CHECK(std::find(ranks.begin(), ranks.end(), input.dim()) != ranks.end(),
           "{}: expected an input of {} dims, got shape {}", m.type_name(),
           ranks.size() == 1 ? fmt::format("{}", *ranks.begin())
                             : fmt::format("{} or {}", *ranks.begin(), *(ranks.end() - 1)),
           input.shape());
  TG_CHECK(input.size(1) == o.num_features(), "{}: expected {} channels in dim 1, got {} (input shape {})",
           m.type_name(), o.num_features(), input.size(1), input.shape());
  Module::check_input_dtype(m.type_name(), input, weight.defined() ? weight : running_mean);
  const bool use_batch_stats = m.is_training() || !running_mean.defined();
  if (m.is_training() && num_batches_tracked.defined()) {
    NoGradGuard guard;
    num_batches_tracked.add_(1.0);
  }
  return functional::batch_norm(input, running_mean, running_var, weight, bias, use_batch_stats, o.momentum(), o.eps());
}

}  // namespace tg::nn

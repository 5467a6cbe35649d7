// Channel and spatial attention for CNNs (SE, CBAM), composed from nn modules and core ops.
//
// Shapes, for x [B, C, H, W]:
//   squeeze        mean over (H, W)                          [B, C]
//   excitation     Linear C -> C/r, ReLU, Linear C/r -> C    [B, C]   (CBAM: for the mean and the
//                                                                      max descriptor, then summed)
//   channel map    sigmoid, viewed as                        [B, C, 1, 1], broadcast over H, W
//   spatial map    cat(mean over C, max over C)              [B, 2, H, W]
//                  Conv2d(2, 1, k, padding k/2), sigmoid     [B, 1, H, W], broadcast over C
//
// The gradients need nothing of their own: mean spreads its gradient evenly over H x W, amax
// sends it to the maximum (shared evenly among ties), and the broadcast products sum it back
// over the dims they were expanded along.
#include "tapegrad/nn/attention/vision.h"

#include <fmt/format.h>

#include <string>

#include "tapegrad/core/ops.h"
#include "tapegrad/core/ops/shape.h"
#include "tapegrad/nn/activation.h"
#include "tapegrad/nn/linear.h"

namespace tg::nn {
namespace {

void check_channels_and_reduction(const char* who, std::int64_t channels, std::int64_t reduction) {
  TG_CHECK(channels > 0, "{}: channels must be positive, got {}", who, channels);
  TG_CHECK(reduction > 0, "{}: reduction ratio must be positive, got {}", who, reduction);
  TG_CHECK(reduction <= channels,
           "{}: reduction ratio {} is larger than the channel count {} (the bottleneck would have {} / {} = 0 units)",
           who, reduction, channels, channels, reduction);
}

void check_kernel(const char* who, std::int64_t k) {
  TG_CHECK(k > 0, "{}: kernel_size must be positive, got {}", who, k);
  TG_CHECK(k % 2 == 1, "{}: kernel_size must be odd so that padding k/2 keeps H and W, got {}", who, k);
}

/// x must be [B, C, H, W] (with C == channels unless channels < 0), floating, of param's dtype.
void check_feature_map(const std::string& who, const Tensor& x, std::int64_t channels, const Tensor& param) {
  TG_CHECK(x.defined(), "{}: the input is undefined", who);
  TG_CHECK(x.dim() == 4, "{}: expected input [B, C, H, W] (4-D), got shape {}", who, x.shape());
  TG_CHECK(channels < 0 || x.size(1) == channels, "{}: expected {} channels, got {} (shape {})", who, channels,
           x.size(1), x.shape());
  Module::check_input_dtype(who, x, param);
}

/// The Sequential(Linear(C, C/r), ReLU, Linear(C/r, C)) of SE and CBAM.
std::shared_ptr<Sequential> bottleneck(std::int64_t channels, std::int64_t reduction, bool bias) {
  const std::int64_t hidden = channels / reduction;
  return std::make_shared<Sequential>(Sequential{
      std::make_shared<Linear>(LinearOptions(channels, hidden).bias(bias)),
      std::make_shared<ReLU>(),
      std::make_shared<Linear>(LinearOptions(hidden, channels).bias(bias)),
  });
}

}  // namespace

// ---- SEBlock ---------------------------------------------------------------------------------------

SEBlock::SEBlock(SEBlockOptions options) : WithOptions("SEBlock", options) {
  check_channels_and_reduction("SEBlock", options_.channels(), options_.reduction());
  reset();
}

void SEBlock::reset() {
  auto seq = bottleneck(options_.channels(), options_.reduction(), options_.bias());
  seq->push_back(std::make_shared<Sigmoid>());
  fc = register_module("fc", seq);
}

VisionAttentionOutput SEBlock::forward_with_attention(const Tensor& x) {
  const std::int64_t C = options_.channels();
  check_feature_map(fmt::format("SEBlock(channels={})", C), x, C, fc->at<Linear>(0)->weight);
  const Tensor squeezed = x.mean({2, 3});                             // [B, C]
  const Tensor weights = (*fc)(squeezed).view({x.size(0), C, 1, 1});  // [B, C, 1, 1]
  return {x * weights, weights};
}

// ---- ChannelAttention ------------------------------------------------------------------------------

ChannelAttention::ChannelAttention(ChannelAttentionOptions options) : WithOptions("ChannelAttention", options) {
  check_channels_and_reduction("ChannelAttention", options_.channels(), options_.reduction());
  reset();
}

void ChannelAttention::reset() {
  mlp = register_module("mlp", bottleneck(options_.channels(), options_.reduction(), options_.bias()));
}

VisionAttentionOutput ChannelAttention::forward_with_attention(const Tensor& x) {
  const std::int64_t C = options_.channels();
  check_feature_map(fmt::format("ChannelAttention(channels={})", C), x, C, mlp->at<Linear>(0)->weight);
  const Tensor avg = x.mean({2, 3});  // [B, C]
  const Tensor max = x.amax({2, 3});  // [B, C]
  const Tensor weights = sigmoid((*mlp)(avg) + (*mlp)(max)).view({x.size(0), C, 1, 1});
  return {x * weights, weights};
}

// ---- SpatialAttention ------------------------------------------------------------------------------

SpatialAttention::SpatialAttention(SpatialAttentionOptions options) : WithOptions("SpatialAttention", options) {
  check_kernel("SpatialAttention", options_.kernel_size());
  reset();
}

void SpatialAttention::reset() {
  const std::int64_t k = options_.kernel_size();
  conv = register_module("conv", std::make_shared<Conv2d>(ConvOptions(2, 1, k).padding(k / 2).bias(options_.bias())));
}

VisionAttentionOutput SpatialAttention::forward_with_attention(const Tensor& x) {
  check_feature_map(fmt::format("SpatialAttention(kernel_size={})", options_.kernel_size()), x, -1, conv->weight);
  const Tensor maps = cat({x.mean(1, true), x.amax(1, true)}, 1);  // [B, 2, H, W]: mean, then max
  const Tensor weights = sigmoid((*conv)(maps));                   // [B, 1, H, W]
  return {x * weights, weights};
}

// ---- CBAM ------------------------------------------------------------------------------------------

CBAM::CBAM(CBAMOptions options) : WithOptions("CBAM", options) {
  check_channels_and_reduction("CBAM", options_.channels(), options_.reduction());
  check_kernel("CBAM", options_.kernel_size());
  reset();
}

void CBAM::reset() {
  channel_attention = register_module(
      "channel_attention",
      std::make_shared<ChannelAttention>(ChannelAttentionOptions(options_.channels()).reduction(options_.reduction())));
  spatial_attention = register_module("spatial_attention", std::make_shared<SpatialAttention>(options_.kernel_size()));
}

CBAMOutput CBAM::forward_with_attention(const Tensor& x) {
  check_feature_map(fmt::format("CBAM(channels={})", options_.channels()), x, options_.channels(),
                    channel_attention->mlp->at<Linear>(0)->weight);
  const VisionAttentionOutput c = channel_attention->forward_with_attention(x);
  const VisionAttentionOutput s = spatial_attention->forward_with_attention(c.output);
  return {s.output, c.attention, s.attention};
}

}  // namespace tg::nn

#pragma once
/// Attention for convolutional networks: reweighting the channels or the positions of a feature
/// map [B, C, H, W] by weights in (0, 1) computed from the map itself.
///
///     SEBlock            channel weights [B, C, 1, 1] from the average-pooled descriptor
///                        (Hu et al., Squeeze-and-Excitation Networks)
///     ChannelAttention   channel weights [B, C, 1, 1] from the average- and max-pooled descriptors
///                        through one shared MLP (CBAM's channel module)
///     SpatialAttention   position weights [B, 1, H, W] from the channel mean and max maps through a
///                        k x k convolution (CBAM's spatial module)
///     CBAM               channel attention, then spatial attention (Woo et al., CBAM)
///
/// Each returns x times its weights, of x's shape; forward_with_attention also returns the
/// weights, to draw them. Submodule names follow the common PyTorch implementations: SEBlock's
/// fc.0 / fc.2 (Linear layers of a Sequential fc), ChannelAttention's mlp.0 / mlp.2,
/// SpatialAttention's conv, CBAM's channel_attention and spatial_attention.
#include <cstdint>
#include <memory>

#include "tapegrad/core/options.h"
#include "tapegrad/nn/container.h"
#include "tapegrad/nn/conv.h"
#include "tapegrad/nn/module.h"

namespace tg::nn {

/// A module's output x * weights and the weights ([B, C, 1, 1] or [B, 1, H, W]).
struct VisionAttentionOutput {
  Tensor output;
  Tensor attention;
};

/// The options of SEBlock and ChannelAttention: channels C and the ratio r of their bottleneck MLP
/// C -> C / r -> C; Derived is the options type that the setters return.
template <class Derived>
struct ChannelReductionOptions : public ChainedOptions<Derived> {
  explicit ChannelReductionOptions(std::int64_t channels) : channels_(channels) {}
  /// The ratio r of the bottleneck C -> C / r -> C (integer division); at most C.
  Derived& reduction(std::int64_t r) { return this->assign(reduction_, r); }
  /// Biases in both Linear layers.
  Derived& bias(bool on) { return this->assign(bias_, on); }
  std::int64_t channels() const { return channels_; }
  std::int64_t reduction() const { return reduction_; }
  bool bias() const { return bias_; }

 private:
  std::int64_t channels_, reduction_ = 16;
  bool bias_ = true;
};

struct SEBlockOptions : public ChannelReductionOptions<SEBlockOptions> {
  using ChannelReductionOptions::ChannelReductionOptions;
};

/// Squeeze and excitation: s = sigmoid(W2 relu(W1 mean_hw(x) + b1) + b2) [B, C], output x * s.
/// fc = Sequential(Linear(C, C/r), ReLU, Linear(C/r, C), Sigmoid): keys fc.0.weight, fc.0.bias,
/// fc.2.weight, fc.2.bias.
class SEBlock : public WithOptions<SEBlock, SEBlockOptions> {
 public:
  explicit SEBlock(SEBlockOptions options);
  explicit SEBlock(std::int64_t channels, std::int64_t reduction = 16)
      : SEBlock(SEBlockOptions(channels).reduction(reduction)) {}
  void reset() override;
  /// [B, C, H, W] -> [B, C, H, W].
  Tensor forward(const Tensor& x) override { return forward_with_attention(x).output; }
  /// The output and the channel weights [B, C, 1, 1].
  VisionAttentionOutput forward_with_attention(const Tensor& x);
  std::shared_ptr<Sequential> fc;
};

/// The shared MLP of ChannelAttention is its bottleneck.
struct ChannelAttentionOptions : public ChannelReductionOptions<ChannelAttentionOptions> {
  using ChannelReductionOptions::ChannelReductionOptions;
};

/// CBAM's channel attention: a = sigmoid(mlp(mean_hw(x)) + mlp(max_hw(x))) [B, C], output x * a.
/// One MLP for both descriptors: mlp = Sequential(Linear(C, C/r), ReLU, Linear(C/r, C)), keys
/// mlp.0.weight, mlp.0.bias, mlp.2.weight, mlp.2.bias.
class ChannelAttention : public WithOptions<ChannelAttention, ChannelAttentionOptions> {
 public:
  explicit ChannelAttention(ChannelAttentionOptions options);
  explicit ChannelAttention(std::int64_t channels, std::int64_t reduction = 16)
      : ChannelAttention(ChannelAttentionOptions(channels).reduction(reduction)) {}
  void reset() override;
  /// [B, C, H, W] -> [B, C, H, W].
  Tensor forward(const Tensor& x) override { return forward_with_attention(x).output; }
  /// The output and the channel weights [B, C, 1, 1].
  VisionAttentionOutput forward_with_attention(const Tensor& x);
  std::shared_ptr<Sequential> mlp;
};

struct SpatialAttentionOptions : public ChainedOptions<SpatialAttentionOptions> {
  /// kernel_size: odd, so that padding k/2 keeps H and W.
  explicit SpatialAttentionOptions(std::int64_t kernel_size = 7) : kernel_size_(kernel_size) {}
  /// A bias in the convolution (conv.bias); off by default, as in CBAM.
  SpatialAttentionOptions& bias(bool on) { return assign(bias_, on); }
  std::int64_t kernel_size() const { return kernel_size_; }
  bool bias() const { return bias_; }

 private:
  std::int64_t kernel_size_;
  bool bias_ = false;
};

/// CBAM's spatial attention: the channel mean and channel max maps [B, 1, H, W], concatenated in
/// that order to [B, 2, H, W], through conv = Conv2d(2, 1, k, padding k/2) and a sigmoid: weights
/// a [B, 1, H, W], output x * a (every channel of a position scaled alike). Key conv.weight.
class SpatialAttention : public WithOptions<SpatialAttention, SpatialAttentionOptions> {
 public:
  explicit SpatialAttention(SpatialAttentionOptions options);
  explicit SpatialAttention(std::int64_t kernel_size = 7) : SpatialAttention(SpatialAttentionOptions(kernel_size)) {}
  void reset() override;
  /// [B, C, H, W] -> [B, C, H, W].
  Tensor forward(const Tensor& x) override { return forward_with_attention(x).output; }
  /// The output and the position weights [B, 1, H, W].
  VisionAttentionOutput forward_with_attention(const Tensor& x);
  std::shared_ptr<Conv2d> conv;
};

struct CBAMOptions : public ChainedOptions<CBAMOptions> {
  explicit CBAMOptions(std::int64_t channels) : channels_(channels) {}
  CBAMOptions& reduction(std::int64_t r) { return assign(reduction_, r); }
  CBAMOptions& kernel_size(std::int64_t k) { return assign(kernel_size_, k); }
  std::int64_t channels() const { return channels_; }
  std::int64_t reduction() const { return reduction_; }
  std::int64_t kernel_size() const { return kernel_size_; }

 private:
  std::int64_t channels_, reduction_ = 16, kernel_size_ = 7;
};

/// CBAM's output and both weight maps.
struct CBAMOutput {
  Tensor output;             // [B, C, H, W]
  Tensor channel_attention;  // [B, C, 1, 1]
  Tensor spatial_attention;  // [B, 1, H, W], computed from the channel-reweighted map
};

/// Convolutional block attention: y = channel_attention(x), output = spatial_attention(y).
class CBAM : public WithOptions<CBAM, CBAMOptions> {
 public:
  explicit CBAM(CBAMOptions options);
  explicit CBAM(std::int64_t channels, std::int64_t reduction = 16, std::int64_t kernel_size = 7)
      : CBAM(CBAMOptions(channels).reduction(reduction).kernel_size(kernel_size)) {}
  void reset() override;
  /// [B, C, H, W] -> [B, C, H, W].
  Tensor forward(const Tensor& x) override { return forward_with_attention(x).output; }
  CBAMOutput forward_with_attention(const Tensor& x);
  std::shared_ptr<ChannelAttention> channel_attention;
  std::shared_ptr<SpatialAttention> spatial_attention;
};

}  // namespace tg::nn

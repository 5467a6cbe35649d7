#pragma once
/// TransformerEncoderLayer and TransformerEncoder with PyTorch 1.13's submodule names, so their
/// state_dict keys are PyTorch's (self_attn.in_proj_weight, linear1.weight, norm1.weight, ...,
/// layers.0.self_attn.in_proj_weight, norm.weight), and PyTorch's defaults and numerics.
#include <memory>
#include <string>

#include "tapegrad/core/options.h"
#include "tapegrad/nn/attention/multihead.h"
#include "tapegrad/nn/container.h"
#include "tapegrad/nn/embedding.h"
#include "tapegrad/nn/linear.h"
#include "tapegrad/nn/module.h"
#include "tapegrad/nn/normalization.h"

namespace tg::nn {

/// The options of TransformerEncoderLayer and TransformerDecoderLayer (PyTorch's names and
/// defaults), which Transformer's options share; Derived is the options type that the setters
/// return.
template <class Derived>
struct TransformerLayerOptions : public ChainedOptions<Derived> {
  TransformerLayerOptions(std::int64_t d_model, std::int64_t nhead) : d_model_(d_model), nhead_(nhead) {}
  Derived& d_model(std::int64_t n) { return this->assign(d_model_, n); }
  Derived& nhead(std::int64_t n) { return this->assign(nhead_, n); }
  Derived& dim_feedforward(std::int64_t n) { return this->assign(dim_feedforward_, n); }
  /// Dropout after each block, inside the feed-forward block, and on the attention weights.
  Derived& dropout(double p) { return this->assign(dropout_, p); }
  /// "relu" or "gelu" (erf form).
  Derived& activation(std::string name) { return this->assign(activation_, std::move(name)); }
  Derived& layer_norm_eps(double eps) { return this->assign(layer_norm_eps_, eps); }
  /// Inputs and outputs are [B, L, E] rather than [L, B, E].
  Derived& batch_first(bool on) { return this->assign(batch_first_, on); }
  /// Pre-norm (x + block(norm(x))) instead of post-norm (norm(x + block(x))).
  Derived& norm_first(bool on) { return this->assign(norm_first_, on); }
  std::int64_t d_model() const { return d_model_; }
  std::int64_t nhead() const { return nhead_; }
  std::int64_t dim_feedforward() const { return dim_feedforward_; }
  double dropout() const { return dropout_; }
  const std::string& activation() const { return activation_; }
  double layer_norm_eps() const { return layer_norm_eps_; }
  bool batch_first() const { return batch_first_; }
  bool norm_first() const { return norm_first_; }

 private:
  std::int64_t d_model_, nhead_, dim_feedforward_ = 2048;
  double dropout_ = 0.1;
  std::string activation_ = "relu";
  double layer_norm_eps_ = 1e-5;
  bool batch_first_ = false, norm_first_ = false;
};

struct TransformerEncoderLayerOptions : public TransformerLayerOptions<TransformerEncoderLayerOptions> {
  using TransformerLayerOptions::TransformerLayerOptions;
};

/// Self-attention then a feed-forward block, each with a residual connection and a LayerNorm:
///   post-norm: x = norm1(x + dropout1(self_attn(x))); x = norm2(x + dropout2(ff(x)))
///   pre-norm:  x = x + dropout1(self_attn(norm1(x))); x = x + dropout2(ff(norm2(x)))
///   ff(x) = linear2(dropout(activation(linear1(x))))
/// src [L, B, E] ([B, L, E] when batch_first, [L, E] unbatched) -> the same shape.
class TransformerEncoderLayer : public WithOptions<TransformerEncoderLayer, TransformerEncoderLayerOptions> {
 public:
  explicit TransformerEncoderLayer(TransformerEncoderLayerOptions options);
  TransformerEncoderLayer(std::int64_t d_model, std::int64_t nhead)
      : TransformerEncoderLayer(TransformerEncoderLayerOptions(d_model, nhead)) {}
  void reset() override;
  /// src_mask: MultiheadAttention's attn_mask ([L, S] or [B * nhead, L, S]); src_key_padding_mask:
  /// its key_padding_mask ([B, S], true = padding). Either may be undefined.
  Tensor forward(const Tensor& src, const Tensor& src_mask, const Tensor& src_key_padding_mask = {});
  Tensor forward(const Tensor& src) override { return forward(src, Tensor(), Tensor()); }

  // Registered in this order, as in PyTorch (activation is a function there, not a child).
  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1;
  std::shared_ptr<Dropout> dropout;
  std::shared_ptr<Linear> linear2;
  std::shared_ptr<LayerNorm> norm1, norm2;
  std::shared_ptr<Dropout> dropout1, dropout2;
};

/// The options of TransformerEncoder and TransformerDecoder: a prototype layer, num_layers and an
/// optional final norm; Derived is the options type that the setters return.
template <class Derived, class Layer>
struct TransformerStackOptions : public ChainedOptions<Derived> {
  /// layer is the prototype: the stack holds num_layers clones of it (as PyTorch deep-copies it).
  TransformerStackOptions(std::shared_ptr<Layer> layer, std::int64_t num_layers)
      : layer_(std::move(layer)), num_layers_(num_layers) {}
  /// A final LayerNorm, registered as "norm". The stack holds a clone of it (PyTorch keeps the
  /// object passed); reach it through the encoder's or decoder's norm.
  Derived& norm(std::shared_ptr<LayerNorm> n) { return this->assign(norm_, std::move(n)); }
  std::int64_t num_layers() const { return num_layers_; }
  const std::shared_ptr<LayerNorm>& norm() const { return norm_; }
  /// The prototype layer (PyTorch's encoder_layer or decoder_layer).
  const std::shared_ptr<Layer>& prototype() const { return layer_; }

 private:
  std::shared_ptr<Layer> layer_;
  std::int64_t num_layers_;
  std::shared_ptr<LayerNorm> norm_;
};

struct TransformerEncoderOptions : public TransformerStackOptions<TransformerEncoderOptions, TransformerEncoderLayer> {
  using TransformerStackOptions::TransformerStackOptions;
  const std::shared_ptr<TransformerEncoderLayer>& encoder_layer() const { return prototype(); }
};

/// What TransformerEncoder and TransformerDecoder share: num_layers clones of the options'
/// prototype layer (children layers.0, layers.1, ...), each starting with the prototype's weights
/// as in PyTorch, then the optional final norm. Derived is the stack, Layer the type of its layers.
template <class Derived, class Layer, class Options>
class TransformerStack : public WithOptions<Derived, Options> {
 public:
  void reset() override;
  /// The i-th layer.
  std::shared_ptr<Layer> layer(std::size_t i) const { return layers->at<Layer>(i); }

  std::shared_ptr<ModuleList> layers;
  std::shared_ptr<LayerNorm> norm;  // null without a final norm

 protected:
  /// Checks the options (layer_option names the prototype in the message), then builds the stack.
  TransformerStack(const char* type_name, Options options, const char* layer_option);
};

/// num_layers encoder layers in turn, then the optional norm.
class TransformerEncoder
    : public TransformerStack<TransformerEncoder, TransformerEncoderLayer, TransformerEncoderOptions> {
 public:
  explicit TransformerEncoder(TransformerEncoderOptions options);
  TransformerEncoder(std::shared_ptr<TransformerEncoderLayer> layer, std::int64_t num_layers,
                     std::shared_ptr<LayerNorm> norm = nullptr)
      : TransformerEncoder(TransformerEncoderOptions(std::move(layer), num_layers).norm(std::move(norm))) {}
  /// src as TransformerEncoderLayer's; mask and src_key_padding_mask go to every layer.
  Tensor forward(const Tensor& src, const Tensor& mask, const Tensor& src_key_padding_mask = {});
  Tensor forward(const Tensor& src) override { return forward(src, Tensor(), Tensor()); }
};

extern template class TransformerStack<TransformerEncoder, TransformerEncoderLayer, TransformerEncoderOptions>;

}  // namespace tg::nn

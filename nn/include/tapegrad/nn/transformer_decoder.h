#pragma once
/// TransformerDecoderLayer, TransformerDecoder and Transformer (the encoder-decoder of "Attention
/// Is All You Need") with PyTorch 1.13's submodule names, so their state_dict keys are PyTorch's
/// (self_attn.in_proj_weight, multihead_attn.in_proj_weight, linear1.weight, norm3.weight, ...;
/// encoder.layers.0..., encoder.norm.weight, decoder.layers.0..., decoder.norm.weight), and
/// PyTorch's defaults and numerics.
///
/// Masks follow MultiheadAttention's convention: bool true = may not attend, floating = added.
#include <memory>
#include <string>

#include "tapegrad/core/options.h"
#include "tapegrad/nn/attention/multihead.h"
#include "tapegrad/nn/container.h"
#include "tapegrad/nn/embedding.h"
#include "tapegrad/nn/linear.h"
#include "tapegrad/nn/module.h"
#include "tapegrad/nn/normalization.h"
#include "tapegrad/nn/transformer.h"

namespace tg::nn {

struct TransformerDecoderLayerOptions : public TransformerLayerOptions<TransformerDecoderLayerOptions> {
  using TransformerLayerOptions::TransformerLayerOptions;
};

/// Self-attention over the target, attention over the encoder's memory, then a feed-forward
/// block, each with a residual connection and a LayerNorm:
///   post-norm: x = norm1(x + sa(x)); x = norm2(x + mha(x, memory)); x = norm3(x + ff(x))
///   pre-norm:  x = x + sa(norm1(x)); x = x + mha(norm2(x), memory); x = x + ff(norm3(x))
///   sa = dropout1(self_attn), mha = dropout2(multihead_attn), ff = dropout3(linear2(dropout(act(linear1))))
/// tgt [T, B, E], memory [S, B, E] ([B, T, E] / [B, S, E] when batch_first; [T, E] / [S, E]
/// unbatched) -> tgt's shape.
class TransformerDecoderLayer : public WithOptions<TransformerDecoderLayer, TransformerDecoderLayerOptions> {
 public:
  explicit TransformerDecoderLayer(TransformerDecoderLayerOptions options);
  TransformerDecoderLayer(std::int64_t d_model, std::int64_t nhead)
      : TransformerDecoderLayer(TransformerDecoderLayerOptions(d_model, nhead)) {}
  void reset() override;
  /// tgt_mask: self_attn's attn_mask [T, T] or [B * nhead, T, T] (causal decoding:
  /// Transformer::generate_square_subsequent_mask(T)); memory_mask: multihead_attn's attn_mask
  /// [T, S] or [B * nhead, T, S]; the key padding masks [B, T] and [B, S] (true = padding).
  /// Any of them may be undefined.
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {}, const Tensor& memory_mask = {},
                 const Tensor& tgt_key_padding_mask = {}, const Tensor& memory_key_padding_mask = {});
  /// The decoder layer attending to its own input as memory, forward(x, x) (for Sequential).
  Tensor forward(const Tensor& x) override { return forward(x, x); }

  // Registered in this order, as in PyTorch (activation is a function there, not a child).
  std::shared_ptr<MultiheadAttention> self_attn, multihead_attn;
  std::shared_ptr<Linear> linear1;
  std::shared_ptr<Dropout> dropout;
  std::shared_ptr<Linear> linear2;
  std::shared_ptr<LayerNorm> norm1, norm2, norm3;
  std::shared_ptr<Dropout> dropout1, dropout2, dropout3;
};

struct TransformerDecoderOptions : public TransformerStackOptions<TransformerDecoderOptions, TransformerDecoderLayer> {
  using TransformerStackOptions::TransformerStackOptions;
  const std::shared_ptr<TransformerDecoderLayer>& decoder_layer() const { return prototype(); }
};

/// num_layers decoder layers in turn, each attending to the same memory, then the optional norm.
class TransformerDecoder
    : public TransformerStack<TransformerDecoder, TransformerDecoderLayer, TransformerDecoderOptions> {
 public:
  explicit TransformerDecoder(TransformerDecoderOptions options);
  TransformerDecoder(std::shared_ptr<TransformerDecoderLayer> layer, std::int64_t num_layers,
                     std::shared_ptr<LayerNorm> norm = nullptr)
      : TransformerDecoder(TransformerDecoderOptions(std::move(layer), num_layers).norm(std::move(norm))) {}
  /// As TransformerDecoderLayer::forward; every mask goes to every layer.
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {}, const Tensor& memory_mask = {},
                 const Tensor& tgt_key_padding_mask = {}, const Tensor& memory_key_padding_mask = {});
  Tensor forward(const Tensor& x) override { return forward(x, x); }
};

extern template class TransformerStack<TransformerDecoder, TransformerDecoderLayer, TransformerDecoderOptions>;

/// Transformer's options: the layers' (passed on to every encoder and decoder layer), the number of
/// layers of each stack, and an optional custom encoder or decoder.
struct TransformerOptions : public TransformerLayerOptions<TransformerOptions> {
  /// PyTorch's defaults: d_model 512, nhead 8, 6 encoder and 6 decoder layers.
  TransformerOptions() : TransformerOptions(512, 8) {}
  TransformerOptions(std::int64_t d_model, std::int64_t nhead) : TransformerLayerOptions(d_model, nhead) {}
  TransformerOptions& num_encoder_layers(std::int64_t n) { return assign(num_encoder_layers_, n); }
  TransformerOptions& num_decoder_layers(std::int64_t n) { return assign(num_decoder_layers_, n); }
  /// An encoder or decoder to use instead of the ones built from the options (PyTorch's
  /// custom_encoder / custom_decoder); the Transformer holds a clone, re-initialised as the rest.
  TransformerOptions& custom_encoder(std::shared_ptr<TransformerEncoder> e) { return assign(custom_encoder_, e); }
  TransformerOptions& custom_decoder(std::shared_ptr<TransformerDecoder> d) { return assign(custom_decoder_, d); }
  std::int64_t num_encoder_layers() const { return num_encoder_layers_; }
  std::int64_t num_decoder_layers() const { return num_decoder_layers_; }
  const std::shared_ptr<TransformerEncoder>& custom_encoder() const { return custom_encoder_; }
  const std::shared_ptr<TransformerDecoder>& custom_decoder() const { return custom_decoder_; }

 private:
  std::int64_t num_encoder_layers_ = 6, num_decoder_layers_ = 6;
  std::shared_ptr<TransformerEncoder> custom_encoder_;
  std::shared_ptr<TransformerDecoder> custom_decoder_;
};

/// The encoder-decoder: memory = encoder(src), output = decoder(tgt, memory). The encoder and the
/// decoder each end with a LayerNorm (encoder.norm, decoder.norm); every parameter with more than
/// one dim starts xavier_uniform_, as PyTorch's Transformer._reset_parameters does.
class Transformer : public WithOptions<Transformer, TransformerOptions> {
 public:
  explicit Transformer(TransformerOptions options = {});
  void reset() override;
  /// src [S, B, E], tgt [T, B, E] ([B, S, E] / [B, T, E] when batch_first; unbatched without B)
  /// -> [T, B, E]. src_mask [S, S], tgt_mask [T, T], memory_mask [T, S] (or [B * nhead, ., .]);
  /// key padding masks [B, S], [B, T], [B, S]. Any mask may be undefined.
  Tensor forward(const Tensor& src, const Tensor& tgt, const Tensor& src_mask = {}, const Tensor& tgt_mask = {},
                 const Tensor& memory_mask = {}, const Tensor& src_key_padding_mask = {},
                 const Tensor& tgt_key_padding_mask = {}, const Tensor& memory_key_padding_mask = {});
  /// The causal mask of size sz: a float [sz, sz] tensor, 0 on and below the diagonal and -inf
  /// above it (query i may attend keys 0..i).
  static Tensor generate_square_subsequent_mask(std::int64_t sz, DType dtype = kFloat32);

  std::shared_ptr<TransformerEncoder> encoder;
  std::shared_ptr<TransformerDecoder> decoder;
};

}  // namespace tg::nn

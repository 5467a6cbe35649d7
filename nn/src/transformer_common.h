#pragma once
// What the encoder (transformer.cpp) and the decoder (transformer_decoder.cpp) share: the checks
// of a layer's options, the feed-forward block, the residual connection with its LayerNorm (pre-
// or post-norm), and TransformerStack's constructor and reset(). Internal to nn/src.
#include <cstdint>
#include <memory>
#include <string>

#include "tapegrad/core/error.h"
#include "tapegrad/core/ops/activation.h"
#include "tapegrad/core/ops/elementwise.h"
#include "tapegrad/core/ops/linalg.h"
#include "tapegrad/nn/container.h"
#include "tapegrad/nn/embedding.h"
#include "tapegrad/nn/linear.h"
#include "tapegrad/nn/normalization.h"
#include "tapegrad/nn/transformer.h"

namespace tg::nn::detail {

/// The checks of TransformerEncoderLayerOptions and TransformerDecoderLayerOptions; who names the layer.
template <class LayerOptions>
void check_layer_options(const LayerOptions& o, const char* who) {
  TG_CHECK(o.d_model() > 0, "{}: d_model must be positive, got {}", who, o.d_model());
  TG_CHECK(o.nhead() > 0, "{}: nhead must be positive, got {}", who, o.nhead());
  TG_CHECK(o.d_model() % o.nhead() == 0, "{}: d_model {} is not divisible by nhead {}", who, o.d_model(), o.nhead());
  TG_CHECK(o.dim_feedforward() > 0, "{}: dim_feedforward must be positive, got {}", who, o.dim_feedforward());
  TG_CHECK(o.dropout() >= 0 && o.dropout() < 1, "{}: dropout must be in [0, 1), got {}", who, o.dropout());
  TG_CHECK(o.activation() == "relu" || o.activation() == "gelu",
           "{}: activation must be \"relu\" or \"gelu\", got \"{}\"", who, o.activation());
  TG_CHECK(o.layer_norm_eps() >= 0, "{}: layer_norm_eps must be non-negative, got {}", who, o.layer_norm_eps());
}

/// A key padding mask, if given, is bool (true = padding) or floating; what names the argument.
inline void check_padding_mask(const Tensor& m, const char* who, const char* what) {
  if (!m.defined()) return;
  TG_CHECK(m.dtype() == kBool || is_floating(m.dtype()), "{}: {} must be bool (true = padding) or floating, got {}",
           who, what, dtype_name(m.dtype()));
}

/// The feed-forward block without its outer dropout: linear2(dropout(activation(linear1(x)))).
/// linear1 and its activation are one node: the activation runs on each block of the GEMM's
/// output as the block is written (bit-identical to relu(linear1(x)); gelu to rounding).
inline Tensor feed_forward(Linear& linear1, Dropout& dropout, Linear& linear2, const std::string& activation,
                           const Tensor& x) {
  const Tensor h = linear_activation(x, linear1.weight, linear1.bias, activation);
  return linear2.forward(dropout.forward(h));
}

/// One residual connection: x + block(norm(x)) when norm_first, else norm(x + block(x)).
template <class Block>
Tensor residual(const Tensor& x, LayerNorm& norm, bool norm_first, Block&& block) {
  return norm_first ? add(x, block(norm.forward(x))) : norm.forward(add(x, block(x)));
}

}  // namespace tg::nn::detail

namespace tg::nn {

// The stack of TransformerEncoder and TransformerDecoder, instantiated for each in its .cpp.

template <class Derived, class Layer, class Options>
TransformerStack<Derived, Layer, Options>::TransformerStack(const char* type_name, Options options,
                                                            const char* layer_option)
    : WithOptions<Derived, Options>(type_name, std::move(options)) {
  const Options& o = this->options_;
  TG_CHECK(o.prototype() != nullptr, "{}: {} must not be null", type_name, layer_option);
  TG_CHECK(o.num_layers() > 0, "{}: num_layers must be positive, got {}", type_name, o.num_layers());
  TransformerStack::reset();
}

template <class Derived, class Layer, class Options>
void TransformerStack<Derived, Layer, Options>::reset() {
  // Clones of the prototypes, so that clone() of the stack (which runs reset() again on the copy)
  // never shares a layer or the norm with the original.
  const Options& o = this->options_;
  auto clones = std::make_shared<ModuleList>();
  for (std::int64_t i = 0; i < o.num_layers(); ++i) clones->push_back(o.prototype()->clone());
  layers = this->register_module("layers", clones);
  norm = o.norm() ? std::dynamic_pointer_cast<LayerNorm>(o.norm()->clone()) : nullptr;
  if (norm) this->register_module("norm", norm);
}

}  // namespace tg::nn

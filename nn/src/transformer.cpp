// TransformerEncoderLayer and TransformerEncoder: PyTorch 1.13's slow (autograd) path,
// composed from MultiheadAttention, Linear, LayerNorm and Dropout.
#include "tapegrad/nn/transformer.h"

#include "tapegrad/core/ops.h"
#include "tapegrad/core/ops/activation.h"
#include "tapegrad/core/ops/dropout.h"
#include "tapegrad/core/ops/elementwise.h"
#include "tapegrad/core/ops/linear_activation.h"
#include "tapegrad/core/ops/reduce.h"

namespace tg::nn {
namespace {

constexpr const char* kLayer = "TransformerEncoderLayer";
constexpr const char* kEncoder = "TransformerEncoder";

void check_padding_mask(const Tensor& m, const char* name) {
  if (!m.defined()) return;
  TG_CHECK(m.dtype() == kBool || is_floating(m.dtype()),
           "{}: src_key_padding_mask must be bool (true = padding) or floating, got {}", name, dtype_name(m.dtype()));
}

}  // namespace

TransformerEncoderLayer::TransformerEncoderLayer(TransformerEncoderLayerOptions options)
    : Cloneable(kLayer), options_(std::move(options)) {
  const auto& o = options_;
  TG_CHECK(o.d_model() > 0, "{}: d_model must be positive, got {}", kLayer, o.d_model());
  TG_CHECK(o.nhead() > 0, "{}: nhead must be positive, got {}", kLayer, o.nhead());
  TG_CHECK(o.d_model() % o.nhead() == 0, "{}: d_model {} is not divisible by nhead {}", kLayer, o.d_model(), o.nhead());
  TG_CHECK(o.dim_feedforward() > 0, "{}: dim_feedforward must be positive, got {}", kLayer, o.dim_feedforward());
  TG_CHECK(o.dropout() >= 0 && o.dropout() < 1, "{}: dropout must be in [0, 1), got {}", kLayer, o.dropout());
  TG_CHECK(o.activation() == "relu" || o.activation() == "gelu",
           "{}: activation must be \"relu\" or \"gelu\", got \"{}\"", kLayer, o.activation());
  TG_CHECK(o.layer_norm_eps() >= 0, "{}: layer_norm_eps must be non-negative, got {}", kLayer, o.layer_norm_eps());
  reset();
}

void TransformerEncoderLayer::reset() {
  const auto& o = options_;
  const std::int64_t E = o.d_model();
  self_attn = register_module(
      "self_attn", std::make_shared<MultiheadAttention>(
                       MultiheadAttentionOptions(E, o.nhead()).dropout(o.dropout()).batch_first(o.batch_first())));
  linear1 = register_module("linear1", std::make_shared<Linear>(E, o.dim_feedforward()));
  dropout = register_module("dropout", std::make_shared<Dropout>(o.dropout()));
  linear2 = register_module("linear2", std::make_shared<Linear>(o.dim_feedforward(), E));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(LayerNormOptions({E}).eps(o.layer_norm_eps())));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(LayerNormOptions({E}).eps(o.layer_norm_eps())));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(o.dropout()));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(o.dropout()));
}

Tensor TransformerEncoderLayer::forward(const Tensor& src, const Tensor& src_mask, const Tensor& src_key_padding_mask) {
  TG_CHECK(src.dim() == 3 || src.dim() == 2, "{}: expected a 3-D src ({}) or a 2-D unbatched one [L, E], got shape {}",
           kLayer, options_.batch_first() ? "[B, L, E], batch_first" : "[L, B, E]", src.shape());
  TG_CHECK(src.size(-1) == options_.d_model(), "{}: expected src with d_model {} in its last dim, got {} (shape {})",
           kLayer, options_.d_model(), src.size(-1), src.shape());
  check_padding_mask(src_key_padding_mask, kLayer);

  auto sa_block = [&](const Tensor& x) {
    return dropout1->forward(self_attn->forward(x, x, x, src_key_padding_mask, false, src_mask).output);
  };
  auto ff_block = [&](const Tensor& x) {
    // linear1 and its activation in one node: the activation runs on each block of the GEMM's
    // output as the block is written (bit-identical to relu(linear1(x)); gelu to rounding).
    const Tensor h = linear_activation(x, linear1->weight, linear1->bias, options_.activation());
    return dropout2->forward(linear2->forward(dropout->forward(h)));
  };
  Tensor x = src;
  if (options_.norm_first()) {
    x = add(x, sa_block(norm1->forward(x)));
    x = add(x, ff_block(norm2->forward(x)));
  } else {
    x = norm1->forward(add(x, sa_block(x)));
    x = norm2->forward(add(x, ff_block(x)));
  }
  return x;
}

TransformerEncoder::TransformerEncoder(TransformerEncoderOptions options)
    : Cloneable(kEncoder), options_(std::move(options)) {
  TG_CHECK(options_.encoder_layer() != nullptr, "{}: encoder_layer must not be null", kEncoder);
  TG_CHECK(options_.num_layers() > 0, "{}: num_layers must be positive, got {}", kEncoder, options_.num_layers());
  reset();
}

void TransformerEncoder::reset() {
  // Clones of the prototypes, so that clone() of the encoder (which runs reset() again on the
  // copy) never shares a layer or the norm with the original.
  layers = register_module("layers", std::make_shared<ModuleList>());
  for (std::int64_t i = 0; i < options_.num_layers(); ++i) layers->push_back(options_.encoder_layer()->clone());
  norm = nullptr;
  if (options_.norm()) norm = register_module("norm", std::dynamic_pointer_cast<LayerNorm>(options_.norm()->clone()));
}

std::shared_ptr<TransformerEncoderLayer> TransformerEncoder::layer(std::size_t i) const {
  return layers->at<TransformerEncoderLayer>(i);
}

Tensor TransformerEncoder::forward(const Tensor& src, const Tensor& mask, const Tensor& src_key_padding_mask) {
  check_padding_mask(src_key_padding_mask, kEncoder);
  Tensor x = src;
  for (std::size_t i = 0; i < layers->size(); ++i) x = layer(i)->forward(x, mask, src_key_padding_mask);
  if (norm) x = norm->forward(x);
  return x;
}

}  // namespace tg::nn

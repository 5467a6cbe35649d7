// TransformerEncoderLayer and TransformerEncoder: PyTorch 1.13's slow (autograd) path,
// composed from MultiheadAttention, Linear, LayerNorm and Dropout.
#include "tapegrad/nn/transformer.h"

#include "tapegrad/core/ops.h"
#include "tapegrad/core/ops/activation.h"
#include "tapegrad/core/ops/dropout.h"
#include "tapegrad/core/ops/elementwise.h"
#include "tapegrad/core/ops/reduce.h"
#include "transformer_common.h"

namespace tg::nn {
namespace {

constexpr const char* kLayer = "TransformerEncoderLayer";
constexpr const char* kEncoder = "TransformerEncoder";

void check_padding_mask(const Tensor& m, const char* name) {
  detail::check_padding_mask(m, name, "src_key_padding_mask");
}

}  // namespace

TransformerEncoderLayer::TransformerEncoderLayer(TransformerEncoderLayerOptions options)
    : WithOptions(kLayer, std::move(options)) {
  detail::check_layer_options(options_, kLayer);
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
    return dropout2->forward(detail::feed_forward(*linear1, *dropout, *linear2, options_.activation(), x));
  };
  const bool norm_first = options_.norm_first();
  const Tensor x = detail::residual(src, *norm1, norm_first, sa_block);
  return detail::residual(x, *norm2, norm_first, ff_block);
}

template class TransformerStack<TransformerEncoder, TransformerEncoderLayer, TransformerEncoderOptions>;

TransformerEncoder::TransformerEncoder(TransformerEncoderOptions options)
    : TransformerStack(kEncoder, std::move(options), "encoder_layer") {}

Tensor TransformerEncoder::forward(const Tensor& src, const Tensor& mask, const Tensor& src_key_padding_mask) {
  check_padding_mask(src_key_padding_mask, kEncoder);
  Tensor x = src;
  for (std::size_t i = 0; i < layers->size(); ++i) x = layer(i)->forward(x, mask, src_key_padding_mask);
  if (norm) x = norm->forward(x);
  return x;
}

}  // namespace tg::nn

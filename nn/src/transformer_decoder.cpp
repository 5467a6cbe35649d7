// TransformerDecoderLayer, TransformerDecoder and Transformer: PyTorch 1.13's autograd path,
// composed from MultiheadAttention, Linear, LayerNorm, Dropout and the encoder of transformer.h.
#include "tapegrad/nn/transformer_decoder.h"

#include <limits>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops.h"
#include "tapegrad/core/ops/activation.h"
#include "tapegrad/core/ops/index.h"
#include "tapegrad/nn/init.h"
#include "transformer_common.h"

namespace tg::nn {
namespace {

constexpr const char* kLayer = "TransformerDecoderLayer";
constexpr const char* kDecoder = "TransformerDecoder";
constexpr const char* kTransformer = "Transformer";

using detail::check_padding_mask;

/// The options of the encoder or decoder layers of a Transformer built from its options.
template <class LayerOptions>
LayerOptions layer_options(const TransformerOptions& o) {
  return LayerOptions(o.d_model(), o.nhead())
      .dim_feedforward(o.dim_feedforward())
      .dropout(o.dropout())
      .activation(o.activation())
      .layer_norm_eps(o.layer_norm_eps())
      .batch_first(o.batch_first())
      .norm_first(o.norm_first());
}

/// The encoder or decoder of a Transformer: a clone of custom (custom_encoder, custom_decoder) if
/// given, else num_layers layers built from the options and a final LayerNorm.
template <class Layer, class LayerOptions, class Stack>
std::shared_ptr<Stack> stack_of(const std::shared_ptr<Stack>& custom, const TransformerOptions& o,
                                std::int64_t num_layers) {
  if (custom) return std::dynamic_pointer_cast<Stack>(custom->clone());
  auto layer = std::make_shared<Layer>(layer_options<LayerOptions>(o));
  return std::make_shared<Stack>(layer, num_layers,
                                 std::make_shared<LayerNorm>(LayerNormOptions({o.d_model()}).eps(o.layer_norm_eps())));
}

}  // namespace

// ---- TransformerDecoderLayer -----------------------------------------------------------------------

TransformerDecoderLayer::TransformerDecoderLayer(TransformerDecoderLayerOptions options)
    : WithOptions(kLayer, std::move(options)) {
  detail::check_layer_options(options_, kLayer);
  reset();
}

void TransformerDecoderLayer::reset() {
  const auto& o = options_;
  const std::int64_t E = o.d_model();
  auto attention = [&] {
    return std::make_shared<MultiheadAttention>(
        MultiheadAttentionOptions(E, o.nhead()).dropout(o.dropout()).batch_first(o.batch_first()));
  };
  auto layer_norm = [&] { return std::make_shared<LayerNorm>(LayerNormOptions({E}).eps(o.layer_norm_eps())); };
  self_attn = register_module("self_attn", attention());
  multihead_attn = register_module("multihead_attn", attention());
  linear1 = register_module("linear1", std::make_shared<Linear>(E, o.dim_feedforward()));
  dropout = register_module("dropout", std::make_shared<Dropout>(o.dropout()));
  linear2 = register_module("linear2", std::make_shared<Linear>(o.dim_feedforward(), E));
  norm1 = register_module("norm1", layer_norm());
  norm2 = register_module("norm2", layer_norm());
  norm3 = register_module("norm3", layer_norm());
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(o.dropout()));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(o.dropout()));
  dropout3 = register_module("dropout3", std::make_shared<Dropout>(o.dropout()));
}

Tensor TransformerDecoderLayer::forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                        const Tensor& memory_mask, const Tensor& tgt_key_padding_mask,
                                        const Tensor& memory_key_padding_mask) {
  const char* layout = options_.batch_first() ? "[B, T, E], batch_first" : "[T, B, E]";
  TG_CHECK(tgt.dim() == 3 || tgt.dim() == 2, "{}: expected a 3-D tgt ({}) or a 2-D unbatched one [T, E], got shape {}",
           kLayer, layout, tgt.shape());
  TG_CHECK(memory.dim() == tgt.dim(), "{}: memory must have as many dims as tgt ({}), got shape {}", kLayer, tgt.dim(),
           memory.shape());
  TG_CHECK(tgt.size(-1) == options_.d_model(), "{}: expected tgt with d_model {} in its last dim, got {} (shape {})",
           kLayer, options_.d_model(), tgt.size(-1), tgt.shape());
  TG_CHECK(memory.size(-1) == options_.d_model(),
           "{}: expected memory with d_model {} in its last dim, got {} (shape {})", kLayer, options_.d_model(),
           memory.size(-1), memory.shape());
  check_padding_mask(tgt_key_padding_mask, kLayer, "tgt_key_padding_mask");
  check_padding_mask(memory_key_padding_mask, kLayer, "memory_key_padding_mask");

  auto sa_block = [&](const Tensor& x) {
    return dropout1->forward(self_attn->forward(x, x, x, tgt_key_padding_mask, false, tgt_mask).output);
  };
  auto mha_block = [&](const Tensor& x) {
    return dropout2->forward(
        multihead_attn->forward(x, memory, memory, memory_key_padding_mask, false, memory_mask).output);
  };
  auto ff_block = [&](const Tensor& x) {
    return dropout3->forward(detail::feed_forward(*linear1, *dropout, *linear2, options_.activation(), x));
  };
  const bool norm_first = options_.norm_first();
  Tensor x = detail::residual(tgt, *norm1, norm_first, sa_block);
  x = detail::residual(x, *norm2, norm_first, mha_block);
  return detail::residual(x, *norm3, norm_first, ff_block);
}

// ---- TransformerDecoder ----------------------------------------------------------------------------

template class TransformerStack<TransformerDecoder, TransformerDecoderLayer, TransformerDecoderOptions>;

TransformerDecoder::TransformerDecoder(TransformerDecoderOptions options)
    : TransformerStack(kDecoder, std::move(options), "decoder_layer") {}

Tensor TransformerDecoder::forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                   const Tensor& memory_mask, const Tensor& tgt_key_padding_mask,
                                   const Tensor& memory_key_padding_mask) {
  Tensor x = tgt;
  for (std::size_t i = 0; i < layers->size(); ++i)
    x = layer(i)->forward(x, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask);
  if (norm) x = norm->forward(x);
  return x;
}

// ---- Transformer -----------------------------------------------------------------------------------

Transformer::Transformer(TransformerOptions options) : WithOptions(kTransformer, std::move(options)) {
  const auto& o = options_;
  TG_CHECK(o.d_model() > 0, "{}: d_model must be positive, got {}", kTransformer, o.d_model());
  TG_CHECK(o.nhead() > 0, "{}: nhead must be positive, got {}", kTransformer, o.nhead());
  TG_CHECK(o.d_model() % o.nhead() == 0, "{}: d_model {} is not divisible by nhead {}", kTransformer, o.d_model(),
           o.nhead());
  TG_CHECK(o.custom_encoder() || o.num_encoder_layers() > 0, "{}: num_encoder_layers must be positive, got {}",
           kTransformer, o.num_encoder_layers());
  TG_CHECK(o.custom_decoder() || o.num_decoder_layers() > 0, "{}: num_decoder_layers must be positive, got {}",
           kTransformer, o.num_decoder_layers());
  reset();
}

void Transformer::reset() {
  const auto& o = options_;
  encoder = register_module("encoder", stack_of<TransformerEncoderLayer, TransformerEncoderLayerOptions>(
                                           o.custom_encoder(), o, o.num_encoder_layers()));
  decoder = register_module("decoder", stack_of<TransformerDecoderLayer, TransformerDecoderLayerOptions>(
                                           o.custom_decoder(), o, o.num_decoder_layers()));
  // PyTorch's _reset_parameters: xavier_uniform_ on every parameter of more than one dim.
  for (const auto& [name, p] : named_parameters())
    if (p.dim() > 1) init::xavier_uniform_(p);
}

Tensor Transformer::forward(const Tensor& src, const Tensor& tgt, const Tensor& src_mask, const Tensor& tgt_mask,
                            const Tensor& memory_mask, const Tensor& src_key_padding_mask,
                            const Tensor& tgt_key_padding_mask, const Tensor& memory_key_padding_mask) {
  const std::int64_t E = options_.d_model();
  TG_CHECK(src.dim() == tgt.dim(), "{}: src and tgt must have the same number of dims, got shapes {} and {}",
           kTransformer, src.shape(), tgt.shape());
  if (src.dim() == 3) {
    const std::int64_t batch_dim = options_.batch_first() ? 0 : 1;
    TG_CHECK(src.size(batch_dim) == tgt.size(batch_dim),
             "{}: the batch number of src and tgt must be equal, got {} and {} (shapes {} and {}, {})", kTransformer,
             src.size(batch_dim), tgt.size(batch_dim), src.shape(), tgt.shape(),
             options_.batch_first() ? "batch_first" : "sequence first");
  }
  TG_CHECK(src.dim() > 0 && src.size(-1) == E && tgt.size(-1) == E,
           "{}: the feature number of src and tgt must be equal to d_model {}, got shapes {} and {}", kTransformer, E,
           src.shape(), tgt.shape());
  const Tensor memory = encoder->forward(src, src_mask, src_key_padding_mask);
  return decoder->forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask);
}

Tensor Transformer::generate_square_subsequent_mask(std::int64_t sz, DType dtype) {
  TG_CHECK(sz >= 0, "{}: generate_square_subsequent_mask: sz must be non-negative, got {}", kTransformer, sz);
  TG_CHECK(is_floating(dtype), "{}: generate_square_subsequent_mask: dtype must be floating, got {}", kTransformer,
           dtype_name(dtype));
  return triu(full({sz, sz}, -std::numeric_limits<double>::infinity(), dtype), 1);
}

}  // namespace tg::nn

// TransformerDecoderLayer, TransformerDecoder and Transformer: PyTorch 1.13's autograd path,
// composed from MultiheadAttention, Linear, LayerNorm, Dropout and the encoder of transformer.h.
#include "tapegrad/nn/transformer_decoder.h"

#include <limits>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops.h"
#include "tapegrad/core/ops/activation.h"
#include "tapegrad/core/ops/index.h"
#include "tapegrad/core/ops/linear_activation.h"
#include "tapegrad/nn/init.h"

namespace tg::nn {
namespace {

constexpr const char* kLayer = "TransformerDecoderLayer";
constexpr const char* kDecoder = "TransformerDecoder";
constexpr const char* kTransformer = "Transformer";

void check_padding_mask(const Tensor& m, const char* who, const char* what) {
  if (!m.defined()) return;
  TG_CHECK(m.dtype() == kBool || is_floating(m.dtype()), "{}: {} must be bool (true = padding) or floating, got {}",
           who, what, dtype_name(m.dtype()));
}

}  // namespace

// ---- TransformerDecoderLayer -----------------------------------------------------------------------

TransformerDecoderLayer::TransformerDecoderLayer(TransformerDecoderLayerOptions options)
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
    // linear1 and its activation in one node: the activation runs on each block of the GEMM's
    // output as the block is written (bit-identical to relu(linear1(x)); gelu to rounding).
    const Tensor h = linear_activation(x, linear1->weight, linear1->bias, options_.activation());
    return dropout3->forward(linear2->forward(dropout->forward(h)));
  };
  Tensor x = tgt;
  if (options_.norm_first()) {
    x = add(x, sa_block(norm1->forward(x)));
    x = add(x, mha_block(norm2->forward(x)));
    x = add(x, ff_block(norm3->forward(x)));
  } else {
    x = norm1->forward(add(x, sa_block(x)));
    x = norm2->forward(add(x, mha_block(x)));
    x = norm3->forward(add(x, ff_block(x)));
  }
  return x;
}

// ---- TransformerDecoder ----------------------------------------------------------------------------

TransformerDecoder::TransformerDecoder(TransformerDecoderOptions options)
    : Cloneable(kDecoder), options_(std::move(options)) {
  TG_CHECK(options_.decoder_layer() != nullptr, "{}: decoder_layer must not be null", kDecoder);
  TG_CHECK(options_.num_layers() > 0, "{}: num_layers must be positive, got {}", kDecoder, options_.num_layers());
  reset();
}

void TransformerDecoder::reset() {
  // Clones of the prototypes, so that clone() never shares a layer or the norm with the original.
  layers = register_module("layers", std::make_shared<ModuleList>());
  for (std::int64_t i = 0; i < options_.num_layers(); ++i) layers->push_back(options_.decoder_layer()->clone());
  norm = nullptr;
  if (options_.norm()) norm = register_module("norm", std::dynamic_pointer_cast<LayerNorm>(options_.norm()->clone()));
}

std::shared_ptr<TransformerDecoderLayer> TransformerDecoder::layer(std::size_t i) const {
  return layers->at<TransformerDecoderLayer>(i);
}

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

Transformer::Transformer(TransformerOptions options) : Cloneable(kTransformer), options_(std::move(options)) {
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
  const LayerNormOptions norm_options = LayerNormOptions({o.d_model()}).eps(o.layer_norm_eps());
  if (o.custom_encoder()) {
    encoder = register_module("encoder", std::dynamic_pointer_cast<TransformerEncoder>(o.custom_encoder()->clone()));
  } else {
    auto layer = std::make_shared<TransformerEncoderLayer>(TransformerEncoderLayerOptions(o.d_model(), o.nhead())
                                                               .dim_feedforward(o.dim_feedforward())
                                                               .dropout(o.dropout())
                                                               .activation(o.activation())
                                                               .layer_norm_eps(o.layer_norm_eps())
                                                               .batch_first(o.batch_first())
                                                               .norm_first(o.norm_first()));
    encoder = register_module("encoder", std::make_shared<TransformerEncoder>(
                                             layer, o.num_encoder_layers(), std::make_shared<LayerNorm>(norm_options)));
  }
  if (o.custom_decoder()) {
    decoder = register_module("decoder", std::dynamic_pointer_cast<TransformerDecoder>(o.custom_decoder()->clone()));
  } else {
    auto layer = std::make_shared<TransformerDecoderLayer>(TransformerDecoderLayerOptions(o.d_model(), o.nhead())
                                                               .dim_feedforward(o.dim_feedforward())
                                                               .dropout(o.dropout())
                                                               .activation(o.activation())
                                                               .layer_norm_eps(o.layer_norm_eps())
                                                               .batch_first(o.batch_first())
                                                               .norm_first(o.norm_first()));
    decoder = register_module("decoder", std::make_shared<TransformerDecoder>(
                                             layer, o.num_decoder_layers(), std::make_shared<LayerNorm>(norm_options)));
  }
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

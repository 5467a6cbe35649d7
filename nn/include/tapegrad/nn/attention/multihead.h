#pragma once
/// nn::MultiheadAttention with PyTorch 1.13's parameters, state_dict keys, initialisation, shapes
/// and numerics (query, key and value of the same embed_dim; packed in-projection).
///
///     in_proj_weight [3E, E], in_proj_bias [3E]   (rows: q, then k, then v)
///     out_proj.weight [E, E], out_proj.bias [E]   (out_proj is a Linear child)
///
/// Query rows whose keys are all masked out (by key_padding_mask and attn_mask together) give
/// NaN outputs and weights, as PyTorch 1.13 does; see attention/scaled_dot_product.h.
#include <memory>

#include "tapegrad/core/options.h"
#include "tapegrad/nn/attention/scaled_dot_product.h"
#include "tapegrad/nn/linear.h"
#include "tapegrad/nn/module.h"

namespace tg::nn {

struct MultiheadAttentionOptions : public ChainedOptions<MultiheadAttentionOptions> {
  MultiheadAttentionOptions(std::int64_t embed_dim, std::int64_t num_heads)
      : embed_dim_(embed_dim), num_heads_(num_heads), kdim_(embed_dim), vdim_(embed_dim) {}
  /// Dropout on the attention weights, in training mode; in [0, 1).
  MultiheadAttentionOptions& dropout(double p) { return assign(dropout_, p); }
  /// Biases in the in- and out-projections (in_proj_bias, out_proj.bias).
  MultiheadAttentionOptions& bias(bool on) { return assign(bias_, on); }
  /// Inputs and outputs are [B, L, E] rather than [L, B, E].
  MultiheadAttentionOptions& batch_first(bool on) { return assign(batch_first_, on); }
  /// Key and value sizes: only embed_dim is supported (separate projections are not).
  MultiheadAttentionOptions& kdim(std::int64_t d) { return assign(kdim_, d); }
  MultiheadAttentionOptions& vdim(std::int64_t d) { return assign(vdim_, d); }
  std::int64_t embed_dim() const { return embed_dim_; }
  std::int64_t num_heads() const { return num_heads_; }
  double dropout() const { return dropout_; }
  bool bias() const { return bias_; }
  bool batch_first() const { return batch_first_; }
  std::int64_t kdim() const { return kdim_; }
  std::int64_t vdim() const { return vdim_; }

 private:
  std::int64_t embed_dim_, num_heads_, kdim_, vdim_;
  double dropout_ = 0.0;
  bool bias_ = true, batch_first_ = false;
};

/// What MultiheadAttention::forward returns; weights is undefined when need_weights is false.
using MultiheadAttentionOutput = functional::AttentionOutput;

/// Attention over num_heads heads of size embed_dim / num_heads. Init as PyTorch:
/// xavier_uniform_ in_proj_weight, zero biases, out_proj.weight as Linear's default.
class MultiheadAttention : public Cloneable<MultiheadAttention> {
 public:
  explicit MultiheadAttention(MultiheadAttentionOptions options);
  MultiheadAttention(std::int64_t embed_dim, std::int64_t num_heads)
      : MultiheadAttention(MultiheadAttentionOptions(embed_dim, num_heads)) {}
  void reset() override;

  /// query [L, B, E], key and value [S, B, E] ([B, L, E] / [B, S, E] when batch_first; [L, E] /
  /// [S, E] unbatched) -> output of query's shape, and weights [B, L, S] averaged over heads
  /// ([B, num_heads, L, S] when !average_attn_weights; without B when unbatched).
  /// key_padding_mask [B, S] ([S] unbatched): bool, true = ignore that key; or floating, added.
  /// attn_mask [L, S] or [B * num_heads, L, S]: bool, true = masked out; or floating, added.
  /// The weights returned are those after dropout, as PyTorch returns them.
  MultiheadAttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                   const Tensor& key_padding_mask = {}, bool need_weights = true,
                                   const Tensor& attn_mask = {}, bool average_attn_weights = true);
  /// Self-attention output, forward(x, x, x) without weights (for Sequential and summary()).
  Tensor forward(const Tensor& x) override { return forward(x, x, x, {}, false).output; }

  const MultiheadAttentionOptions& options() const { return options_; }
  std::int64_t head_dim() const { return options_.embed_dim() / options_.num_heads(); }

  Tensor in_proj_weight, in_proj_bias;
  std::shared_ptr<Linear> out_proj;

 private:
  MultiheadAttentionOptions options_;
};

}  // namespace tg::nn

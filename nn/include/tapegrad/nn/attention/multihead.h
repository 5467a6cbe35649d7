#pragma once
/// nn::MultiheadAttention with PyTorch 1.13's parameters, state_dict keys (in PyTorch's order),
/// initialisation, shapes and numerics, for every option of torch.nn.MultiheadAttention:
///
///     kdim == vdim == embed_dim (E):  in_proj_weight [3E, E]       (rows: q, then k, then v)
///     otherwise (separate projections): q_proj_weight [E, E], k_proj_weight [E, kdim],
///                                       v_proj_weight [E, vdim]    (in_proj_weight absent)
///     in_proj_bias [3E]                           (when bias)
///     bias_k [1, 1, E], bias_v [1, 1, E]          (when add_bias_kv)
///     out_proj.weight [E, E], out_proj.bias [E]   (out_proj is a Linear child)
///
/// add_bias_kv appends bias_k and bias_v to the projected keys and values as one more source
/// position; add_zero_attn then appends a zero key and value to every head. Each adds a column
/// to the weights (S + 1, S + 2 with both) that no mask covers: the masks given are for the S
/// keys of the input and are padded with "may attend", as PyTorch pads them.
///
/// A query row whose keys are all masked gives a zero output row and zero weights (PyTorch 1.13
/// gives NaN); see attention/mask.h.
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
  /// Learned bias_k and bias_v appended to the keys and values (one more source position).
  MultiheadAttentionOptions& add_bias_kv(bool on) { return assign(add_bias_kv_, on); }
  /// A zero key and value appended to every head after the projections.
  MultiheadAttentionOptions& add_zero_attn(bool on) { return assign(add_zero_attn_, on); }
  /// Feature sizes of key and value (default embed_dim); either one different from embed_dim
  /// gives separate q/k/v projection weights instead of in_proj_weight.
  MultiheadAttentionOptions& kdim(std::int64_t d) { return assign(kdim_, d); }
  MultiheadAttentionOptions& vdim(std::int64_t d) { return assign(vdim_, d); }
  std::int64_t embed_dim() const { return embed_dim_; }
  std::int64_t num_heads() const { return num_heads_; }
  double dropout() const { return dropout_; }
  bool bias() const { return bias_; }
  bool batch_first() const { return batch_first_; }
  bool add_bias_kv() const { return add_bias_kv_; }
  bool add_zero_attn() const { return add_zero_attn_; }
  std::int64_t kdim() const { return kdim_; }
  std::int64_t vdim() const { return vdim_; }

 private:
  std::int64_t embed_dim_, num_heads_, kdim_, vdim_;
  double dropout_ = 0.0;
  bool bias_ = true, batch_first_ = false, add_bias_kv_ = false, add_zero_attn_ = false;
};

/// What MultiheadAttention::forward returns; weights is undefined when need_weights is false.
using MultiheadAttentionOutput = functional::AttentionOutput;

/// Attention over num_heads heads of size embed_dim / num_heads. Init as PyTorch:
/// xavier_uniform_ on in_proj_weight (or on q_proj_weight, k_proj_weight, v_proj_weight), zero
/// in_proj_bias and out_proj.bias, out_proj.weight as Linear's default, xavier_normal_ on
/// bias_k and bias_v.
class MultiheadAttention : public WithOptions<MultiheadAttention, MultiheadAttentionOptions> {
 public:
  explicit MultiheadAttention(MultiheadAttentionOptions options);
  MultiheadAttention(std::int64_t embed_dim, std::int64_t num_heads)
      : MultiheadAttention(MultiheadAttentionOptions(embed_dim, num_heads)) {}
  void reset() override;

  /// query [L, B, E], key [S, B, kdim], value [S, B, vdim] ([B, L, E] / [B, S, kdim] /
  /// [B, S, vdim] when batch_first; without B unbatched) -> output of query's shape, and weights
  /// [B, L, S'] averaged over heads ([B, num_heads, L, S'] when !average_attn_weights; without B
  /// when unbatched), S' = S + add_bias_kv + add_zero_attn.
  /// key_padding_mask [B, S] ([S] unbatched): bool, true = ignore that key; or floating, added.
  /// attn_mask [L, S] or [B * num_heads, L, S]: bool, true = masked out; or floating, added.
  /// The weights returned are those after dropout, as PyTorch returns them.
  MultiheadAttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                   const Tensor& key_padding_mask = {}, bool need_weights = true,
                                   const Tensor& attn_mask = {}, bool average_attn_weights = true);
  /// Self-attention output, forward(x, x, x) without weights (for Sequential and summary()).
  Tensor forward(const Tensor& x) override { return forward(x, x, x, {}, false).output; }

  std::int64_t head_dim() const { return options_.embed_dim() / options_.num_heads(); }
  /// kdim == vdim == embed_dim: one packed in_proj_weight (PyTorch's _qkv_same_embed_dim).
  bool qkv_same_embed_dim() const {
    return options_.kdim() == options_.embed_dim() && options_.vdim() == options_.embed_dim();
  }

  // Undefined when absent: in_proj_weight with separate projections, q/k/v_proj_weight without,
  // in_proj_bias without bias, bias_k and bias_v without add_bias_kv.
  Tensor in_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight, in_proj_bias;
  Tensor bias_k, bias_v;
  std::shared_ptr<Linear> out_proj;
};

}  // namespace tg::nn

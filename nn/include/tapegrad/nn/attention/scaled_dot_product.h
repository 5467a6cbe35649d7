#pragma once
/// Scaled dot-product attention. Without the weights (scaled_dot_product_attention), core's fused
/// kernel computes it (tg::fused_scaled_dot_product_attention: tiled, online softmax, no [L, S]
/// matrix in memory), except for a floating mask that requires grad; with the weights
/// (scaled_dot_product_attention_with_weights), a composition of core ops (matmul, masked_fill,
/// softmax, dropout) that autograd differentiates like any other, and the fused kernel's oracle:
///
///     weights = softmax(q k^T * scale + mask, dim -1)        [..., L, S], scale = 1 / sqrt(E)
///                                                             unless given
///     output  = dropout(weights, dropout_p) v                 [..., L, Ev]
///
/// Masks follow nn.MultiheadAttention's convention (PyTorch 1.13): a bool mask is true where a
/// query must NOT attend (note: PyTorch 2's F.scaled_dot_product_attention uses the opposite
/// meaning for bool masks); a floating mask is added to the scores.
///
/// A query row whose keys are all masked out (every key true, or -inf, in the mask and the causal
/// triangle together) gets zero weights and a zero output row, and passes zero gradients to q, k,
/// v and the mask: never NaN. This is the one place where tapegrad deliberately differs from
/// PyTorch 1.13, whose nn.MultiheadAttention gives NaN there (see attention/mask.h and
/// docs/attention.md). MultiheadAttention and the Transformer layers inherit it.
#include <cstdint>
#include <optional>

#include "tapegrad/core/random.h"
#include "tapegrad/core/tensor.h"

namespace tg::nn::functional {

/// The attention output and the attention weights (after dropout, as nn.MultiheadAttention returns them).
struct AttentionOutput {
  Tensor output;   // [..., L, Ev]
  Tensor weights;  // [..., L, S]
};

/// q [..., L, E], k [..., S, E], v [..., S, Ev] (batch dims broadcast) -> [..., L, Ev].
/// attn_mask (optional): bool (true = masked out) or floating (added), broadcastable to
/// [..., L, S] without enlarging it. dropout_p in [0, 1): dropout on the weights (always applied
/// when > 0, as in PyTorch's functional form; modules pass 0 in evaluation). is_causal masks
/// key j > query i (top-left aligned when L != S); with attn_mask too, both apply. scale
/// (finite) replaces 1 / sqrt(E), as PyTorch 2.1's `scale=` does.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask = {},
                                    double dropout_p = 0.0, bool is_causal = false,
                                    std::optional<double> scale = std::nullopt, Generator* generator = nullptr);

/// The same, returning the attention weights [..., L, S] too.
AttentionOutput scaled_dot_product_attention_with_weights(const Tensor& q, const Tensor& k, const Tensor& v,
                                                          const Tensor& attn_mask = {}, double dropout_p = 0.0,
                                                          bool is_causal = false,
                                                          std::optional<double> scale = std::nullopt,
                                                          Generator* generator = nullptr);

}  // namespace tg::nn::functional

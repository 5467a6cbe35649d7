#pragma once
/// Scaled dot-product attention, composed from core ops (matmul, masked_fill, softmax, dropout)
/// so that autograd differentiates it like any other composition:
///
///     weights = softmax(q k^T / sqrt(E) + mask, dim -1)      [..., L, S]
///     output  = dropout(weights, dropout_p) v                 [..., L, Ev]
///
/// Masks follow nn.MultiheadAttention's convention (PyTorch 1.13): a bool mask is true where a
/// query must NOT attend (note: PyTorch 2's F.scaled_dot_product_attention uses the opposite
/// meaning for bool masks); a floating mask is added to the scores.
///
/// A query row whose keys are all masked out has softmax(-inf, ..., -inf): its weights and its
/// output row are NaN, exactly as PyTorch 1.13's nn.MultiheadAttention gives. This is not an
/// error (a batch with one empty row is still computed), but the NaN spreads into gradients;
/// mask such rows out of the loss, or make sure each query keeps at least one key.
#include <cstdint>

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
/// key j > query i (top-left aligned when L != S); with attn_mask too, both apply.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask = {},
                                    double dropout_p = 0.0, bool is_causal = false, Generator* generator = nullptr);

/// The same, returning the attention weights [..., L, S] too.
AttentionOutput scaled_dot_product_attention_with_weights(const Tensor& q, const Tensor& k, const Tensor& v,
                                                          const Tensor& attn_mask = {}, double dropout_p = 0.0,
                                                          bool is_causal = false, Generator* generator = nullptr);

}  // namespace tg::nn::functional

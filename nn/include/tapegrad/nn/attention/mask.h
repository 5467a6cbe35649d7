#pragma once
/// The one mask convention of tapegrad's attention, used by every module:
///
///   bool mask      true = this query may NOT attend to this key (PyTorch 1.13's
///                  nn.MultiheadAttention convention; PyTorch 2's F.scaled_dot_product_attention
///                  uses the opposite meaning for bool masks)
///   floating mask  added to the scores (0 keeps a key, -inf removes it)
///
/// A mask broadcasts (NumPy rules, without enlarging the scores) to [B, Tq, Tk], or to
/// [B, H, Tq, Tk] in the multi-head modules. A query row whose keys are ALL masked (true, or
/// -inf) gets zero weights, hence a zero output row, and passes zero gradients to q, k, v and
/// upstream: never NaN. That is the one deliberate difference from PyTorch 1.13, which gives NaN.
#include <cstdint>
#include <string_view>
#include <vector>

#include "tapegrad/core/tensor.h"

namespace tg::nn {

/// int64 lengths [B] (each in 1..max_len) -> bool [B, max_len], true at steps t >= lengths[b]
/// (padding): a key-padding mask.
Tensor lengths_to_padding_mask(const Tensor& lengths, std::int64_t max_len);
Tensor lengths_to_padding_mask(const std::vector<std::int64_t>& lengths, std::int64_t max_len);

/// [sz, sz] floating causal mask as torch.nn.Transformer.generate_square_subsequent_mask gives
/// it: 0 on and below the diagonal, -inf above (query i may not attend to key j > i).
Tensor generate_square_subsequent_mask(std::int64_t sz, DType dtype = kFloat32);

/// Checks that mask is bool or floating and broadcasts to scores_shape ([B, Tq, Tk] or
/// [B, H, Tq, Tk]) without enlarging it; the error names who, what ("mask", "attn_mask"), the
/// shapes and the dtype.
void check_attention_mask(const Tensor& mask, IntArrayRef scores_shape, std::string_view who,
                          std::string_view what = "mask");

/// Two masks as one (either may be undefined): bool and bool is their logical or; otherwise both
/// become additive (bool true -> -inf) in dtype and are added. Shapes broadcast.
Tensor merge_masks(const Tensor& a, const Tensor& b, DType dtype);

/// A 3-D mask [B, Tq, Tk] for modules with heads: [B, 1, Tq, Tk] (broadcast over the heads);
/// other ranks unchanged.
Tensor mask_for_heads(const Tensor& mask);

namespace functional {

/// softmax over the last dim of scores [..., Tk] after applying mask (bool: true = -inf; floating:
/// added; broadcastable to scores). Rows whose keys are all masked give zero weights and zero
/// gradients instead of NaN. When no row is fully masked this is one masked_fill (or add) and
/// one softmax, plus a reduction of the mask over its last dim to find such rows.
Tensor masked_softmax(const Tensor& scores, const Tensor& mask);

}  // namespace functional
}  // namespace tg::nn

#pragma once
/// The attention family (src/ops/attention.cpp): a fused, memory-efficient scaled-dot-product
/// attention (tiled, online softmax) whose memory grows with the sequence lengths, not their
/// product. Its test oracle is the composed nn::functional::scaled_dot_product_attention
/// (tests/core/test_attention_fused.cpp), which uses it whenever the weights are not requested.
#include <optional>

#include "tapegrad/core/random.h"
#include "tapegrad/core/tensor.h"

namespace tg {

/// softmax(q k^T * scale + mask) v without the [L, S] matrix: q [..., L, E], k [..., S, E],
/// v [..., S, Ev] with the same leading dims and dtype (float32 or float64) -> [..., L, Ev].
/// scale defaults to 1 / sqrt(E). attn_mask (optional) broadcasts to [..., L, S]: bool (true =
/// may not attend) or floating (added; it may not require grad). is_causal masks key j > query i
/// (top-left aligned when L != S). A query row whose keys are all masked gives a zero output row
/// and zero gradients. dropout_p in [0, 1) drops attention weights with the generator (default:
/// the default one), drawing exactly what tg::rand([..., L, S], dtype) would draw from it, so
/// tg::dropout on the composed weights with the same generator state drops the same weights;
/// the backward regenerates the mask from the generator's seed and the draw's first counter.
Tensor fused_scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                          const Tensor& attn_mask = {}, double dropout_p = 0.0, bool is_causal = false,
                                          std::optional<double> scale = std::nullopt, Generator* generator = nullptr);

}  // namespace tg

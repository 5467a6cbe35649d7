// Scaled dot-product attention: without the weights, core's fused kernel
// (tg::fused_scaled_dot_product_attention, core/src/ops/attention.cpp: tiled, online softmax, no
// [L, S] matrix); with them, or when the fused kernel cannot serve (see fused_path_applies), a
// composition of core ops, which is also the fused kernel's test oracle.
//
// The composition. The order of operations is
// PyTorch 1.13's (F.multi_head_attention_forward): q is divided by sqrt(E) before the product,
// the mask is added to (or, for bool masks, written into) the scores, then softmax, dropout and
// the product with v. A bool mask and PyTorch's float mask of 0 / -inf give the same scores.
// The softmax is nn::functional::masked_softmax (attention/mask.cpp): a fully masked row gives
// zero weights and zero gradients where PyTorch 1.13 gives NaN.
#include "tapegrad/nn/attention/scaled_dot_product.h"

#include <cmath>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops.h"
#include "tapegrad/core/ops/activation.h"
#include "tapegrad/core/ops/attention.h"
#include "tapegrad/core/ops/dropout.h"
#include "tapegrad/core/ops/elementwise.h"
#include "tapegrad/core/ops/index.h"
#include "tapegrad/core/ops/reduce.h"
#include "tapegrad/nn/attention/mask.h"

namespace tg::nn::functional {
namespace {

constexpr const char* kOp = "scaled_dot_product_attention";

void check_inputs(const Tensor& q, const Tensor& k, const Tensor& v, double dropout_p, std::optional<double> scale) {
  TG_CHECK(q.dim() >= 2 && k.dim() >= 2 && v.dim() >= 2,
           "{}: q, k and v need at least 2 dims [..., L, E], got shapes {}, {} and {}", kOp, q.shape(), k.shape(),
           v.shape());
  TG_CHECK(is_floating(q.dtype()) && is_floating(k.dtype()) && is_floating(v.dtype()),
           "{}: q, k and v must be floating, got {}, {} and {}", kOp, dtype_name(q.dtype()), dtype_name(k.dtype()),
           dtype_name(v.dtype()));
  TG_CHECK(q.size(-1) == k.size(-1),
           "{}: q and k need the same embedding size in their last dim, got {} ({}) and {} ({})", kOp, q.size(-1),
           q.shape(), k.size(-1), k.shape());
  TG_CHECK(k.size(-2) == v.size(-2), "{}: k and v need the same sequence length S in dim -2, got {} ({}) and {} ({})",
           kOp, k.size(-2), k.shape(), v.size(-2), v.shape());
  TG_CHECK(dropout_p >= 0 && dropout_p < 1, "{}: dropout_p must be in [0, 1), got {}", kOp, dropout_p);
  TG_CHECK(!scale || std::isfinite(*scale), "{}: scale must be finite, got {}", kOp, scale.value_or(0));
}

/// The fused kernel (core's attention family) serves every call without weights, except a
/// floating mask that requires grad (its gradient is [..., L, S], which the fused kernel never
/// forms), non-float dtypes mixed, and empty sizes: those take the composed path.
bool fused_path_applies(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask) {
  if (q.dtype() != k.dtype() || q.dtype() != v.dtype()) return false;
  if (q.size(-1) == 0 || v.size(-1) == 0 || k.size(-2) == 0) return false;
  return !(mask.defined() && mask.dtype() != kBool && autograd::needs_grad(mask));
}

/// The batch dims of t [..., X, Y].
DimVec leading(const Tensor& t) { return DimVec(IntArrayRef(t.shape().data(), static_cast<std::size_t>(t.dim() - 2))); }

}  // namespace

AttentionOutput scaled_dot_product_attention_with_weights(const Tensor& q, const Tensor& k, const Tensor& v,
                                                          const Tensor& attn_mask, double dropout_p, bool is_causal,
                                                          std::optional<double> scale, Generator* generator) {
  check_inputs(q, k, v, dropout_p, scale);
  const std::int64_t L = q.size(-2), S = k.size(-2);
  // The scale goes on q ([..., L, E]) rather than on the scores ([..., L, S]).
  const Tensor qs = scale ? mul(q, *scale) : div(q, std::sqrt(static_cast<double>(q.size(-1))));
  Tensor scores = matmul(qs, k.transpose(-2, -1));  // [..., L, S]
  Tensor mask = attn_mask;
  if (mask.defined()) check_attention_mask(mask, scores.shape(), kOp, "attn_mask");
  if (is_causal) {
    // Key j is masked out for query i when j > i: the strict upper triangle of [L, S], merged
    // with attn_mask so that the masked softmax sees every masked key of a row at once.
    mask = merge_masks(mask, gt(triu(ones({L, S}), 1), 0.0), scores.dtype());
  }
  Tensor weights = masked_softmax(scores, mask);
  if (dropout_p > 0) weights = dropout(weights, dropout_p, true, generator);
  return {matmul(weights, v), weights};
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask,
                                    double dropout_p, bool is_causal, std::optional<double> scale,
                                    Generator* generator) {
  check_inputs(q, k, v, dropout_p, scale);
  if (!fused_path_applies(q, k, v, attn_mask))
    return scaled_dot_product_attention_with_weights(q, k, v, attn_mask, dropout_p, is_causal, scale, generator).output;
  // The fused kernel wants the same batch dims on q, k and v: broadcast them as views.
  DimVec batch = broadcast_shapes(leading(q), leading(k), kOp);
  batch = broadcast_shapes(batch, leading(v), kOp);
  auto with_batch = [&](const Tensor& t) {
    DimVec shape = batch;
    shape.push_back(t.size(-2));
    shape.push_back(t.size(-1));
    return same_values(t.shape(), shape) ? t : t.expand(shape);
  };
  const Tensor qb = with_batch(q);
  if (attn_mask.defined()) {
    DimVec scores = leading(qb);
    scores.push_back(q.size(-2));
    scores.push_back(k.size(-2));
    check_attention_mask(attn_mask, scores, kOp, "attn_mask");
  }
  return fused_scaled_dot_product_attention(qb, with_batch(k), with_batch(v), attn_mask, dropout_p, is_causal, scale,
                                            generator);
}

}  // namespace tg::nn::functional

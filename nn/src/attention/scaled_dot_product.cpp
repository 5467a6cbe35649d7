// Scaled dot-product attention as a composition of core ops. The order of operations is
// PyTorch 1.13's (F.multi_head_attention_forward): q is divided by sqrt(E) before the product,
// the mask is added to (or, for bool masks, written into) the scores, then softmax, dropout and
// the product with v. A bool mask and PyTorch's float mask of 0 / -inf give the same scores.
#include "tapegrad/nn/attention/scaled_dot_product.h"

#include <cmath>
#include <limits>

#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops.h"
#include "tapegrad/core/ops/activation.h"
#include "tapegrad/core/ops/dropout.h"
#include "tapegrad/core/ops/elementwise.h"
#include "tapegrad/core/ops/index.h"
#include "tapegrad/core/ops/reduce.h"

namespace tg::nn::functional {
namespace {

constexpr const char* kOp = "scaled_dot_product_attention";

/// True when mask's shape broadcasts to scores (trailing alignment, sizes equal or 1, no extra dims).
bool broadcasts_to(IntArrayRef mask, IntArrayRef scores) {
  if (mask.size() > scores.size()) return false;
  const std::size_t lead = scores.size() - mask.size();
  for (std::size_t i = 0; i < mask.size(); ++i)
    if (mask[i] != 1 && mask[i] != scores[lead + i]) return false;
  return true;
}

void check_inputs(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask, double dropout_p) {
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
  if (attn_mask.defined())
    TG_CHECK(attn_mask.dtype() == kBool || is_floating(attn_mask.dtype()),
             "{}: attn_mask must be bool (true = masked out) or floating (added), got {}", kOp,
             dtype_name(attn_mask.dtype()));
}

}  // namespace

AttentionOutput scaled_dot_product_attention_with_weights(const Tensor& q, const Tensor& k, const Tensor& v,
                                                          const Tensor& attn_mask, double dropout_p, bool is_causal,
                                                          Generator* generator) {
  check_inputs(q, k, v, attn_mask, dropout_p);
  const std::int64_t L = q.size(-2), S = k.size(-2);
  const double scale = std::sqrt(static_cast<double>(q.size(-1)));
  Tensor scores = matmul(div(q, scale), k.transpose(-2, -1));  // [..., L, S]
  constexpr double kNegInf = -std::numeric_limits<double>::infinity();
  if (attn_mask.defined()) {
    TG_CHECK(broadcasts_to(attn_mask.shape(), scores.shape()),
             "{}: attn_mask of shape {} does not broadcast to the attention scores' shape {} ([..., L, S])", kOp,
             attn_mask.shape(), scores.shape());
    if (attn_mask.dtype() == kBool) scores = masked_fill(scores, attn_mask, kNegInf);
    else scores = add(scores, attn_mask.dtype() == scores.dtype() ? attn_mask : attn_mask.to(scores.dtype()));
  }
  if (is_causal) {
    // Key j is masked out for query i when j > i: the strict upper triangle of [L, S].
    const Tensor causal = gt(triu(ones({L, S}), 1), 0.0);
    scores = masked_fill(scores, causal, kNegInf);
  }
  Tensor weights = softmax(scores, -1);
  if (dropout_p > 0) weights = dropout(weights, dropout_p, true, generator);
  return {matmul(weights, v), weights};
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask,
                                    double dropout_p, bool is_causal, Generator* generator) {
  return scaled_dot_product_attention_with_weights(q, k, v, attn_mask, dropout_p, is_causal, generator).output;
}

}  // namespace tg::nn::functional

// Attention, AttentionPooling and SelfAttention: thin compositions of a Score, the masked
// softmax (mask.cpp, where fully masked rows become zeros) and batched matmuls.
//
// SelfAttention's heads: [B, T, E] -> view [B, T, H, d] -> transpose(1, 2) -> [B, H, T, d]. The
// transpose is what keeps each head's rows one position each; a bare view(B * H, T, d) of the
// [B, T, E] buffer would cut it in row-major order, so "head 0" would hold the first H positions'
// halves (docs/attention.md shows it with numbers).
#include "tapegrad/nn/attention/attention.h"

#include <cmath>
#include <limits>

#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops.h"
#include "tapegrad/core/ops/dropout.h"
#include "tapegrad/core/ops/index.h"
#include "tapegrad/nn/activation.h"
#include "tapegrad/nn/attention/mask.h"
#include "tapegrad/nn/init.h"

namespace tg::nn {
namespace {

void check_dropout(const char* who, double p) {
  TG_CHECK(p >= 0 && p < 1, "{}: dropout must be in [0, 1), got {}", who, p);
}

}  // namespace

// ---- Attention ------------------------------------------------------------------------------------

Attention::Attention(AttentionOptions options) : WithOptions("Attention", std::move(options)) {
  check_dropout("Attention", options_.dropout());
  const std::string& n = options_.score().name();
  if (!options_.score().object() && (n == "general" || n == "additive"))
    TG_CHECK(options_.query_dim() > 0,
             "Attention: the score \"{}\" has weights; give its sizes, AttentionOptions(\"{}\", query_dim, key_dim)", n,
             n);
  reset();
}

void Attention::reset() {
  score = register_module("score", options_.score().make(options_.query_dim(), options_.key_dim()));
}

functional::AttentionOutput Attention::forward(const Tensor& query, const Tensor& keys, const Tensor& values,
                                               const Tensor& mask) {
  TG_CHECK(query.dim() == 3 && keys.dim() == 3 && values.dim() == 3,
           "Attention: expected query [B, Tq, dq], keys [B, Tk, dk] and values [B, Tk, dv], got shapes {}, {} and {}",
           query.shape(), keys.shape(), values.shape());
  TG_CHECK(query.size(0) == keys.size(0) && keys.size(0) == values.size(0) && keys.size(1) == values.size(1),
           "Attention: query, keys and values need one batch size B, and keys and values one length Tk, got shapes "
           "{}, {} and {}",
           query.shape(), keys.shape(), values.shape());
  const Tensor scores = score->score(query, keys);  // [B, Tq, Tk]
  if (mask.defined()) check_attention_mask(mask, scores.shape(), "Attention");
  Tensor weights = functional::masked_softmax(scores, mask);
  if (is_training() && options_.dropout() > 0) weights = dropout(weights, options_.dropout(), true);
  return {matmul(weights, values), weights};
}

// ---- AttentionPooling -----------------------------------------------------------------------------

AttentionPooling::AttentionPooling(AttentionPoolingOptions options) : WithOptions("AttentionPooling", options) {
  TG_CHECK(options_.hidden() > 0, "AttentionPooling: hidden must be positive, got {}", options_.hidden());
  TG_CHECK(options_.mlp_hidden() > 0, "AttentionPooling: mlp_hidden must be positive, got {}", options_.mlp_hidden());
  reset();
}

void AttentionPooling::reset() {
  const std::int64_t H = options_.hidden(), m = options_.mlp_hidden();
  if (options_.query() == PoolingQuery::kLearned) {
    // As Linear(H, 1)'s weight: uniform(-1/sqrt(H), 1/sqrt(H)).
    query = register_parameter("query", empty({H}));
    const double bound = 1.0 / std::sqrt(static_cast<double>(H));
    init::uniform_(query, -bound, bound);
  } else {
    query_mlp = register_module(
        "query_mlp", std::make_shared<Sequential>(Sequential{std::make_shared<Linear>(H, m), std::make_shared<Tanh>(),
                                                             std::make_shared<Linear>(m, H)}));
  }
}

AttentionPoolingOutput AttentionPooling::forward(const Tensor& h, const Tensor& padding_mask) {
  const std::int64_t H = options_.hidden();
  TG_CHECK(h.dim() == 3 && h.size(2) == H, "AttentionPooling: expected h [B, T, H] with H = {}, got shape {}", H,
           h.shape());
  const std::int64_t B = h.size(0), T = h.size(1);
  if (padding_mask.defined()) {
    check_attention_mask(padding_mask, DimVec{B, T}, "AttentionPooling", "padding_mask");
    TG_CHECK(padding_mask.dim() == 2, "AttentionPooling: padding_mask must be [B, T] = [{}, {}], got shape {}", B, T,
             padding_mask.shape());
  }
  const Tensor M = tanh(h);  // [B, T, H]
  Tensor scores;             // [B, T]
  if (options_.query() == PoolingQuery::kLearned) {
    scores = matmul(M, query);
  } else {
    // The real steps: 1 where kept (bool false, or a finite added value), 0 where padding.
    Tensor keep = ones({B, T}, h.dtype());
    if (padding_mask.defined()) {
      const Tensor pad =
          padding_mask.dtype() == kBool ? padding_mask : eq(padding_mask, -std::numeric_limits<double>::infinity());
      keep = masked_fill(keep, pad, 0.0);
    }
    const Tensor count = sum(keep, {1}, true);  // [B, 1]
    Tensor summary;                             // [B, H]
    if (options_.query() == PoolingQuery::kMean) {
      // A sequence with no real step keeps a zero summary (count clamped to 1), never 0/0.
      summary = div(sum(mul(h, keep.unsqueeze(-1)), {1}), clamp(count, 1.0));
    } else {
      // Right padding: the last real step is count - 1 (step 0 for an empty sequence).
      const Tensor last = clamp(sub(count, 1.0), 0.0).to(kInt64).reshape({B, 1, 1}).expand({B, 1, H});
      summary = gather(h, 1, last).squeeze(1);
    }
    const Tensor q = query_mlp->forward(summary);     // [B, H]
    scores = matmul(M, q.unsqueeze(-1)).squeeze(-1);  // [B, T]
  }
  const Tensor alpha = functional::masked_softmax(scores, padding_mask);  // [B, T]
  return {matmul(alpha.unsqueeze(1), h).squeeze(1), alpha};
}

AttentionPoolingOutput AttentionPooling::forward_with_lengths(const Tensor& h, const Tensor& lengths) {
  TG_CHECK(h.dim() == 3, "AttentionPooling: expected h [B, T, H], got shape {}", h.shape());
  TG_CHECK(lengths.dim() == 1 && lengths.size(0) == h.size(0),
           "AttentionPooling: lengths must be [B] = [{}], got shape {}", h.size(0), lengths.shape());
  return forward(h, lengths_to_padding_mask(lengths, h.size(1)));
}

// ---- SelfAttention ------------------------------------------------------------------------------

SelfAttention::SelfAttention(SelfAttentionOptions options) : WithOptions("SelfAttention", std::move(options)) {
  const auto& o = options_;
  TG_CHECK(o.embed_dim() > 0, "SelfAttention: embed_dim must be positive, got {}", o.embed_dim());
  TG_CHECK(o.num_heads() > 0, "SelfAttention: num_heads must be positive, got {}", o.num_heads());
  TG_CHECK(o.embed_dim() % o.num_heads() == 0, "SelfAttention: embed_dim {} is not divisible by num_heads {}",
           o.embed_dim(), o.num_heads());
  check_dropout("SelfAttention", o.dropout());
  reset();
}

void SelfAttention::reset() {
  const auto& o = options_;
  const std::int64_t E = o.embed_dim();
  if (o.project()) {
    auto linear = [&] { return std::make_shared<Linear>(LinearOptions(E, E).bias(o.bias())); };
    q_proj = register_module("q_proj", linear());
    k_proj = register_module("k_proj", linear());
    v_proj = register_module("v_proj", linear());
    out_proj = register_module("out_proj", linear());
  }
  score = register_module("score", o.score().make(o.head_dim(), o.head_dim()));
}

functional::AttentionOutput SelfAttention::forward(const Tensor& x, const Tensor& attn_mask,
                                                   const Tensor& key_padding_mask, bool average_attn_weights) {
  const std::int64_t E = options_.embed_dim(), H = options_.num_heads(), d = options_.head_dim();
  TG_CHECK(x.dim() == 3 && x.size(2) == E, "SelfAttention: expected x [B, T, E] with E = embed_dim = {}, got shape {}",
           E, x.shape());
  const std::int64_t B = x.size(0), T = x.size(1);
  if (attn_mask.defined())
    check_attention_mask(attn_mask, attn_mask.dim() == 4 ? DimVec{B, H, T, T} : DimVec{B, T, T}, "SelfAttention",
                         "attn_mask");
  if (key_padding_mask.defined()) {
    check_attention_mask(key_padding_mask, DimVec{B, T}, "SelfAttention", "key_padding_mask");
    TG_CHECK(key_padding_mask.dim() == 2, "SelfAttention: key_padding_mask must be [B, T] = [{}, {}], got shape {}", B,
             T, key_padding_mask.shape());
  }
  auto heads = [&](const Tensor& t) { return t.reshape({B, T, H, d}).transpose(1, 2); };  // [B, H, T, d]
  const Tensor q = options_.project() ? q_proj->forward(x) : x;
  const Tensor k = options_.project() ? k_proj->forward(x) : x;
  const Tensor v = options_.project() ? v_proj->forward(x) : x;
  const Tensor scores = score->score(heads(q), heads(k));  // [B, H, T, T]
  const Tensor kpm = key_padding_mask.defined() ? key_padding_mask.reshape({B, 1, 1, T}) : Tensor();
  const Tensor mask = merge_masks(mask_for_heads(attn_mask), kpm, scores.dtype());
  Tensor w = functional::masked_softmax(scores, mask);
  if (is_training() && options_.dropout() > 0) w = dropout(w, options_.dropout(), true);
  Tensor out = matmul(w, heads(v)).transpose(1, 2).reshape({B, T, E});  // heads joined back
  if (options_.project()) out = out_proj->forward(out);
  if (average_attn_weights) w = div(sum(w, {1}), static_cast<double>(H));
  return {out, w};
}

}  // namespace tg::nn

#pragma once
/// Attention modules built on the score functions (scores.h) and the one mask convention
/// (mask.h: bool true = may not attend, floating = added; fully masked rows give zeros):
///
///   Attention         a query over a memory:  q [B, Tq, dq], keys [B, Tk, dk], values [B, Tk, dv]
///                     -> context [B, Tq, dv], weights [B, Tq, Tk]
///   AttentionPooling  a learned query over a sequence (attention over LSTM outputs):
///                     h [B, T, H] -> context [B, H], alpha [B, T]
///   SelfAttention     x [B, T, E] attends to itself, with or without Q/K/V projections, with
///                     any score and any head count -> [B, T, E], weights
#include <cstdint>
#include <memory>
#include <string>

#include "tapegrad/core/options.h"
#include "tapegrad/nn/attention/scaled_dot_product.h"
#include "tapegrad/nn/attention/scores.h"
#include "tapegrad/nn/container.h"
#include "tapegrad/nn/linear.h"
#include "tapegrad/nn/module.h"

namespace tg::nn {

// ---- Attention ------------------------------------------------------------------------------------

struct AttentionOptions : public ChainedOptions<AttentionOptions> {
  /// query_dim and key_dim size the learned scores ("general", "additive"); key_dim defaults to
  /// query_dim.
  explicit AttentionOptions(ScoreSpec score = "scaled_dot", std::int64_t query_dim = 0, std::int64_t key_dim = 0)
      : score_(std::move(score)), query_dim_(query_dim), key_dim_(key_dim) {}
  AttentionOptions& score(ScoreSpec s) { return assign(score_, std::move(s)); }
  AttentionOptions& query_dim(std::int64_t d) { return assign(query_dim_, d); }
  AttentionOptions& key_dim(std::int64_t d) { return assign(key_dim_, d); }
  /// Dropout on the weights in training mode, in [0, 1).
  AttentionOptions& dropout(double p) { return assign(dropout_, p); }
  const ScoreSpec& score() const { return score_; }
  std::int64_t query_dim() const { return query_dim_; }
  std::int64_t key_dim() const { return key_dim_ > 0 ? key_dim_ : query_dim_; }
  double dropout() const { return dropout_; }

 private:
  ScoreSpec score_;
  std::int64_t query_dim_, key_dim_;
  double dropout_ = 0.0;
};

/// weights = masked_softmax(score(query, keys), mask), context = weights values. The score is
/// the child "score" (so a learned one's keys are score.weight, score.W_q.weight, ...).
class Attention : public WithOptions<Attention, AttentionOptions> {
 public:
  explicit Attention(AttentionOptions options = AttentionOptions());
  Attention(ScoreSpec score, std::int64_t query_dim = 0, std::int64_t key_dim = 0)
      : Attention(AttentionOptions(std::move(score), query_dim, key_dim)) {}
  void reset() override;

  /// query [B, Tq, dq], keys [B, Tk, dk], values [B, Tk, dv]; mask broadcastable to
  /// [B, Tq, Tk] (e.g. a key padding mask as [B, 1, Tk]) -> output [B, Tq, dv], weights [B, Tq, Tk].
  functional::AttentionOutput forward(const Tensor& query, const Tensor& keys, const Tensor& values,
                                      const Tensor& mask = {});
  /// Self-attention forward(x, x, x).output (for Sequential).
  Tensor forward(const Tensor& x) override { return forward(x, x, x).output; }

  std::shared_ptr<Score> score;
};

// ---- AttentionPooling -----------------------------------------------------------------------------

/// Where AttentionPooling's query comes from.
enum class PoolingQuery {
  kLearned,  ///< a free learned vector "query" [H] (Zhou et al. 2016)
  kMean,     ///< query_mlp(mean of h over the real steps)
  kLast,     ///< query_mlp(h at each sequence's last real step)
};

struct AttentionPoolingOptions : public ChainedOptions<AttentionPoolingOptions> {
  explicit AttentionPoolingOptions(std::int64_t hidden) : hidden_(hidden), mlp_hidden_(hidden) {}
  AttentionPoolingOptions& query(PoolingQuery q) { return assign(query_, q); }
  /// The hidden size of query_mlp = Sequential(Linear(H, m), Tanh, Linear(m, H)); default H.
  AttentionPoolingOptions& mlp_hidden(std::int64_t m) { return assign(mlp_hidden_, m); }
  std::int64_t hidden() const { return hidden_; }
  PoolingQuery query() const { return query_; }
  std::int64_t mlp_hidden() const { return mlp_hidden_; }

 private:
  std::int64_t hidden_, mlp_hidden_;
  PoolingQuery query_ = PoolingQuery::kLearned;
};

struct AttentionPoolingOutput {
  Tensor context;  // [B, H]
  Tensor alpha;    // [B, T]
};

/// M = tanh(h), alpha = softmax over time of M q (padding masked), context = sum_t alpha_t h_t.
class AttentionPooling : public WithOptions<AttentionPooling, AttentionPoolingOptions> {
 public:
  explicit AttentionPooling(AttentionPoolingOptions options);
  explicit AttentionPooling(std::int64_t hidden) : AttentionPooling(AttentionPoolingOptions(hidden)) {}
  void reset() override;

  /// h [B, T, H]; padding_mask [B, T]: bool (true = padding) or floating (added), or undefined.
  AttentionPoolingOutput forward(const Tensor& h, const Tensor& padding_mask);
  /// The same with int64 lengths [B], each in 1..T (steps t >= lengths[b] are padding).
  AttentionPoolingOutput forward_with_lengths(const Tensor& h, const Tensor& lengths);
  /// The context [B, H] (for Sequential).
  Tensor forward(const Tensor& h) override { return forward(h, Tensor()).context; }

  Tensor query;                           // [H], kLearned only
  std::shared_ptr<Sequential> query_mlp;  // kMean and kLast only
};

// ---- SelfAttention ------------------------------------------------------------------------------

struct SelfAttentionOptions : public ChainedOptions<SelfAttentionOptions> {
  explicit SelfAttentionOptions(std::int64_t embed_dim, std::int64_t num_heads = 1)
      : embed_dim_(embed_dim), num_heads_(num_heads) {}
  /// Q, K, V projections and an output projection (q_proj, k_proj, v_proj, out_proj), or
  /// attention directly on the input embeddings (no projections) when false.
  SelfAttentionOptions& project(bool on) { return assign(project_, on); }
  SelfAttentionOptions& score(ScoreSpec s) { return assign(score_, std::move(s)); }
  /// Biases in the projections.
  SelfAttentionOptions& bias(bool on) { return assign(bias_, on); }
  SelfAttentionOptions& dropout(double p) { return assign(dropout_, p); }
  std::int64_t embed_dim() const { return embed_dim_; }
  std::int64_t num_heads() const { return num_heads_; }
  std::int64_t head_dim() const { return num_heads_ > 0 ? embed_dim_ / num_heads_ : 0; }
  bool project() const { return project_; }
  const ScoreSpec& score() const { return score_; }
  bool bias() const { return bias_; }
  double dropout() const { return dropout_; }

 private:
  std::int64_t embed_dim_, num_heads_;
  bool project_ = true, bias_ = true;
  ScoreSpec score_ = "scaled_dot";
  double dropout_ = 0.0;
};

/// Heads: [B, T, E] -> [B, T, H, d] -> transpose -> [B, H, T, d] (d = E / H); the score (e.g.
/// scaled_dot: 1/sqrt(d)) runs per head, the heads are joined back to [B, T, E], then out_proj.
class SelfAttention : public WithOptions<SelfAttention, SelfAttentionOptions> {
 public:
  explicit SelfAttention(SelfAttentionOptions options);
  SelfAttention(std::int64_t embed_dim, std::int64_t num_heads = 1)
      : SelfAttention(SelfAttentionOptions(embed_dim, num_heads)) {}
  void reset() override;

  /// x [B, T, E]; attn_mask broadcastable to [B, T, T] (3-D, broadcast over heads) or
  /// [B, H, T, T]; key_padding_mask [B, T] (true = padding) -> output [B, T, E] and weights
  /// [B, T, T] averaged over heads, or [B, H, T, T] when !average_attn_weights.
  functional::AttentionOutput forward(const Tensor& x, const Tensor& attn_mask, const Tensor& key_padding_mask = {},
                                      bool average_attn_weights = true);
  Tensor forward(const Tensor& x) override { return forward(x, Tensor()).output; }

  std::shared_ptr<Linear> q_proj, k_proj, v_proj, out_proj;  // project() only
  std::shared_ptr<Score> score;
};

}  // namespace tg::nn

#pragma once
/// Positional encodings: what tells attention, which is blind to order, where each token sits.
///
///     SinusoidalPositionalEncoding   the Transformer paper's fixed table, a buffer `pe` [max_len, d]
///     LearnedPositionalEncoding      a trained table, a parameter `weight` [max_len, d] (BERT, GPT-2)
///     apply_rotary_embedding, RotaryEmbedding
///                                    RoPE: rotates q and k instead of adding to the input, so that
///                                    q_m . k_n depends only on the offset m - n
///
/// The two additive encodings take [B, T, d] (batch_first, the default) or [T, B, d], or an
/// unbatched [T, d], add the rows 0..T-1 of their table (or start..start+T-1), then apply dropout.
#include <cstdint>

#include "tapegrad/core/options.h"
#include "tapegrad/nn/module.h"

namespace tg::nn {

struct SinusoidalPositionalEncodingOptions : public ChainedOptions<SinusoidalPositionalEncodingOptions> {
  explicit SinusoidalPositionalEncodingOptions(std::int64_t d_model, std::int64_t max_len = 5000)
      : d_model_(d_model), max_len_(max_len) {}
  /// Dropout after the addition, in training mode; in [0, 1].
  SinusoidalPositionalEncodingOptions& dropout(double p) { return assign(dropout_, p); }
  /// Inputs are [B, T, d] (true, the default) or [T, B, d] (false).
  SinusoidalPositionalEncodingOptions& batch_first(bool on) { return assign(batch_first_, on); }
  /// The 10000 of the wavelengths 10000^(2i/d).
  SinusoidalPositionalEncodingOptions& base(double b) { return assign(base_, b); }
  std::int64_t d_model() const { return d_model_; }
  std::int64_t max_len() const { return max_len_; }
  double dropout() const { return dropout_; }
  bool batch_first() const { return batch_first_; }
  double base() const { return base_; }

 private:
  std::int64_t d_model_, max_len_;
  double dropout_ = 0.1, base_ = 10000.0;
  bool batch_first_ = true;
};

/// The sinusoidal table of "Attention Is All You Need", [max_len, d_model] in float64:
///     pe[pos, 2i] = sin(pos / base^(2i/d)),  pe[pos, 2i+1] = cos(pos / base^(2i/d)).
/// An odd d_model is allowed: the last column is a sine (ceil(d/2) sines, floor(d/2) cosines).
Tensor sinusoidal_table(std::int64_t max_len, std::int64_t d_model, double base = 10000.0);

/// x + pe[0:T], then dropout (p = 0.1 by default, as the PyTorch tutorial's PositionalEncoding).
/// pe [max_len, d_model] is a persistent buffer (in state_dict under `pe`), never trained.
class SinusoidalPositionalEncoding : public Cloneable<SinusoidalPositionalEncoding> {
 public:
  explicit SinusoidalPositionalEncoding(SinusoidalPositionalEncodingOptions options);
  explicit SinusoidalPositionalEncoding(std::int64_t d_model, std::int64_t max_len = 5000, double dropout = 0.1)
      : SinusoidalPositionalEncoding(SinusoidalPositionalEncodingOptions(d_model, max_len).dropout(dropout)) {}
  void reset() override;
  /// [B, T, d] ([T, B, d] when !batch_first; [T, d] unbatched) -> the same shape.
  Tensor forward(const Tensor& x) override { return forward(x, 0); }
  /// The same with positions start..start+T-1 (decoding one step at a time).
  Tensor forward(const Tensor& x, std::int64_t start);
  const SinusoidalPositionalEncodingOptions& options() const { return options_; }
  Tensor pe;

 private:
  SinusoidalPositionalEncodingOptions options_;
};

struct LearnedPositionalEncodingOptions : public ChainedOptions<LearnedPositionalEncodingOptions> {
  /// Embedding's order: the number of positions, then the size of each.
  LearnedPositionalEncodingOptions(std::int64_t max_len, std::int64_t d_model) : max_len_(max_len), d_model_(d_model) {}
  /// Dropout after the addition, in training mode; in [0, 1]. Default 0.
  LearnedPositionalEncodingOptions& dropout(double p) { return assign(dropout_, p); }
  /// Inputs are [B, T, d] (true, the default) or [T, B, d] (false).
  LearnedPositionalEncodingOptions& batch_first(bool on) { return assign(batch_first_, on); }
  std::int64_t max_len() const { return max_len_; }
  std::int64_t d_model() const { return d_model_; }
  double dropout() const { return dropout_; }
  bool batch_first() const { return batch_first_; }

 private:
  std::int64_t max_len_, d_model_;
  double dropout_ = 0.0;
  bool batch_first_ = true;
};

/// x + weight[0:T], then dropout: a position embedding trained with the model. weight
/// [max_len, d_model] starts N(0, 1), as Embedding's.
class LearnedPositionalEncoding : public Cloneable<LearnedPositionalEncoding> {
 public:
  explicit LearnedPositionalEncoding(LearnedPositionalEncodingOptions options);
  LearnedPositionalEncoding(std::int64_t max_len, std::int64_t d_model)
      : LearnedPositionalEncoding(LearnedPositionalEncodingOptions(max_len, d_model)) {}
  void reset() override;
  /// [B, T, d] ([T, B, d] when !batch_first; [T, d] unbatched) -> the same shape.
  Tensor forward(const Tensor& x) override { return forward(x, 0); }
  /// The same with positions start..start+T-1.
  Tensor forward(const Tensor& x, std::int64_t start);
  const LearnedPositionalEncodingOptions& options() const { return options_; }
  Tensor weight;

 private:
  LearnedPositionalEncodingOptions options_;
};

// ---- rotary position embedding (RoPE) ---------------------------------------------------------------
//
// Layout: the GPT-NeoX / LLaMA "half" pairing. Feature i is rotated together with feature
// i + d/2 (not with its neighbour i + 1 as in the interleaved layout of the RoFormer paper), by
// the angle pos * theta_i with theta_i = base^(-2i/d), i < d/2:
//
//     out[..., i]       = x[..., i] cos - x[..., i + d/2] sin
//     out[..., i + d/2] = x[..., i + d/2] cos + x[..., i] sin
//
// which is x * cos + rotate_half(x) * sin with rotate_half(x) = cat(-x[d/2:], x[:d/2]) and
// cos, sin [T, d] holding each angle twice (columns i and i + d/2).

/// The cos and sin tables [T, d] of the positions start..start+T-1, in float64.
struct RotaryTables {
  Tensor cos, sin;
};
RotaryTables rotary_tables(std::int64_t T, std::int64_t dim, double base = 10000.0, std::int64_t start = 0);

namespace functional {
/// x [..., T, d] rotated by the tables cos, sin [T, d] (or any shape that broadcasts to x's):
/// x * cos + rotate_half(x) * sin. d must be even. Differentiable in x (and in cos and sin).
Tensor apply_rotary_embedding(const Tensor& x, const Tensor& cos, const Tensor& sin);
/// cat(-x[..., d/2:], x[..., :d/2]).
Tensor rotate_half(const Tensor& x);
}  // namespace functional

struct RotaryEmbeddingOptions : public ChainedOptions<RotaryEmbeddingOptions> {
  explicit RotaryEmbeddingOptions(std::int64_t dim) : dim_(dim) {}
  RotaryEmbeddingOptions& base(double b) { return assign(base_, b); }
  /// The number of positions whose tables are cached.
  RotaryEmbeddingOptions& max_len(std::int64_t n) { return assign(max_len_, n); }
  std::int64_t dim() const { return dim_; }
  double base() const { return base_; }
  std::int64_t max_len() const { return max_len_; }

 private:
  std::int64_t dim_;
  double base_ = 10000.0;
  std::int64_t max_len_ = 2048;
};

/// RoPE for queries and keys of head size dim (even), usually [B, H, T, dim]: apply it to q and to
/// k after the projections and the head split, before the scores. No parameters; the cos and sin
/// caches [max_len, dim] are non-persistent (left out of state_dict, like PyTorch's buffers
/// registered with persistent=False) and are kept in float64, cast to the input's dtype on use.
class RotaryEmbedding : public Cloneable<RotaryEmbedding> {
 public:
  explicit RotaryEmbedding(RotaryEmbeddingOptions options);
  explicit RotaryEmbedding(std::int64_t dim, double base = 10000.0, std::int64_t max_len = 2048)
      : RotaryEmbedding(RotaryEmbeddingOptions(dim).base(base).max_len(max_len)) {}
  void reset() override;
  /// x [..., T, dim] at positions 0..T-1 -> the same shape.
  Tensor forward(const Tensor& x) override { return forward(x, 0); }
  /// x [..., T, dim] at positions offset..offset+T-1 (the keys of a cache hold the earlier ones).
  Tensor forward(const Tensor& x, std::int64_t offset);
  const RotaryEmbeddingOptions& options() const { return options_; }
  /// The caches [max_len, dim] (float64), not in state_dict.
  const Tensor& cos_cached() const { return cos_cached_; }
  const Tensor& sin_cached() const { return sin_cached_; }

 private:
  RotaryEmbeddingOptions options_;
  Tensor cos_cached_, sin_cached_;
};

}  // namespace tg::nn

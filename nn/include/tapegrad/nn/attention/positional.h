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

/// The options of the two additive encodings (Derived is the options type that the setters
/// return): the table's size, max_len positions of d_model each, and what comes after the addition.
template <class Derived>
struct PositionalEncodingOptions : public ChainedOptions<Derived> {
  /// Dropout after the addition, in training mode; in [0, 1].
  Derived& dropout(double p) { return this->assign(dropout_, p); }
  /// Inputs are [B, T, d] (true, the default) or [T, B, d] (false).
  Derived& batch_first(bool on) { return this->assign(batch_first_, on); }
  std::int64_t d_model() const { return d_model_; }
  std::int64_t max_len() const { return max_len_; }
  double dropout() const { return dropout_; }
  bool batch_first() const { return batch_first_; }

 protected:
  PositionalEncodingOptions(std::int64_t d_model, std::int64_t max_len, double dropout)
      : d_model_(d_model), max_len_(max_len), dropout_(dropout) {}

 private:
  std::int64_t d_model_, max_len_;
  double dropout_;
  bool batch_first_ = true;
};

/// What the two additive encodings share: their options, and forward, x + table[0:T] (or
/// [start : start+T]) then dropout; the table [max_len, d_model] is Derived's (a buffer or a
/// parameter).
template <class Derived, class Options>
class AdditivePositionalEncoding : public WithOptions<Derived, Options> {
 public:
  /// [B, T, d] ([T, B, d] when !batch_first; [T, d] unbatched) -> the same shape.
  Tensor forward(const Tensor& x) override { return forward(x, 0); }
  /// The same with positions start..start+T-1 (decoding one step at a time).
  Tensor forward(const Tensor& x, std::int64_t start);

 protected:
  /// Checks d_model, max_len and dropout (the error names type_name).
  AdditivePositionalEncoding(const char* type_name, Options options);
  virtual const Tensor& table() const = 0;
};

struct SinusoidalPositionalEncodingOptions : public PositionalEncodingOptions<SinusoidalPositionalEncodingOptions> {
  /// Dropout 0.1 by default.
  explicit SinusoidalPositionalEncodingOptions(std::int64_t d_model, std::int64_t max_len = 5000)
      : PositionalEncodingOptions(d_model, max_len, 0.1) {}
  /// The 10000 of the wavelengths 10000^(2i/d).
  SinusoidalPositionalEncodingOptions& base(double b) { return assign(base_, b); }
  double base() const { return base_; }

 private:
  double base_ = 10000.0;
};

/// The sinusoidal table of "Attention Is All You Need", [max_len, d_model] in float64:
///     pe[pos, 2i] = sin(pos / base^(2i/d)),  pe[pos, 2i+1] = cos(pos / base^(2i/d)).
/// An odd d_model is allowed: the last column is a sine (ceil(d/2) sines, floor(d/2) cosines).
Tensor sinusoidal_table(std::int64_t max_len, std::int64_t d_model, double base = 10000.0);

/// x + pe[0:T], then dropout (p = 0.1 by default, as the PyTorch tutorial's PositionalEncoding).
/// pe [max_len, d_model] is a persistent buffer (in state_dict under `pe`), never trained.
class SinusoidalPositionalEncoding
    : public AdditivePositionalEncoding<SinusoidalPositionalEncoding, SinusoidalPositionalEncodingOptions> {
 public:
  explicit SinusoidalPositionalEncoding(SinusoidalPositionalEncodingOptions options);
  explicit SinusoidalPositionalEncoding(std::int64_t d_model, std::int64_t max_len = 5000, double dropout = 0.1)
      : SinusoidalPositionalEncoding(SinusoidalPositionalEncodingOptions(d_model, max_len).dropout(dropout)) {}
  void reset() override;
  Tensor pe;

 protected:
  const Tensor& table() const override { return pe; }
};

struct LearnedPositionalEncodingOptions : public PositionalEncodingOptions<LearnedPositionalEncodingOptions> {
  /// Embedding's order: the number of positions, then the size of each. Dropout 0 by default.
  LearnedPositionalEncodingOptions(std::int64_t max_len, std::int64_t d_model)
      : PositionalEncodingOptions(d_model, max_len, 0.0) {}
};

/// x + weight[0:T], then dropout: a position embedding trained with the model. weight
/// [max_len, d_model] starts N(0, 1), as Embedding's.
class LearnedPositionalEncoding
    : public AdditivePositionalEncoding<LearnedPositionalEncoding, LearnedPositionalEncodingOptions> {
 public:
  explicit LearnedPositionalEncoding(LearnedPositionalEncodingOptions options);
  LearnedPositionalEncoding(std::int64_t max_len, std::int64_t d_model)
      : LearnedPositionalEncoding(LearnedPositionalEncodingOptions(max_len, d_model)) {}
  void reset() override;
  Tensor weight;

 protected:
  const Tensor& table() const override { return weight; }
};

extern template class AdditivePositionalEncoding<SinusoidalPositionalEncoding, SinusoidalPositionalEncodingOptions>;
extern template class AdditivePositionalEncoding<LearnedPositionalEncoding, LearnedPositionalEncodingOptions>;

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
class RotaryEmbedding : public WithOptions<RotaryEmbedding, RotaryEmbeddingOptions> {
 public:
  explicit RotaryEmbedding(RotaryEmbeddingOptions options);
  explicit RotaryEmbedding(std::int64_t dim, double base = 10000.0, std::int64_t max_len = 2048)
      : RotaryEmbedding(RotaryEmbeddingOptions(dim).base(base).max_len(max_len)) {}
  void reset() override;
  /// x [..., T, dim] at positions 0..T-1 -> the same shape.
  Tensor forward(const Tensor& x) override { return forward(x, 0); }
  /// x [..., T, dim] at positions offset..offset+T-1 (the keys of a cache hold the earlier ones).
  Tensor forward(const Tensor& x, std::int64_t offset);
  /// The caches [max_len, dim] (float64), not in state_dict.
  const Tensor& cos_cached() const { return cos_cached_; }
  const Tensor& sin_cached() const { return sin_cached_; }

 private:
  Tensor cos_cached_, sin_cached_;
};

}  // namespace tg::nn

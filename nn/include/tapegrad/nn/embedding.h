#pragma once
/// Embedding and Dropout.
#include <optional>

#include "tapegrad/core/options.h"
#include "tapegrad/nn/module.h"

namespace tg::nn {

struct EmbeddingOptions : public ChainedOptions<EmbeddingOptions> {
  EmbeddingOptions(std::int64_t num_embeddings, std::int64_t embedding_dim)
      : num_(num_embeddings), dim_(embedding_dim) {}
  EmbeddingOptions& padding_idx(std::int64_t i) { return assign(padding_idx_, i); }
  EmbeddingOptions& max_norm(double n) { return assign(max_norm_, n); }
  std::int64_t num_embeddings() const { return num_; }
  std::int64_t embedding_dim() const { return dim_; }
  std::optional<std::int64_t> padding_idx() const { return padding_idx_; }
  std::optional<double> max_norm() const { return max_norm_; }

 private:
  std::int64_t num_, dim_;
  std::optional<std::int64_t> padding_idx_;
  std::optional<double> max_norm_;
};

/// A lookup table: int64 indices [...] -> [..., embedding_dim]. Weights start N(0, 1), the
/// padding row at zero; the padding row gets no gradient.
class Embedding : public WithOptions<Embedding, EmbeddingOptions> {
 public:
  explicit Embedding(EmbeddingOptions options);
  Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim)
      : Embedding(EmbeddingOptions(num_embeddings, embedding_dim)) {}
  void reset() override;
  Tensor forward(const Tensor& indices) override;
  Tensor weight;
};

/// Inverted dropout in training mode (zero with probability p, scale the rest by 1 / (1 - p));
/// the identity in evaluation mode.
class Dropout : public Cloneable<Dropout> {
 public:
  explicit Dropout(double p = 0.5);
  Tensor forward(const Tensor& input) override;
  double p() const { return p_; }

 private:
  double p_;
};

}  // namespace tg::nn

#include "tapegrad/nn/embedding.h"

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops/activation.h"
#include "tapegrad/core/ops/dropout.h"
#include "tapegrad/core/ops/elementwise.h"
#include "tapegrad/core/ops/reduce.h"
#include "tapegrad/nn/functional.h"
#include "tapegrad/nn/init.h"

namespace tg::nn {

Embedding::Embedding(EmbeddingOptions options) : WithOptions("Embedding", options) {
  TG_CHECK(options_.num_embeddings() > 0, "Embedding: num_embeddings must be positive, got {}",
           options_.num_embeddings());
  TG_CHECK(options_.embedding_dim() > 0, "Embedding: embedding_dim must be positive, got {}", options_.embedding_dim());
  if (auto p = options_.padding_idx()) {
    const std::int64_t n = options_.num_embeddings();
    TG_CHECK(*p >= -n && *p < n, "Embedding: padding_idx {} must be within [-{}, {})", *p, n, n);
    if (*p < 0) options_.padding_idx(*p + n);  // PyTorch's convention for negative indices
  }
  TG_CHECK(!options_.max_norm() || *options_.max_norm() > 0, "Embedding: max_norm must be positive, got {}",
           options_.max_norm().value_or(0));
  reset();
}

void Embedding::reset() {
  weight = register_parameter("weight", empty({options_.num_embeddings(), options_.embedding_dim()}));
  init::normal_(weight, 0.0, 1.0);
  if (auto p = options_.padding_idx()) {
    NoGradGuard guard;
    weight.select(0, *p).zero_();
  }
}

Tensor Embedding::forward(const Tensor& indices) {
  return functional::embedding(indices, weight, options_.padding_idx().value_or(-1), options_.max_norm());
}

Dropout::Dropout(double p) : Cloneable("Dropout"), p_(p) {
  TG_CHECK(p >= 0 && p <= 1, "Dropout: probability must be in [0, 1], got {}", p);
}

Tensor Dropout::forward(const Tensor& input) { return dropout(input, p_, is_training()); }

}  // namespace tg::nn

#pragma once
/// The index family (src/ops/index.cpp): indexing, masking, selection, triangles and scans. Index tensors are int64;
/// masks are bool. Out-of-range indices raise tg::Error naming the index and the size.
#include <cstdint>
#include <optional>

#include "tapegrad/core/tensor.h"

namespace tg {

/// Entries of t at the 1-D int64 `index` along dim: the dim's size becomes index.numel().
Tensor index_select(const Tensor& t, std::int64_t dim, const Tensor& index);
/// out[i][j][k] = t[index[i][j][k]][j][k] for dim 0 (and likewise for other dims); index has
/// t's number of dims and no larger size than t in the other dims. Gradients of repeated
/// indices add up.
Tensor gather(const Tensor& t, std::int64_t dim, const Tensor& index);
/// A copy of self with src added at the positions index gives along dim (repeated indices add
/// up): out[index[i][j]][j] += src[i][j] for dim 0.
Tensor scatter_add(const Tensor& self, std::int64_t dim, const Tensor& index, const Tensor& src);
/// Rows of weight [V, E] for int64 indices of any shape -> [..., E]. The gradient adds up the
/// rows of repeated indices; rows of padding_idx (when >= 0) get no gradient.
Tensor embedding(const Tensor& weight, const Tensor& indices, std::int64_t padding_idx = -1);
/// value where the bool mask (broadcast to t's shape) is true, t elsewhere.
Tensor masked_fill(const Tensor& t, const Tensor& mask, double value);
/// a where cond is true, b elsewhere (all three broadcast together).
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, double b);
Tensor where(const Tensor& cond, double a, const Tensor& b);
/// The lower (tril) or upper (triu) triangle of the last two dims, the rest zero. diagonal 0 is
/// the main diagonal, > 0 above it, < 0 below. tril(ones(T, T)) is a causal mask.
Tensor tril(const Tensor& t, std::int64_t diagonal = 0);
Tensor triu(const Tensor& t, std::int64_t diagonal = 0);
/// int64 indices [...] -> int64 [..., num_classes] of zeros and ones (num_classes -1: max + 1).
Tensor one_hot(const Tensor& indices, std::int64_t num_classes = -1);
/// The k largest (or smallest) entries along dim and their indices; the values are
/// differentiable (the gradient goes to the chosen positions).
ValuesIndices topk(const Tensor& t, std::int64_t k, std::int64_t dim = -1, bool largest = true, bool sorted = true);
/// Running sum along dim.
Tensor cumsum(const Tensor& t, std::int64_t dim);

/// In place: value where the bool mask (broadcast to x's shape) is true.
const Tensor& masked_fill_(const Tensor& x, const Tensor& mask, double value);

}  // namespace tg

#pragma once
/// The shape family (src/ops/shape.cpp).
/// Joining, splitting and rearranging tensors (PyTorch's names and semantics). All are
/// differentiable; chunk, split and narrow return views.
#include <cstdint>
#include <vector>

#include "tapegrad/core/tensor.h"

namespace tg {

/// Concatenates along dim; all tensors have the same shape except in dim and the same dtype.
Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
/// Stacks along a new dim; all tensors have the same shape.
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
/// `chunks` views along dim of size ceil(n / chunks) (the last may be smaller; fewer when n is small).
std::vector<Tensor> chunk(const Tensor& t, std::int64_t chunks, std::int64_t dim = 0);
/// Views of split_size along dim (the last may be smaller).
std::vector<Tensor> split(const Tensor& t, std::int64_t split_size, std::int64_t dim = 0);
/// Views with the given sizes along dim (they must add up to the dim's size).
std::vector<Tensor> split(const Tensor& t, IntArrayRef sizes, std::int64_t dim = 0);
/// The view of `length` elements from `start` along dim.
Tensor narrow(const Tensor& t, std::int64_t dim, std::int64_t start, std::int64_t length);
/// Reverses the order of elements along each of dims (a copy).
Tensor flip(const Tensor& t, IntArrayRef dims);
/// Tiles t: repeats[i] copies along dim i (repeats may have more dims than t; they lead).
Tensor repeat(const Tensor& t, IntArrayRef repeats);
/// t expanded to other's shape.
Tensor expand_as(const Tensor& t, const Tensor& other);
/// Merges dims start_dim..end_dim into one.
Tensor flatten(const Tensor& t, std::int64_t start_dim = 0, std::int64_t end_dim = -1);
/// Splits dim into sizes (one of them may be -1).
Tensor unflatten(const Tensor& t, std::int64_t dim, IntArrayRef sizes);

}  // namespace tg

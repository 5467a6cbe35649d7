#pragma once
/// The reduce family (src/ops/reduce.cpp): sums, means, extrema and arg-extrema over dims, and
/// the statistics built on them (var, std, norm, logsumexp). Deterministic whatever the thread
/// count.
#include <cstdint>

#include "tapegrad/core/tensor.h"

namespace tg {

// ---- reductions ----
/// Sum over all elements (0-d result), or over dims. Bool and int64 sum to int64.
Tensor sum(const Tensor& a);
Tensor sum(const Tensor& a, IntArrayRef dims, bool keepdim = false);
/// Mean over all elements or over dims (floating only).
Tensor mean(const Tensor& a);
Tensor mean(const Tensor& a, IntArrayRef dims, bool keepdim = false);
/// Max / min over all elements or dims; the gradient is shared evenly among ties.
Tensor amax(const Tensor& a);
Tensor amax(const Tensor& a, IntArrayRef dims, bool keepdim = false);
Tensor amin(const Tensor& a);
Tensor amin(const Tensor& a, IntArrayRef dims, bool keepdim = false);
/// Max / min along one dim, with the int64 index of the first occurrence; the gradient goes
/// to that index.
ValuesIndices max(const Tensor& a, std::int64_t dim, bool keepdim = false);
ValuesIndices min(const Tensor& a, std::int64_t dim, bool keepdim = false);
/// Index of the maximum of the flattened tensor (0-d int64), or along dim.
Tensor argmax(const Tensor& a);
Tensor argmax(const Tensor& a, std::int64_t dim, bool keepdim = false);
/// Sums a broadcast gradient back to shape (PyTorch's sum_to_size): the one place where
/// autograd undoes broadcasting.
Tensor sum_to_size(const Tensor& a, IntArrayRef shape);

// ---- statistics ----
/// Variance over dims (all when empty): sum((x - mean)^2) / (N - 1) when unbiased, else / N.
Tensor var(const Tensor& x, IntArrayRef dims = {}, bool unbiased = true, bool keepdim = false);
/// Standard deviation, sqrt(var).
Tensor std(const Tensor& x, IntArrayRef dims = {}, bool unbiased = true, bool keepdim = false);
/// The p-norm over dims (all when empty) for p = 1, 2 or infinity (std::numeric_limits<double>::infinity()).
Tensor norm(const Tensor& x, double p = 2.0, IntArrayRef dims = {}, bool keepdim = false);
/// log(sum(exp(x))) over dims, computed stably (the maximum is taken out first).
Tensor logsumexp(const Tensor& x, IntArrayRef dims, bool keepdim = false);

// ---- one dim as a single int, as PyTorch takes it: sum(x, -1), var(x, 0, false, true) ----
template <DimInteger I>
Tensor sum(const Tensor& a, I dim, bool keepdim = false) {
  return a.sum(dim, keepdim);
}
template <DimInteger I>
Tensor mean(const Tensor& a, I dim, bool keepdim = false) {
  return a.mean(dim, keepdim);
}
template <DimInteger I>
Tensor amax(const Tensor& a, I dim, bool keepdim = false) {
  return a.amax(dim, keepdim);
}
template <DimInteger I>
Tensor amin(const Tensor& a, I dim, bool keepdim = false) {
  return a.amin(dim, keepdim);
}
template <DimInteger I>
Tensor var(const Tensor& x, I dim, bool unbiased = true, bool keepdim = false) {
  return x.var(dim, unbiased, keepdim);
}
template <DimInteger I>
Tensor std(const Tensor& x, I dim, bool unbiased = true, bool keepdim = false) {
  return x.std(dim, unbiased, keepdim);
}
template <DimInteger I>
Tensor norm(const Tensor& x, double p, I dim, bool keepdim = false) {
  return x.norm(p, dim, keepdim);
}
template <DimInteger I>
Tensor logsumexp(const Tensor& x, I dim, bool keepdim = false) {
  return x.logsumexp(dim, keepdim);
}

}  // namespace tg

#pragma once
/// Tensor ops, as free functions with PyTorch's names and semantics. Binary ops broadcast as
/// NumPy does; dims may be negative. Every floating op here is differentiable.
#include <cstdint>

#include "tapegrad/core/tensor.h"

namespace tg {

// ---- elementwise arithmetic (broadcasting; result dtype promotes bool < int64 < f32 < f64) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, double b);
/// b - a.
Tensor rsub(const Tensor& a, double b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, double b);
/// True division: integer inputs give float32.
Tensor div(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, double b);
/// b / a.
Tensor rdiv(const Tensor& a, double b);
Tensor neg(const Tensor& a);
Tensor pow(const Tensor& a, double exponent);
Tensor pow(const Tensor& a, const Tensor& exponent);

// ---- elementwise functions (floating) ----
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor abs(const Tensor& a);
Tensor tanh(const Tensor& a);
Tensor sigmoid(const Tensor& a);
Tensor relu(const Tensor& a);

// ---- comparisons: bool result, no gradient ----
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, double b);
Tensor ne(const Tensor& a, double b);
Tensor lt(const Tensor& a, double b);
Tensor le(const Tensor& a, double b);
Tensor gt(const Tensor& a, double b);
Tensor ge(const Tensor& a, double b);

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

// ---- linear algebra ----
/// torch.matmul: 1-D x 1-D is a dot product; 2-D x 2-D a matrix product; 1-D arguments get a
/// dim prepended (left) or appended (right) that is removed after; batch dims broadcast.
/// [..., M, K] x [..., K, N] -> [..., M, N], through cblas sgemm/dgemm.
Tensor matmul(const Tensor& a, const Tensor& b);
/// torch.nn.functional.linear: x W^T + b, x [..., in], weight [out, in], bias [out] (optional)
/// -> [..., out]. One GEMM and one tape node (backward: two GEMMs and a column sum); the
/// composition matmul(x, weight.t()) + bias is its test oracle.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

// ---- softmax family (numerically stable: the row maximum is subtracted first) ----
Tensor softmax(const Tensor& a, std::int64_t dim);
Tensor log_softmax(const Tensor& a, std::int64_t dim);

// ---- operators ----
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, double b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, double b) { return div(a, b); }
inline Tensor operator+(double a, const Tensor& b) { return add(b, a); }
inline Tensor operator-(double a, const Tensor& b) { return rsub(b, a); }
inline Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
inline Tensor operator/(double a, const Tensor& b) { return rdiv(b, a); }
inline Tensor operator-(const Tensor& a) { return neg(a); }
inline Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
inline Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
inline Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
inline Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
inline Tensor operator<(const Tensor& a, double b) { return lt(a, b); }
inline Tensor operator<=(const Tensor& a, double b) { return le(a, b); }
inline Tensor operator>(const Tensor& a, double b) { return gt(a, b); }
inline Tensor operator>=(const Tensor& a, double b) { return ge(a, b); }

}  // namespace tg

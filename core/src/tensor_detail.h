#pragma once
// The tensor side's helpers for the op files: allocation, raw views and casts without autograd.
// Defined in tensor.cpp; every op family (ops/*.cpp) builds on them, so nothing in the ops needs
// to include anything above the tensor.
#include <mutex>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/tensor.h"

namespace tg::detail {

/// A new contiguous tensor, uninitialised.
Tensor new_empty(IntArrayRef shape, DType dtype);
/// A view of base's storage with the given geometry (no autograd).
Tensor make_view(const Tensor& base, IntArrayRef shape, IntArrayRef strides, std::int64_t offset);
/// a converted to dtype (a itself when it already has it); no autograd.
Tensor convert(const Tensor& a, DType dtype);
/// A contiguous copy (no autograd).
Tensor contiguous_copy(const Tensor& a);
/// dst[...] = src broadcast to dst's shape, with dtype conversion (no autograd, no version bump).
void copy_into(const Tensor& dst, const Tensor& src);
/// a if contiguous, else a contiguous copy (no autograd).
inline Tensor as_contiguous(const Tensor& a) { return a.is_contiguous() ? a : contiguous_copy(a); }

/// The lock of a leaf's autograd state (its grad_accumulator and its .grad), shared by threads
/// that run forward or backward on one model: one of a fixed table of mutexes, picked by the
/// TensorImpl's address (defined in autograd/engine.cpp). Hold it only for that state; never
/// take a second one while holding it.
std::mutex& leaf_mutex(const TensorImpl* leaf);

}  // namespace tg::detail

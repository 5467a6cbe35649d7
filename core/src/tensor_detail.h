#pragma once
// The tensor side's helpers for the op files: allocation, raw views and casts without autograd.
// Defined in tensor.cpp; every op family (ops/*.cpp) builds on them, so nothing in the ops needs
// to include anything above the tensor.
#include <mutex>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/tensor.h"

namespace tg::detail {

/// A new contiguous tensor, uninitialised. Its element and byte counts are checked
/// (checked_nbytes): a bad shape is a tg::Error naming op. The default name suits shapes taken
/// from an existing tensor, which cannot fail; an op that makes a new shape passes its name.
Tensor new_empty(IntArrayRef shape, DType dtype, const char* op = "empty");
/// A view of base's storage with the given geometry (no autograd). The shape must be valid:
/// derived from base's (a subset of its sizes) or checked by the caller with checked_numel.
Tensor make_view(const Tensor& base, IntArrayRef shape, IntArrayRef strides, std::int64_t offset);
/// a converted to dtype (a itself when it already has it); no autograd. Floating to int64 is
/// checked: a NaN, inf or out-of-range element is a tg::Error naming op and the element.
Tensor convert(const Tensor& a, DType dtype, const char* op = "to");
/// A contiguous copy (no autograd).
Tensor contiguous_copy(const Tensor& a);
/// dst[...] = src broadcast to dst's shape, with dtype conversion (no autograd, no version bump).
/// Floating to int64 is checked as in convert(); the error comes after the loop, so dst is then
/// partly written: to write a user's int64 tensor, convert() the source first.
void copy_into(const Tensor& dst, const Tensor& src, const char* op = "to");
/// a if contiguous, else a contiguous copy (no autograd).
inline Tensor as_contiguous(const Tensor& a) { return a.is_contiguous() ? a : contiguous_copy(a); }

/// Makes out a differentiable view of in when grad mode is on: out keeps in's base (in itself
/// unless in is such a view) and the storage version (autograd/view_history.cpp). Every view op
/// calls it on the view it returns.
void track_view(const Tensor& out, const Tensor& in);
/// For a differentiable view: if the base's history may have changed since the view's grad_fn
/// was made (the storage version moved, or the base came to require grad), a new grad_fn from
/// the base's current history (autograd/view_history.cpp). Called by edge_for and grad_fn().
void refresh_view_grad_fn(TensorImpl* view);

/// The lock of a leaf's autograd state (its grad_accumulator and its .grad), shared by threads
/// that run forward or backward on one model: one of a fixed table of mutexes, picked by the
/// TensorImpl's address (defined in autograd/engine.cpp). Hold it only for that state; never
/// take a second one while holding it.
std::mutex& leaf_mutex(const TensorImpl* leaf);

}  // namespace tg::detail

// The copy family: to(), contiguous() and clone() (copies whose backward passes the gradient
// through, cast back to the input's dtype by the engine), and the in-place writes (add_, sub_,
// mul_, div_, zero_, fill_, copy_). Each in-place op checks before it writes, writes through
// the strided loop, bumps the storage's version counter (so a tensor saved for backward and
// overwritten is caught at backward time), and, when autograd is involved, moves the tensor's
// history onto a new node whose input is the old history. On a differentiable view, record()
// then rewrites the base's history instead (autograd/view_history.cpp): one mechanism for
// every in-place op, here and in the other families (relu_, clamp_, masked_fill_, index_put_).
#include <cmath>

#include "kernels/loop.h"
#include "ops/pointwise.h"
#include "tapegrad/core/autograd.h"
#include "tapegrad/core/ops.h"
#include "tensor_detail.h"

namespace tg {
namespace {

using autograd::BackwardContext;
using autograd::SavedTensor;
using detail::check_inplace;

}  // namespace

void detail::check_inplace(const Tensor& self, const Tensor* other, const char* op, bool recording) {
  for (std::int64_t d = 0; d < self.dim(); ++d) {
    TG_CHECK(self.strides().data()[d] != 0 || self.shape().data()[d] <= 1,
             "{}: cannot write in place into a tensor whose elements overlap (dim {} of shape {} has stride 0, "
             "as made by expand()); clone() it first",
             op, d, self.shape());
  }
  if (other != nullptr) {
    const DimVec b = broadcast_shapes(self.shape(), other->shape(), op);
    TG_CHECK(same_values(b, self.shape()), "{}: the other tensor's shape {} does not broadcast to self's shape {}", op,
             other->shape(), self.shape());
    TG_CHECK(is_floating(self.dtype()) || !is_floating(other->dtype()),
             "{}: the result type {} cannot be written in place into a {} tensor", op, dtype_name(other->dtype()),
             dtype_name(self.dtype()));
  }
  if (recording) {
    const TensorImpl* t = self.impl();
    TG_CHECK(!(t->grad_fn == nullptr && t->requires_grad),
             "{}: a leaf tensor that requires grad (shape {}) cannot be modified in place while grad mode is on; "
             "wrap the update in NoGradGuard, or clone() it",
             op, self.shape());
    if (const TensorImpl* base = t->view_base.get(); base != nullptr && base->storage == t->storage) {
      // A differentiable view: the op rewrites the base's history (autograd/view_history.cpp),
      // which a leaf that requires grad does not have.
      TG_CHECK(!(base->grad_fn == nullptr && base->requires_grad),
               "{}: a view of a leaf Variable that requires grad is being used in an in-place operation (view of "
               "shape {} into a leaf of shape {}); clone() the view, or wrap the update in NoGradGuard",
               op, self.shape(), base->shape);
      for (std::size_t d = 0; d < base->shape.size(); ++d) {
        TG_CHECK(base->strides.data()[d] != 0 || base->shape.data()[d] <= 1,
                 "{}: cannot write in place into a view of a tensor whose elements overlap (dim {} of shape {} has "
                 "stride 0, as made by expand()); clone() it first",
                 op, d, base->shape);
      }
    } else {
      TG_CHECK(!t->is_view,
               "{}: in-place modification of a view that autograd does not track (made by detach() or while grad "
               "mode was off; shape {}) is not supported when autograd records it; clone() it first, or make the "
               "view with grad mode on",
               op, self.shape());
    }
  }
}

namespace {

/// other as it must be read while self is written: a copy when the two overlap differently.
Tensor readable(const Tensor& self, const Tensor& other) {
  if (!other.shares_storage_with(self)) return other;
  const bool identical = other.offset() == self.offset() && same_values(other.shape(), self.shape()) &&
                         same_values(other.strides(), self.strides());
  return identical ? other : detail::contiguous_copy(other);
}

template <typename F>
void write_binary(const Tensor& self, const Tensor& other, F f) {
  dispatch(self.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const Tensor y = detail::convert(other, self.dtype());
    kernels::map2<T, T, T>(self, self, y, [&f](T u, T v) { return static_cast<T>(f(u, v)); });
  });
}

template <typename F>
void write_unary(const Tensor& self, F f) {
  dispatch(self.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::map1<T, T>(self, self, [&f](T u) { return static_cast<T>(f(u)); });
  });
}

}  // namespace

const Tensor& Tensor::add_(const Tensor& o) const {
  const bool recording = autograd::needs_grad(*this, o);
  check_inplace(*this, &o, "add_", recording);
  write_binary(*this, readable(*this, o), [](auto u, auto v) { return u + v; });
  impl()->storage->bump_version("add_");
  if (recording) {
    autograd::record("add_", *this, {this, &o}, [](BackwardContext& c) {
      if (c.needs(0)) c.set(0, c.grad());
      if (c.needs(1)) c.set(1, c.grad());
    });
  }
  return *this;
}

const Tensor& Tensor::add_(double s) const {
  const bool recording = autograd::needs_grad(*this);
  check_inplace(*this, nullptr, "add_", recording);
  TG_CHECK(is_floating(dtype()) || std::floor(s) == s, "add_: cannot add the non-integral {} in place to a {} tensor",
           s, dtype_name(dtype()));
  write_unary(*this, [s](auto u) { return u + s; });
  impl()->storage->bump_version("add_");
  if (recording) autograd::record("add_", *this, {this}, [](BackwardContext& c) { c.set(0, c.grad()); });
  return *this;
}

const Tensor& Tensor::sub_(const Tensor& o) const {
  const bool recording = autograd::needs_grad(*this, o);
  check_inplace(*this, &o, "sub_", recording);
  write_binary(*this, readable(*this, o), [](auto u, auto v) { return u - v; });
  impl()->storage->bump_version("sub_");
  if (recording) {
    autograd::record("sub_", *this, {this, &o}, [](BackwardContext& c) {
      if (c.needs(0)) c.set(0, c.grad());
      if (c.needs(1)) c.set(1, tg::neg(c.grad()));
    });
  }
  return *this;
}

const Tensor& Tensor::sub_(double s) const {
  const bool recording = autograd::needs_grad(*this);
  check_inplace(*this, nullptr, "sub_", recording);
  TG_CHECK(is_floating(dtype()) || std::floor(s) == s,
           "sub_: cannot subtract the non-integral {} in place from a {} tensor", s, dtype_name(dtype()));
  write_unary(*this, [s](auto u) { return u - s; });
  impl()->storage->bump_version("sub_");
  if (recording) autograd::record("sub_", *this, {this}, [](BackwardContext& c) { c.set(0, c.grad()); });
  return *this;
}

const Tensor& Tensor::mul_(const Tensor& o) const {
  const bool recording = autograd::needs_grad(*this, o);
  check_inplace(*this, &o, "mul_", recording);
  // d(self*o)/dself = o needs o; d/do = old self, which the write destroys: keep a copy. When
  // o shares self's memory (y.mul_(y)), the write destroys o too: keep a copy of it as well.
  const Tensor old_self = recording && o.requires_grad() ? detail::contiguous_copy(*this) : Tensor();
  const Tensor old_other =
      recording && requires_grad() && o.shares_storage_with(*this) ? detail::contiguous_copy(o) : Tensor();
  write_binary(*this, readable(*this, o), [](auto u, auto v) { return u * v; });
  impl()->storage->bump_version("mul_");
  if (recording) {
    SavedTensor so = requires_grad() ? SavedTensor::input(old_other.defined() ? old_other : o) : SavedTensor();
    SavedTensor ss = old_self.defined() ? SavedTensor::input(old_self) : SavedTensor();
    autograd::record("mul_", *this, {this, &o}, [so, ss](BackwardContext& c) {
      if (c.needs(0)) c.set(0, tg::mul(c.grad(), c.unpack(so)));
      if (c.needs(1)) c.set(1, tg::mul(c.grad(), c.unpack(ss)));
    });
  }
  return *this;
}

const Tensor& Tensor::mul_(double s) const {
  const bool recording = autograd::needs_grad(*this);
  check_inplace(*this, nullptr, "mul_", recording);
  TG_CHECK(is_floating(dtype()) || std::floor(s) == s,
           "mul_: cannot multiply a {} tensor in place by the non-integral {}", dtype_name(dtype()), s);
  write_unary(*this, [s](auto u) { return u * s; });
  impl()->storage->bump_version("mul_");
  if (recording) autograd::record("mul_", *this, {this}, [s](BackwardContext& c) { c.set(0, tg::mul(c.grad(), s)); });
  return *this;
}

const Tensor& Tensor::div_(const Tensor& o) const {
  const bool recording = autograd::needs_grad(*this, o);
  TG_CHECK(is_floating(dtype()),
           "div_: true division gives floats, which cannot be written in place into a {} tensor; use div()",
           dtype_name(dtype()));
  check_inplace(*this, &o, "div_", recording);
  // d(self/o)/dself = 1/o needs o; d/do = -self/o^2 needs the old self, which the write destroys.
  const Tensor old_self = recording && o.requires_grad() ? detail::contiguous_copy(*this) : Tensor();
  const Tensor divisor = recording && o.shares_storage_with(*this) ? detail::contiguous_copy(o) : o;
  write_binary(*this, readable(*this, o), [](auto u, auto v) { return u / v; });
  impl()->storage->bump_version("div_");
  if (recording) {
    autograd::record("div_", *this, {this, &o},
                     [so = SavedTensor::input(divisor),
                      ss = old_self.defined() ? SavedTensor::input(old_self) : SavedTensor()](BackwardContext& c) {
      const Tensor& d = c.unpack(so);
      if (c.needs(0)) c.set(0, tg::div(c.grad(), d));
      if (c.needs(1)) c.set(1, tg::neg(tg::div(tg::mul(c.grad(), c.unpack(ss)), tg::mul(d, d))));
    });
  }
  return *this;
}

const Tensor& Tensor::div_(double s) const {
  const bool recording = autograd::needs_grad(*this);
  TG_CHECK(is_floating(dtype()),
           "div_: true division gives floats, which cannot be written in place into a {} tensor; use div()",
           dtype_name(dtype()));
  check_inplace(*this, nullptr, "div_", recording);
  write_unary(*this, [s](auto u) { return u / s; });
  impl()->storage->bump_version("div_");
  if (recording) autograd::record("div_", *this, {this}, [s](BackwardContext& c) { c.set(0, tg::div(c.grad(), s)); });
  return *this;
}

const Tensor& Tensor::zero_() const { return fill_(0.0); }

const Tensor& Tensor::fill_(double value) const {
  const bool recording = autograd::needs_grad(*this);
  check_inplace(*this, nullptr, "fill_", recording);
  dispatch(dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T v = scalar_cast<T>(value, "fill_");
    if (is_contiguous()) {
      T* p = static_cast<T*>(data_ptr());
      std::fill(p, p + numel(), v);
    } else {
      kernels::map1<T, T>(*this, *this, [v](T) { return v; });
    }
  });
  impl()->storage->bump_version("fill_");
  if (recording)  // the old values no longer matter: no gradient flows to them
    autograd::record("fill_", *this, {this}, [](BackwardContext&) {});
  return *this;
}

const Tensor& Tensor::copy_(const Tensor& src) const {
  const bool recording = autograd::needs_grad(*this, src);
  check_inplace(*this, nullptr, "copy_", recording);
  TG_CHECK(same_values(broadcast_shapes(shape(), src.shape(), "copy_"), shape()),
           "copy_: the source's shape {} does not broadcast to the destination's shape {}", src.shape(), shape());
  // Floating into int64 is checked element by element; converting first means a value that
  // does not fit leaves this tensor as it was.
  const Tensor from =
      dtype() == kInt64 && is_floating(src.dtype()) ? detail::convert(src, kInt64, "copy_") : readable(*this, src);
  detail::copy_into(*this, from, "copy_");
  impl()->storage->bump_version("copy_");
  if (recording) {
    autograd::record("copy_", *this, {this, &src}, [](BackwardContext& c) {
      if (c.needs(1)) c.set(1, c.grad());  // the old values are overwritten: no gradient to them
    });
  }
  return *this;
}

// ---- copies ---------------------------------------------------------------------------------------

Tensor Tensor::to(DType dtype) const {
  if (this->dtype() == dtype) return *this;
  Tensor out = detail::convert(*this, dtype);
  if (is_floating(dtype) && autograd::needs_grad(*this)) {
    // The engine casts the incoming gradient back to the input's dtype.
    autograd::record("to", out, {this}, [](autograd::BackwardContext& c) { c.set(0, c.grad()); });
  }
  return out;
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  Tensor out = detail::contiguous_copy(*this);
  if (autograd::needs_grad(*this))
    autograd::record("contiguous", out, {this}, [](autograd::BackwardContext& c) { c.set(0, c.grad()); });
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = detail::contiguous_copy(*this);
  if (autograd::needs_grad(*this))
    autograd::record("clone", out, {this}, [](autograd::BackwardContext& c) { c.set(0, c.grad()); });
  return out;
}

}  // namespace tg

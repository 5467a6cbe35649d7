// Tensor: metadata, autograd accessors, conversions and element access. The math methods
// forward to the free functions of ops.h.
#include "tapegrad/core/tensor.h"

#include <atomic>
#include <cstring>

#include "kernels/loop.h"
#include "tapegrad/core/autograd.h"
#include "tapegrad/core/ops.h"
#include "tensor_detail.h"

namespace tg {

namespace detail {

Tensor new_empty(IntArrayRef shape, DType dtype, const char* op) {
  const std::size_t nbytes = checked_nbytes(shape, dtype, op);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(nbytes);
  impl->shape.assign(shape);  // in place: no temporary DimVec to convert and copy
  static_cast<DimVec&>(impl->strides) = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor make_view(const Tensor& base, IntArrayRef shape, IntArrayRef strides, std::int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl()->storage;
  impl->shape.assign(shape);
  impl->strides.assign(strides);
  impl->offset = offset;
  impl->dtype = base.dtype();
  impl->is_view = true;
  return Tensor(std::move(impl));
}

namespace {

/// The error for a floating tensor with an element that int64 cannot hold: found again by a
/// serial scan (only on this path), so the message names the first such element.
[[noreturn]] void fail_int64_conversion(const Tensor& src, const char* op) {
  const Tensor c = as_contiguous(src);
  dispatch_floating(c.dtype(), op, [&](auto tag) {
    using S = typename decltype(tag)::type;
    const S* p = static_cast<const S*>(c.data_ptr());
    for (std::int64_t i = 0; i < c.numel(); ++i) {
      TG_CHECK(fits_int64(p[i]),
               "{}: element {} of the {} tensor (shape {}) is {}, which cannot be converted to int64 without "
               "overflow (NaN, inf and values outside [-2^63, 2^63) have no int64 value)",
               op, i, dtype_name(c.dtype()), c.shape(), p[i]);
    }
  });
  fail("{}: a value of the {} tensor cannot be converted to int64", op, dtype_name(src.dtype()));
}

/// dst = src for a floating src into int64 dst, checking every element in the same pass (one
/// compare per element: the loop still vectorises); throws after the loop when one did not fit.
template <typename S>
void copy_to_int64(const Tensor& dst, const Tensor& src, const char* op) {
  std::atomic<bool> bad{false};
  const auto loop = kernels::make_loop<2>(dst.shape(), {&dst, &src});
  kernels::run_loop(loop, [&](char** p, const std::int64_t* s, std::int64_t n) {
    // A value that does not fit becomes 0 (never the undefined cast) and is counted; a fresh
    // flag per element and an integer accumulator keep the loop vectorised (a flag carried
    // across iterations through a reference does not).
    unsigned misses = 0;
    if (s[0] == sizeof(std::int64_t) && s[1] == sizeof(S)) {
      std::int64_t* o = reinterpret_cast<std::int64_t*>(p[0]);
      const S* x = reinterpret_cast<const S*>(p[1]);
      for (std::int64_t i = 0; i < n; ++i) {
        bool fits = true;
        o[i] = int64_or_zero(x[i], fits);
        misses |= static_cast<unsigned>(!fits);
      }
    } else {
      for (std::int64_t i = 0; i < n; ++i) {
        bool fits = true;
        *reinterpret_cast<std::int64_t*>(p[0] + i * s[0]) =
            int64_or_zero(*reinterpret_cast<const S*>(p[1] + i * s[1]), fits);
        misses |= static_cast<unsigned>(!fits);
      }
    }
    if (misses != 0) bad.store(true, std::memory_order_relaxed);
  });
  if (bad.load()) fail_int64_conversion(src, op);
}

}  // namespace

void copy_into(const Tensor& dst, const Tensor& src, const char* op) {
  if (dst.dtype() == src.dtype() && dst.is_contiguous() && src.is_contiguous() &&
      same_values(dst.shape(), src.shape())) {
    if (dst.data_ptr() != src.data_ptr())
      std::memcpy(dst.data_ptr(), src.data_ptr(), static_cast<std::size_t>(dst.numel()) * itemsize(dst.dtype()));
    return;
  }
  dispatch(dst.dtype(), [&](auto dtag) {
    using D = typename decltype(dtag)::type;
    dispatch(src.dtype(), [&](auto stag) {
      using S = typename decltype(stag)::type;
      if constexpr (std::is_same_v<D, std::int64_t> && std::is_floating_point_v<S>) {
        copy_to_int64<S>(dst, src, op);
      } else {
        kernels::map1<D, S>(dst, src, [](S x) { return static_cast<D>(x); });
      }
    });
  });
}

Tensor convert(const Tensor& a, DType dtype, const char* op) {
  if (a.dtype() == dtype) return a;
  Tensor out = new_empty(a.shape(), dtype);
  copy_into(out, a, op);
  return out;
}

Tensor contiguous_copy(const Tensor& a) {
  Tensor out = new_empty(a.shape(), a.dtype());
  copy_into(out, a);
  return out;
}

}  // namespace detail

TensorImpl* Tensor::checked() const {
  TG_CHECK(impl_ != nullptr, "tensor: use of an undefined tensor");
  return impl_.get();
}

std::int64_t Tensor::size(std::int64_t d) const {
  TG_CHECK(dim() > 0, "size: dim {} was asked of a 0-d tensor, which has no dimensions", d);
  return shape().data()[normalize_dim(d, dim(), "size")];
}
std::int64_t Tensor::stride(std::int64_t d) const {
  TG_CHECK(dim() > 0, "stride: dim {} was asked of a 0-d tensor, which has no dimensions", d);
  return strides().data()[normalize_dim(d, dim(), "stride")];
}

bool Tensor::is_contiguous() const {
  const TensorImpl* t = checked();
  std::int64_t expected = 1;
  for (std::size_t i = t->shape.size(); i-- > 0;) {
    if (t->shape.data()[i] == 1) continue;
    if (t->strides.data()[i] != expected) return t->numel() == 0;
    expected *= t->shape.data()[i];
  }
  return true;
}

template <typename T>
T* Tensor::data() const {
  TG_CHECK(dtype() == dtype_of<T>, "data: the tensor holds {}, not {}", dtype_name(dtype()), dtype_name(dtype_of<T>));
  return static_cast<T*>(data_ptr());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template std::int64_t* Tensor::data<std::int64_t>() const;
template bool* Tensor::data<bool>() const;

bool Tensor::shares_storage_with(const Tensor& other) const {
  return defined() && other.defined() && impl_->storage == other.impl_->storage;
}

// ---- autograd ------------------------------------------------------------------------------

const Tensor& Tensor::requires_grad_(bool on) const {
  TensorImpl* t = checked();
  TG_CHECK(!on || is_floating(t->dtype),
           "requires_grad_: only floating-point tensors can require grad, got a {} tensor of shape {}",
           dtype_name(t->dtype), t->shape);
  TG_CHECK(t->grad_fn == nullptr || on,
           "requires_grad_: cannot turn off requires_grad of a non-leaf tensor (made by {}); use detach()",
           t->grad_fn ? t->grad_fn->display_name() : "");
  t->requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const { return Tensor(checked()->grad); }

void Tensor::set_grad(const Tensor& g) const {
  TensorImpl* t = checked();
  if (g.defined()) {
    TG_CHECK(same_values(g.shape(), t->shape) && g.dtype() == t->dtype,
             "set_grad: gradient of shape {} and dtype {} does not match the tensor's {} and {}", g.shape(),
             dtype_name(g.dtype()), t->shape, dtype_name(t->dtype));
  }
  t->grad = g.impl_ptr();
}

void Tensor::zero_grad(bool set_to_none) const {
  TensorImpl* t = checked();
  if (!t->grad) return;
  if (set_to_none) {
    t->grad.reset();
  } else {
    NoGradGuard guard;
    Tensor(t->grad).zero_();
  }
}

std::string Tensor::grad_fn_name() const {
  const auto& fn = grad_fn();
  return fn ? fn->display_name() : std::string();
}

Tensor Tensor::detach() const {
  const TensorImpl* t = checked();
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t->storage;
  impl->shape = t->shape;
  impl->strides = t->strides;
  impl->offset = t->offset;
  impl->dtype = t->dtype;
  impl->is_view = true;
  return Tensor(std::move(impl));
}

void Tensor::set_data(const Tensor& other) const {
  TensorImpl* t = checked();
  TG_CHECK(t->grad_fn == nullptr, "set_data: only a leaf tensor's data can be replaced (this one was made by {})",
           t->grad_fn ? t->grad_fn->display_name() : "");
  TG_CHECK(!t->requires_grad || is_floating(other.dtype()), "set_data: a tensor that requires grad cannot hold {} data",
           dtype_name(other.dtype()));
  const TensorImpl* o = other.checked();
  t->storage = o->storage;
  t->shape = o->shape;
  t->strides = o->strides;
  t->offset = o->offset;
  t->dtype = o->dtype;
  t->is_view = o->is_view;
  t->view_base.reset();  // a plain tensor now: its own history, not a view's
  t->grad.reset();
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  autograd::backward(*this, gradient, retain_graph);
}

// ---- conversion and access -------------------------------------------------------------------

double Tensor::item() const { return item<double>(); }

template <typename T>
T Tensor::item() const {
  TG_CHECK(numel() == 1, "item: a tensor with {} elements (shape {}) cannot be converted to a scalar", numel(),
           shape());
  return dispatch(dtype(), [&](auto tag) {
    using S = typename decltype(tag)::type;
    return checked_cast<T>(*static_cast<const S*>(data_ptr()), "item");
  });
}
template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template std::int64_t Tensor::item<std::int64_t>() const;
template bool Tensor::item<bool>() const;

template <typename T>
T Tensor::at(IntArrayRef index) const {
  TG_CHECK(static_cast<std::int64_t>(index.size()) == dim(), "at: expected {} indices for shape {}, got {}", dim(),
           shape(), index.size());
  std::int64_t off = 0;
  for (std::size_t d = 0; d < index.size(); ++d) {
    std::int64_t i = index[d];
    const std::int64_t n = shape().data()[d];
    TG_CHECK(i >= -n && i < n, "at: index {} is out of range for dim {} of size {}", i, d, n);
    if (i < 0) i += n;
    off += i * strides().data()[d];
  }
  return dispatch(dtype(), [&](auto tag) {
    using S = typename decltype(tag)::type;
    return checked_cast<T>(static_cast<const S*>(data_ptr())[off], "at");
  });
}
template float Tensor::at<float>(IntArrayRef) const;
template double Tensor::at<double>(IntArrayRef) const;
template std::int64_t Tensor::at<std::int64_t>(IntArrayRef) const;
template bool Tensor::at<bool>(IntArrayRef) const;

template <typename T>
std::vector<T> Tensor::to_vector() const {
  const Tensor c = detail::as_contiguous(detail::convert(*this, dtype_of<T>, "to_vector"));
  const T* p = static_cast<const T*>(c.data_ptr());
  return std::vector<T>(p, p + c.numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;
template <>
std::vector<bool> Tensor::to_vector<bool>() const {
  const Tensor c = detail::as_contiguous(detail::convert(*this, kBool));
  const bool* p = static_cast<const bool*>(c.data_ptr());
  return std::vector<bool>(p, p + c.numel());
}

// ---- math methods: forward to ops.h ------------------------------------------------------------

Tensor Tensor::add(const Tensor& o) const { return tg::add(*this, o); }
Tensor Tensor::sub(const Tensor& o) const { return tg::sub(*this, o); }
Tensor Tensor::mul(const Tensor& o) const { return tg::mul(*this, o); }
Tensor Tensor::div(const Tensor& o) const { return tg::div(*this, o); }
Tensor Tensor::neg() const { return tg::neg(*this); }
Tensor Tensor::pow(double e) const { return tg::pow(*this, e); }
Tensor Tensor::pow(const Tensor& e) const { return tg::pow(*this, e); }
Tensor Tensor::exp() const { return tg::exp(*this); }
Tensor Tensor::log() const { return tg::log(*this); }
Tensor Tensor::sqrt() const { return tg::sqrt(*this); }
Tensor Tensor::abs() const { return tg::abs(*this); }
Tensor Tensor::tanh() const { return tg::tanh(*this); }
Tensor Tensor::sigmoid() const { return tg::sigmoid(*this); }
Tensor Tensor::relu() const { return tg::relu(*this); }
Tensor Tensor::sum() const { return tg::sum(*this); }
Tensor Tensor::sum(IntArrayRef dims, bool keepdim) const { return tg::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return tg::mean(*this); }
Tensor Tensor::mean(IntArrayRef dims, bool keepdim) const { return tg::mean(*this, dims, keepdim); }
Tensor Tensor::amax() const { return tg::amax(*this); }
Tensor Tensor::amax(IntArrayRef dims, bool keepdim) const { return tg::amax(*this, dims, keepdim); }
Tensor Tensor::amin() const { return tg::amin(*this); }
Tensor Tensor::amin(IntArrayRef dims, bool keepdim) const { return tg::amin(*this, dims, keepdim); }
ValuesIndices Tensor::max(std::int64_t d, bool keepdim) const { return tg::max(*this, d, keepdim); }
ValuesIndices Tensor::min(std::int64_t d, bool keepdim) const { return tg::min(*this, d, keepdim); }
Tensor Tensor::argmax() const { return tg::argmax(*this); }
Tensor Tensor::argmax(std::int64_t d, bool keepdim) const { return tg::argmax(*this, d, keepdim); }
Tensor Tensor::matmul(const Tensor& o) const { return tg::matmul(*this, o); }
Tensor Tensor::softmax(std::int64_t d) const { return tg::softmax(*this, d); }
Tensor Tensor::log_softmax(std::int64_t d) const { return tg::log_softmax(*this, d); }
Tensor Tensor::eq(const Tensor& o) const { return tg::eq(*this, o); }
Tensor Tensor::ne(const Tensor& o) const { return tg::ne(*this, o); }
Tensor Tensor::lt(const Tensor& o) const { return tg::lt(*this, o); }
Tensor Tensor::le(const Tensor& o) const { return tg::le(*this, o); }
Tensor Tensor::gt(const Tensor& o) const { return tg::gt(*this, o); }
Tensor Tensor::ge(const Tensor& o) const { return tg::ge(*this, o); }
Tensor Tensor::eq(double o) const { return tg::eq(*this, o); }
Tensor Tensor::ne(double o) const { return tg::ne(*this, o); }
Tensor Tensor::lt(double o) const { return tg::lt(*this, o); }
Tensor Tensor::le(double o) const { return tg::le(*this, o); }
Tensor Tensor::gt(double o) const { return tg::gt(*this, o); }
Tensor Tensor::ge(double o) const { return tg::ge(*this, o); }

}  // namespace tg

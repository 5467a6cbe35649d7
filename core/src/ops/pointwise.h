#pragma once
// Building blocks for floating elementwise ops and their backward formulas.
#include "kernels/loop.h"
#include "tapegrad/core/autograd.h"
#include "tensor_detail.h"

namespace tg::detail {

/// out[i] = f(x[i]) for floating x, in x's dtype; f is generic over float and double.
template <typename F>
Tensor unary_floating(const Tensor& a, const char* name, F f) {
  Tensor out = new_empty(a.shape(), a.dtype());
  dispatch_floating(a.dtype(), name, [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::map1<T, T>(out, a, [&f](T x) { return static_cast<T>(f(x)); });
  });
  return out;
}

/// out[i] = f(a[i], b[i]) over the broadcast shape, in a's (floating) dtype.
template <typename F>
Tensor binary_floating(const Tensor& a, const Tensor& b, const char* name, F f) {
  const DimVec shape = broadcast_shapes(a.shape(), b.shape(), name);
  const Tensor y = convert(b, a.dtype());
  Tensor out = new_empty(shape, a.dtype(), name);
  dispatch_floating(a.dtype(), name, [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::map2<T, T, T>(out, a, y, [&f](T u, T v) { return static_cast<T>(f(u, v)); });
  });
  return out;
}

/// out[i] = f(a[i], b[i], c[i]) over the broadcast shape, in a's (floating) dtype.
template <typename F>
Tensor ternary_floating(const Tensor& a, const Tensor& b, const Tensor& c, const char* name, F f) {
  const DimVec shape = broadcast_shapes(broadcast_shapes(a.shape(), b.shape(), name), c.shape(), name);
  const Tensor y = convert(b, a.dtype()), z = convert(c, a.dtype());
  Tensor out = new_empty(shape, a.dtype(), name);
  dispatch_floating(a.dtype(), name, [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::map3<T, T, T, T>(out, a, y, z, [&f](T u, T v, T w) { return static_cast<T>(f(u, v, w)); });
  });
  return out;
}

/// Records a unary op whose derivative is a function of the saved input x: dx = g * df(x).
template <typename DF>
void record_by_input(const char* name, const Tensor& out, const Tensor& x, DF df) {
  autograd::record(name, out, {&x}, [sx = autograd::SavedTensor::input(x), df, name](autograd::BackwardContext& c) {
    c.set(0, binary_floating(c.grad(), c.unpack(sx), name, [&df](auto g, auto v) { return g * df(v); }));
  });
}

/// Records a unary op whose derivative is a function of its output y: dx = g * df(y).
template <typename DF>
void record_by_output(const char* name, const Tensor& out, const Tensor& x, DF df) {
  autograd::record(name, out, {&x}, [so = autograd::SavedTensor::output(out), df, name](autograd::BackwardContext& c) {
    c.set(0, binary_floating(c.grad(), c.unpack(so), name, [&df](auto g, auto y) { return g * df(y); }));
  });
}

/// Checks that must hold before `op` writes into self in place (copy.cpp): no overlapping
/// elements; when other is given, it broadcasts to self and its dtype can be written into
/// self's; when recording, self is not a leaf that requires grad, nor a view of one, nor a view
/// that autograd does not track (detach(), or made with grad mode off).
void check_inplace(const Tensor& self, const Tensor* other, const char* op, bool recording);

}  // namespace tg::detail

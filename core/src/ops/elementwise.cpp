// Elementwise ops: arithmetic, pow, comparisons and the unary functions, each forward with its
// backward right below it. Broadcast gradients are reduced by the engine (sum_to_size), so a
// backward here only states the math for the broadcast shape.
#include "tapegrad/core/ops/elementwise.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <optional>

#include "kernels/loop.h"
#include "kernels/vec_math.h"
#include "ops/pointwise.h"
#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops.h"
#include "tensor_detail.h"

namespace tg {
namespace {

using autograd::BackwardContext;
using autograd::SavedTensor;
using kernels::map1;
using kernels::map2;

enum class Arith { Add, Sub, Mul, Div };

const char* arith_name(Arith op) {
  switch (op) {
    case Arith::Add: return "add";
    case Arith::Sub: return "sub";
    case Arith::Mul: return "mul";
    case Arith::Div: return "div";
  }
  return "?";
}

template <typename T>
T apply_arith(Arith op, T x, T y) {
  switch (op) {
    case Arith::Add: return static_cast<T>(x + y);
    case Arith::Sub: return static_cast<T>(x - y);
    case Arith::Mul: return static_cast<T>(x * y);
    case Arith::Div: return static_cast<T>(x / y);
  }
  return x;
}

/// The dtype arithmetic is done in: promoted, and floating for true division.
DType arith_dtype(Arith op, DType promoted) {
  if (op == Arith::Div && !is_floating(promoted)) return kFloat32;
  TG_CHECK(!(op == Arith::Sub && promoted == kBool),
           "sub: subtraction of bool tensors is not supported; use logical operations instead");
  return promoted;
}

/// The dtype of tensor (op) scalar: the tensor's if floating; otherwise int64 for an integral
/// scalar that int64 holds, and float32 for the rest (fractions, infinities, huge values).
DType scalar_dtype(DType t, double s) {
  if (is_floating(t)) return t;
  const bool fits_int64 = std::floor(s) == s && s >= -9.2233720368547758e18 && s < 9.2233720368547758e18;
  return fits_int64 ? kInt64 : kFloat32;
}

Tensor arith_forward(const Tensor& a, const Tensor& b, Arith op) {
  const DType dt = arith_dtype(op, promote_types(a.dtype(), b.dtype()));
  const DimVec shape = broadcast_shapes(a.shape(), b.shape(), arith_name(op));
  const Tensor x = detail::convert(a, dt), y = detail::convert(b, dt);
  Tensor out = detail::new_empty(shape, dt, arith_name(op));
  dispatch(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    switch (op) {  // one instantiation per op keeps the inner loops branch-free
      case Arith::Add: map2<T, T, T>(out, x, y, [](T u, T v) { return static_cast<T>(u + v); }); break;
      case Arith::Sub: map2<T, T, T>(out, x, y, [](T u, T v) { return static_cast<T>(u - v); }); break;
      case Arith::Mul: map2<T, T, T>(out, x, y, [](T u, T v) { return static_cast<T>(u * v); }); break;
      case Arith::Div: map2<T, T, T>(out, x, y, [](T u, T v) { return static_cast<T>(u / v); }); break;
    }
  });
  return out;
}

Tensor arith_scalar_forward(const Tensor& a, double s, Arith op, bool reversed) {
  const DType dt = arith_dtype(op, scalar_dtype(a.dtype(), s));
  const Tensor x = detail::convert(a, dt);
  Tensor out = detail::new_empty(a.shape(), dt);
  dispatch(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T v = static_cast<T>(s);
    if (op == Arith::Add) map1<T, T>(out, x, [v](T u) { return static_cast<T>(u + v); });
    else if (op == Arith::Mul) map1<T, T>(out, x, [v](T u) { return static_cast<T>(u * v); });
    else if (reversed) map1<T, T>(out, x, [v, op](T u) { return apply_arith(op, v, u); });
    else if (op == Arith::Sub) map1<T, T>(out, x, [v](T u) { return static_cast<T>(u - v); });
    else map1<T, T>(out, x, [v](T u) { return static_cast<T>(u / v); });
  });
  return out;
}

using detail::binary_floating;
using detail::unary_floating;

enum class Cmp { Eq, Ne, Lt, Le, Gt, Ge };

template <typename T>
bool compare(Cmp op, T x, T y) {
  switch (op) {
    case Cmp::Eq: return x == y;
    case Cmp::Ne: return x != y;
    case Cmp::Lt: return x < y;
    case Cmp::Le: return x <= y;
    case Cmp::Gt: return x > y;
    case Cmp::Ge: return x >= y;
  }
  return false;
}

Tensor compare_forward(const Tensor& a, const Tensor& b, Cmp op, const char* name) {
  const DType dt = promote_types(a.dtype(), b.dtype());
  const DimVec shape = broadcast_shapes(a.shape(), b.shape(), name);
  const Tensor x = detail::convert(a, dt), y = detail::convert(b, dt);
  Tensor out = detail::new_empty(shape, kBool, name);
  dispatch(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    map2<bool, T, T>(out, x, y, [op](T u, T v) { return compare(op, u, v); });
  });
  return out;
}

Tensor compare_scalar(const Tensor& a, double s, Cmp op) {
  // Compare in the tensor's floating type, else exactly: int64 for integral scalars within
  // int64's range (bool as 0/1), float64 for the rest (fractions, infinities, huge values).
  const bool exact_int = std::floor(s) == s && s >= -9.2233720368547758e18 && s < 9.2233720368547758e18;
  const DType dt = is_floating(a.dtype()) ? a.dtype() : (exact_int ? kInt64 : kFloat64);
  const Tensor x = detail::convert(a, dt);
  Tensor out = detail::new_empty(a.shape(), kBool);
  dispatch(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T v = static_cast<T>(s);
    map1<bool, T>(out, x, [op, v](T u) { return compare(op, u, v); });
  });
  return out;
}

}  // namespace

// ---- add, sub, mul, div ----------------------------------------------------------------------

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = arith_forward(a, b, Arith::Add);
  if (autograd::needs_grad(a, b)) {
    autograd::record("add", out, {&a, &b}, [](BackwardContext& c) {
      if (c.needs(0)) c.set(0, c.grad());
      if (c.needs(1)) c.set(1, c.grad());
    });
  }
  return out;
}

Tensor add(const Tensor& a, double b) {
  Tensor out = arith_scalar_forward(a, b, Arith::Add, false);
  if (autograd::needs_grad(a)) autograd::record("add", out, {&a}, [](BackwardContext& c) { c.set(0, c.grad()); });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = arith_forward(a, b, Arith::Sub);
  if (autograd::needs_grad(a, b)) {
    autograd::record("sub", out, {&a, &b}, [](BackwardContext& c) {
      if (c.needs(0)) c.set(0, c.grad());
      if (c.needs(1)) c.set(1, neg(c.grad()));
    });
  }
  return out;
}

Tensor sub(const Tensor& a, double b) { return add(a, -b); }

Tensor rsub(const Tensor& a, double b) {
  Tensor out = arith_scalar_forward(a, b, Arith::Sub, true);
  if (autograd::needs_grad(a)) autograd::record("rsub", out, {&a}, [](BackwardContext& c) { c.set(0, neg(c.grad())); });
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = arith_forward(a, b, Arith::Mul);
  if (autograd::needs_grad(a, b)) {
    // d(ab)/da = b, d(ab)/db = a: each factor is saved only if the other one needs a gradient.
    SavedTensor sa = b.requires_grad() ? SavedTensor::input(a) : SavedTensor();
    SavedTensor sb = a.requires_grad() ? SavedTensor::input(b) : SavedTensor();
    autograd::record("mul", out, {&a, &b}, [sa, sb](BackwardContext& c) {
      if (c.needs(0)) c.set(0, mul(c.grad(), c.unpack(sb)));
      if (c.needs(1)) c.set(1, mul(c.grad(), c.unpack(sa)));
    });
  }
  return out;
}

Tensor mul(const Tensor& a, double b) {
  Tensor out = arith_scalar_forward(a, b, Arith::Mul, false);
  if (autograd::needs_grad(a))
    autograd::record("mul", out, {&a}, [b](BackwardContext& c) { c.set(0, mul(c.grad(), b)); });
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = arith_forward(a, b, Arith::Div);
  if (autograd::needs_grad(a, b)) {
    // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2.
    SavedTensor sa = b.requires_grad() ? SavedTensor::input(a) : SavedTensor();
    SavedTensor sb = SavedTensor::input(b);
    autograd::record("div", out, {&a, &b}, [sa, sb](BackwardContext& c) {
      const Tensor& bv = c.unpack(sb);
      if (c.needs(0)) c.set(0, div(c.grad(), bv));
      if (c.needs(1)) c.set(1, neg(div(mul(c.grad(), c.unpack(sa)), mul(bv, bv))));
    });
  }
  return out;
}

Tensor div(const Tensor& a, double b) {
  Tensor out = arith_scalar_forward(a, b, Arith::Div, false);
  if (autograd::needs_grad(a))
    autograd::record("div", out, {&a}, [b](BackwardContext& c) { c.set(0, div(c.grad(), b)); });
  return out;
}

Tensor rdiv(const Tensor& a, double b) {
  Tensor out = arith_scalar_forward(a, b, Arith::Div, true);
  if (autograd::needs_grad(a)) {
    // d(b/a)/da = -b/a^2 = -out/a.
    autograd::record("rdiv", out, {&a},
                     [sa = SavedTensor::input(a), so = SavedTensor::output(out)](BackwardContext& c) {
      c.set(0, neg(div(mul(c.grad(), c.unpack(so)), c.unpack(sa))));
    });
  }
  return out;
}

Tensor neg(const Tensor& a) {
  TG_CHECK(a.dtype() != kBool, "neg: negation of a bool tensor is not supported; use logical operations instead");
  Tensor out = detail::new_empty(a.shape(), a.dtype());
  dispatch_numeric(a.dtype(), "neg", [&](auto tag) {
    using T = typename decltype(tag)::type;
    map1<T, T>(out, a, [](T x) { return static_cast<T>(-x); });
  });
  if (autograd::needs_grad(a)) autograd::record("neg", out, {&a}, [](BackwardContext& c) { c.set(0, neg(c.grad())); });
  return out;
}

// ---- pow -------------------------------------------------------------------------------------

Tensor pow(const Tensor& a, double p) {
  const Tensor x = is_floating(a.dtype()) ? a : detail::convert(a, kFloat32);
  Tensor out;
  if (p == 2.0) out = unary_floating(x, "pow", [](auto v) { return v * v; });
  else if (p == 1.0) out = unary_floating(x, "pow", [](auto v) { return v; });
  else if (p == 0.5) out = unary_floating(x, "pow", [](auto v) { return std::sqrt(v); });
  else if (p == -1.0) out = unary_floating(x, "pow", [](auto v) { return 1 / v; });
  else out = unary_floating(x, "pow", [p](auto v) { return std::pow(v, static_cast<decltype(v)>(p)); });
  if (autograd::needs_grad(a)) {
    // d(x^p)/dx = p x^(p-1).
    autograd::record("pow", out, {&a}, [sa = SavedTensor::input(a), p](BackwardContext& c) {
      const Tensor& xv = c.unpack(sa);
      if (p == 2.0) c.set(0, mul(c.grad(), mul(xv, 2.0)));
      else c.set(0, mul(c.grad(), mul(pow(xv, p - 1.0), p)));
    });
  }
  return out;
}

Tensor pow(const Tensor& a, const Tensor& e) {
  const DType dt = is_floating(promote_types(a.dtype(), e.dtype())) ? promote_types(a.dtype(), e.dtype()) : kFloat32;
  const Tensor x = detail::convert(a, dt);
  Tensor out = binary_floating(x, e, "pow", [](auto u, auto v) { return std::pow(u, v); });
  if (autograd::needs_grad(a, e)) {
    // d(a^e)/da = e a^(e-1); d(a^e)/de = a^e ln a (0 where a == 0, as PyTorch does).
    autograd::record(
        "pow", out, {&a, &e},
        [sa = SavedTensor::input(a), se = SavedTensor::input(e), so = SavedTensor::output(out)](BackwardContext& c) {
      const Tensor& av = c.unpack(sa);
      const Tensor& ev = c.unpack(se);
      if (c.needs(0)) c.set(0, mul(c.grad(), mul(ev, pow(av, sub(ev, 1.0)))));
      if (c.needs(1)) {
        const Tensor log_a = unary_floating(detail::convert(av, c.grad().dtype()), "pow",
                                            [](auto u) { return u == 0 ? decltype(u)(0) : std::log(u); });
        c.set(1, mul(c.grad(), mul(c.unpack(so), log_a)));
      }
        });
  }
  return out;
}

// ---- unary functions -----------------------------------------------------------------------------

Tensor exp(const Tensor& a) {
  Tensor out = unary_floating(a, "exp", [](auto x) { return kernels::exp_impl(x); });
  if (autograd::needs_grad(a))  // d exp(x) = exp(x): save the output, not the input
    autograd::record("exp", out, {&a},
                     [so = SavedTensor::output(out)](BackwardContext& c) { c.set(0, mul(c.grad(), c.unpack(so))); });
  return out;
}

Tensor log(const Tensor& a) {
  Tensor out = unary_floating(a, "log", [](auto x) { return std::log(x); });
  if (autograd::needs_grad(a))
    autograd::record("log", out, {&a},
                     [sa = SavedTensor::input(a)](BackwardContext& c) { c.set(0, div(c.grad(), c.unpack(sa))); });
  return out;
}

Tensor sqrt(const Tensor& a) {
  Tensor out = unary_floating(a, "sqrt", [](auto x) { return std::sqrt(x); });
  if (autograd::needs_grad(a))  // d sqrt(x) = 1 / (2 sqrt(x))
    autograd::record("sqrt", out, {&a}, [so = SavedTensor::output(out)](BackwardContext& c) {
      c.set(0, binary_floating(c.grad(), c.unpack(so), "sqrt_backward", [](auto g, auto y) { return g / (2 * y); }));
    });
  return out;
}

Tensor abs(const Tensor& a) {
  Tensor out = detail::new_empty(a.shape(), a.dtype());
  dispatch_numeric(a.dtype(), "abs", [&](auto tag) {
    using T = typename decltype(tag)::type;
    map1<T, T>(out, a, [](T x) { return static_cast<T>(x < 0 ? -x : x); });
  });
  if (autograd::needs_grad(a))  // d|x| = sign(x), 0 at 0
    autograd::record("abs", out, {&a}, [sa = SavedTensor::input(a)](BackwardContext& c) {
      c.set(0, binary_floating(c.grad(), c.unpack(sa), "abs_backward",
                               [](auto g, auto x) { return x > 0 ? g : (x < 0 ? -g : decltype(g)(0)); }));
    });
  return out;
}

Tensor tanh(const Tensor& a) {
  Tensor out = unary_floating(a, "tanh", [](auto x) { return kernels::tanh_impl(x); });
  if (autograd::needs_grad(a))  // d tanh(x) = 1 - tanh(x)^2
    autograd::record("tanh", out, {&a}, [so = SavedTensor::output(out)](BackwardContext& c) {
      c.set(0,
            binary_floating(c.grad(), c.unpack(so), "tanh_backward", [](auto g, auto y) { return g * (1 - y * y); }));
    });
  return out;
}

Tensor sigmoid(const Tensor& a) {
  Tensor out = unary_floating(a, "sigmoid", [](auto x) { return kernels::sigmoid_impl(x); });
  if (autograd::needs_grad(a))  // d sigmoid(x) = s (1 - s)
    autograd::record("sigmoid", out, {&a}, [so = SavedTensor::output(out)](BackwardContext& c) {
      c.set(0, binary_floating(c.grad(), c.unpack(so), "sigmoid_backward",
                               [](auto g, auto y) { return g * y * (1 - y); }));
    });
  return out;
}

Tensor relu(const Tensor& a) {
  Tensor out = detail::new_empty(a.shape(), a.dtype());
  dispatch_numeric(a.dtype(), "relu", [&](auto tag) {
    using T = typename decltype(tag)::type;
    map1<T, T>(out, a, [](T x) { return x > 0 ? x : T(0); });
  });
  if (autograd::needs_grad(a))  // gradient passes where the output is positive
    autograd::record("relu", out, {&a}, [so = SavedTensor::output(out)](BackwardContext& c) {
      c.set(0, binary_floating(c.grad(), c.unpack(so), "relu_backward",
                               [](auto g, auto y) { return y > 0 ? g : decltype(g)(0); }));
    });
  return out;
}

// ---- comparisons ---------------------------------------------------------------------------------

Tensor eq(const Tensor& a, const Tensor& b) { return compare_forward(a, b, Cmp::Eq, "eq"); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare_forward(a, b, Cmp::Ne, "ne"); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare_forward(a, b, Cmp::Lt, "lt"); }
Tensor le(const Tensor& a, const Tensor& b) { return compare_forward(a, b, Cmp::Le, "le"); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare_forward(a, b, Cmp::Gt, "gt"); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare_forward(a, b, Cmp::Ge, "ge"); }
Tensor eq(const Tensor& a, double b) { return compare_scalar(a, b, Cmp::Eq); }
Tensor ne(const Tensor& a, double b) { return compare_scalar(a, b, Cmp::Ne); }
Tensor lt(const Tensor& a, double b) { return compare_scalar(a, b, Cmp::Lt); }
Tensor le(const Tensor& a, double b) { return compare_scalar(a, b, Cmp::Le); }
Tensor gt(const Tensor& a, double b) { return compare_scalar(a, b, Cmp::Gt); }
Tensor ge(const Tensor& a, double b) { return compare_scalar(a, b, Cmp::Ge); }

// ---- more pointwise math (log1p, expm1, erf, sign, reciprocal, clamp, maximum, minimum) --------
// Derivatives: log1p: 1 / (1 + x)   expm1: y + 1   erf: 2/sqrt(pi) e^(-x^2)   reciprocal: -y^2

namespace {
using detail::binary_floating;
using detail::record_by_input;
using detail::record_by_output;
using detail::ternary_floating;
using detail::unary_floating;
}  // namespace

Tensor log1p(const Tensor& x) {
  Tensor out = unary_floating(x, "log1p", [](auto v) { return std::log1p(v); });
  if (autograd::needs_grad(x)) record_by_input("log1p", out, x, [](auto v) { return 1 / (1 + v); });
  return out;
}

Tensor expm1(const Tensor& x) {
  Tensor out = unary_floating(x, "expm1", [](auto v) { return std::expm1(v); });
  if (autograd::needs_grad(x)) record_by_output("expm1", out, x, [](auto y) { return y + 1; });
  return out;
}

Tensor erf(const Tensor& x) {
  Tensor out = unary_floating(x, "erf", [](auto v) { return std::erf(v); });
  if (autograd::needs_grad(x))
    record_by_input("erf", out, x, [](auto v) {
      using T = decltype(v);
      return static_cast<T>(2 * std::numbers::inv_sqrtpi) * kernels::exp_impl(-v * v);
    });
  return out;
}

Tensor sign(const Tensor& x) {
  Tensor out = detail::new_empty(x.shape(), x.dtype());
  dispatch_numeric(x.dtype(), "sign", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::map1<T, T>(out, x, [](T v) { return static_cast<T>((v > 0) - (v < 0)); });
  });
  return out;
}

Tensor reciprocal(const Tensor& x) {
  Tensor out = unary_floating(is_floating(x.dtype()) ? x : detail::convert(x, kFloat32), "reciprocal",
                              [](auto v) { return 1 / v; });
  if (autograd::needs_grad(x)) record_by_output("reciprocal", out, x, [](auto y) { return -y * y; });
  return out;
}

Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max) {
  TG_CHECK(min || max, "clamp: at least one of min and max must be given");
  const double lo = min.value_or(-std::numeric_limits<double>::infinity());
  const double hi = max.value_or(std::numeric_limits<double>::infinity());
  Tensor out = detail::new_empty(x.shape(), x.dtype());
  dispatch_numeric(x.dtype(), "clamp", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::map1<T, T>(out, x, [lo, hi](T v) {
      const double d = static_cast<double>(v);
      return d != d ? v : static_cast<T>(std::min(std::max(d, lo), hi));  // NaN passes; min > max gives max, as PyTorch
    });
  });
  if (autograd::needs_grad(x))
    record_by_input("clamp", out, x, [lo, hi](auto v) { return decltype(v)(v >= lo && v <= hi ? 1 : 0); });
  return out;
}

namespace {
Tensor extremum2(const Tensor& a, const Tensor& b, bool is_max) {
  const char* op = is_max ? "maximum" : "minimum";
  const DType dt = promote_types(a.dtype(), b.dtype());
  const DimVec shape = broadcast_shapes(a.shape(), b.shape(), op);
  const Tensor x = detail::convert(a, dt), y = detail::convert(b, dt);
  Tensor out = detail::new_empty(shape, dt, op);
  dispatch_numeric(dt, op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::map2<T, T, T>(out, x, y, [is_max](T u, T v) {
      if (u != u || v != v) return u != u ? u : v;  // NaN propagates
      return is_max ? (u > v ? u : v) : (u < v ? u : v);
    });
  });
  if (autograd::needs_grad(a, b)) {
    // The larger (smaller) input takes the gradient; a tie splits it evenly.
    autograd::record(op, out, {&a, &b},
                     [sa = SavedTensor::input(x), sb = SavedTensor::input(y), is_max](BackwardContext& c) {
      const Tensor& u = c.unpack(sa);
      const Tensor& v = c.unpack(sb);
      auto share = [is_max](auto g, auto p, auto q) {
        using T = decltype(g);
        if (p == q) return g / T(2);
        return (is_max ? p > q : p < q) ? g : T(0);
      };
      if (c.needs(0)) c.set(0, ternary_floating(c.grad(), u, v, "maximum_backward", share));
      if (c.needs(1)) c.set(1, ternary_floating(c.grad(), v, u, "maximum_backward", share));
    });
  }
  return out;
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) { return extremum2(a, b, true); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum2(a, b, false); }

const Tensor& clamp_(const Tensor& x, std::optional<double> min, std::optional<double> max) {
  TG_CHECK(min || max, "clamp_: at least one of min and max must be given");
  const bool recording = autograd::needs_grad(x);
  detail::check_inplace(x, nullptr, "clamp_", recording);
  const double lo = min.value_or(-std::numeric_limits<double>::infinity());
  const double hi = max.value_or(std::numeric_limits<double>::infinity());
  // Which elements pass the gradient is decided by the values about to be overwritten.
  Tensor pass;
  if (recording) {
    pass = detail::new_empty(x.shape(), kBool);
    dispatch_numeric(x.dtype(), "clamp_", [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels::map1<bool, T>(pass, x,
                             [lo, hi](T v) { return static_cast<double>(v) >= lo && static_cast<double>(v) <= hi; });
    });
  }
  dispatch_numeric(x.dtype(), "clamp_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::map1<T, T>(x, x, [lo, hi](T v) {
      const double d = static_cast<double>(v);
      return d != d ? v : static_cast<T>(std::min(std::max(d, lo), hi));  // min > max gives max, as PyTorch
    });
  });
  x.impl()->storage->bump_version("clamp_");
  if (recording)
    autograd::record("clamp_", x, {&x}, [pass](BackwardContext& c) { c.set(0, where(pass, c.grad(), 0.0)); });
  return x;
}

}  // namespace tg

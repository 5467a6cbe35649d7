// Activations and elementwise math, statistics and dropout; forward and backward together.
// Derivatives used (y is the output):
//   leaky_relu: 1 or slope            elu: 1 or alpha e^x (= y + alpha)
//   gelu (erf): Phi(x) + x phi(x)      gelu (tanh): from u = sqrt(2/pi) (x + 0.044715 x^3)
//   silu: s (1 + x (1 - s))            softplus: sigmoid(beta x), 1 above the threshold
//   log1p: 1 / (1 + x)   expm1: y + 1   erf: 2/sqrt(pi) e^(-x^2)   reciprocal: -y^2
#include "tapegrad/core/activation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "kernels/vec_math.h"
#include "ops/pointwise.h"
#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/index_ops.h"
#include "tapegrad/core/ops.h"

namespace tg {
namespace {

using autograd::BackwardContext;
using autograd::SavedTensor;
using detail::binary_floating;
using detail::ternary_floating;
using detail::unary_floating;

/// Records a unary op whose derivative is a function of the saved input x: dx = g * df(x).
template <typename DF>
void record_by_input(const char* name, const Tensor& out, const Tensor& x, DF df) {
  autograd::record(name, out, {&x}, [sx = SavedTensor::input(x), df, name](BackwardContext& c) {
    c.set(0, binary_floating(c.grad(), c.unpack(sx), name, [&df](auto g, auto v) { return g * df(v); }));
  });
}

/// Records a unary op whose derivative is a function of its output y: dx = g * df(y).
template <typename DF>
void record_by_output(const char* name, const Tensor& out, const Tensor& x, DF df) {
  autograd::record(name, out, {&x}, [so = SavedTensor::output(out), df, name](BackwardContext& c) {
    c.set(0, binary_floating(c.grad(), c.unpack(so), name, [&df](auto g, auto y) { return g * df(y); }));
  });
}

constexpr double kSqrt2OverPi = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double kGeluCubic = 0.044715;

}  // namespace

Tensor leaky_relu(const Tensor& x, double slope) {
  Tensor out =
      unary_floating(x, "leaky_relu", [slope](auto v) { return v > 0 ? v : v * static_cast<decltype(v)>(slope); });
  if (autograd::needs_grad(x))
    record_by_input("leaky_relu", out, x,
                    [slope](auto v) { return v > 0 ? decltype(v)(1) : static_cast<decltype(v)>(slope); });
  return out;
}

Tensor elu(const Tensor& x, double alpha) {
  Tensor out = unary_floating(x, "elu", [alpha](auto v) {
    using T = decltype(v);
    return v > 0 ? v : static_cast<T>(alpha) * (kernels::exp_impl(v) - T(1));
  });
  if (autograd::needs_grad(x))
    record_by_input("elu", out, x, [alpha](auto v) {
      using T = decltype(v);
      return v > 0 ? T(1) : static_cast<T>(alpha) * kernels::exp_impl(v);
    });
  return out;
}

Tensor gelu(const Tensor& x, std::string_view approximate) {
  TG_CHECK(approximate == "none" || approximate == "tanh", "gelu: approximate must be \"none\" or \"tanh\", got \"{}\"",
           approximate);
  const bool use_tanh = approximate == "tanh";
  Tensor out = unary_floating(x, "gelu", [use_tanh](auto v) {
    using T = decltype(v);
    if (use_tanh) {
      const T u = static_cast<T>(kSqrt2OverPi) * (v + static_cast<T>(kGeluCubic) * v * v * v);
      return T(0.5) * v * (T(1) + kernels::tanh_impl(u));
    }
    return T(0.5) * v * (T(1) + std::erf(v * static_cast<T>(std::numbers::sqrt2 / 2)));
  });
  if (autograd::needs_grad(x)) {
    record_by_input("gelu", out, x, [use_tanh](auto v) {
      using T = decltype(v);
      if (use_tanh) {
        const T u = static_cast<T>(kSqrt2OverPi) * (v + static_cast<T>(kGeluCubic) * v * v * v);
        const T th = kernels::tanh_impl(u);
        const T du = static_cast<T>(kSqrt2OverPi) * (T(1) + T(3) * static_cast<T>(kGeluCubic) * v * v);
        return T(0.5) * (T(1) + th) + T(0.5) * v * (T(1) - th * th) * du;
      }
      const T cdf = T(0.5) * (T(1) + std::erf(v * static_cast<T>(std::numbers::sqrt2 / 2)));
      const T pdf = kernels::exp_impl(T(-0.5) * v * v) * static_cast<T>(std::numbers::inv_sqrtpi / std::numbers::sqrt2);
      return cdf + v * pdf;
    });
  }
  return out;
}

Tensor silu(const Tensor& x) {
  Tensor out = unary_floating(x, "silu", [](auto v) { return v * kernels::sigmoid_impl(v); });
  if (autograd::needs_grad(x))
    record_by_input("silu", out, x, [](auto v) {
      const auto s = kernels::sigmoid_impl(v);
      return s * (1 + v * (1 - s));
    });
  return out;
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  TG_CHECK(beta > 0, "softplus: beta must be positive, got {}", beta);
  Tensor out = unary_floating(x, "softplus", [beta, threshold](auto v) {
    using T = decltype(v);
    const T bx = static_cast<T>(beta) * v;
    return bx > static_cast<T>(threshold) ? v : std::log1p(kernels::exp_impl(bx)) / static_cast<T>(beta);
  });
  if (autograd::needs_grad(x))
    record_by_input("softplus", out, x, [beta, threshold](auto v) {
      using T = decltype(v);
      const T bx = static_cast<T>(beta) * v;
      return bx > static_cast<T>(threshold) ? T(1) : kernels::sigmoid_impl(bx);
    });
  return out;
}

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
  Tensor out = detail::new_empty(shape, dt);
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

// ---- statistics ------------------------------------------------------------------------------

Tensor var(const Tensor& x, IntArrayRef dims, bool unbiased, bool keepdim) {
  TG_CHECK(is_floating(x.dtype()), "var: expected a floating-point tensor, got {}", dtype_name(x.dtype()));
  const Tensor centered = dims.empty() ? sub(x, mean(x)) : sub(x, mean(x, dims, true));
  const Tensor sq = mul(centered, centered);
  const Tensor total =
      dims.empty() ? (keepdim ? sum(sq).reshape(DimVec::filled(x.dim(), 1)) : sum(sq)) : sum(sq, dims, keepdim);
  const std::int64_t n = x.numel() / std::max<std::int64_t>(total.numel(), 1);
  return div(total, static_cast<double>(unbiased ? n - 1 : n));  // n - 1 = 0 gives inf/NaN, as in PyTorch
}

Tensor std(const Tensor& x, IntArrayRef dims, bool unbiased, bool keepdim) {
  return sqrt(var(x, dims, unbiased, keepdim));
}

Tensor norm(const Tensor& x, double p, IntArrayRef dims, bool keepdim) {
  TG_CHECK(is_floating(x.dtype()), "norm: expected a floating-point tensor, got {}", dtype_name(x.dtype()));
  auto reduce_sum = [&](const Tensor& t) {
    if (!dims.empty()) return sum(t, dims, keepdim);
    return keepdim ? sum(t).reshape(DimVec::filled(x.dim(), 1)) : sum(t);
  };
  if (p == 1.0) return reduce_sum(abs(x));
  if (std::isinf(p) && p > 0) {
    const Tensor a = abs(x);
    if (!dims.empty()) return amax(a, dims, keepdim);
    return keepdim ? amax(a).reshape(DimVec::filled(x.dim(), 1)) : amax(a);
  }
  TG_CHECK(p == 2.0, "norm: p must be 1, 2 or infinity, got {}", p);
  Tensor out;
  {
    NoGradGuard guard;
    out = sqrt(reduce_sum(mul(x, x)));
  }
  if (autograd::needs_grad(x)) {
    // d||x||/dx = x / ||x||, taken as 0 where the norm is 0 (as PyTorch does).
    DimVec keep_shape = x.shape();
    if (dims.empty()) keep_shape = DimVec::filled(x.dim(), 1);
    else
      for (auto d : dims) keep_shape[normalize_dim(d, x.dim(), "norm")] = 1;
    autograd::record("norm", out, {&x},
                     [sx = SavedTensor::input(x), so = SavedTensor::output(out), keep_shape](BackwardContext& c) {
      const Tensor n = c.unpack(so).reshape(keep_shape);
      const Tensor g = c.grad().reshape(keep_shape);
      c.set(0, ternary_floating(c.unpack(sx), g, n, "norm_backward",
                                [](auto v, auto gv, auto nv) { return nv == 0 ? decltype(v)(0) : v * gv / nv; }));
    });
  }
  return out;
}

Tensor logsumexp(const Tensor& x, IntArrayRef dims, bool keepdim) {
  TG_CHECK(!dims.empty(), "logsumexp: dims must not be empty");
  for (auto d : dims) normalize_dim(d, x.dim(), "logsumexp");
  TG_CHECK(is_floating(x.dtype()), "logsumexp: expected a floating-point tensor, got {}", dtype_name(x.dtype()));
  Tensor m;
  {
    NoGradGuard guard;  // the shift is a constant for the gradient
    m = amax(x, dims, true);
    m = where(ne(abs(m), std::numeric_limits<double>::infinity()), m, 0.0);
  }
  Tensor out = add(log(sum(exp(sub(x, m)), dims, true)), m);
  if (!keepdim) {
    DimVec shape;
    bool reduced[kMaxDims] = {};
    for (auto d : dims) reduced[normalize_dim(d, x.dim(), "logsumexp")] = true;
    for (std::int64_t i = 0; i < x.dim(); ++i)
      if (!reduced[i]) shape.push_back(x.shape()[i]);
    out = out.reshape(shape);
  }
  return out;
}

Tensor dropout(const Tensor& x, double p, bool training, Generator* generator) {
  TG_CHECK(p >= 0 && p <= 1, "dropout: probability must be in [0, 1], got {}", p);
  if (!training || p == 0) return x;
  if (p == 1) return mul(x, zeros_like(x));
  // The mask holds 0 or 1 / (1 - p), so that the expected value of each element is unchanged.
  const Tensor u = rand(x.shape(), is_floating(x.dtype()) ? x.dtype() : kFloat32, generator);
  const Tensor mask = unary_floating(u, "dropout", [p](auto v) {
    using T = decltype(v);
    return v < static_cast<T>(p) ? T(0) : static_cast<T>(1 / (1 - p));
  });
  return mul(x, mask);
}

// ---- in place --------------------------------------------------------------------------------

const Tensor& relu_(const Tensor& x) {
  const bool recording = autograd::needs_grad(x);
  detail::check_inplace(x, nullptr, "relu_", recording);
  dispatch_numeric(x.dtype(), "relu_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::map1<T, T>(x, x, [](T v) { return v > 0 ? v : T(0); });
  });
  x.impl()->storage->bump_version("relu_");
  if (recording) record_by_output("relu_", x, x, [](auto y) { return decltype(y)(y > 0 ? 1 : 0); });
  return x;
}

const Tensor& leaky_relu_(const Tensor& x, double slope) {
  const bool recording = autograd::needs_grad(x);
  detail::check_inplace(x, nullptr, "leaky_relu_", recording);
  // The output's sign tells the input's only for a slope >= 0.
  TG_CHECK(!recording || slope >= 0,
           "leaky_relu_: in-place leaky_relu with a negative slope ({}) cannot be differentiated; use leaky_relu",
           slope);
  dispatch_floating(x.dtype(), "leaky_relu_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::map1<T, T>(x, x, [slope](T v) { return v > 0 ? v : v * static_cast<T>(slope); });
  });
  x.impl()->storage->bump_version("leaky_relu_");
  if (recording)
    record_by_output("leaky_relu_", x, x,
                     [slope](auto y) { return y > 0 ? decltype(y)(1) : static_cast<decltype(y)>(slope); });
  return x;
}

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

const Tensor& masked_fill_(const Tensor& x, const Tensor& mask, double value) {
  TG_CHECK(mask.dtype() == kBool, "masked_fill_: expected a bool mask, got {}", dtype_name(mask.dtype()));
  const bool recording = autograd::needs_grad(x);
  detail::check_inplace(x, &mask, "masked_fill_", recording);
  dispatch(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T v = scalar_cast<T>(value, "masked_fill_");
    kernels::map2<T, T, bool>(x, x, mask, [v](T u, bool m) { return m ? v : u; });
  });
  x.impl()->storage->bump_version("masked_fill_");
  if (recording) {
    autograd::record("masked_fill_", x, {&x}, [sm = SavedTensor::input(mask)](BackwardContext& c) {
      c.set(0, masked_fill(c.grad(), c.unpack(sm), 0.0));
    });
  }
  return x;
}

}  // namespace tg

// The activation family: forward and backward together. Derivatives used (y is the output):
//   leaky_relu: 1 or slope            elu: 1 or alpha e^x (= y + alpha)
//   gelu (erf): Phi(x) + x phi(x)      gelu (tanh): from u = sqrt(2/pi) (x + 0.044715 x^3)
//   silu: s (1 + x (1 - s))            softplus: sigmoid(beta x), 1 above the threshold
// (relu, sigmoid and tanh are pointwise math: elementwise.cpp.)
#include "tapegrad/core/ops/activation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "kernels/vec_math.h"
#include "ops/pointwise.h"
#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops.h"
#include "tapegrad/core/ops/index.h"

namespace tg {
namespace {

using autograd::BackwardContext;
using autograd::SavedTensor;
using detail::binary_floating;
using detail::record_by_input;
using detail::record_by_output;
using detail::ternary_floating;
using detail::unary_floating;

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

}  // namespace tg

#pragma once
/// The activation family (src/ops/activation.cpp). relu, sigmoid and tanh are pointwise math
/// (ops/elementwise.h). In-place forms (name ending in _) bump the version counter; when a
/// backward needs the overwritten value, backward raises the version error rather than
/// computing a wrong gradient.
#include <string_view>

#include "tapegrad/core/tensor.h"

namespace tg {

/// x for x > 0, negative_slope * x otherwise.
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
/// x for x > 0, alpha (e^x - 1) otherwise.
Tensor elu(const Tensor& x, double alpha = 1.0);
/// x Phi(x): approximate "none" uses erf exactly; "tanh" uses PyTorch's tanh approximation.
Tensor gelu(const Tensor& x, std::string_view approximate = "none");
/// x sigmoid(x).
Tensor silu(const Tensor& x);
/// log(1 + e^(beta x)) / beta, and x itself where beta x > threshold.
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
// ---- in place ----
const Tensor& relu_(const Tensor& x);
const Tensor& leaky_relu_(const Tensor& x, double negative_slope = 0.01);

}  // namespace tg

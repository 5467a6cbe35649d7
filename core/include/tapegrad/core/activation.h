#pragma once
/// Activations and elementwise math beyond ops.h, statistics (var, std, norm, logsumexp) and
/// dropout. All are differentiable except sign. In-place forms (name ending in _) bump the
/// version counter; when a backward needs the overwritten value, backward raises the version
/// error rather than computing a wrong gradient.
#include <cstdint>
#include <optional>
#include <string_view>

#include "tapegrad/core/random.h"
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
Tensor log1p(const Tensor& x);
Tensor expm1(const Tensor& x);
Tensor erf(const Tensor& x);
/// -1, 0 or 1 (no gradient: the result does not require grad).
Tensor sign(const Tensor& x);
Tensor reciprocal(const Tensor& x);
/// Limits x to [min, max] (either may be absent). The gradient passes where min <= x <= max.
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max = std::nullopt);
/// Elementwise max / min of two tensors (broadcasting); ties split the gradient evenly.
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);

/// Variance over dims (all when empty): sum((x - mean)^2) / (N - 1) when unbiased, else / N.
Tensor var(const Tensor& x, IntArrayRef dims = {}, bool unbiased = true, bool keepdim = false);
/// Standard deviation, sqrt(var).
Tensor std(const Tensor& x, IntArrayRef dims = {}, bool unbiased = true, bool keepdim = false);
/// The p-norm over dims (all when empty) for p = 1, 2 or infinity (std::numeric_limits<double>::infinity()).
Tensor norm(const Tensor& x, double p = 2.0, IntArrayRef dims = {}, bool keepdim = false);
/// log(sum(exp(x))) over dims, computed stably (the maximum is taken out first).
Tensor logsumexp(const Tensor& x, IntArrayRef dims, bool keepdim = false);

/// Inverted dropout: in training, zeroes each element with probability p (mask from the
/// generator, default: the seeded default one) and scales the rest by 1 / (1 - p); otherwise x.
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true, Generator* generator = nullptr);

// ---- in place ----
const Tensor& relu_(const Tensor& x);
const Tensor& leaky_relu_(const Tensor& x, double negative_slope = 0.01);
const Tensor& clamp_(const Tensor& x, std::optional<double> min, std::optional<double> max = std::nullopt);
const Tensor& masked_fill_(const Tensor& x, const Tensor& mask, double value);

}  // namespace tg

#pragma once
/// The norm family (src/ops/norm.cpp): fused normalisation kernels; the composed version is
/// their test oracle (tests/core/test_fused_oracles.cpp).
#include "tapegrad/core/tensor.h"

namespace tg {

/// Layer normalisation over the last normalized_shape.size() dims (whose sizes must equal
/// normalized_shape): y = (x - mean) / sqrt(var + eps) * weight + bias, with the biased
/// variance; weight and bias have shape normalized_shape and may be undefined. Fused: one
/// pass for the statistics, one for the output, and one backward.
Tensor layer_norm(const Tensor& x, IntArrayRef normalized_shape, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);

}  // namespace tg

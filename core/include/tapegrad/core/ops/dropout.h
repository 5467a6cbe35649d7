#pragma once
/// The dropout family (src/ops/dropout.cpp).
#include "tapegrad/core/random.h"
#include "tapegrad/core/tensor.h"

namespace tg {

/// Inverted dropout: in training, zeroes each element with probability p (mask from the
/// generator, default: the seeded default one) and scales the rest by 1 / (1 - p); otherwise x.
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true, Generator* generator = nullptr);

}  // namespace tg

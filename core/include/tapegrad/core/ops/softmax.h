#pragma once
/// The softmax family (src/ops/softmax.cpp): fused and numerically stable.
#include <cstdint>

#include "tapegrad/core/tensor.h"

namespace tg {

// ---- softmax family (numerically stable: the row maximum is subtracted first) ----
Tensor softmax(const Tensor& a, std::int64_t dim);
Tensor log_softmax(const Tensor& a, std::int64_t dim);

}  // namespace tg

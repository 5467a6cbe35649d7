#pragma once
/// nn::functional: the stateless building blocks that modules are thin shells over.
#include "tapegrad/core/tensor.h"
#include "tapegrad/nn/loss.h"

namespace tg::nn::functional {

/// y = x W^T + b: x [..., in], weight [out, in], bias [out] (optional) -> [..., out].
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

}  // namespace tg::nn::functional

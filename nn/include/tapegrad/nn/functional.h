#pragma once
/// nn::functional: the stateless building blocks that modules are thin shells over.
#include "tapegrad/core/tensor.h"

namespace tg::nn::functional {

/// y = x W^T + b: x [..., in], weight [out, in], bias [out] (optional) -> [..., out].
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

/// Mean squared error over all elements: mean((input - target)^2).
Tensor mse_loss(const Tensor& input, const Tensor& target);

}  // namespace tg::nn::functional

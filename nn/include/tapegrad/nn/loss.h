#pragma once
/// Loss functions (tg::nn::functional), with PyTorch's names, options and reductions.
#include "tapegrad/core/tensor.h"

namespace tg::nn::functional {

/// Mean squared error over all elements: mean((input - target)^2).
Tensor mse_loss(const Tensor& input, const Tensor& target);

}  // namespace tg::nn::functional

#pragma once
/// nn::functional: the stateless building blocks that modules are thin shells over.
#include <cstdint>
#include <optional>

#include "tapegrad/core/tensor.h"
#include "tapegrad/nn/loss.h"

namespace tg::nn::functional {

/// y = x W^T + b: x [..., in], weight [out, in], bias [out] (optional) -> [..., out].
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

/// y_k = x1^T W_k x2 + b_k: x1 [..., in1], x2 [..., in2], weight [out, in1, in2] -> [..., out].
Tensor bilinear(const Tensor& x1, const Tensor& x2, const Tensor& weight, const Tensor& bias = {});

/// Rows of weight for int64 indices; with max_norm, the rows looked up are first rescaled in
/// place to norm at most max_norm (as PyTorch does).
Tensor embedding(const Tensor& indices, const Tensor& weight, std::int64_t padding_idx = -1,
                 std::optional<double> max_norm = std::nullopt, double norm_type = 2.0);

/// Batch normalisation of [N, C, ...] over every dim but C. In training, batch statistics are
/// used and the running ones updated in place: running = (1 - momentum) running + momentum
/// batch, with the unbiased batch variance; in evaluation, the running statistics are used.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum = 0.1, double eps = 1e-5);

}  // namespace tg::nn::functional

#pragma once
/// linear followed by its activation in one node (src/ops/linalg.cpp): the feed-forward block's
/// act(x W^T + b) of a Transformer layer, with the bias written into the GEMM's output before
/// the product and the activation applied by each GEMM task to the block it has just written,
/// while that block is in cache, instead of in a separate pass over the whole output.
#include <string_view>

#include "tapegrad/core/tensor.h"

namespace tg {

/// act(linear(x, weight, bias)) for act "relu" or "gelu" (PyTorch's exact, erf form), in one
/// tape node: x [..., in], weight [out, in], bias [out] (optional) -> [..., out]. Backward: the
/// activation's derivative times the incoming gradient, then linear's two GEMMs and column sum.
/// relu keeps only its output for backward (as relu does), gelu the pre-activation. The
/// composition relu(linear(...)) / gelu(linear(...)) is its test oracle; relu's results are
/// bit-identical to it.
Tensor linear_activation(const Tensor& x, const Tensor& weight, const Tensor& bias, std::string_view activation);

}  // namespace tg

#pragma once
/// The linalg family (src/ops/linalg.cpp): every product goes to OpenBLAS through one door.
#include <string_view>

#include "tapegrad/core/tensor.h"

namespace tg {

// ---- linear algebra ----
/// torch.matmul: 1-D x 1-D is a dot product; 2-D x 2-D a matrix product; 1-D arguments get a
/// dim prepended (left) or appended (right) that is removed after; batch dims broadcast.
/// [..., M, K] x [..., K, N] -> [..., M, N], through cblas sgemm/dgemm.
Tensor matmul(const Tensor& a, const Tensor& b);
/// torch.nn.functional.linear: x W^T + b, x [..., in], weight [out, in], bias [out] (optional)
/// -> [..., out]. One GEMM and one tape node (backward: two GEMMs and a column sum); the
/// composition matmul(x, weight.t()) + bias is its test oracle.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

/// linear followed by its activation in one node: the feed-forward block of a Transformer layer,
/// with the bias written into the GEMM's output before the product and the activation applied by
/// each GEMM task to the block it has just written, while that block is in cache.
/// act(linear(x, weight, bias)) for act "relu" or "gelu" (PyTorch's exact, erf form), in one
/// tape node: x [..., in], weight [out, in], bias [out] (optional) -> [..., out]. Backward: the
/// activation's derivative times the incoming gradient, then linear's two GEMMs and column sum.
/// relu keeps only its output for backward (as relu does), gelu the pre-activation. The
/// composition relu(linear(...)) / gelu(linear(...)) is its test oracle; relu's results are
/// bit-identical to it.
Tensor linear_activation(const Tensor& x, const Tensor& weight, const Tensor& bias, std::string_view activation);

}  // namespace tg

#pragma once
/// The linalg family (src/ops/linalg.cpp): every product goes to OpenBLAS through one door.
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

}  // namespace tg

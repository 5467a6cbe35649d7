#pragma once
/// The conv family (src/ops/conv.cpp): convolution as im2col + one GEMM per sample and group.
#include <cstdint>

#include "tapegrad/core/tensor.h"

namespace tg {

/// A pair of ints for (height, width) parameters; implicit from one int for both.
struct Int2 {
  Int2(std::int64_t v) : h(v), w(v) {}  // NOLINT: implicit by design
  Int2(std::int64_t h_, std::int64_t w_) : h(h_), w(w_) {}
  std::int64_t h, w;
};

/// input [N, C, H, W], weight [O, C / groups, kH, kW], bias [O] or undefined -> [N, O, Ho, Wo]
/// with Ho = floor((H + 2 pad - dilation (kH - 1) - 1) / stride) + 1.
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, Int2 stride = 1, Int2 padding = 0,
              Int2 dilation = 1, std::int64_t groups = 1);
/// input [N, C, L], weight [O, C / groups, k], bias [O] or undefined -> [N, O, Lo].
Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, std::int64_t stride = 1,
              std::int64_t padding = 0, std::int64_t dilation = 1, std::int64_t groups = 1);

}  // namespace tg

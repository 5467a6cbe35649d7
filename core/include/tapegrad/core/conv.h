#pragma once
/// Convolution and pooling on NCHW (2-d) and NCL (1-d) tensors; a batch dim may be left out.
/// Convolution is im2col + OpenBLAS GEMM, parallel over the batch with TBB.
#include <optional>
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

/// Max over kernel windows of [N, C, H, W] (stride defaults to the kernel; padding counts as
/// -inf; ceil_mode rounds the output size up). The gradient goes to each window's arg-max.
Tensor max_pool2d(const Tensor& input, Int2 kernel, std::optional<Int2> stride = std::nullopt, Int2 padding = 0,
                  Int2 dilation = 1, bool ceil_mode = false);
/// Mean over kernel windows; padding counts as zeros in the divisor when count_include_pad.
Tensor avg_pool2d(const Tensor& input, Int2 kernel, std::optional<Int2> stride = std::nullopt, Int2 padding = 0,
                  bool ceil_mode = false, bool count_include_pad = true);
/// Mean / max over the windows that split H and W into output_size parts (PyTorch's
/// start = floor(i H / out), end = ceil((i + 1) H / out)). Output size 1 is global pooling.
Tensor adaptive_avg_pool2d(const Tensor& input, Int2 output_size);
Tensor adaptive_max_pool2d(const Tensor& input, Int2 output_size);

}  // namespace tg

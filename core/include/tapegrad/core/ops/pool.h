#pragma once
/// The pool family (src/ops/pool.cpp): max and average pooling over [N, C, H, W] planes.
#include <optional>

#include "tapegrad/core/ops/conv.h"
#include "tapegrad/core/tensor.h"

namespace tg {

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

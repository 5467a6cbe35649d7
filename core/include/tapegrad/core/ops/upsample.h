#pragma once
/// The upsample family (src/ops/upsample.cpp): resizing the (H, W) planes of [N, C, H, W] (or
/// [C, H, W]) to a given output size, by nearest neighbour or bilinear interpolation.
///
/// `scales` is what PyTorch calls scale_factor: when given, the source position of an output
/// pixel uses 1 / scale instead of in / out (they differ when in * scale is not an integer), as
/// torch.nn.functional.interpolate does without recompute_scale_factor. nn::functional::
/// interpolate and nn::Upsample compute the output size and call these.
#include <optional>

#include "tapegrad/core/ops/conv.h"
#include "tapegrad/core/tensor.h"

namespace tg {

/// Scale factors (height, width), each > 0.
struct Scale2 {
  double h, w;
};

/// out[i, j] = in[floor(i * sh), floor(j * sw)] with sh = 1 / scale_h (or H / Ho), clamped to
/// the last row and column. The gradient of each input pixel is the sum over the outputs that
/// copied it.
Tensor upsample_nearest2d(const Tensor& input, Int2 output_size, std::optional<Scale2> scales = std::nullopt);

/// Bilinear interpolation between the four nearest input pixels. align_corners: the corner
/// pixels of input and output are aligned (source = i (H - 1) / (Ho - 1)); otherwise pixel
/// centres are (source = (i + 0.5) sh - 0.5, clamped at 0).
Tensor upsample_bilinear2d(const Tensor& input, Int2 output_size, bool align_corners,
                           std::optional<Scale2> scales = std::nullopt);

}  // namespace tg

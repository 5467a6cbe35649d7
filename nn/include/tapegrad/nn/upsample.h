#pragma once
/// Upsample and functional::interpolate: resizing [N, C, H, W] (or [C, H, W]) by nearest or
/// bilinear interpolation, over core/ops/upsample.h, with torch.nn.Upsample's options:
///
///   nn::Upsample up(nn::UpsampleOptions().scale_factor(2).mode("bilinear"));
///   Tensor y = nn::functional::interpolate(x, nn::UpsampleOptions().size({32, 48}));
#include <optional>
#include <string>

#include "tapegrad/core/ops/upsample.h"
#include "tapegrad/core/options.h"
#include "tapegrad/nn/module.h"

namespace tg::nn {

/// Exactly one of size and scale_factor must be set. mode: "nearest" (the default) or
/// "bilinear"; align_corners only with "bilinear" (false when not given).
struct UpsampleOptions : ChainedOptions<UpsampleOptions> {
  UpsampleOptions& size(Int2 s) { return assign(size_, s); }
  UpsampleOptions& scale_factor(double s) { return assign(scale_, Scale2{s, s}); }
  UpsampleOptions& scale_factor(Scale2 s) { return assign(scale_, s); }
  UpsampleOptions& mode(std::string m) { return assign(mode_, std::move(m)); }
  UpsampleOptions& align_corners(bool a) { return assign(align_corners_, a); }
  std::optional<Int2> size() const { return size_; }
  std::optional<Scale2> scale_factor() const { return scale_; }
  const std::string& mode() const { return mode_; }
  std::optional<bool> align_corners() const { return align_corners_; }

 private:
  std::optional<Int2> size_;
  std::optional<Scale2> scale_;
  std::string mode_ = "nearest";
  std::optional<bool> align_corners_;
};
using InterpolateOptions = UpsampleOptions;

namespace functional {
/// The output size is options.size(), or floor(H * scale_h) x floor(W * scale_w) as in PyTorch
/// (the scale itself then sets the source positions: see upsample_nearest2d).
Tensor interpolate(const Tensor& input, const InterpolateOptions& options);
}  // namespace functional

class Upsample : public WithOptions<Upsample, UpsampleOptions> {
 public:
  explicit Upsample(UpsampleOptions options);
  Tensor forward(const Tensor& input) override { return functional::interpolate(input, options_); }
};

}  // namespace tg::nn

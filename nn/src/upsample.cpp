#include "tapegrad/nn/upsample.h"

#include <cmath>

namespace tg::nn {
namespace {

void check_options(const UpsampleOptions& o, const char* who) {
  TG_CHECK(o.size().has_value() != o.scale_factor().has_value(),
           "{}: give exactly one of size and scale_factor, got {}", who, o.size() ? "both" : "neither");
  TG_CHECK(o.mode() == "nearest" || o.mode() == "bilinear",
           "{}: unknown mode \"{}\" (expected \"nearest\" or \"bilinear\")", who, o.mode());
  TG_CHECK(!(o.align_corners() && o.mode() == "nearest"),
           "{}: align_corners can only be set with mode \"bilinear\", not \"nearest\"", who);
}

}  // namespace

Tensor functional::interpolate(const Tensor& input, const InterpolateOptions& options) {
  check_options(options, "interpolate");
  TG_CHECK(input.dim() == 3 || input.dim() == 4, "interpolate: expected a 3-D or 4-D input [N, C, H, W], got shape {}",
           input.shape());
  Int2 size = options.size().value_or(Int2(0));
  if (const auto s = options.scale_factor()) {
    TG_CHECK(s->h > 0 && s->w > 0 && std::isfinite(s->h) && std::isfinite(s->w),
             "interpolate: scale_factor must be positive and finite, got ({}, {})", s->h, s->w);
    const double h = std::floor(static_cast<double>(input.size(-2)) * s->h);
    const double w = std::floor(static_cast<double>(input.size(-1)) * s->w);
    TG_CHECK(h >= 1 && w >= 1 && h < 0x1p62 && w < 0x1p62,
             "interpolate: scale_factor ({}, {}) gives an output size of {}x{} for an input of {}x{}", s->h, s->w, h, w,
             input.size(-2), input.size(-1));
    size = Int2(static_cast<std::int64_t>(h), static_cast<std::int64_t>(w));
  }
  if (options.mode() == "nearest") return upsample_nearest2d(input, size, options.scale_factor());
  return upsample_bilinear2d(input, size, options.align_corners().value_or(false), options.scale_factor());
}

Upsample::Upsample(UpsampleOptions options) : WithOptions("Upsample", std::move(options)) {
  check_options(options_, "Upsample");
}

}  // namespace tg::nn

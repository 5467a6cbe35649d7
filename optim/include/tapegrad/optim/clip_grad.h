#pragma once
/// Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_ (PyTorch 1.13).
/// Parameters without a gradient are skipped; gradients are changed in place.
#include <vector>

#include "tapegrad/core/tensor.h"

namespace tg::optim {

/// What clip_grad_norm_ does when the total norm is NaN or infinite.
enum class NonFinite {
  kScale,  ///< scale anyway, as PyTorch does by default (the gradients become NaN, or 0 for inf)
  kError,  ///< throw tg::Error (PyTorch's error_if_nonfinite=True), gradients untouched
  kSkip,   ///< leave the gradients untouched and return the norm
};

/// Scales the gradients of params together so that their total norm of order norm_type
/// (the norm of all gradient elements as one vector; norm_type > 0, or infinity for the largest
/// magnitude) is at most max_norm: each is multiplied by max_norm / (total + 1e-6) when that is
/// below 1. Returns the total norm before clipping (computed in float64, the same whatever the
/// thread count).
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       NonFinite on_nonfinite = NonFinite::kScale);

/// Clamps every gradient element into [-clip_value, clip_value] (clip_value >= 0; NaN stays NaN).
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace tg::optim

#include "tapegrad/nn/functional.h"

#include "tapegrad/core/ops.h"

namespace tg::nn::functional {

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  TG_CHECK(weight.dim() == 2, "linear: weight must be 2-D [out_features, in_features], got shape {}", weight.shape());
  TG_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1),
           "linear: input has {} features (shape {}) but the weight expects {} (weight shape {})",
           x.dim() >= 1 ? x.size(-1) : 0, x.shape(), weight.size(1), weight.shape());
  Tensor y = matmul(x, weight.t());
  if (bias.defined()) {
    TG_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0),
             "linear: bias must have shape [{}], got {}", weight.size(0), bias.shape());
    y = add(y, bias);
  }
  return y;
}

}  // namespace tg::nn::functional

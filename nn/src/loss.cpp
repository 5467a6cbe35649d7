#include "tapegrad/nn/loss.h"

#include "tapegrad/core/ops.h"

namespace tg::nn::functional {

Tensor mse_loss(const Tensor& input, const Tensor& target) {
  TG_CHECK(same_values(input.shape(), target.shape()), "mse_loss: input shape {} and target shape {} differ",
           input.shape(), target.shape());
  return mean(pow(sub(input, target), 2.0));
}

}  // namespace tg::nn::functional

#pragma once
/// Stochastic gradient descent: p <- p - lr * grad, one fused loop per parameter.
#include <vector>

#include "tapegrad/core/tensor.h"

namespace tg::optim {

class SGD {
 public:
  /// Plain SGD over params (each a leaf that requires grad) with learning rate lr > 0.
  SGD(std::vector<Tensor> params, double lr);
  /// Applies one update to every parameter that has a gradient (grad mode off).
  void step();
  /// Zeroes the gradients, or drops them when set_to_none.
  void zero_grad(bool set_to_none = true);
  double lr() const { return lr_; }
  void set_lr(double lr);

 private:
  std::vector<Tensor> params_;
  double lr_;
};

}  // namespace tg::optim

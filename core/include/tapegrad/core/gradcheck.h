#pragma once
/// Gradient checking by central differences, the oracle for every differentiable op.
#include <functional>
#include <vector>

#include "tapegrad/core/tensor.h"

namespace tg {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
};

/// Compares the full Jacobian of fn at inputs, computed by backward (one pass per output
/// element), with float64 central differences (fn(x + eps) - fn(x - eps)) / 2eps for every
/// element of every input that requires grad. Returns true, or throws tg::Error naming the
/// input, the element and both values at the first mismatch beyond atol + rtol * |numerical|.
/// Inputs must be float64.
bool gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Tensor>& inputs,
               GradcheckOptions options = {});
inline bool gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                      const std::vector<Tensor>& inputs, double eps, double atol, double rtol) {
  return gradcheck(fn, inputs, GradcheckOptions{eps, atol, rtol});
}

}  // namespace tg

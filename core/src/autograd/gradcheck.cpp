// tg::gradcheck: the analytical Jacobian from backward against central differences.
#include "tapegrad/core/gradcheck.h"

#include <cmath>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops.h"
#include "tensor_detail.h"

namespace tg {

bool gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Tensor>& inputs,
               GradcheckOptions opt) {
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    TG_CHECK(!inputs[k].requires_grad() || inputs[k].dtype() == kFloat64,
             "gradcheck: input {} is {}; gradient checks need float64 inputs", k, dtype_name(inputs[k].dtype()));
    TG_CHECK(!inputs[k].requires_grad() || inputs[k].is_leaf(), "gradcheck: input {} must be a leaf tensor", k);
  }
  // Each output element, as a flat double vector.
  auto evaluate = [&]() {
    NoGradGuard guard;
    return fn(inputs).to_vector<double>();
  };

  Tensor out = fn(inputs);
  TG_CHECK(out.requires_grad(), "gradcheck: the function's output does not require grad (no input reached it)");
  const std::int64_t n_out = out.numel();

  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    const std::int64_t n_in = x.numel();
    // Numerical Jacobian column by column: perturb x[j] in place (x is a leaf; no grad mode).
    std::vector<double> numerical(static_cast<std::size_t>(n_in * n_out));
    Tensor flat = x.detach().contiguous();
    TG_CHECK(flat.shares_storage_with(x), "gradcheck: input {} must be contiguous", k);
    double* data = flat.data<double>();
    for (std::int64_t j = 0; j < n_in; ++j) {
      const double saved = data[j];
      data[j] = saved + opt.eps;
      const auto plus = evaluate();
      data[j] = saved - opt.eps;
      const auto minus = evaluate();
      data[j] = saved;
      for (std::int64_t i = 0; i < n_out; ++i)
        numerical[static_cast<std::size_t>(i * n_in + j)] = (plus[i] - minus[i]) / (2 * opt.eps);
    }
    // Analytical Jacobian row by row: backward of a one-hot gradient per output element.
    for (std::int64_t i = 0; i < n_out; ++i) {
      for (const Tensor& in : inputs)
        if (in.requires_grad()) in.zero_grad(/*set_to_none=*/true);
      Tensor onehot = zeros(out.shape(), out.dtype());
      onehot.view({-1}).select(0, i).fill_(1.0);
      out.backward(onehot, /*retain_graph=*/true);
      const Tensor g = x.grad();
      const std::vector<double> row = g.defined() ? g.to_vector<double>() : std::vector<double>(n_in, 0.0);
      for (std::int64_t j = 0; j < n_in; ++j) {
        const double a = row[static_cast<std::size_t>(j)];
        const double num = numerical[static_cast<std::size_t>(i * n_in + j)];
        if (!(std::abs(a - num) <= opt.atol + opt.rtol * std::abs(num))) {
          fail(
              "gradcheck: Jacobian mismatch for input {} (shape {}), output element {}, input element {}: "
              "numerical {:.10g}, analytical {:.10g}",
              k, x.shape(), i, j, num, a);
        }
      }
    }
  }
  for (const Tensor& in : inputs)
    if (in.requires_grad()) in.zero_grad(/*set_to_none=*/true);
  return true;
}

}  // namespace tg

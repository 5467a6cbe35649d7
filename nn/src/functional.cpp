#include "tapegrad/nn/functional.h"

#include <algorithm>
#include <cmath>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/ops.h"
#include "tapegrad/core/ops/activation.h"
#include "tapegrad/core/ops/dropout.h"
#include "tapegrad/core/ops/elementwise.h"
#include "tapegrad/core/ops/index.h"
#include "tapegrad/core/ops/reduce.h"

namespace tg::nn::functional {

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) { return tg::linear(x, weight, bias); }

Tensor bilinear(const Tensor& x1, const Tensor& x2, const Tensor& weight, const Tensor& bias) {
  TG_CHECK(weight.dim() == 3, "bilinear: weight must be 3-D [out, in1, in2], got shape {}", weight.shape());
  const std::int64_t out = weight.size(0), in1 = weight.size(1), in2 = weight.size(2);
  TG_CHECK(x1.size(-1) == in1 && x2.size(-1) == in2,
           "bilinear: inputs of shapes {} and {} do not match the weight's [{}, {}, {}]", x1.shape(), x2.shape(), out,
           in1, in2);
  // (x1 @ W viewed as [in1, out * in2]) gives [..., out, in2]; multiply by x2 and sum over in2.
  const Tensor w = weight.permute({1, 0, 2}).reshape({in1, out * in2});
  DimVec shape = x1.shape();
  shape[shape.size() - 1] = out;
  shape.push_back(in2);
  Tensor y = sum(mul(matmul(x1, w).reshape(shape), x2.unsqueeze(-2)), {-1});
  return bias.defined() ? add(y, bias) : y;
}

Tensor embedding(const Tensor& indices, const Tensor& weight, std::int64_t padding_idx, std::optional<double> max_norm,
                 double norm_type) {
  if (max_norm) {
    // Rescale the rows that will be looked up, in place, without recording.
    NoGradGuard guard;
    std::vector<std::int64_t> rows = indices.to_vector<std::int64_t>();
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    for (std::int64_t r : rows) {
      TG_CHECK(r >= 0 && r < weight.size(0), "embedding: index {} is out of range for an embedding of {} rows", r,
               weight.size(0));
      const Tensor row = weight.select(0, r);
      const double n = norm(row, norm_type).item();
      if (n > *max_norm) row.mul_(*max_norm / (n + 1e-7));
    }
  }
  return tg::embedding(weight, indices, padding_idx);
}

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  TG_CHECK(x.dim() >= 2, "batch_norm: expected an input of at least 2 dims [N, C, ...], got shape {}", x.shape());
  const std::int64_t C = x.size(1);
  DimVec dims{0}, shape = DimVec::filled(x.dim(), 1);
  for (std::int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  shape[1] = C;
  for (const Tensor* t : {&running_mean, &running_var, &weight, &bias})
    TG_CHECK(!t->defined() || (t->dim() == 1 && t->size(0) == C),
             "batch_norm: expected per-channel tensors of shape [{}], got {}", C, t->shape());
  Tensor mean, var;
  if (training || !running_mean.defined()) {
    const std::int64_t n = x.numel() / C;
    TG_CHECK(n > 1 || !training, "batch_norm: expected more than 1 value per channel when training, got input shape {}",
             x.shape());
    mean = tg::mean(x, dims, true);
    const Tensor centered = sub(x, mean);
    var = tg::mean(mul(centered, centered), dims, true);
    if (training && running_mean.defined()) {
      NoGradGuard guard;
      running_mean.mul_(1 - momentum).add_(mul(mean.detach().reshape({C}), momentum));
      running_var.mul_(1 - momentum).add_(mul(var.detach().reshape({C}), momentum * n / static_cast<double>(n - 1)));
    }
  } else {
    mean = running_mean.reshape(shape);
    var = running_var.reshape(shape);
  }
  Tensor y = div(sub(x, mean), sqrt(add(var, eps)));
  if (weight.defined()) y = mul(y, weight.reshape(shape));
  if (bias.defined()) y = add(y, bias.reshape(shape));
  return y;
}

}  // namespace tg::nn::functional

#include "tapegrad/nn/linear.h"

#include <cmath>

#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops.h"
#include "tapegrad/core/ops/shape.h"
#include "tapegrad/nn/functional.h"
#include "tapegrad/nn/init.h"

namespace tg::nn {

Linear::Linear(LinearOptions options) : WithOptions("Linear", options) {
  TG_CHECK(options_.in_features() > 0, "Linear: in_features must be positive, got {}", options_.in_features());
  TG_CHECK(options_.out_features() > 0, "Linear: out_features must be positive, got {}", options_.out_features());
  reset();
}

void Linear::reset() {
  // PyTorch: kaiming_uniform_(a = sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)); bias likewise.
  weight = register_parameter("weight", empty({options_.out_features(), options_.in_features()}));
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  bias = Tensor();
  if (options_.bias()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(options_.in_features()));
    bias = register_parameter("bias", empty({options_.out_features()}));
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Linear::forward(const Tensor& input) {
  TG_CHECK(input.dim() >= 1 && input.size(-1) == options_.in_features(),
           "Linear: expected input with {} features in its last dim, got {} (input shape {})", options_.in_features(),
           input.dim() >= 1 ? input.size(-1) : 0, input.shape());
  check_input_dtype(fmt::format("Linear({} -> {})", options_.in_features(), options_.out_features()), input, weight);
  return functional::linear(input, weight, bias);
}

Bilinear::Bilinear(BilinearOptions options) : WithOptions("Bilinear", options) {
  TG_CHECK(options_.in1_features() > 0 && options_.in2_features() > 0 && options_.out_features() > 0,
           "Bilinear: feature sizes must be positive, got in1={}, in2={}, out={}", options_.in1_features(),
           options_.in2_features(), options_.out_features());
  reset();
}

void Bilinear::reset() {
  const double bound = 1.0 / std::sqrt(static_cast<double>(options_.in1_features()));
  weight =
      register_parameter("weight", empty({options_.out_features(), options_.in1_features(), options_.in2_features()}));
  init::uniform_(weight, -bound, bound);
  bias = Tensor();
  if (options_.bias()) {
    bias = register_parameter("bias", empty({options_.out_features()}));
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Bilinear::forward(const Tensor& x1, const Tensor& x2) {
  TG_CHECK(x1.dim() >= 1 && x1.size(-1) == options_.in1_features(),
           "Bilinear: expected input1 with {} features, got shape {}", options_.in1_features(), x1.shape());
  TG_CHECK(x2.dim() >= 1 && x2.size(-1) == options_.in2_features(),
           "Bilinear: expected input2 with {} features, got shape {}", options_.in2_features(), x2.shape());
  TG_CHECK(same_values(IntArrayRef(x1.shape().data(), x1.shape().size() - 1),
                       IntArrayRef(x2.shape().data(), x2.shape().size() - 1)),
           "Bilinear: inputs of shapes {} and {} have different batch dims", x1.shape(), x2.shape());
  for (const Tensor* x : {&x1, &x2}) check_input_dtype("Bilinear", *x, weight);
  return functional::bilinear(x1, x2, weight, bias);
}

Tensor Flatten::forward(const Tensor& input) { return flatten(input, start_dim_, end_dim_); }

Tensor Unflatten::forward(const Tensor& input) { return unflatten(input, dim_, sizes_); }

}  // namespace tg::nn

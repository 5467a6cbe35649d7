// FeatureGate: output = x * sigmoid(gate(x)). Both factors depend on x, so the input gradient
// has two paths: g * s directly, and W^T (g * x * s (1 - s)) through the gate (the sigmoid's
// derivative s (1 - s), saved from its output by the elementwise op).
#include "tapegrad/nn/attention/gate.h"

#include "tapegrad/core/ops.h"

namespace tg::nn {

FeatureGate::FeatureGate(FeatureGateOptions options) : WithOptions("FeatureGate", options) {
  TG_CHECK(options_.features() > 0, "FeatureGate: features must be positive, got {}", options_.features());
  reset();
}

void FeatureGate::reset() {
  const std::int64_t F = options_.features();
  gate = register_module("gate", std::make_shared<Linear>(LinearOptions(F, F).bias(options_.bias())));
}

FeatureGateOutput FeatureGate::forward_with_gate(const Tensor& x) {
  const std::int64_t F = options_.features();
  TG_CHECK(x.defined() && x.dim() >= 1, "FeatureGate(features={}): expected input [..., {}], got {}", F, F,
           x.defined() ? shape_str(x.shape()) : std::string("an undefined tensor"));
  TG_CHECK(x.size(-1) == F, "FeatureGate(features={}): the input's last dim is {}, expected {} (shape {})", F,
           x.size(-1), F, x.shape());
  check_input_dtype("FeatureGate", x, gate->weight);
  Tensor g = sigmoid((*gate)(x));
  return {x * g, g};
}

}  // namespace tg::nn

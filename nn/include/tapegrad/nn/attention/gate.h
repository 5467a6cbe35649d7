#pragma once
/// FeatureGate: attention for a single time step.
///
/// Attention over T steps weights each step by softmax(scores) over T. With T = 1 that softmax
/// is exp(s) / exp(s) = 1 whatever the score: the "attention" always keeps the one step whole
/// and its score gets no gradient. What can still be learned is which features of that step to
/// keep, so the weights move to the features and the softmax to a sigmoid per feature:
///
///     gate   = sigmoid(x W^T + b)      [..., F], each in (0, 1), independent of the others
///     output = x * gate                [..., F]
///
/// (a gated linear unit whose gate reads the features it scales; W [F, F], b [F] in the Linear
/// child `gate`, keys gate.weight and gate.bias).
#include <cstdint>
#include <memory>

#include "tapegrad/core/options.h"
#include "tapegrad/nn/linear.h"
#include "tapegrad/nn/module.h"

namespace tg::nn {

struct FeatureGateOptions : public ChainedOptions<FeatureGateOptions> {
  explicit FeatureGateOptions(std::int64_t features) : features_(features) {}
  /// A bias b in the gate's Linear (gate.bias).
  FeatureGateOptions& bias(bool on) { return assign(bias_, on); }
  std::int64_t features() const { return features_; }
  bool bias() const { return bias_; }

 private:
  std::int64_t features_;
  bool bias_ = true;
};

/// The gated features and the gate values, both [..., F].
struct FeatureGateOutput {
  Tensor output;
  Tensor gate;
};

class FeatureGate : public WithOptions<FeatureGate, FeatureGateOptions> {
 public:
  explicit FeatureGate(FeatureGateOptions options);
  explicit FeatureGate(std::int64_t features) : FeatureGate(FeatureGateOptions(features)) {}
  void reset() override;
  /// x [..., F] -> x * sigmoid(gate(x)) [..., F].
  Tensor forward(const Tensor& x) override { return forward_with_gate(x).output; }
  /// The output and the gate values [..., F] (to draw which features a step keeps).
  FeatureGateOutput forward_with_gate(const Tensor& x);
  std::shared_ptr<Linear> gate;
};

}  // namespace tg::nn

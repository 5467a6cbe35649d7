// The losses of tg::nn::functional: options structs over the core's loss family
// (core/src/ops/loss.cpp holds the kernels, their backward and the derivations).
#include "tapegrad/nn/loss.h"

namespace tg::nn::functional {
namespace {

/// r, checked: "batchmean" is kl_div's alone.
Reduction checked_reduction(Reduction r, const char* op) {
  TG_CHECK(r != Reduction::BatchMean, "{}: reduction \"batchmean\" is only defined for kl_div; use none, mean or sum",
           op);
  return r;
}

}  // namespace

// ---- options (checked when set) ----------------------------------------------------------------

CrossEntropyOptions& CrossEntropyOptions::label_smoothing(double s) {
  TG_CHECK(s >= 0.0 && s <= 1.0, "cross_entropy: label_smoothing must be in [0, 1], got {}", s);
  label_smoothing_ = s;
  return *this;
}
CrossEntropyOptions& CrossEntropyOptions::reduction(Reduction r) {
  return assign(reduction_, checked_reduction(r, "cross_entropy"));
}
NLLLossOptions& NLLLossOptions::reduction(Reduction r) { return assign(reduction_, checked_reduction(r, "nll_loss")); }
SmoothL1LossOptions& SmoothL1LossOptions::beta(double b) {
  TG_CHECK(b >= 0.0, "smooth_l1_loss: beta must be non-negative, got {}", b);
  beta_ = b;
  return *this;
}
SmoothL1LossOptions& SmoothL1LossOptions::reduction(Reduction r) {
  reduction_ = checked_reduction(r, "smooth_l1_loss");
  return *this;
}
BinaryCrossEntropyOptions& BinaryCrossEntropyOptions::reduction(Reduction r) {
  return assign(reduction_, checked_reduction(r, "binary_cross_entropy"));
}
BinaryCrossEntropyWithLogitsOptions& BinaryCrossEntropyWithLogitsOptions::reduction(Reduction r) {
  return assign(reduction_, checked_reduction(r, "binary_cross_entropy_with_logits"));
}

// ---- the losses ---------------------------------------------------------------------------------

Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& o) {
  return tg::cross_entropy(input, target, o.weight(), o.ignore_index(), o.label_smoothing(), o.reduction());
}

Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossOptions& o) {
  return tg::nll_loss(input, target, o.weight(), o.ignore_index(), o.reduction());
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const BinaryCrossEntropyOptions& o) {
  return tg::binary_cross_entropy(input, target, o.weight(), o.reduction());
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BinaryCrossEntropyWithLogitsOptions& o) {
  return tg::binary_cross_entropy_with_logits(input, target, o.weight(), o.pos_weight(), o.reduction());
}

Tensor kl_div(const Tensor& input, const Tensor& target, const KLDivOptions& o) {
  return tg::kl_div(input, target, o.reduction(), o.log_target());
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const SmoothL1LossOptions& o) {
  return tg::smooth_l1_loss(input, target, o.reduction(), o.beta());
}

}  // namespace tg::nn::functional

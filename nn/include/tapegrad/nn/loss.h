#pragma once
/// Loss functions (tg::nn::functional), with PyTorch's names, options, reductions and numbers:
/// options structs over the loss family of the core (tapegrad/core/ops/loss.h).
/// Shapes: N is the batch, C the number of classes, d1... optional extra dims (pixels, time).
/// With Reduction::None a loss returns its per-element values; with Mean or Sum a 0-d tensor.
/// Bad shapes, dtypes, class indices and options raise tg::Error naming the loss and the values.
#include <cstdint>
#include <string_view>
#include <utility>

#include "tapegrad/core/ops/loss.h"
#include "tapegrad/core/options.h"
#include "tapegrad/core/tensor.h"

namespace tg::nn::functional {

using tg::Reduction;
using tg::reduction_from_string;
using tg::reduction_name;

// ---- options (chained setters; each setter checks its value) --------------------------------

class CrossEntropyOptions : public ChainedOptions<CrossEntropyOptions> {
 public:
  /// Class weights [C] (a constant: no gradient flows into it).
  CrossEntropyOptions& weight(Tensor w) { return assign(weight_, std::move(w)); }
  /// Targets equal to this class index add nothing to the loss or to the mean's denominator.
  CrossEntropyOptions& ignore_index(std::int64_t index) { return assign(ignore_index_, index); }
  /// Mixes the target with the uniform distribution: (1 - s) target + s / C. s in [0, 1].
  CrossEntropyOptions& label_smoothing(double s);
  /// None, Mean (default) or Sum.
  CrossEntropyOptions& reduction(Reduction r);
  const Tensor& weight() const { return weight_; }
  std::int64_t ignore_index() const { return ignore_index_; }
  double label_smoothing() const { return label_smoothing_; }
  Reduction reduction() const { return reduction_; }

 private:
  Tensor weight_;
  std::int64_t ignore_index_ = -100;
  double label_smoothing_ = 0.0;
  Reduction reduction_ = Reduction::Mean;
};

class NLLLossOptions : public ChainedOptions<NLLLossOptions> {
 public:
  NLLLossOptions& weight(Tensor w) { return assign(weight_, std::move(w)); }
  NLLLossOptions& ignore_index(std::int64_t index) { return assign(ignore_index_, index); }
  NLLLossOptions& reduction(Reduction r);
  const Tensor& weight() const { return weight_; }
  std::int64_t ignore_index() const { return ignore_index_; }
  Reduction reduction() const { return reduction_; }

 private:
  Tensor weight_;
  std::int64_t ignore_index_ = -100;
  Reduction reduction_ = Reduction::Mean;
};

class SmoothL1LossOptions {
 public:
  /// Where the loss turns from quadratic to linear (>= 0; 0 is l1_loss).
  SmoothL1LossOptions& beta(double b);
  SmoothL1LossOptions& reduction(Reduction r);
  double beta() const { return beta_; }
  Reduction reduction() const { return reduction_; }

 private:
  double beta_ = 1.0;
  Reduction reduction_ = Reduction::Mean;
};

class BinaryCrossEntropyOptions : public ChainedOptions<BinaryCrossEntropyOptions> {
 public:
  /// Rescales each element's loss; broadcasts to the input's shape.
  BinaryCrossEntropyOptions& weight(Tensor w) { return assign(weight_, std::move(w)); }
  BinaryCrossEntropyOptions& reduction(Reduction r);
  const Tensor& weight() const { return weight_; }
  Reduction reduction() const { return reduction_; }

 private:
  Tensor weight_;
  Reduction reduction_ = Reduction::Mean;
};

class BinaryCrossEntropyWithLogitsOptions : public ChainedOptions<BinaryCrossEntropyWithLogitsOptions> {
 public:
  /// Rescales each element's loss; broadcasts to the input's shape.
  BinaryCrossEntropyWithLogitsOptions& weight(Tensor w) { return assign(weight_, std::move(w)); }
  /// Weight of the positive term, broadcast over the input (usually [C]: one per class).
  BinaryCrossEntropyWithLogitsOptions& pos_weight(Tensor w) { return assign(pos_weight_, std::move(w)); }
  BinaryCrossEntropyWithLogitsOptions& reduction(Reduction r);
  const Tensor& weight() const { return weight_; }
  const Tensor& pos_weight() const { return pos_weight_; }
  Reduction reduction() const { return reduction_; }

 private:
  Tensor weight_;
  Tensor pos_weight_;
  Reduction reduction_ = Reduction::Mean;
};

class KLDivOptions : public ChainedOptions<KLDivOptions> {
 public:
  /// None, Mean (over all elements; PyTorch's default), Sum or BatchMean (sum / N, the true KL).
  KLDivOptions& reduction(Reduction r) { return assign(reduction_, r); }
  /// The target is given as log-probabilities.
  KLDivOptions& log_target(bool on = true) { return assign(log_target_, on); }
  Reduction reduction() const { return reduction_; }
  bool log_target() const { return log_target_; }

 private:
  Reduction reduction_ = Reduction::Mean;
  bool log_target_ = false;
};

// ---- classification -------------------------------------------------------------------------

/// Cross-entropy of logits: input [N, C], [N, C, d1, ...] or [C] (unbatched). The target is
/// either int64 class indices [N] / [N, d1, ...] / [] or probabilities of the input's shape.
/// Fused and stable: log-softmax over the class dim with the maximum taken out, one backward
/// (softmax - target distribution). Reduction::None gives [N] / [N, d1, ...] / [].
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& options = {});

/// Negative log-likelihood of log-probabilities: input [N, C] / [N, C, d1, ...] / [C], int64
/// target [N] / [N, d1, ...] / []: -weight[t] * input[n, t]. None gives the target's shape.
Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossOptions& options = {});

/// Binary cross-entropy of probabilities in [0, 1] (input and target of one shape):
/// -weight (t log x + (1 - t) log(1 - x)), each log clamped at -100 as in PyTorch.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const BinaryCrossEntropyOptions& options = {});

/// Binary cross-entropy of logits, in the stable form (1 - t) x + (1 + (p - 1) t) log(1 + e^-x)
/// with p = pos_weight; times weight. Input and target have one shape.
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BinaryCrossEntropyWithLogitsOptions& options = {});

/// Kullback-Leibler divergence: input log-probabilities, target probabilities (or
/// log-probabilities with log_target): target (log target - input), 0 where target is 0.
Tensor kl_div(const Tensor& input, const Tensor& target, const KLDivOptions& options = {});

// ---- regression (input and target of one shape; differentiable in both) ---------------------

/// Squared error (input - target)^2 and absolute error |input - target| (tg::mse_loss, tg::l1_loss).
using tg::l1_loss;
using tg::mse_loss;
/// Huber-like: 0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere (d = input - target).
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const SmoothL1LossOptions& options = {});

}  // namespace tg::nn::functional

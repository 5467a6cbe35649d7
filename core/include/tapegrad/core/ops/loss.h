#pragma once
/// The loss family: PyTorch's losses with every option as a plain argument (torch.nn.functional's
/// numbers, reductions and errors). tg::nn::functional wraps them in options structs with
/// PyTorch's defaults (nn/loss.h); these core forms take every argument explicitly.
/// Shapes: N is the batch, C the number of classes, d1... optional extra dims (pixels, time).
/// With Reduction::None a loss returns its per-element values; with Mean or Sum a 0-d tensor.
#include <cstdint>
#include <string_view>

#include "tapegrad/core/tensor.h"

namespace tg {

/// How a loss combines its per-element values. Mean averages them (for cross_entropy and
/// nll_loss with class weights: divides by the summed weights of the non-ignored targets);
/// BatchMean is kl_div's sum / N, and only kl_div takes it.
enum class Reduction { None, Mean, Sum, BatchMean };

/// PyTorch's strings "none", "mean", "sum", "batchmean" -> Reduction (tg::Error otherwise).
Reduction reduction_from_string(std::string_view name);
/// Reduction -> PyTorch's string.
const char* reduction_name(Reduction reduction);

// ---- classification (fused: one forward loop, one recorded backward) -------------------------

/// Cross-entropy of logits: input [N, C], [N, C, d1, ...] or [C] (unbatched); target int64
/// class indices [N] / [N, d1, ...] / [] or probabilities of the input's shape. weight [C] or
/// undefined; targets equal to ignore_index count nowhere; label_smoothing in [0, 1].
/// Log-softmax over the class dim with the maximum taken out; backward softmax - target.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, std::int64_t ignore_index,
                     double label_smoothing, Reduction reduction);
/// Negative log-likelihood of log-probabilities: input [N, C] / [N, C, d1, ...] / [C], int64
/// target [N] / [N, d1, ...] / []: -weight[t] * input[n, t].
Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight, std::int64_t ignore_index,
                Reduction reduction);
/// Binary cross-entropy of probabilities in [0, 1] (input and target of one shape):
/// -weight (t log x + (1 - t) log(1 - x)), each log clamped at -100 as in PyTorch.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, Reduction reduction);

// ---- compositions of core ops (differentiable in input and target) -----------------------------

/// Binary cross-entropy of logits, (1 - t) x + (1 + (p - 1) t) log(1 + e^-x) with p = pos_weight
/// (undefined: 1), times weight (undefined: 1); input and target of one shape.
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight,
                                        const Tensor& pos_weight, Reduction reduction);
/// Kullback-Leibler divergence of input log-probabilities from target probabilities (or
/// log-probabilities with log_target): target (log target - input), 0 where target is 0.
Tensor kl_div(const Tensor& input, const Tensor& target, Reduction reduction, bool log_target);
/// Squared error (input - target)^2.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
/// Absolute error |input - target|.
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
/// 0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere (d = input - target; beta >= 0).
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction, double beta);

}  // namespace tg

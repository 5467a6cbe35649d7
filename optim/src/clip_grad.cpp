#include "tapegrad/optim/clip_grad.h"

#include <cmath>
#include <limits>

#include "fused.h"
#include "tapegrad/core/autograd.h"

namespace tg::optim {
namespace {

/// Elements per partial sum: partial sums are over fixed chunks, combined in chunk order, so the
/// norm does not depend on how the chunks are spread over threads.
constexpr std::int64_t kChunk = 1 << 16;

double nan_max(double a, double b) { return (a < b || b != b) ? b : a; }

/// x = clamp(x, lo, hi) over n elements (NaN stays NaN, as torch.clamp).
template <typename T>
void clamp_kernel(std::int64_t n, T* __restrict x, const T lo, const T hi) {
  for (std::int64_t i = 0; i < n; ++i) x[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);
}

/// sum |x|^p over a tensor (or max |x| when p is infinite), accumulated in float64.
double power_sum(const Tensor& t, double p) {
  const Tensor c = t.contiguous();
  const std::int64_t n = c.numel(), chunks = (n + kChunk - 1) / kChunk;
  const bool is_inf = std::isinf(p);
  std::vector<double> partial(static_cast<std::size_t>(chunks), 0.0);
  dispatch_floating(c.dtype(), "clip_grad_norm_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = c.data<T>();
    auto chunk_sum = [&](std::int64_t k) {
      const std::int64_t begin = k * kChunk, end = std::min(n, begin + kChunk);
      double acc = 0;
      if (is_inf) {
        for (std::int64_t i = begin; i < end; ++i) acc = nan_max(acc, std::abs(static_cast<double>(x[i])));
      } else if (p == 2) {
        for (std::int64_t i = begin; i < end; ++i) acc += static_cast<double>(x[i]) * static_cast<double>(x[i]);
      } else if (p == 1) {
        for (std::int64_t i = begin; i < end; ++i) acc += std::abs(static_cast<double>(x[i]));
      } else {
        for (std::int64_t i = begin; i < end; ++i) acc += std::pow(std::abs(static_cast<double>(x[i])), p);
      }
      partial[static_cast<std::size_t>(k)] = acc;
    };
    if (chunks <= 1) {
      if (chunks == 1) chunk_sum(0);
    } else {
      tg::parallel_for(chunks, 1, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t k = b; k < e; ++k) chunk_sum(k);
      });
    }
  });
  double total = 0;
  for (double v : partial) total = is_inf ? nan_max(total, v) : total + v;
  return total;
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type, NonFinite on_nonfinite) {
  TG_CHECK(std::isfinite(max_norm) && max_norm >= 0,
           "clip_grad_norm_: invalid max_norm {} (expected a finite value >= 0)", max_norm);
  TG_CHECK(norm_type > 0, "clip_grad_norm_: invalid norm_type {} (expected a value > 0, or infinity)", norm_type);
  std::vector<Tensor> grads;
  for (std::size_t k = 0; k < params.size(); ++k) {
    TG_CHECK(params[k].defined(), "clip_grad_norm_: parameter {} is an undefined tensor", k);
    Tensor g = params[k].grad();
    if (g.defined()) grads.push_back(std::move(g));
  }
  if (grads.empty()) return 0.0;

  NoGradGuard no_grad;
  const bool is_inf = std::isinf(norm_type);
  double acc = 0;
  for (const Tensor& g : grads) {
    const double s = power_sum(g, norm_type);
    acc = is_inf ? nan_max(acc, s) : acc + s;
  }
  const double total = is_inf ? acc : norm_type == 2 ? std::sqrt(acc) : std::pow(acc, 1.0 / norm_type);

  if (!std::isfinite(total)) {
    TG_CHECK(on_nonfinite != NonFinite::kError,
             "clip_grad_norm_: the total norm of order {} of the gradients of {} parameters is non-finite ({}), so "
             "it cannot be clipped",
             norm_type, grads.size(), total);
    if (on_nonfinite == NonFinite::kSkip) return total;
  }
  const double coef = max_norm / (total + 1e-6);
  if (!(coef >= 1.0)) {  // PyTorch clamps the coefficient at 1; a NaN coefficient multiplies too
    for (const Tensor& g : grads) g.mul_(coef);
  }
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  TG_CHECK(std::isfinite(clip_value) && clip_value >= 0,
           "clip_grad_value_: invalid clip_value {} (expected a finite value >= 0)", clip_value);
  NoGradGuard no_grad;
  for (std::size_t k = 0; k < params.size(); ++k) {
    TG_CHECK(params[k].defined(), "clip_grad_value_: parameter {} is an undefined tensor", k);
    const Tensor g = params[k].grad();
    if (!g.defined()) continue;
    const Tensor c = g.is_contiguous() ? g : g.contiguous();
    dispatch_floating(c.dtype(), "clip_grad_value_", [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* x = c.data<T>();
      const T hi = static_cast<T>(clip_value), lo = -hi;
      detail::fused_loop(c.numel(),
                         [&](std::int64_t begin, std::int64_t end) { clamp_kernel(end - begin, x + begin, lo, hi); });
    });
    if (c.shares_storage_with(g)) {
      detail::bump_version(g, "clip_grad_value_");
    } else {
      g.copy_(c);
    }
  }
}

}  // namespace tg::optim

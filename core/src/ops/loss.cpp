// The loss family. The elementwise ones (mse, l1, smooth_l1, kl_div, binary_cross_entropy_with_logits)
// are compositions of core ops, so their gradients, also with respect to the target, come from
// the ops' own backward. Three are fused loops over contiguous data with a recorded backward:
//
//   cross_entropy   core's fused log-softmax over the class dim, then the loss in one pass over
//                   it and one backward for both (softmax - target distribution, scaled).
//   nll_loss        a gather of -weight[t] * input[n, t, s] that skips ignored targets.
//   binary_cross_entropy  PyTorch clamps its logs at -100 and its backward's denominator at
//                   1e-12; a composition would give 0 * inf = NaN at inputs of exactly 0 or 1.
//
// Layout of the class losses: input [N, C, d1, ...] is seen as [N, C, S] with S = d1 * ...; a
// "position" is one (n, s) pair, whose C class values lie S apart. [C] is one position.
//
// Cross-entropy with index target y, class weights w (1 when absent), smoothing e, p = softmax:
//   loss(n, s) = -(1 - e) w_y log p_y - (e / C) sum_k w_k log p_k
//   d loss / d x_k = p_k A - B_k,  A = (1 - e) w_y + (e / C) sum_j w_j,  B_k = (1 - e) w_y [k = y] + (e / C) w_k
// (softmax minus the target distribution B / A, scaled by A). Mean divides the summed losses
// by W = sum of w_y over the non-ignored positions, which is PyTorch's rule for both terms.
// With probabilities t: q = (1 - e) t + e / C, loss = -sum_k w_k q_k log p_k,
//   d loss / d x_k = p_k sum_j w_j q_j - w_k q_k,   d loss / d t_k = -(1 - e) w_k log p_k,
// and Mean divides by the number of positions N * S.
#include "tapegrad/core/ops/loss.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops.h"
#include "tapegrad/core/ops/activation.h"
#include "tapegrad/core/ops/dropout.h"
#include "tapegrad/core/ops/elementwise.h"
#include "tapegrad/core/ops/index.h"
#include "tapegrad/core/ops/reduce.h"

namespace tg {
namespace {

using autograd::BackwardContext;
using autograd::SavedTensor;

void check_reduction(Reduction r, const char* op) {
  TG_CHECK(r != Reduction::BatchMean, "{}: reduction \"batchmean\" is only defined for kl_div; use none, mean or sum",
           op);
}

Tensor reduce(const Tensor& loss, Reduction r) {
  switch (r) {
    case Reduction::None: return loss;
    case Reduction::Sum: return sum(loss);
    default: return mean(loss);
  }
}

void check_same_shape(const Tensor& input, const Tensor& target, const char* op) {
  TG_CHECK(same_values(input.shape(), target.shape()), "{}: input shape {} and target shape {} differ", op,
           input.shape(), target.shape());
}

/// A weight-like option (weight, pos_weight) must broadcast to the input's shape without growing it.
void check_broadcasts_to(const Tensor& w, const Tensor& input, const char* op, const char* what) {
  if (!w.defined()) return;
  const DimVec b = broadcast_shapes(w.shape(), input.shape(), op);
  TG_CHECK(same_values(b, input.shape()), "{}: {} of shape {} does not broadcast to the input shape {}", op, what,
           w.shape(), input.shape());
}

// ---- class losses: cross_entropy and nll_loss -----------------------------------------------

struct ClassDims {
  std::int64_t n = 1, c = 1, s = 1;
  DimVec pos_shape;  // shape of the per-position losses (and of an index target)
  std::int64_t positions() const { return n * s; }
};

ClassDims class_dims(const Tensor& input, const char* op) {
  TG_CHECK(input.dim() >= 1, "{}: input must be [C], [N, C] or [N, C, d1, ...], got a 0-d tensor", op);
  ClassDims d;
  if (input.dim() == 1) {
    d.c = input.size(0);
    return d;
  }
  d.n = input.size(0);
  d.c = input.size(1);
  d.pos_shape.push_back(d.n);
  for (std::int64_t k = 2; k < input.dim(); ++k) {
    d.s *= input.size(k);
    d.pos_shape.push_back(input.size(k));
  }
  return d;
}

void check_index_target(const Tensor& input, const Tensor& target, const ClassDims& d, const char* op) {
  TG_CHECK(target.dtype() == kInt64, "{}: target must hold int64 class indices, got {}", op,
           dtype_name(target.dtype()));
  if (same_values(target.shape(), d.pos_shape)) return;
  // [B, T, C] logits with a [B, T] target: the PyTorch layout puts the classes second.
  const bool classes_last = input.dim() >= 3 && target.dim() == input.dim() - 1 &&
                            same_values(target.shape(), IntArrayRef(input.shape().data(), input.shape().size() - 1));
  fail("{}: input of shape {} needs a target of shape {}, got {}{}", op, input.shape(), d.pos_shape, target.shape(),
       classes_last ? fmt::format("; the class dim comes second ([N, C, d1, ...]): for logits of shape {} with the "
                                  "classes last, pass input.transpose(1, {}) or flatten both to [N * T, C] and [N * T]",
                                  input.shape(), input.dim() - 1)
                    : std::string());
}

/// The class weights as a contiguous [C] tensor of dtype dt (undefined when absent).
Tensor class_weight(const Tensor& w, const ClassDims& d, DType dt, const char* op) {
  if (!w.defined()) return {};
  TG_CHECK(w.dim() == 1 && w.size(0) == d.c, "{}: weight must have shape [{}] (one per class), got {}", op, d.c,
           w.shape());
  TG_CHECK(is_floating(w.dtype()), "{}: weight must be floating, got {}", op, dtype_name(w.dtype()));
  TG_CHECK(!autograd::needs_grad(w), "{}: the gradient with respect to weight is not implemented; pass weight.detach()",
           op);
  return w.to(dt).contiguous();
}

/// The label at a position, checked against the class count (ignore_index passes).
inline std::int64_t checked_label(const std::int64_t* y, std::int64_t pos, std::int64_t c, std::int64_t ignore,
                                  const char* op) {
  const std::int64_t label = y[pos];
  TG_CHECK(label == ignore || (label >= 0 && label < c),
           "{}: target {} is out of bounds for {} classes (at target position {}; ignore_index is {})", op, label, c,
           pos, ignore);
  return label;
}

/// log-softmax over the class dim of a detached input, by core's fused kernel (stable: the
/// maximum is taken out first, so logits like 1e4 neither overflow nor lose their digits).
Tensor class_log_softmax(const Tensor& x) {
  NoGradGuard no_grad;
  return log_softmax(x, x.dim() == 1 ? 0 : 1).contiguous();
}

/// dx[k] = ga p[k] - gb w[k] (w[k] = 1 when absent) over one position's C classes, stride S
/// apart; the contiguous case (S = 1, the [N, C] layout) gets loops that vectorise.
template <typename T>
void scaled_softmax_minus(T* dx, const T* p, const T* w, T ga, T gb, std::int64_t c, std::int64_t stride) {
  if (stride == 1) {
    if (w)
      for (std::int64_t k = 0; k < c; ++k) dx[k] = ga * p[k] - gb * w[k];
    else
      for (std::int64_t k = 0; k < c; ++k) dx[k] = ga * p[k] - gb;
    return;
  }
  for (std::int64_t k = 0; k < c; ++k) dx[k * stride] = ga * p[k * stride] - gb * (w ? w[k] : T(1));
}

/// The gradient reaching one position: the upstream gradient (per position for None) times scale.
template <typename T>
struct PositionGrad {
  const T* per_pos = nullptr;  // Reduction::None
  double all = 0;              // Mean / Sum: upstream gradient times the mean's scale
  double operator()(std::int64_t pos) const { return per_pos ? static_cast<double>(per_pos[pos]) : all; }
};

template <typename T>
PositionGrad<T> position_grad(const Tensor& g, Reduction r, double scale) {
  PositionGrad<T> pg;
  if (r == Reduction::None) pg.per_pos = g.data<T>();
  else pg.all = g.item() * scale;
  return pg;
}

/// The output: per-position losses for None, else the sum (Sum) or sum / denominator (Mean).
template <typename T>
Tensor class_output(const std::vector<double>& losses, const ClassDims& d, Reduction r, double denominator, DType dt) {
  if (r == Reduction::None) {
    Tensor out = empty(d.pos_shape, dt);
    T* o = out.data<T>();
    for (std::size_t i = 0; i < losses.size(); ++i) o[i] = static_cast<T>(losses[i]);
    return out;
  }
  double total = 0;
  for (double v : losses) total += v;
  return scalar_tensor(r == Reduction::Mean ? total / denominator : total, dt);
}

/// The options of cross_entropy and nll_loss.
struct ClassLossArgs {
  const Tensor& weight;
  std::int64_t ignore_index;
  double smoothing;
  Reduction reduction;
};

/// What the backward of a class loss needs besides the upstream gradient.
struct ClassBackward {
  ClassDims d;
  Tensor w;  // [C] in the loss's dtype, or undefined
  double smoothing = 0;
  std::int64_t ignore = -100;
  Reduction reduction = Reduction::Mean;
  double scale = 1;  // 1 / denominator for Mean, else 1
};

Tensor cross_entropy_indices_backward(const Tensor& grad, const Tensor& logp, const Tensor& y, const ClassBackward& b) {
  Tensor dx = zeros(logp.shape(), logp.dtype());
  const Tensor p = exp(logp);
  const Tensor g = grad.to(logp.dtype()).contiguous();
  dispatch_floating(logp.dtype(), "cross_entropy backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pp = p.data<T>();
    const T* wp = b.w.defined() ? b.w.data<T>() : nullptr;
    const std::int64_t* yp = y.data<std::int64_t>();
    T* dp = dx.data<T>();
    const PositionGrad<T> gpos = position_grad<T>(g, b.reduction, b.scale);
    const std::int64_t C = b.d.c, S = b.d.s;
    const double e = b.smoothing, eC = e / static_cast<double>(C);
    double wsum = static_cast<double>(C);
    if (wp) {
      wsum = 0;
      for (std::int64_t k = 0; k < C; ++k) wsum += wp[k];
    }
    for (std::int64_t pos = 0; pos < b.d.positions(); ++pos) {
      const std::int64_t label = yp[pos], base = (pos / S) * C * S + pos % S;
      if (label == b.ignore) continue;  // the row stays zero
      const double gp = gpos(pos);
      const double wy = wp ? static_cast<double>(wp[label]) : 1.0;
      const double a = (1.0 - e) * wy + eC * wsum;
      scaled_softmax_minus(dp + base, pp + base, wp, static_cast<T>(gp * a), static_cast<T>(gp * eC), C, S);
      dp[base + label * S] -= static_cast<T>(gp * (1.0 - e) * wy);
    }
  });
  return dx;
}

Tensor cross_entropy_indices(const Tensor& input, const Tensor& target, const ClassLossArgs& o) {
  const char* op = "cross_entropy";
  ClassBackward b{class_dims(input, op), {}, o.smoothing, o.ignore_index, o.reduction, 1.0};
  check_index_target(input, target, b.d, op);
  const DType dt = input.dtype();
  b.w = class_weight(o.weight, b.d, dt, op);
  const Tensor y = target.contiguous();
  const Tensor logp = class_log_softmax(input.detach());
  const std::int64_t C = b.d.c, S = b.d.s;
  const double e = b.smoothing;
  std::vector<double> losses(static_cast<std::size_t>(b.d.positions()));
  double weight_sum = 0;

  Tensor out = dispatch_floating(dt, op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* wp = b.w.defined() ? b.w.data<T>() : nullptr;
    const std::int64_t* yp = y.data<std::int64_t>();
    const T* lp = logp.data<T>();
    for (std::int64_t pos = 0; pos < b.d.positions(); ++pos) {
      const std::int64_t label = checked_label(yp, pos, C, b.ignore, op), base = (pos / S) * C * S + pos % S;
      if (label == b.ignore) continue;
      const double wy = wp ? static_cast<double>(wp[label]) : 1.0;
      double loss = -(1.0 - e) * wy * lp[base + label * S];
      if (e > 0) {
        double smooth = 0;
        for (std::int64_t k = 0; k < C; ++k) smooth += (wp ? static_cast<double>(wp[k]) : 1.0) * lp[base + k * S];
        loss -= e / static_cast<double>(C) * smooth;
      }
      losses[static_cast<std::size_t>(pos)] = loss;
      weight_sum += wy;
    }
    return class_output<T>(losses, b.d, b.reduction, weight_sum, dt);
  });

  if (autograd::needs_grad(input)) {
    if (b.reduction == Reduction::Mean) b.scale = 1.0 / weight_sum;
    autograd::record(op, out, {&input},
                     [slogp = SavedTensor::input(logp), sy = SavedTensor::input(y), b](BackwardContext& c) {
      c.set(0, cross_entropy_indices_backward(c.grad(), c.unpack(slogp), c.unpack(sy), b));
    });
  }
  return out;
}

/// The gradients of cross-entropy with probabilities: input (when dx is defined) and target (dt).
void cross_entropy_probabilities_backward(const Tensor& grad, const Tensor& logp, const Tensor& t,
                                          const ClassBackward& b, Tensor& dx, Tensor& dt) {
  const Tensor g = grad.to(logp.dtype()).contiguous();
  const Tensor p = dx.defined() ? exp(logp) : Tensor();
  dispatch_floating(logp.dtype(), "cross_entropy backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* lp = logp.data<T>();
    const T* pp = p.defined() ? p.data<T>() : nullptr;
    const T* tp = t.data<T>();
    const T* wp = b.w.defined() ? b.w.data<T>() : nullptr;
    T* dxp = dx.defined() ? dx.data<T>() : nullptr;
    T* dtp = dt.defined() ? dt.data<T>() : nullptr;
    const PositionGrad<T> gpos = position_grad<T>(g, b.reduction, b.scale);
    const std::int64_t C = b.d.c, S = b.d.s;
    const double e = b.smoothing, eC = e / static_cast<double>(C);
    for (std::int64_t pos = 0; pos < b.d.positions(); ++pos) {
      const std::int64_t base = (pos / S) * C * S + pos % S;
      const double gp = gpos(pos);
      if (dxp) {
        double wq = 0;  // sum_j w_j q_j
        for (std::int64_t k = 0; k < C; ++k)
          wq += (wp ? static_cast<double>(wp[k]) : 1.0) * ((1.0 - e) * tp[base + k * S] + eC);
        for (std::int64_t k = 0; k < C; ++k) {
          const double wk = wp ? static_cast<double>(wp[k]) : 1.0, q = (1.0 - e) * tp[base + k * S] + eC;
          dxp[base + k * S] = static_cast<T>(gp * (pp[base + k * S] * wq - wk * q));
        }
      }
      if (dtp) {
        for (std::int64_t k = 0; k < C; ++k) {
          const double wk = wp ? static_cast<double>(wp[k]) : 1.0;
          dtp[base + k * S] = static_cast<T>(-gp * (1.0 - e) * wk * lp[base + k * S]);
        }
      }
    }
  });
}

Tensor cross_entropy_probabilities(const Tensor& input, const Tensor& target, const ClassLossArgs& o) {
  const char* op = "cross_entropy";
  ClassBackward b{class_dims(input, op), {}, o.smoothing, o.ignore_index, o.reduction, 1.0};
  TG_CHECK(same_values(input.shape(), target.shape()),
           "{}: a probability target must have the input's shape {}, got {} (or pass int64 class indices of shape {})",
           op, input.shape(), target.shape(), b.d.pos_shape);
  TG_CHECK(b.ignore < 0, "{}: ignore_index ({}) is not supported for a probability target", op, b.ignore);
  const DType dt =
      promote_types(input.dtype(), target.dtype());  // as PyTorch: float32 logits, float64 target -> float64
  b.w = class_weight(o.weight, b.d, dt, op);
  const Tensor t = target.detach().to(dt).contiguous();
  const Tensor logp = class_log_softmax(input.detach().to(dt));
  const std::int64_t C = b.d.c, S = b.d.s;
  const double e = b.smoothing;
  std::vector<double> losses(static_cast<std::size_t>(b.d.positions()));

  Tensor out = dispatch_floating(dt, op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* tp = t.data<T>();
    const T* wp = b.w.defined() ? b.w.data<T>() : nullptr;
    const T* lp = logp.data<T>();
    for (std::int64_t pos = 0; pos < b.d.positions(); ++pos) {
      const std::int64_t base = (pos / S) * C * S + pos % S;
      double loss = 0;
      for (std::int64_t k = 0; k < C; ++k) {
        const double q = (1.0 - e) * tp[base + k * S] + e / static_cast<double>(C);
        loss -= (wp ? static_cast<double>(wp[k]) : 1.0) * q * lp[base + k * S];
      }
      losses[static_cast<std::size_t>(pos)] = loss;
    }
    return class_output<T>(losses, b.d, b.reduction, static_cast<double>(b.d.positions()), dt);
  });

  if (autograd::needs_grad(input, target)) {
    if (b.reduction == Reduction::Mean) b.scale = 1.0 / static_cast<double>(b.d.positions());
    autograd::record(op, out, {&input, &target},
                     [slogp = SavedTensor::input(logp), st = SavedTensor::input(t), b](BackwardContext& c) {
      const Tensor& logp = c.unpack(slogp);
      Tensor dx = c.needs(0) ? empty(logp.shape(), logp.dtype()) : Tensor();
      Tensor dt = c.needs(1) ? empty(logp.shape(), logp.dtype()) : Tensor();
      cross_entropy_probabilities_backward(c.grad(), logp, c.unpack(st), b, dx, dt);
      if (dx.defined()) c.set(0, dx);
      if (dt.defined()) c.set(1, dt);
    });
  }
  return out;
}

/// d nll / d input[n, k, s] = -w_y for k = y (the target), 0 elsewhere and at ignored positions.
Tensor nll_loss_backward(const Tensor& grad, IntArrayRef shape, const Tensor& y, const ClassBackward& b) {
  const DType dt = grad.dtype();
  const Tensor g = grad.contiguous();
  const Tensor w = b.w.defined() ? b.w.to(dt) : Tensor();
  Tensor dx = zeros(shape, dt);
  dispatch_floating(dt, "nll_loss backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* wp = w.defined() ? w.data<T>() : nullptr;
    const std::int64_t* yp = y.data<std::int64_t>();
    T* dp = dx.data<T>();
    const PositionGrad<T> gpos = position_grad<T>(g, b.reduction, b.scale);
    const std::int64_t C = b.d.c, S = b.d.s;
    for (std::int64_t pos = 0; pos < b.d.positions(); ++pos) {
      const std::int64_t label = yp[pos];
      if (label == b.ignore) continue;
      const double wy = wp ? static_cast<double>(wp[label]) : 1.0;
      dp[(pos / S) * C * S + label * S + pos % S] = static_cast<T>(-wy * gpos(pos));
    }
  });
  return dx;
}

// ---- binary_cross_entropy (fused: PyTorch's clamps) ------------------------------------------

constexpr double kBceEpsilon = 1e-12;  // PyTorch's floor for x (1 - x) in the backward

/// PyTorch's backward: d/dx = (x - t) / max(x (1 - x), 1e-12), d/dt = log(1 - x) - log(x);
/// fills dx and dt where they are defined.
void bce_backward(const Tensor& grad, const Tensor& x, const Tensor& t, Tensor& dx, Tensor& dt) {
  const Tensor g = grad.to(x.dtype()).contiguous();
  dispatch_floating(x.dtype(), "binary_cross_entropy backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    const T* tp = t.data<T>();
    const T* gp = g.data<T>();
    T* dxp = dx.defined() ? dx.data<T>() : nullptr;
    T* dtp = dt.defined() ? dt.data<T>() : nullptr;
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      const T v = xp[i];
      if (dxp) dxp[i] = gp[i] * (v - tp[i]) / std::max((T(1) - v) * v, T(kBceEpsilon));
      if (dtp) dtp[i] = gp[i] * (std::log(T(1) - v) - std::log(v));
    }
  });
}

/// The unweighted per-element loss -(t max(log x, -100) + (1 - t) max(log(1 - x), -100)).
Tensor bce_elementwise(const Tensor& input, const Tensor& target) {
  const char* op = "binary_cross_entropy";
  const DType dt = input.dtype();
  const Tensor x = input.detach().contiguous();
  const Tensor t = target.detach().to(dt).contiguous();
  Tensor out = empty(input.shape(), dt);
  dispatch_floating(dt, op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    const T* tp = t.data<T>();
    T* o = out.data<T>();
    const T floor = T(-100);
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      const T v = xp[i];
      TG_CHECK(v >= T(0) && v <= T(1), "{}: all elements of input should be between 0 and 1, got {} at element {}", op,
               v, i);
      o[i] = (tp[i] - T(1)) * std::max(std::log(T(1) - v), floor) - tp[i] * std::max(std::log(v), floor);
    }
  });
  if (autograd::needs_grad(input, target)) {
    autograd::record(op, out, {&input, &target},
                     [sx = SavedTensor::input(x), st = SavedTensor::input(t)](BackwardContext& c) {
      const Tensor& x = c.unpack(sx);
      Tensor dx = c.needs(0) ? empty(x.shape(), x.dtype()) : Tensor();
      Tensor dt = c.needs(1) ? empty(x.shape(), x.dtype()) : Tensor();
      bce_backward(c.grad(), x, c.unpack(st), dx, dt);
      if (dx.defined()) c.set(0, dx);
      if (dt.defined()) c.set(1, dt);
    });
  }
  return out;
}

}  // namespace

// ---- reductions -------------------------------------------------------------------------------

Reduction reduction_from_string(std::string_view name) {
  if (name == "none") return Reduction::None;
  if (name == "mean") return Reduction::Mean;
  if (name == "sum") return Reduction::Sum;
  if (name == "batchmean") return Reduction::BatchMean;
  fail("reduction: unknown reduction \"{}\" (expected none, mean, sum or batchmean)", name);
}

const char* reduction_name(Reduction reduction) {
  switch (reduction) {
    case Reduction::None: return "none";
    case Reduction::Mean: return "mean";
    case Reduction::Sum: return "sum";
    case Reduction::BatchMean: return "batchmean";
  }
  return "?";
}

// ---- classification -------------------------------------------------------------------------

Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, std::int64_t ignore_index,
                     double label_smoothing, Reduction reduction) {
  check_reduction(reduction, "cross_entropy");
  TG_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, "cross_entropy: label_smoothing must be in [0, 1], got {}",
           label_smoothing);
  const ClassLossArgs options{weight, ignore_index, label_smoothing, reduction};
  TG_CHECK(input.defined() && target.defined(), "cross_entropy: input and target must be defined tensors");
  dispatch_floating(input.dtype(), "cross_entropy", [](auto) {});
  if (target.dtype() == kInt64) return cross_entropy_indices(input, target, options);
  TG_CHECK(is_floating(target.dtype()),
           "cross_entropy: target must be int64 class indices or floating probabilities, got {}",
           dtype_name(target.dtype()));
  return cross_entropy_probabilities(input, target, options);
}

Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight, std::int64_t ignore_index,
                Reduction reduction) {
  const char* op = "nll_loss";
  check_reduction(reduction, op);
  TG_CHECK(input.defined() && target.defined(), "nll_loss: input and target must be defined tensors");
  const DType dt = input.dtype();
  dispatch_floating(dt, op, [](auto) {});
  ClassBackward b{class_dims(input, op), {}, 0.0, ignore_index, reduction, 1.0};
  check_index_target(input, target, b.d, op);
  b.w = class_weight(weight, b.d, dt, op);
  const Tensor x = input.detach().contiguous();
  const Tensor y = target.contiguous();
  const std::int64_t C = b.d.c, S = b.d.s;
  std::vector<double> losses(static_cast<std::size_t>(b.d.positions()));
  double weight_sum = 0;

  Tensor out = dispatch_floating(dt, op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    const T* wp = b.w.defined() ? b.w.data<T>() : nullptr;
    const std::int64_t* yp = y.data<std::int64_t>();
    for (std::int64_t pos = 0; pos < b.d.positions(); ++pos) {
      const std::int64_t label = checked_label(yp, pos, C, b.ignore, op);
      if (label == b.ignore) continue;
      const double wy = wp ? static_cast<double>(wp[label]) : 1.0;
      losses[static_cast<std::size_t>(pos)] = -wy * static_cast<double>(xp[(pos / S) * C * S + label * S + pos % S]);
      weight_sum += wy;
    }
    return class_output<T>(losses, b.d, b.reduction, weight_sum, dt);
  });

  if (autograd::needs_grad(input)) {
    if (b.reduction == Reduction::Mean) b.scale = 1.0 / weight_sum;
    autograd::record(op, out, {&input}, [shape = input.shape(), sy = SavedTensor::input(y), b](BackwardContext& c) {
      c.set(0, nll_loss_backward(c.grad(), shape, c.unpack(sy), b));
    });
  }
  return out;
}

namespace {

/// The checks the two binary cross-entropies share: defined floating input and target of one
/// shape, a weight (if any) that broadcasts to them, a known reduction.
void check_binary_inputs(const Tensor& input, const Tensor& target, const Tensor& weight, Reduction reduction,
                         const char* op) {
  check_reduction(reduction, op);
  TG_CHECK(input.defined() && target.defined(), "{}: input and target must be defined tensors", op);
  dispatch_floating(input.dtype(), op, [](auto) {});
  dispatch_floating(target.dtype(), op, [](auto) {});
  check_same_shape(input, target, op);
  check_broadcasts_to(weight, input, op, "weight");
}

}  // namespace

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, Reduction reduction) {
  const char* op = "binary_cross_entropy";
  check_binary_inputs(input, target, weight, reduction, op);
  Tensor loss = bce_elementwise(input, target);
  if (weight.defined()) loss = mul(loss, weight);
  return reduce(loss, reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight,
                                        const Tensor& pos_weight, Reduction reduction) {
  const char* op = "binary_cross_entropy_with_logits";
  check_binary_inputs(input, target, weight, reduction, op);
  check_broadcasts_to(pos_weight, input, op, "pos_weight");
  // log(1 + e^-x) = m + log(e^-m + e^(-x - m)) with m = max(-x, 0): one exponential is 1 and
  // the other at most 1, so nothing overflows. The value does not depend on m, so m is a
  // constant for autograd and the gradient is the exact -sigmoid(-x), also at x = 0.
  const Tensor m = relu(neg(input.detach()));
  const Tensor softplus_neg = add(m, log(add(exp(neg(m)), exp(sub(neg(input), m)))));
  Tensor loss;
  if (pos_weight.defined()) {
    const Tensor log_weight = add(mul(sub(pos_weight, 1.0), target), 1.0);  // 1 + (p - 1) t
    loss = add(mul(rsub(target, 1.0), input), mul(log_weight, softplus_neg));
  } else {
    loss = add(mul(rsub(target, 1.0), input), softplus_neg);
  }
  if (weight.defined()) loss = mul(loss, weight);
  return reduce(loss, reduction);
}

Tensor kl_div(const Tensor& input, const Tensor& target, Reduction reduction, bool log_target) {
  const char* op = "kl_div";
  TG_CHECK(input.defined() && target.defined(), "{}: input and target must be defined tensors", op);
  dispatch_floating(input.dtype(), op, [](auto) {});
  dispatch_floating(target.dtype(), op, [](auto) {});
  check_same_shape(input, target, op);
  Tensor loss;
  if (log_target) {
    loss = mul(exp(target), sub(target, input));
  } else {
    // xlogy(t, t) - t x: t log t is 0 where t is 0. log reads 1 there, so neither the value
    // nor the gradient (log 1 + 0) meets log(0).
    const Tensor safe = where(eq(target, 0.0), 1.0, target);
    loss = sub(mul(target, log(safe)), mul(target, input));
  }
  if (reduction == Reduction::BatchMean) {
    const Tensor total = sum(loss);
    return input.dim() == 0 ? total : div(total, static_cast<double>(input.size(0)));
  }
  return reduce(loss, reduction);
}

// ---- regression -------------------------------------------------------------------------------

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_reduction(reduction, "mse_loss");
  check_same_shape(input, target, "mse_loss");
  return reduce(pow(sub(input, target), 2.0), reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_reduction(reduction, "l1_loss");
  check_same_shape(input, target, "l1_loss");
  return reduce(abs(sub(input, target)), reduction);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction, double beta) {
  check_reduction(reduction, "smooth_l1_loss");
  TG_CHECK(beta >= 0.0, "smooth_l1_loss: beta must be non-negative, got {}", beta);
  check_same_shape(input, target, "smooth_l1_loss");
  if (beta == 0.0) return l1_loss(input, target, reduction);
  const Tensor d = sub(input, target);
  const Tensor ad = abs(d);
  const Tensor loss = where(lt(ad, beta), mul(mul(d, d), 0.5 / beta), sub(ad, 0.5 * beta));
  return reduce(loss, reduction);
}

}  // namespace tg

// Reductions: sum, mean, amax, amin over any set of dims; max/min/argmax along one dim.
//
// Determinism: a reduction gives the same bits whatever the thread count. A long row is cut
// into fixed blocks of kBlock elements; each block is reduced with 8 independent accumulators
// (combined in a fixed order), and block results are combined in block order. Threads only
// decide which blocks run where, never how they combine. Float sums accumulate in double.
#include "tapegrad/core/ops/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/loop.h"
#include "ops/pointwise.h"
#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops.h"
#include "tensor_detail.h"

namespace tg {
namespace {

using autograd::BackwardContext;
using autograd::SavedTensor;

constexpr std::int64_t kBlock = 16384;

template <typename T>
struct SumOp {
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, std::int64_t>;
  static Acc identity() { return 0; }
  static Acc load(T x) { return static_cast<Acc>(x); }
  static Acc combine(Acc a, Acc b) { return a + b; }
};

template <typename T>
struct MaxOp {
  using Acc = T;
  static Acc identity() {
    if constexpr (std::numeric_limits<T>::has_infinity) return -std::numeric_limits<T>::infinity();
    else return std::numeric_limits<T>::lowest();
  }
  static Acc load(T x) { return x; }
  static Acc combine(Acc a, Acc b) { return (b > a || b != b) && a == a ? b : a; }  // NaN wins
};

template <typename T>
struct MinOp {
  using Acc = T;
  static Acc identity() {
    if constexpr (std::numeric_limits<T>::has_infinity) return std::numeric_limits<T>::infinity();
    else return std::numeric_limits<T>::max();
  }
  static Acc load(T x) { return x; }
  static Acc combine(Acc a, Acc b) { return (b < a || b != b) && a == a ? b : a; }
};

/// One block: 8 lanes, then the lanes in order.
template <typename Op, typename T>
typename Op::Acc reduce_block(const T* p, std::int64_t n) {
  using Acc = typename Op::Acc;
  Acc lane[8];
  for (auto& l : lane) l = Op::identity();
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) lane[l] = Op::combine(lane[l], Op::load(p[i + l]));
  for (; i < n; ++i) lane[0] = Op::combine(lane[0], Op::load(p[i]));
  Acc r = lane[0];
  for (int l = 1; l < 8; ++l) r = Op::combine(r, lane[l]);
  return r;
}

/// A contiguous row of n elements, block by block (the fixed order that makes it deterministic).
template <typename Op, typename T>
typename Op::Acc reduce_row(const T* p, std::int64_t n, bool parallel) {
  using Acc = typename Op::Acc;
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  if (blocks <= 1) return reduce_block<Op>(p, n);
  std::vector<Acc> partial(static_cast<std::size_t>(blocks));
  auto run = [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b)
      partial[b] = reduce_block<Op>(p + b * kBlock, std::min(kBlock, n - b * kBlock));
  };
  if (parallel) kernels::parallel_for(blocks, 2, run);
  else run(0, blocks);
  Acc r = partial[0];
  for (std::int64_t b = 1; b < blocks; ++b) r = Op::combine(r, partial[b]);
  return r;
}

struct ReducePlan {
  DimVec keep_shape;  // input shape with reduced dims set to 1
  DimVec out_shape;   // keep_shape, or without the reduced dims
  DimVec perm;        // kept dims, then reduced dims
  bool reduced[kMaxDims] = {};
  std::int64_t kept = 1, count = 1;  // K outputs, R elements each
  bool reduced_leading = true;       // all reduced dims come before all kept dims
  // [outer, count, inner] when the reduced dims (size-1 dims aside) are one run of dims, with
  // kept dims only before it (outer elements) and after it (inner): a contiguous input is
  // then reduced in place, without a copy.
  bool one_run = true;
  std::int64_t outer = 1, inner = 1;
};

ReducePlan plan_reduce(const Tensor& a, IntArrayRef dims, bool keepdim, const char* op) {
  ReducePlan p;
  const std::int64_t nd = a.dim();
  if (dims.empty()) {
    for (std::int64_t d = 0; d < nd; ++d) p.reduced[d] = true;
  } else {
    for (auto d : dims) {
      const std::int64_t n = normalize_dim(d, nd, op);
      TG_CHECK(!p.reduced[n], "{}: dim {} appears more than once in {}", op, n, dims);
      p.reduced[n] = true;
    }
  }
  bool seen_kept = false;
  for (std::int64_t d = 0; d < nd; ++d) {
    const std::int64_t s = a.shape().data()[d];
    p.keep_shape.push_back(p.reduced[d] ? 1 : s);
    if (p.reduced[d]) {
      p.count *= s;
      if (seen_kept && s != 1) p.reduced_leading = false;
    } else {
      p.kept *= s;
      p.perm.push_back(d);
      if (!keepdim) p.out_shape.push_back(s);
      if (s != 1) seen_kept = true;
    }
    if (keepdim) p.out_shape.push_back(p.reduced[d] ? 1 : s);
  }
  for (std::int64_t d = 0; d < nd; ++d)
    if (p.reduced[d]) p.perm.push_back(d);
  int phase = 0;  // 0: before the run of reduced dims, 1: in it, 2: after it
  for (std::int64_t d = 0; d < nd; ++d) {
    const std::int64_t s = a.shape().data()[d];
    if (s == 1) continue;
    if (p.reduced[d]) {
      if (phase == 2) p.one_run = false;
      phase = std::max(phase, 1);
    } else {
      if (phase == 1) phase = 2;
      (phase == 0 ? p.outer : p.inner) *= s;
    }
  }
  return p;
}

/// Reduces a over the plan's dims with Op, into a new tensor of dtype Out.
template <template <typename> class OpT>
Tensor reduce_forward(const Tensor& a, const ReducePlan& p, DType out_dtype) {
  Tensor out = detail::new_empty(p.out_shape, out_dtype);
  dispatch(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using Op = OpT<T>;
    using Acc = typename Op::Acc;
    dispatch(out_dtype, [&](auto otag) {
      using O = typename decltype(otag)::type;
      O* o = static_cast<O*>(out.data_ptr());
      const std::int64_t K = p.kept, R = p.count;
      if (K == 0) return;
      const std::int64_t I = p.inner;
      if (a.is_contiguous() && p.one_run && I > 1 && R > 1) {
        // [outer, R, I] with I contiguous: for each outer index, accumulate the R rows of I
        // elements into I accumulators, 1024 columns at a time.
        const T* x = static_cast<const T*>(a.data_ptr());
        constexpr std::int64_t kCols = 1024;
        const std::int64_t col_chunks = (I + kCols - 1) / kCols;
        kernels::parallel_for(p.outer * col_chunks, std::max<std::int64_t>(1, kernels::kGrain / (kCols * R)),
                              [&](std::int64_t c0, std::int64_t c1) {
          Acc acc[kCols];
          for (std::int64_t c = c0; c < c1; ++c) {
            const std::int64_t out0 = c / col_chunks * I, k0 = c % col_chunks * kCols, nk = std::min(kCols, I - k0);
            const T* base = x + out0 * R + k0;
            for (std::int64_t k = 0; k < nk; ++k) acc[k] = Op::load(base[k]);
            for (std::int64_t r = 1; r < R; ++r) {
              const T* row = base + r * I;
              for (std::int64_t k = 0; k < nk; ++k) acc[k] = Op::combine(acc[k], Op::load(row[k]));
            }
            for (std::int64_t k = 0; k < nk; ++k) o[out0 + k0 + k] = static_cast<O>(acc[k]);
          }
        });
        return;
      }
      // Rows: the reduced dims last and contiguous (copying when the layout is otherwise).
      DimVec shape, strides;
      for (auto d : p.perm) {
        shape.push_back(a.shape().data()[d]);
        strides.push_back(a.strides().data()[d]);
      }
      const Tensor x = detail::as_contiguous(detail::make_view(a, shape, strides, a.offset()));
      const T* xp = static_cast<const T*>(x.data_ptr());
      if (K == 1) {
        o[0] = static_cast<O>(reduce_row<Op>(xp, R, true));
        return;
      }
      kernels::parallel_for(K, std::max<std::int64_t>(1, kernels::kGrain / std::max<std::int64_t>(R, 1)),
                            [&](std::int64_t k0, std::int64_t k1) {
        for (std::int64_t k = k0; k < k1; ++k) o[k] = static_cast<O>(reduce_row<Op>(xp + k * R, R, false));
      });
    });
  });
  return out;
}

/// g (shape out_shape) laid back over the input's shape.
Tensor expand_back(const Tensor& g, const ReducePlan& p, IntArrayRef in_shape) {
  return g.reshape(p.keep_shape).expand(in_shape);
}

Tensor sum_impl(const Tensor& a, IntArrayRef dims, bool keepdim) {
  const ReducePlan p = plan_reduce(a, dims, keepdim, "sum");
  const DType dt = is_floating(a.dtype()) ? a.dtype() : kInt64;
  Tensor out = reduce_forward<SumOp>(a, p, dt);
  if (p.count == 0) out.zero_();
  if (autograd::needs_grad(a)) {
    autograd::record("sum", out, {&a},
                     [p, in_shape = a.shape()](BackwardContext& c) { c.set(0, expand_back(c.grad(), p, in_shape)); });
  }
  return out;
}

Tensor mean_impl(const Tensor& a, IntArrayRef dims, bool keepdim) {
  TG_CHECK(is_floating(a.dtype()), "mean: expected a floating-point tensor, got {} (convert with to(kFloat32))",
           dtype_name(a.dtype()));
  const ReducePlan p = plan_reduce(a, dims, keepdim, "mean");
  Tensor out = reduce_forward<SumOp>(a, p, a.dtype());
  {
    NoGradGuard guard;
    out.mul_(1.0 / static_cast<double>(p.count));  // 0 elements: NaN, as in PyTorch
  }
  if (autograd::needs_grad(a)) {
    autograd::record("mean", out, {&a}, [p, in_shape = a.shape()](BackwardContext& c) {
      c.set(0, expand_back(div(c.grad(), static_cast<double>(p.count)), p, in_shape));
    });
  }
  return out;
}

/// amax/amin backward for a contiguous x whose reduced dims form one run ([outer, R, inner]):
/// each element equal to its slice's extremum m gets (1 g) / n, every other (0 g) / n, with n
/// the number of ties, as the composed mask * g / n gives it. Two passes over x (count, write)
/// instead of the five of the composition.
Tensor extremum_backward(const Tensor& x, const Tensor& m0, const Tensor& g0, const ReducePlan& p) {
  const Tensor m = detail::as_contiguous(m0), g = detail::as_contiguous(g0);
  Tensor gx = detail::new_empty(x.shape(), x.dtype());
  const std::int64_t R = p.count, I = p.inner;
  dispatch_floating(x.dtype(), "amax_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *xp = x.data<T>(), *mp = m.data<T>(), *gp = g.data<T>();
    T* out = gx.data<T>();
    kernels::parallel_for(p.outer, std::max<std::int64_t>(1, kernels::kGrain / std::max<std::int64_t>(R * I, 1)),
                          [&](std::int64_t o0, std::int64_t o1) {
      std::vector<double> n(static_cast<std::size_t>(I));  // exact counts, as the composed sum gives
      for (std::int64_t o = o0; o < o1; ++o) {
        const T* xs = xp + o * R * I;
        const T* ms = mp + o * I;
        const T* gs = gp + o * I;
        T* dst = out + o * R * I;
        std::fill(n.begin(), n.end(), 0.0);
        for (std::int64_t r = 0; r < R; ++r)
          for (std::int64_t i = 0; i < I; ++i) n[i] += xs[r * I + i] == ms[i] ? 1.0 : 0.0;
        for (std::int64_t r = 0; r < R; ++r)
          for (std::int64_t i = 0; i < I; ++i)
            dst[r * I + i] = (xs[r * I + i] == ms[i] ? T(1) : T(0)) * gs[i] / static_cast<T>(n[i]);
      }
    });
  });
  return gx;
}

template <template <typename> class OpT>
Tensor extremum_impl(const Tensor& a, IntArrayRef dims, bool keepdim, const char* op) {
  TG_CHECK(a.dtype() != kBool, "{}: not defined for bool tensors", op);
  const ReducePlan p = plan_reduce(a, dims, keepdim, op);
  TG_CHECK(p.count > 0 || p.kept == 0, "{}: cannot reduce over a dim of size 0 (shape {})", op, a.shape());
  Tensor out = reduce_forward<OpT>(a, p, a.dtype());
  if (autograd::needs_grad(a)) {
    // The gradient is shared evenly among the elements equal to the extremum.
    autograd::record(op, out, {&a}, [p, sa = SavedTensor::input(a), so = SavedTensor::output(out)](BackwardContext& c) {
      const Tensor& x = c.unpack(sa);
      if (x.is_contiguous() && p.one_run && is_floating(x.dtype()) && p.count > 0) {
        c.set(0, extremum_backward(x, c.unpack(so), c.grad(), p));
        return;
      }
      const Tensor mask = eq(x, c.unpack(so).reshape(p.keep_shape)).to(x.dtype());
      DimVec rdims;
      for (std::int64_t d = 0; d < x.dim(); ++d)
        if (p.reduced[d]) rdims.push_back(d);
      const Tensor n = sum_impl(mask, rdims, true);
      c.set(0, div(mul(mask, c.grad().reshape(p.keep_shape)), n));
    });
  }
  return out;
}

/// Max or min along one dim, with the index of its first occurrence.
template <bool IsMax>
ValuesIndices arg_extremum(const Tensor& a, std::int64_t dim, bool keepdim, const char* op) {
  TG_CHECK(a.dtype() != kBool, "{}: not defined for bool tensors", op);
  const std::int64_t nd = a.dim();
  const std::int64_t d = normalize_dim(dim, nd, op);
  const Tensor x = detail::as_contiguous(a);
  const std::int64_t D = nd == 0 ? 1 : x.shape().data()[d];
  TG_CHECK(D > 0, "{}: cannot reduce over dim {} of size 0 (shape {})", op, d, a.shape());
  std::int64_t outer = 1, inner = 1;
  DimVec keep_shape, out_shape;
  for (std::int64_t i = 0; i < nd; ++i) {
    if (i < d) outer *= x.shape().data()[i];
    if (i > d) inner *= x.shape().data()[i];
    keep_shape.push_back(i == d ? 1 : x.shape().data()[i]);
    if (i != d || keepdim) out_shape.push_back(i == d ? 1 : x.shape().data()[i]);
  }
  Tensor values = detail::new_empty(out_shape, a.dtype());
  Tensor indices = detail::new_empty(out_shape, kInt64);
  dispatch(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = static_cast<const T*>(x.data_ptr());
    T* vp = static_cast<T*>(values.data_ptr());
    std::int64_t* ip = indices.data<std::int64_t>();
    kernels::parallel_for(outer, std::max<std::int64_t>(1, kernels::kGrain / (D * inner)),
                          [&](std::int64_t o0, std::int64_t o1) {
      for (std::int64_t o = o0; o < o1; ++o) {
        const T* base = xp + o * D * inner;
        T* best = vp + o * inner;
        std::int64_t* arg = ip + o * inner;
        for (std::int64_t j = 0; j < inner; ++j) {
          best[j] = base[j];
          arg[j] = 0;
        }
        for (std::int64_t i = 1; i < D; ++i) {
          const T* row = base + i * inner;
          for (std::int64_t j = 0; j < inner; ++j) {
            const T v = row[j];
            const bool better = IsMax ? v > best[j] : v < best[j];
            if ((better || v != v) && best[j] == best[j]) {
              best[j] = v;
              arg[j] = i;
            }
          }
        }
      }
    });
  });
  if (autograd::needs_grad(a)) {
    // The gradient goes to the selected element of each slice.
    autograd::record(op, values, {&a}, [idx = indices, in_shape = a.shape(), outer, D, inner](BackwardContext& c) {
      const Tensor g = detail::as_contiguous(c.grad());
      Tensor gx = zeros(in_shape, g.dtype());
      const std::int64_t* ip = idx.data<std::int64_t>();
      dispatch_floating(g.dtype(), "max_backward", [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* gp = static_cast<const T*>(g.data_ptr());
        T* out = static_cast<T*>(gx.data_ptr());
        for (std::int64_t o = 0; o < outer; ++o)
          for (std::int64_t j = 0; j < inner; ++j) out[(o * D + ip[o * inner + j]) * inner + j] += gp[o * inner + j];
      });
      c.set(0, gx);
    });
  }
  return {values, indices};
}

}  // namespace

Tensor sum(const Tensor& a) { return sum_impl(a, {}, false); }
Tensor sum(const Tensor& a, IntArrayRef dims, bool keepdim) {
  TG_CHECK(!dims.empty(), "sum: the list of dims is empty; call sum(t) to reduce all elements");
  return sum_impl(a, dims, keepdim);
}
Tensor mean(const Tensor& a) { return mean_impl(a, {}, false); }
Tensor mean(const Tensor& a, IntArrayRef dims, bool keepdim) {
  TG_CHECK(!dims.empty(), "mean: the list of dims is empty; call mean(t) to reduce all elements");
  return mean_impl(a, dims, keepdim);
}
Tensor amax(const Tensor& a) { return extremum_impl<MaxOp>(a, {}, false, "amax"); }
Tensor amax(const Tensor& a, IntArrayRef dims, bool keepdim) {
  TG_CHECK(!dims.empty(), "amax: the list of dims is empty; call amax(t) to reduce all elements");
  return extremum_impl<MaxOp>(a, dims, keepdim, "amax");
}
Tensor amin(const Tensor& a) { return extremum_impl<MinOp>(a, {}, false, "amin"); }
Tensor amin(const Tensor& a, IntArrayRef dims, bool keepdim) {
  TG_CHECK(!dims.empty(), "amin: the list of dims is empty; call amin(t) to reduce all elements");
  return extremum_impl<MinOp>(a, dims, keepdim, "amin");
}
ValuesIndices max(const Tensor& a, std::int64_t dim, bool keepdim) {
  return arg_extremum<true>(a, dim, keepdim, "max");
}
ValuesIndices min(const Tensor& a, std::int64_t dim, bool keepdim) {
  return arg_extremum<false>(a, dim, keepdim, "min");
}
Tensor argmax(const Tensor& a) {
  TG_CHECK(a.numel() > 0, "argmax: cannot take the argmax of an empty tensor (shape {})", a.shape());
  NoGradGuard guard;
  return arg_extremum<true>(a.reshape({-1}), 0, false, "argmax").indices;
}
Tensor argmax(const Tensor& a, std::int64_t dim, bool keepdim) {
  NoGradGuard guard;
  return arg_extremum<true>(a, dim, keepdim, "argmax").indices;
}

Tensor sum_to_size(const Tensor& a, IntArrayRef shape) {
  const std::int64_t lead = a.dim() - static_cast<std::int64_t>(shape.size());
  TG_CHECK(lead >= 0, "sum_to_size: shape {} has more dims than the tensor's shape {}", shape, a.shape());
  DimVec dims;
  for (std::int64_t d = 0; d < a.dim(); ++d) {
    if (d < lead) {
      dims.push_back(d);
      continue;
    }
    const std::int64_t want = shape[d - lead], have = a.shape().data()[d];
    TG_CHECK(want == have || want == 1, "sum_to_size: shape {} is not expandable to the tensor's shape {}", shape,
             a.shape());
    if (want == 1 && have != 1) dims.push_back(d);
  }
  // Only size-1 dims differ (a [1, 32] gradient for a [32] bias): nothing to add up.
  if (dims.empty() || a.numel() == numel_of(shape)) return a.reshape(shape);
  return sum_impl(a, dims, true).reshape(shape);
}

// ---- statistics: var, std, norm, logsumexp (compositions of the reductions above)
// ------------------------------------------------------------------------------

Tensor var(const Tensor& x, IntArrayRef dims, bool unbiased, bool keepdim) {
  TG_CHECK(is_floating(x.dtype()), "var: expected a floating-point tensor, got {}", dtype_name(x.dtype()));
  const Tensor centered = dims.empty() ? sub(x, mean(x)) : sub(x, mean(x, dims, true));
  const Tensor sq = mul(centered, centered);
  const Tensor total =
      dims.empty() ? (keepdim ? sum(sq).reshape(DimVec::filled(x.dim(), 1)) : sum(sq)) : sum(sq, dims, keepdim);
  const std::int64_t n = x.numel() / std::max<std::int64_t>(total.numel(), 1);
  return div(total, static_cast<double>(unbiased ? n - 1 : n));  // n - 1 = 0 gives inf/NaN, as in PyTorch
}

Tensor std(const Tensor& x, IntArrayRef dims, bool unbiased, bool keepdim) {
  return sqrt(var(x, dims, unbiased, keepdim));
}

Tensor norm(const Tensor& x, double p, IntArrayRef dims, bool keepdim) {
  TG_CHECK(is_floating(x.dtype()), "norm: expected a floating-point tensor, got {}", dtype_name(x.dtype()));
  auto reduce_sum = [&](const Tensor& t) {
    if (!dims.empty()) return sum(t, dims, keepdim);
    return keepdim ? sum(t).reshape(DimVec::filled(x.dim(), 1)) : sum(t);
  };
  if (p == 1.0) return reduce_sum(abs(x));
  if (std::isinf(p) && p > 0) {
    const Tensor a = abs(x);
    if (!dims.empty()) return amax(a, dims, keepdim);
    return keepdim ? amax(a).reshape(DimVec::filled(x.dim(), 1)) : amax(a);
  }
  TG_CHECK(p == 2.0, "norm: p must be 1, 2 or infinity, got {}", p);
  Tensor out;
  {
    NoGradGuard guard;
    out = sqrt(reduce_sum(mul(x, x)));
  }
  if (autograd::needs_grad(x)) {
    // d||x||/dx = x / ||x||, taken as 0 where the norm is 0 (as PyTorch does).
    DimVec keep_shape = x.shape();
    if (dims.empty()) keep_shape = DimVec::filled(x.dim(), 1);
    else
      for (auto d : dims) keep_shape[normalize_dim(d, x.dim(), "norm")] = 1;
    autograd::record("norm", out, {&x},
                     [sx = SavedTensor::input(x), so = SavedTensor::output(out), keep_shape](BackwardContext& c) {
      const Tensor n = c.unpack(so).reshape(keep_shape);
      const Tensor g = c.grad().reshape(keep_shape);
      c.set(0, detail::ternary_floating(c.unpack(sx), g, n, "norm_backward", [](auto v, auto gv, auto nv) {
              return nv == 0 ? decltype(v)(0) : v * gv / nv;
            }));
    });
  }
  return out;
}

Tensor logsumexp(const Tensor& x, IntArrayRef dims, bool keepdim) {
  TG_CHECK(!dims.empty(), "logsumexp: dims must not be empty");
  for (auto d : dims) normalize_dim(d, x.dim(), "logsumexp");
  TG_CHECK(is_floating(x.dtype()), "logsumexp: expected a floating-point tensor, got {}", dtype_name(x.dtype()));
  Tensor m;
  {
    NoGradGuard guard;  // the shift is a constant for the gradient
    m = amax(x, dims, true);
    m = where(ne(abs(m), std::numeric_limits<double>::infinity()), m, 0.0);
  }
  Tensor out = add(log(sum(exp(sub(x, m)), dims, true)), m);
  if (!keepdim) {
    DimVec shape;
    bool reduced[kMaxDims] = {};
    for (auto d : dims) reduced[normalize_dim(d, x.dim(), "logsumexp")] = true;
    for (std::int64_t i = 0; i < x.dim(); ++i)
      if (!reduced[i]) shape.push_back(x.shape().data()[i]);
    out = out.reshape(shape);
  }
  return out;
}

}  // namespace tg

// Fused layer normalisation. For a row x of D elements, with xhat = (x - mean) * rstd and
// rstd = 1 / sqrt(var + eps):
//   y  = xhat * w + b
//   dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)),  where gw = g * w
//   dw = sum over rows of g * xhat,  db = sum over rows of g.
// Forward reads a row once for its statistics and once (from L1) to write y; backward reads it
// once for the two row sums (and the row's share of dw and db) and once to write dx. The row
// sums run in lanes of 32-byte vectors (GCC's vector extension, which clang also takes): GCC
// does not vectorise a scalar reduction without reassociating it. The weight and bias gradients
// are summed per fixed block of rows and the blocks added in order, so they do not depend on the
// thread count.
//
// Statistics in one pass, in double: with d = x - k for a shift k = x[0] (an element of the row),
// S1 = sum d and S2 = sum d^2, mean = k + S1 / D and var = (S2 - S1^2 / D) / D. S2 = D var +
// D (mean - k)^2 and (mean - k)^2 <= D var (one squared deviation is at most their sum), so the
// subtraction loses at most a factor 2 D + 1 of double's precision (5e-13 relative for D = 1024),
// where the sum of squares without a shift could lose everything.
#include "tapegrad/core/ops/norm.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/parallel.h"
#include "tapegrad/core/autograd.h"
#include "tensor_detail.h"

namespace tg {
namespace {

using autograd::BackwardContext;
using autograd::SavedTensor;

constexpr std::int64_t kRowsPerBlock = 64;

// Without AVX (the sanitizer presets build without -march=native) GCC warns that passing 32-byte
// vectors by value has another ABI than with AVX: these helpers are internal and inlined, no ABI
// is crossed.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
// One 32-byte vector of T, the lanes of the backward's row sums.
template <typename T>
struct Lanes;
template <>
struct Lanes<float> {
  static constexpr int kN = 8;
  typedef float V __attribute__((vector_size(32)));  // NOLINT(modernize-use-using): GCC attribute syntax
};
template <>
struct Lanes<double> {
  static constexpr int kN = 4;
  typedef double V __attribute__((vector_size(32)));  // NOLINT(modernize-use-using)
};

template <typename T>
typename Lanes<T>::V load(const T* p) {
  typename Lanes<T>::V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T>
void store(T* p, const typename Lanes<T>::V& v) {
  std::memcpy(p, &v, sizeof v);
}

typedef double D4 __attribute__((vector_size(32)));  // NOLINT(modernize-use-using)
typedef float F4 __attribute__((vector_size(16)));   // NOLINT(modernize-use-using)

/// Four elements from p as doubles (one 32-byte vector: wider generic vectors end up on the stack).
template <typename T>
D4 load4d(const T* p) {
  if constexpr (std::is_same_v<T, float>) {
    F4 v;
    std::memcpy(&v, p, sizeof v);
    return __builtin_convertvector(v, D4);
  } else {
    D4 v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
}

/// mean and 1 / sqrt(var + eps) of a row of D >= 1 elements, in one read (see the top of the
/// file), in two vectors of 4 double lanes for each sum.
template <typename T>
void row_stats(const T* __restrict x, std::int64_t D, double eps, T& mean, T& rstd) {
  const double k = static_cast<double>(x[0]);
  D4 s0 = {}, s1 = {}, q0 = {}, q1 = {};
  std::int64_t i = 0;
  for (; i + 8 <= D; i += 8) {
    const D4 d0 = load4d(x + i) - k, d1 = load4d(x + i + 4) - k;
    s0 += d0;
    s1 += d1;
    q0 += d0 * d0;
    q1 += d1 * d1;
  }
  double sum = 0, sq = 0;
  for (int l = 0; l < 4; ++l) {
    sum += s0[l] + s1[l];
    sq += q0[l] + q1[l];
  }
  for (; i < D; ++i) {
    const double d = static_cast<double>(x[i]) - k;
    sum += d;
    sq += d * d;
  }
  const double n = static_cast<double>(D);
  const double var = std::max(0.0, (sq - sum * sum / n) / n);
  mean = static_cast<T>(k + sum / n);
  rstd = static_cast<T>(1.0 / std::sqrt(var + eps));
}

/// y = (x - m) * rs * w + b for one row; w and b may be null.
template <typename T>
void row_output(const T* __restrict x, const T* __restrict w, const T* __restrict b, T* __restrict y, std::int64_t D,
                T m, T rs) {
  if (w != nullptr && b != nullptr)
    for (std::int64_t j = 0; j < D; ++j) y[j] = (x[j] - m) * rs * w[j] + b[j];
  else if (w != nullptr)
    for (std::int64_t j = 0; j < D; ++j) y[j] = (x[j] - m) * rs * w[j];
  else if (b != nullptr)
    for (std::int64_t j = 0; j < D; ++j) y[j] = (x[j] - m) * rs + b[j];
  else
    for (std::int64_t j = 0; j < D; ++j) y[j] = (x[j] - m) * rs;
}

template <typename T>
void layer_norm_forward(const T* x, const T* w, const T* b, T* y, T* mean_out, T* rstd_out, std::int64_t rows,
                        std::int64_t D, double eps) {
  kernels::parallel_for(rows, std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(D, 1)),
                        [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      row_stats(x + r * D, D, eps, mean_out[r], rstd_out[r]);
      row_output(x + r * D, w, b, y + r * D, D, mean_out[r], rstd_out[r]);
    }
  });
}

/// One row of the backward. The read pass: xhat = (x - m) rs and gw = g w (g without a weight,
/// kW false), the row sums sum(gw) and sum(gw xhat) in lanes, and the row's share of the weight
/// and bias gradients added to bw (g xhat, if kAccW) and bb (g, if kAccB). The write pass (gx not
/// null): gx = rs (gw - mean(gw) - xhat mean(gw xhat)).
template <typename T, bool kW, bool kAccW, bool kAccB>
void row_backward(const T* __restrict x, const T* __restrict w, const T* __restrict g, T m, T rs, T* __restrict bw,
                  T* __restrict bb, T* __restrict gx, std::int64_t D) {
  using L = Lanes<T>;
  using V = typename L::V;
  V s1 = {}, s2 = {};
  std::int64_t j = 0;
  for (; j + L::kN <= D; j += L::kN) {
    const V gv = load(g + j);
    const V xh = (load(x + j) - m) * rs;
    V gw = gv;
    if constexpr (kW) gw *= load(w + j);
    s1 += gw;
    s2 += gw * xh;
    if constexpr (kAccW) store(bw + j, load(bw + j) + gv * xh);
    if constexpr (kAccB) store(bb + j, load(bb + j) + gv);
  }
  T sum_gw = 0, sum_gwx = 0;
  for (int l = 0; l < L::kN; ++l) {
    sum_gw += s1[l];
    sum_gwx += s2[l];
  }
  for (; j < D; ++j) {
    const T xh = (x[j] - m) * rs;
    const T gw = kW ? g[j] * w[j] : g[j];
    sum_gw += gw;
    sum_gwx += gw * xh;
    if constexpr (kAccW) bw[j] += g[j] * xh;
    if constexpr (kAccB) bb[j] += g[j];
  }
  if (gx == nullptr) return;
  const T mean_gw = sum_gw / static_cast<T>(D), mean_gwx = sum_gwx / static_cast<T>(D);
  for (j = 0; j < D; ++j) {
    const T gw = kW ? g[j] * w[j] : g[j];
    gx[j] = rs * (gw - mean_gw - (x[j] - m) * rs * mean_gwx);
  }
}

template <typename T>
void layer_norm_backward(const T* x, const T* w, const T* g, const T* mean, const T* rstd, T* gx, T* gw, T* gb,
                         std::int64_t rows, std::int64_t D, std::int64_t g_stride) {
  const std::int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  std::vector<T> pw(gw != nullptr ? static_cast<std::size_t>(blocks * D) : 0);  // zeros
  std::vector<T> pb(gb != nullptr ? static_cast<std::size_t>(blocks * D) : 0);
  auto run = [&](auto row) {
    kernels::parallel_for(blocks, 1, [&](std::int64_t b0, std::int64_t b1) {
      for (std::int64_t blk = b0; blk < b1; ++blk) {
        T* bw = gw != nullptr ? pw.data() + blk * D : nullptr;
        T* bb = gb != nullptr ? pb.data() + blk * D : nullptr;
        for (std::int64_t r = blk * kRowsPerBlock; r < std::min(rows, (blk + 1) * kRowsPerBlock); ++r)
          row(x + r * D, w, g + r * g_stride, mean[r], rstd[r], bw, bb, gx != nullptr ? gx + r * D : nullptr, D);
      }
    });
  };
  // gw is only asked for with a weight (w not null).
  const bool has_w = w != nullptr, acc_w = gw != nullptr, acc_b = gb != nullptr;
  if (has_w && acc_w && acc_b) run(row_backward<T, true, true, true>);
  else if (has_w && acc_w) run(row_backward<T, true, true, false>);
  else if (has_w && acc_b) run(row_backward<T, true, false, true>);
  else if (has_w) run(row_backward<T, true, false, false>);
  else if (acc_b) run(row_backward<T, false, false, true>);
  else run(row_backward<T, false, false, false>);
  // out[j] = block 0 + block 1 + ... in this order for every j, a row of blocks at a time.
  auto add_blocks = [&](const std::vector<T>& part, T* out) {
    kernels::parallel_for(D, 4096, [&](std::int64_t j0, std::int64_t j1) {
      std::copy(part.begin() + j0, part.begin() + j1, out + j0);
      for (std::int64_t blk = 1; blk < blocks; ++blk) {
        const T* __restrict p = part.data() + blk * D;
        T* __restrict o = out;
        for (std::int64_t j = j0; j < j1; ++j) o[j] += p[j];
      }
    });
  };
  if (gw != nullptr) add_blocks(pw, gw);
  if (gb != nullptr) add_blocks(pb, gb);
}

}  // namespace

Tensor layer_norm(const Tensor& x, IntArrayRef normalized_shape, const Tensor& weight, const Tensor& bias, double eps) {
  const auto nd = static_cast<std::int64_t>(normalized_shape.size());
  TG_CHECK(nd >= 1, "layer_norm: normalized_shape must have at least one dim");
  TG_CHECK(x.dim() >= nd, "layer_norm: input of shape {} has fewer dims than normalized_shape {}", x.shape(),
           normalized_shape);
  for (std::int64_t i = 0; i < nd; ++i) {
    TG_CHECK(x.shape()[x.dim() - nd + i] == normalized_shape[i],
             "layer_norm: the input's last dims {} do not match normalized_shape {} (input shape {})",
             IntArrayRef(x.shape().data() + x.dim() - nd, static_cast<std::size_t>(nd)), normalized_shape, x.shape());
  }
  for (const Tensor* p : {&weight, &bias}) {
    if (!p->defined()) continue;
    TG_CHECK(same_values(p->shape(), normalized_shape), "layer_norm: {} has shape {}, expected normalized_shape {}",
             p == &weight ? "weight" : "bias", p->shape(), normalized_shape);
    TG_CHECK(p->dtype() == x.dtype(), "layer_norm: {} is {} but the input is {}", p == &weight ? "weight" : "bias",
             dtype_name(p->dtype()), dtype_name(x.dtype()));
  }
  TG_CHECK(eps >= 0, "layer_norm: eps must be non-negative, got {}", eps);
  const std::int64_t D = numel_of(normalized_shape), rows = D == 0 ? 0 : x.numel() / D;
  const Tensor xc = detail::as_contiguous(x);
  const Tensor wc = weight.defined() ? detail::as_contiguous(weight) : Tensor();
  const Tensor bc = bias.defined() ? detail::as_contiguous(bias) : Tensor();
  Tensor y = detail::new_empty(x.shape(), x.dtype());
  Tensor mean = detail::new_empty({rows}, x.dtype()), rstd = detail::new_empty({rows}, x.dtype());
  dispatch_floating(x.dtype(), "layer_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    layer_norm_forward<T>(xc.data<T>(), wc.defined() ? wc.data<T>() : nullptr, bc.defined() ? bc.data<T>() : nullptr,
                          y.data<T>(), mean.data<T>(), rstd.data<T>(), rows, D, eps);
  });
  const bool needs = autograd::needs_grad(x) || (weight.defined() && autograd::needs_grad(weight)) ||
                     (bias.defined() && autograd::needs_grad(bias));
  if (needs) {
    std::vector<const Tensor*> inputs{&x};
    if (weight.defined()) inputs.push_back(&weight);
    if (bias.defined()) inputs.push_back(&bias);
    autograd::record(
        "layer_norm", y, inputs,
        [sx = SavedTensor::input(xc), sw = wc.defined() ? SavedTensor::input(wc) : SavedTensor(), mean, rstd, rows, D,
         nshape = DimVec(normalized_shape), has_w = weight.defined(), has_b = bias.defined()](BackwardContext& c) {
      // A gradient whose rows are all one row (sum's backward is an expand of a scalar, the
      // leading dims have stride 0) is read as that one row, with row stride 0, instead of being
      // copied out to rows * D elements.
      Tensor g = c.grad();
      const std::int64_t lead = g.dim() - static_cast<std::int64_t>(nshape.size());
      bool one_row = rows > 1;
      for (std::int64_t d = 0; d < lead && one_row; ++d) one_row = g.stride(d) == 0 || g.size(d) == 1;
      if (one_row)
        for (std::int64_t d = 0; d < lead; ++d) g = g.select(0, 0);
      g = detail::as_contiguous(g);
      const std::int64_t g_stride = one_row ? 0 : D;
      const Tensor& xv = c.unpack(sx);
      const Tensor wv = has_w ? c.unpack(sw) : Tensor();
      const std::size_t iw = 1, ib = has_w ? 2 : 1;
      Tensor gx = c.needs(0) ? detail::new_empty(xv.shape(), xv.dtype()) : Tensor();
      Tensor gw = has_w && c.needs(iw) ? detail::new_empty(wv.shape(), xv.dtype()) : Tensor();
      Tensor gb = has_b && c.needs(ib) ? detail::new_empty({D}, xv.dtype()) : Tensor();
      dispatch_floating(xv.dtype(), "layer_norm_backward", [&](auto tag) {
        using T = typename decltype(tag)::type;
        layer_norm_backward<T>(xv.data<T>(), has_w ? wv.data<T>() : nullptr, g.data<T>(), mean.data<T>(),
                               rstd.data<T>(), gx.defined() ? gx.data<T>() : nullptr,
                               gw.defined() ? gw.data<T>() : nullptr, gb.defined() ? gb.data<T>() : nullptr, rows, D,
                               g_stride);
      });
      if (gx.defined()) c.set(0, gx);
      if (gw.defined()) c.set(iw, gw);
      if (gb.defined()) c.set(ib, gb.view(nshape));
        });
  }
  return y;
}

}  // namespace tg

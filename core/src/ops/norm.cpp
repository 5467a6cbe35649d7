// Fused layer normalisation. For a row x of D elements, with xhat = (x - mean) * rstd and
// rstd = 1 / sqrt(var + eps):
//   y  = xhat * w + b
//   dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)),  where gw = g * w
//   dw = sum over rows of g * xhat,  db = sum over rows of g.
// The weight and bias gradients are summed per fixed block of rows and the blocks added in
// order, so they do not depend on the thread count. Statistics accumulate in double.
#include "tapegrad/core/ops/norm.h"

#include <cmath>
#include <vector>

#include "kernels/parallel.h"
#include "tapegrad/core/autograd.h"
#include "tensor_detail.h"

namespace tg {
namespace {

using autograd::BackwardContext;
using autograd::SavedTensor;

constexpr std::int64_t kRowsPerBlock = 64;

template <typename T>
void layer_norm_forward(const T* x, const T* w, const T* b, T* y, T* mean_out, T* rstd_out, std::int64_t rows,
                        std::int64_t D, double eps) {
  kernels::parallel_for(rows, std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(D, 1)),
                        [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * D;
      double s[4] = {}, q[4] = {};
      std::int64_t i = 0;
      for (; i + 4 <= D; i += 4)
        for (int l = 0; l < 4; ++l) s[l] += static_cast<double>(xr[i + l]);
      for (; i < D; ++i) s[0] += static_cast<double>(xr[i]);
      const double mean = (s[0] + s[1] + s[2] + s[3]) / static_cast<double>(D);
      for (i = 0; i + 4 <= D; i += 4)
        for (int l = 0; l < 4; ++l) {
          const double d = static_cast<double>(xr[i + l]) - mean;
          q[l] += d * d;
        }
      for (; i < D; ++i) {
        const double d = static_cast<double>(xr[i]) - mean;
        q[0] += d * d;
      }
      const double var = (q[0] + q[1] + q[2] + q[3]) / static_cast<double>(D);
      const T m = static_cast<T>(mean), rs = static_cast<T>(1.0 / std::sqrt(var + eps));
      mean_out[r] = m;
      rstd_out[r] = rs;
      T* yr = y + r * D;
      if (w != nullptr && b != nullptr)
        for (std::int64_t j = 0; j < D; ++j) yr[j] = (xr[j] - m) * rs * w[j] + b[j];
      else if (w != nullptr)
        for (std::int64_t j = 0; j < D; ++j) yr[j] = (xr[j] - m) * rs * w[j];
      else
        for (std::int64_t j = 0; j < D; ++j) yr[j] = (xr[j] - m) * rs + (b != nullptr ? b[j] : T(0));
    }
  });
}

template <typename T>
void layer_norm_backward(const T* x, const T* w, const T* g, const T* mean, const T* rstd, T* gx, T* gw, T* gb,
                         std::int64_t rows, std::int64_t D) {
  const std::int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  std::vector<T> pw(gw != nullptr ? static_cast<std::size_t>(blocks * D) : 0);
  std::vector<T> pb(gb != nullptr ? static_cast<std::size_t>(blocks * D) : 0);
  kernels::parallel_for(blocks, 1, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t blk = b0; blk < b1; ++blk) {
      T* bw = gw != nullptr ? pw.data() + blk * D : nullptr;
      T* bb = gb != nullptr ? pb.data() + blk * D : nullptr;
      if (bw != nullptr) std::fill(bw, bw + D, T(0));
      if (bb != nullptr) std::fill(bb, bb + D, T(0));
      for (std::int64_t r = blk * kRowsPerBlock; r < std::min(rows, (blk + 1) * kRowsPerBlock); ++r) {
        const T* xr = x + r * D;
        const T* gr = g + r * D;
        const T m = mean[r], rs = rstd[r];
        if (bw != nullptr)
          for (std::int64_t j = 0; j < D; ++j) bw[j] += gr[j] * (xr[j] - m) * rs;
        if (bb != nullptr)
          for (std::int64_t j = 0; j < D; ++j) bb[j] += gr[j];
        if (gx == nullptr) continue;
        T s1[4] = {}, s2[4] = {};  // sum(g w) and sum(g w xhat)
        std::int64_t j = 0;
        for (; j + 4 <= D; j += 4)
          for (int l = 0; l < 4; ++l) {
            const T gwv = gr[j + l] * (w != nullptr ? w[j + l] : T(1));
            s1[l] += gwv;
            s2[l] += gwv * (xr[j + l] - m) * rs;
          }
        for (; j < D; ++j) {
          const T gwv = gr[j] * (w != nullptr ? w[j] : T(1));
          s1[0] += gwv;
          s2[0] += gwv * (xr[j] - m) * rs;
        }
        const T mean_gw = (s1[0] + s1[1] + s1[2] + s1[3]) / static_cast<T>(D);
        const T mean_gwx = (s2[0] + s2[1] + s2[2] + s2[3]) / static_cast<T>(D);
        T* gxr = gx + r * D;
        for (j = 0; j < D; ++j) {
          const T gwv = gr[j] * (w != nullptr ? w[j] : T(1));
          gxr[j] = rs * (gwv - mean_gw - (xr[j] - m) * rs * mean_gwx);
        }
      }
    }
  });
  auto add_blocks = [&](const std::vector<T>& part, T* out) {
    kernels::parallel_for(D, 4096, [&](std::int64_t j0, std::int64_t j1) {
      for (std::int64_t j = j0; j < j1; ++j) {
        T s = part[static_cast<std::size_t>(j)];
        for (std::int64_t blk = 1; blk < blocks; ++blk) s += part[static_cast<std::size_t>(blk * D + j)];
        out[j] = s;
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
      const Tensor g = detail::as_contiguous(c.grad());
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
                               gw.defined() ? gw.data<T>() : nullptr, gb.defined() ? gb.data<T>() : nullptr, rows, D);
      });
      if (gx.defined()) c.set(0, gx);
      if (gw.defined()) c.set(iw, gw);
      if (gb.defined()) c.set(ib, gb.view(nshape));
        });
  }
  return y;
}

}  // namespace tg

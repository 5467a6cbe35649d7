// Upsampling of [N, C, H, W] planes. Both modes are separable: each output row reads one or two
// input rows and each output column one or two input columns, with weights that depend only on
// the row or the column. Those taps are computed once per call (Taps below), then every plane
// runs in parallel, forward and backward alike; a plane's backward adds into its own gradient
// plane in a fixed order, so it is deterministic.
#include "tapegrad/core/ops/upsample.h"

#include <cmath>
#include <vector>

#include "kernels/parallel.h"
#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tensor_detail.h"

namespace tg {
namespace {

using autograd::BackwardContext;

/// For each output index along one axis: the two source indices and the weight of each.
/// Nearest taps have nearest set and use lo only: a copy, so that inf and NaN pass unchanged.
template <typename T>
struct Taps {
  std::vector<std::int64_t> lo, hi;
  std::vector<T> weight_lo, weight_hi;
  bool nearest = false;
};

/// PyTorch's nearest rule, in float as its CPU kernel computes it: source = floor(i * scale)
/// with scale = 1 / scale_factor (or in / out), clamped to in - 1.
Taps<double> nearest_taps(std::int64_t in, std::int64_t out, std::optional<double> scale_factor) {
  const float scale =
      scale_factor ? static_cast<float>(1.0 / *scale_factor) : static_cast<float>(in) / static_cast<float>(out);
  Taps<double> t;
  t.nearest = true;
  for (std::int64_t i = 0; i < out; ++i)
    t.lo.push_back(std::min(static_cast<std::int64_t>(std::floor(static_cast<float>(i) * scale)), in - 1));
  return t;
}

/// The linear taps of one axis, in the input's precision T (PyTorch's area_pixel rules).
template <typename T>
Taps<T> linear_taps(std::int64_t in, std::int64_t out, bool align_corners, std::optional<double> scale_factor) {
  T scale;
  if (align_corners) scale = out > 1 ? static_cast<T>(in - 1) / static_cast<T>(out - 1) : T(0);
  else scale = scale_factor ? static_cast<T>(1.0 / *scale_factor) : static_cast<T>(in) / static_cast<T>(out);
  Taps<T> t;
  for (std::int64_t i = 0; i < out; ++i) {
    T src = align_corners ? scale * static_cast<T>(i) : scale * (static_cast<T>(i) + T(0.5)) - T(0.5);
    if (src < 0) src = 0;
    const auto lo = std::min(static_cast<std::int64_t>(src), in - 1);
    const std::int64_t hi = lo + (lo < in - 1 ? 1 : 0);
    const T w_hi = src - static_cast<T>(lo);
    t.lo.push_back(lo);
    t.hi.push_back(hi);
    t.weight_lo.push_back(T(1) - w_hi);
    t.weight_hi.push_back(w_hi);
  }
  return t;
}

template <typename T>
Taps<T> nearest_as(const Taps<double>& d) {
  Taps<T> t;
  t.lo = d.lo;
  t.nearest = true;
  return t;
}

struct Geometry {
  std::int64_t planes, H, W, Ho, Wo;
};

Geometry check_and_measure(const Tensor& input, Int2 size, std::optional<Scale2> scales, const char* op) {
  TG_CHECK(input.dim() == 3 || input.dim() == 4, "{}: expected a 3-D or 4-D input [N, C, H, W], got shape {}", op,
           input.shape());
  dispatch_floating(input.dtype(), op, [](auto) {});
  TG_CHECK(size.h > 0 && size.w > 0, "{}: the output size must be positive, got {}x{}", op, size.h, size.w);
  const std::int64_t H = input.size(-2), W = input.size(-1);
  TG_CHECK(H > 0 && W > 0, "{}: the input's spatial size must be positive, got {}x{}", op, H, W);
  if (scales)
    TG_CHECK(scales->h > 0 && scales->w > 0 && std::isfinite(scales->h) && std::isfinite(scales->w),
             "{}: scale factors must be positive and finite, got ({}, {})", op, scales->h, scales->w);
  DimVec out_shape = input.shape();  // checked before the taps, which take memory per output row and column
  out_shape[input.dim() - 2] = size.h;
  out_shape[input.dim() - 1] = size.w;
  checked_nbytes(out_shape, input.dtype(), op);
  return {input.numel() / (H * W), H, W, size.h, size.w};
}

/// out[p, i, j] = sum over the taps (a, b) of wr[a] wc[b] in[p, rows[a], cols[b]].
template <typename T>
void resample_planes(const T* x, T* y, const Geometry& g, const Taps<T>& rows, const Taps<T>& cols) {
  kernels::parallel_for(g.planes, std::max<std::int64_t>(1, 4096 / (g.Ho * g.Wo)),
                        [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const T* plane = x + p * g.H * g.W;
      T* out = y + p * g.Ho * g.Wo;
      for (std::int64_t i = 0; i < g.Ho; ++i) {
        if (rows.nearest) {
          const T* r = plane + rows.lo[i] * g.W;
          for (std::int64_t j = 0; j < g.Wo; ++j) out[i * g.Wo + j] = r[cols.lo[j]];
          continue;
        }
        const T* r0 = plane + rows.lo[i] * g.W;
        const T* r1 = plane + rows.hi[i] * g.W;
        const T a0 = rows.weight_lo[i], a1 = rows.weight_hi[i];
        for (std::int64_t j = 0; j < g.Wo; ++j) {
          const std::int64_t c0 = cols.lo[j], c1 = cols.hi[j];
          const T b0 = cols.weight_lo[j], b1 = cols.weight_hi[j];
          out[i * g.Wo + j] = a0 * (b0 * r0[c0] + b1 * r0[c1]) + a1 * (b0 * r1[c0] + b1 * r1[c1]);
        }
      }
    }
  });
}

/// The transpose of resample_planes: every output gradient goes back to its taps.
template <typename T>
void resample_planes_backward(const T* gy, T* gx, const Geometry& g, const Taps<T>& rows, const Taps<T>& cols) {
  kernels::parallel_for(g.planes, std::max<std::int64_t>(1, 4096 / (g.Ho * g.Wo)),
                        [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      T* plane = gx + p * g.H * g.W;
      const T* grad = gy + p * g.Ho * g.Wo;
      for (std::int64_t i = 0; i < g.Ho; ++i) {
        if (rows.nearest) {
          T* r = plane + rows.lo[i] * g.W;
          for (std::int64_t j = 0; j < g.Wo; ++j) r[cols.lo[j]] += grad[i * g.Wo + j];
          continue;
        }
        T* r0 = plane + rows.lo[i] * g.W;
        T* r1 = plane + rows.hi[i] * g.W;
        const T a0 = rows.weight_lo[i], a1 = rows.weight_hi[i];
        for (std::int64_t j = 0; j < g.Wo; ++j) {
          const std::int64_t c0 = cols.lo[j], c1 = cols.hi[j];
          const T b0 = cols.weight_lo[j], b1 = cols.weight_hi[j], v = grad[i * g.Wo + j];
          r0[c0] += a0 * b0 * v;
          r0[c1] += a0 * b1 * v;
          r1[c0] += a1 * b0 * v;
          r1[c1] += a1 * b1 * v;
        }
      }
    }
  });
}

/// Runs the resampling with the taps that make_taps(T{}) gives for the input's dtype, and
/// records its backward.
template <typename MakeTaps>
Tensor resample(const Tensor& input, const Geometry& g, const char* op, MakeTaps make_taps) {
  const Tensor x = detail::as_contiguous(input);
  DimVec out_shape = input.shape();
  out_shape[input.dim() - 2] = g.Ho;
  out_shape[input.dim() - 1] = g.Wo;
  Tensor out = detail::new_empty(out_shape, input.dtype(), op);
  dispatch_floating(input.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const auto [rows, cols] = make_taps(T{});
    resample_planes<T>(x.data<T>(), out.data<T>(), g, rows, cols);
  });
  if (autograd::needs_grad(input)) {
    autograd::record(op, out, {&input}, [g, make_taps, op, in_shape = input.shape()](BackwardContext& c) {
      const Tensor gy = detail::as_contiguous(c.grad());
      Tensor gx = zeros(in_shape, gy.dtype());
      dispatch_floating(gy.dtype(), op, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const auto [rows, cols] = make_taps(T{});
        resample_planes_backward<T>(gy.data<T>(), gx.data<T>(), g, rows, cols);
      });
      c.set(0, gx);
    });
  }
  return out;
}

std::optional<double> scale_h(std::optional<Scale2> s) { return s ? std::optional<double>(s->h) : std::nullopt; }
std::optional<double> scale_w(std::optional<Scale2> s) { return s ? std::optional<double>(s->w) : std::nullopt; }

}  // namespace

Tensor upsample_nearest2d(const Tensor& input, Int2 output_size, std::optional<Scale2> scales) {
  const char* op = "upsample_nearest2d";
  const Geometry g = check_and_measure(input, output_size, scales, op);
  const Taps<double> rows = nearest_taps(g.H, g.Ho, scale_h(scales)), cols = nearest_taps(g.W, g.Wo, scale_w(scales));
  return resample(input, g, op, [rows, cols](auto zero) {
    using T = decltype(zero);
    return std::pair{nearest_as<T>(rows), nearest_as<T>(cols)};
  });
}

Tensor upsample_bilinear2d(const Tensor& input, Int2 output_size, bool align_corners, std::optional<Scale2> scales) {
  const char* op = "upsample_bilinear2d";
  const Geometry g = check_and_measure(input, output_size, scales, op);
  return resample(input, g, op, [g, align_corners, scales](auto zero) {
    using T = decltype(zero);
    return std::pair{linear_taps<T>(g.H, g.Ho, align_corners, scale_h(scales)),
                     linear_taps<T>(g.W, g.Wo, align_corners, scale_w(scales))};
  });
}

}  // namespace tg

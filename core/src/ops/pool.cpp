// Pooling over the (H, W) planes of [N, C, H, W] (or [C, H, W]). Each plane is independent:
// planes run in parallel, and a plane's backward adds into its own gradient plane in a fixed
// order, so overlapping windows are deterministic.
#include "tapegrad/core/ops/pool.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "kernels/parallel.h"
#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops/conv.h"
#include "tensor_detail.h"

namespace tg {
namespace {

using autograd::BackwardContext;

/// The extent of a kernel of k taps d apart, d (k - 1) + 1, checked for overflow.
std::int64_t dilated_extent(std::int64_t k, std::int64_t d, const char* op) {
  return checked_add(checked_mul(d, k - 1, op, "the dilated kernel size"), 1, op, "the dilated kernel size");
}

/// in + 2 p, checked for overflow.
std::int64_t padded_extent(std::int64_t in, std::int64_t p, const char* op) {
  return checked_add(in, checked_mul(p, 2, op, "the padding"), op, "the padded input size");
}

/// Output length of a pooling window sweep, PyTorch's rule: in ceil_mode, a last window that
/// would start in the right padding is dropped. The caller has checked that the dilated kernel
/// fits in the padded input (so span >= 0); no step below can overflow.
std::int64_t pooled_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p, std::int64_t d,
                         bool ceil_mode, const char* op) {
  const std::int64_t span = padded_extent(in, p, op) - dilated_extent(k, d, op);
  std::int64_t out = span / s + (ceil_mode && span % s != 0 ? 1 : 0) + 1;
  if (ceil_mode && static_cast<__int128>(out - 1) * s >= static_cast<__int128>(in) + p) --out;
  return out;
}

struct PoolGeom {
  std::int64_t planes, H, W, Ho, Wo;
};

/// input as [planes, H, W] (contiguous), and the output shape with the same leading dims.
struct PoolInput {
  Tensor x;
  DimVec out_shape;
  PoolGeom g;
};

PoolInput prepare(const Tensor& input, std::int64_t Ho, std::int64_t Wo, const char* op) {
  PoolInput p;
  p.out_shape = input.shape();
  p.out_shape[input.dim() - 2] = Ho;
  p.out_shape[input.dim() - 1] = Wo;
  checked_numel(p.out_shape, op);
  p.x = detail::as_contiguous(input);
  const std::int64_t H = input.size(-2), W = input.size(-1);
  p.g = {input.numel() / std::max<std::int64_t>(H * W, 1), H, W, Ho, Wo};
  return p;
}

void check_input(const Tensor& input, const char* op) {
  TG_CHECK(input.dim() == 3 || input.dim() == 4, "{}: expected a 3-D or 4-D input [N, C, H, W], got shape {}", op,
           input.shape());
  dispatch_floating(input.dtype(), op, [](auto) {});
}

/// Backward of max-style pooling: the gradient goes to the recorded arg-max of each window.
Tensor scatter_to_argmax(const Tensor& g0, const Tensor& indices, IntArrayRef in_shape, const PoolGeom& geo) {
  const Tensor g = detail::as_contiguous(g0);
  Tensor gx = zeros(in_shape, g.dtype());
  const std::int64_t* ip = indices.data<std::int64_t>();
  dispatch_floating(g.dtype(), "max_pool2d_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* gp = g.data<T>();
    T* xp = gx.data<T>();
    const std::int64_t in_plane = geo.H * geo.W, out_plane = geo.Ho * geo.Wo;
    kernels::parallel_for(geo.planes, 1, [&](std::int64_t p0, std::int64_t p1) {
      for (std::int64_t pl = p0; pl < p1; ++pl)
        for (std::int64_t o = 0; o < out_plane; ++o) {
          const std::int64_t i = ip[pl * out_plane + o];
          if (i >= 0) xp[pl * in_plane + i] += gp[pl * out_plane + o];  // a window of padding only gets none
        }
    });
  });
  return gx;
}

/// Calls fn(plane, oh, ow, o) for every output position (oh, ow) of every plane: plane is the
/// plane's input [H, W], o the flat index (pl Ho + oh) Wo + ow of the output; planes in parallel.
template <typename T, typename Fn>
void for_each_output(const PoolGeom& g, const T* xp, Fn fn) {
  kernels::parallel_for(g.planes, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(g.H * g.W, 1)),
                        [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t pl = p0; pl < p1; ++pl) {
      const T* plane = xp + pl * g.H * g.W;
      for (std::int64_t oh = 0; oh < g.Ho; ++oh)
        for (std::int64_t ow = 0; ow < g.Wo; ++ow) fn(plane, oh, ow, (pl * g.Ho + oh) * g.Wo + ow);
    }
  });
}

/// Max over windows [h0, h1) x [w0, w1) stepping by (dh, dw), for every output position given
/// by `window(oh, ow) -> {h0, h1, w0, w1}`; NaN wins, as in PyTorch. Returns values and
/// flat (h W + w) arg-max indices.
template <typename Window>
ValuesIndices max_over_windows(const PoolInput& in, std::int64_t dh, std::int64_t dw, Window window, const char* op) {
  Tensor out = detail::new_empty(in.out_shape, in.x.dtype(), op);
  Tensor idx = detail::new_empty(in.out_shape, kInt64, op);
  const PoolGeom& g = in.g;
  dispatch_floating(in.x.dtype(), "max_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = in.x.data<T>();
    T* op = out.data<T>();
    std::int64_t* ip = idx.data<std::int64_t>();
    for_each_output(g, xp, [&](const T* plane, std::int64_t oh, std::int64_t ow, std::int64_t o) {
      const auto [h0, h1, w0, w1] = window(oh, ow);
      T best = -std::numeric_limits<T>::infinity();
      std::int64_t arg = -1;  // stays -1 when every tap is padding
      for (std::int64_t h = h0; h < h1; h += dh)
        for (std::int64_t w = w0; w < w1; w += dw) {
          const T v = plane[h * g.W + w];
          if (arg < 0 || v > best || v != v) {
            best = v;
            arg = h * g.W + w;
            if (v != v) goto done;
          }
        }
    done:
      op[o] = best;
      ip[o] = arg;
    });
  });
  return {out, idx};
}

// 2x2 windows with stride 2 that tile the plane (no padding, no dilation, even H and W), the
// pooling of most CNNs: every input element lies in exactly one window. Forward reads each pair
// of rows once and keeps, per window, the position of its max within the window (0..3, one
// byte: the scan order h then w, first max wins, the first NaN wins and stops, as in the general
// path); backward writes every input element once (the gradient at that position, 0 elsewhere),
// with no zero-fill and no scatter. Both loops are branch-free over a row, so they vectorise.

/// Windows ow0.. of one row of outputs from input rows r0 and r1 (loc may be null: no gradient
/// needed), one at a time.
template <typename T>
void max_2x2_scalar(const T* r0, const T* r1, T* out, std::uint8_t* loc, std::int64_t ow0, std::int64_t Wo) {
  for (std::int64_t ow = ow0; ow < Wo; ++ow) {
    const T v[4] = {r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]};
    T best = v[0];
    std::uint8_t k = 0;
    for (std::uint8_t j = 1; j < 4; ++j) {
      const bool take = best == best && (v[j] > best || v[j] != v[j]);  // NOLINT(misc-redundant-expression)
      best = take ? v[j] : best;
      k = take ? j : k;
    }
    out[ow] = best;
    if (loc) loc[ow] = k;
  }
}

// float rows, 8 windows at a time with GCC's vector extension (the compiler does not vectorise
// the loop above): two 8-float loads per input row, split into the even and odd columns.
// Without AVX (the sanitizer presets build without -march=native) GCC warns that passing these
// 32-byte vectors by value has another ABI than with AVX: the helpers are internal and inlined,
// no ABI is crossed.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
typedef float F8 __attribute__((vector_size(32)));         // NOLINT(modernize-use-using)
typedef std::int32_t I8 __attribute__((vector_size(32)));  // NOLINT(modernize-use-using)

inline F8 load8(const float* p) {
  F8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Two-vector shuffles with constant indices: GCC spells them __builtin_shuffle, clang (the fuzz
// build) __builtin_shufflevector.
#if defined(__clang__)
#define TG_SHUFFLE8(a, b, i0, i1, i2, i3, i4, i5, i6, i7) __builtin_shufflevector(a, b, i0, i1, i2, i3, i4, i5, i6, i7)
#else
#define TG_SHUFFLE8(a, b, i0, i1, i2, i3, i4, i5, i6, i7) __builtin_shuffle(a, b, I8{i0, i1, i2, i3, i4, i5, i6, i7})
#endif
/// The even (odd) elements of the 16 in a then b.
inline F8 even_of(F8 a, F8 b) { return TG_SHUFFLE8(a, b, 0, 2, 4, 6, 8, 10, 12, 14); }
inline F8 odd_of(F8 a, F8 b) { return TG_SHUFFLE8(a, b, 1, 3, 5, 7, 9, 11, 13, 15); }
/// a and b interleaved (a0 b0 a1 b1 ...): the first 8 (lo) and the last 8 (hi).
inline F8 interleave_lo(F8 a, F8 b) { return TG_SHUFFLE8(a, b, 0, 8, 1, 9, 2, 10, 3, 11); }
inline F8 interleave_hi(F8 a, F8 b) { return TG_SHUFFLE8(a, b, 4, 12, 5, 13, 6, 14, 7, 15); }
#undef TG_SHUFFLE8

template <typename T>
void max_2x2_row(const T* r0, const T* r1, T* out, std::uint8_t* loc, std::int64_t Wo) {
  std::int64_t ow = 0;
  if constexpr (std::is_same_v<T, float>) {
    for (; ow + 8 <= Wo; ow += 8) {
      const F8 a0 = load8(r0 + 2 * ow), a1 = load8(r0 + 2 * ow + 8);
      const F8 b0 = load8(r1 + 2 * ow), b1 = load8(r1 + 2 * ow + 8);
      const F8 v[4] = {even_of(a0, a1), odd_of(a0, a1), even_of(b0, b1), odd_of(b0, b1)};
      F8 best = v[0];
      I8 k = {};
      for (std::int32_t j = 1; j < 4; ++j) {
        const I8 take = (best == best) & ((v[j] > best) | (v[j] != v[j]));  // NOLINT(misc-redundant-expression)
        best = take ? v[j] : best;
        k = take ? I8{} + j : k;
      }
      std::memcpy(out + ow, &best, sizeof best);
      if (loc)
        for (int l = 0; l < 8; ++l) loc[ow + l] = static_cast<std::uint8_t>(k[l]);
    }
  }
  max_2x2_scalar(r0, r1, out, loc, ow, Wo);
}

/// The backward of one row of windows: each of the 2 x 2 Wo input elements gets g at the
/// window's max and 0 elsewhere.
template <typename T>
void max_2x2_backward_row(const T* g, const std::uint8_t* loc, T* x0, T* x1, std::int64_t Wo) {
  std::int64_t ow = 0;
  if constexpr (std::is_same_v<T, float>) {
    for (; ow + 8 <= Wo; ow += 8) {
      const F8 gv = load8(g + ow);
      I8 k;
      for (int l = 0; l < 8; ++l) k[l] = loc[ow + l];
      const F8 zero = {};
      const F8 e0 = k == 0 ? gv : zero, e1 = k == 1 ? gv : zero, e2 = k == 2 ? gv : zero, e3 = k == 3 ? gv : zero;
      const F8 o[4] = {interleave_lo(e0, e1), interleave_hi(e0, e1), interleave_lo(e2, e3), interleave_hi(e2, e3)};
      std::memcpy(x0 + 2 * ow, &o[0], sizeof(F8));
      std::memcpy(x0 + 2 * ow + 8, &o[1], sizeof(F8));
      std::memcpy(x1 + 2 * ow, &o[2], sizeof(F8));
      std::memcpy(x1 + 2 * ow + 8, &o[3], sizeof(F8));
    }
  }
  for (; ow < Wo; ++ow) {
    const T v = g[ow];
    const std::uint8_t k = loc[ow];
    x0[2 * ow] = k == 0 ? v : T(0);
    x0[2 * ow + 1] = k == 1 ? v : T(0);
    x1[2 * ow] = k == 2 ? v : T(0);
    x1[2 * ow + 1] = k == 3 ? v : T(0);
  }
}

Tensor max_pool2d_2x2(const Tensor& input, const PoolInput& in, const char* op) {
  const PoolGeom g = in.g;
  Tensor out = detail::new_empty(in.out_shape, in.x.dtype(), op);
  // One byte per window: the position of the max in it. A bool tensor is the byte buffer.
  const Tensor loc = autograd::needs_grad(input) ? detail::new_empty(in.out_shape, kBool, op) : Tensor();
  const std::int64_t rows = g.planes * g.Ho;  // output rows, each from two input rows
  dispatch_floating(in.x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = in.x.data<T>();
    T* op_ = out.data<T>();
    auto* lp = loc.defined() ? static_cast<std::uint8_t*>(loc.data_ptr()) : nullptr;
    kernels::parallel_for(rows, std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(g.W, 1)),
                          [&](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t r = r0; r < r1; ++r)
        max_2x2_row(xp + 2 * r * g.W, xp + (2 * r + 1) * g.W, op_ + r * g.Wo, lp ? lp + r * g.Wo : nullptr, g.Wo);
    });
  });
  if (loc.defined()) {
    autograd::record(op, out, {&input}, [loc, g, rows, in_shape = input.shape()](BackwardContext& c) {
      const Tensor gout = detail::as_contiguous(c.grad());
      Tensor gx = detail::new_empty(in_shape, gout.dtype());
      dispatch_floating(gout.dtype(), "max_pool2d_backward", [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* gp = gout.data<T>();
        const auto* lp = static_cast<const std::uint8_t*>(loc.data_ptr());
        T* xp = gx.data<T>();
        kernels::parallel_for(rows, std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(g.W, 1)),
                              [&](std::int64_t r0, std::int64_t r1) {
          for (std::int64_t r = r0; r < r1; ++r)
            max_2x2_backward_row(gp + r * g.Wo, lp + r * g.Wo, xp + 2 * r * g.W, xp + (2 * r + 1) * g.W, g.Wo);
        });
      });
      c.set(0, gx);
    });
  }
  return out;
}

/// Sum over windows divided by divisor(oh, ow); backward spreads g / divisor over each window.
template <typename Window>
Tensor average_over_windows(const Tensor& input, const PoolInput& in, Window window, const char* op) {
  Tensor out = detail::new_empty(in.out_shape, in.x.dtype(), op);
  const PoolGeom g = in.g;
  dispatch_floating(in.x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = in.x.data<T>();
    T* out_p = out.data<T>();
    for_each_output(g, xp, [&](const T* plane, std::int64_t oh, std::int64_t ow, std::int64_t o) {
      const auto [h0, h1, w0, w1, divisor] = window(oh, ow);
      T s = 0;
      for (std::int64_t h = h0; h < h1; ++h)
        for (std::int64_t w = w0; w < w1; ++w) s += plane[h * g.W + w];
      out_p[o] = s / static_cast<T>(divisor);
    });
  });
  if (autograd::needs_grad(input)) {
    autograd::record(op, out, {&input}, [g, window, in_shape = input.shape()](BackwardContext& c) {
      const Tensor gout = detail::as_contiguous(c.grad());
      Tensor gx = zeros(in_shape, gout.dtype());
      dispatch_floating(gout.dtype(), "avg_pool2d_backward", [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* gp = gout.data<T>();
        T* xp = gx.data<T>();
        kernels::parallel_for(g.planes, 1, [&](std::int64_t p0, std::int64_t p1) {
          for (std::int64_t pl = p0; pl < p1; ++pl) {
            T* plane = xp + pl * g.H * g.W;
            for (std::int64_t oh = 0; oh < g.Ho; ++oh)
              for (std::int64_t ow = 0; ow < g.Wo; ++ow) {
                const auto [h0, h1, w0, w1, divisor] = window(oh, ow);
                const T share = gp[(pl * g.Ho + oh) * g.Wo + ow] / static_cast<T>(divisor);
                for (std::int64_t h = h0; h < h1; ++h)
                  for (std::int64_t w = w0; w < w1; ++w) plane[h * g.W + w] += share;
              }
          }
        });
      });
      c.set(0, gx);
    });
  }
  return out;
}

struct Window4 {
  std::int64_t h0, h1, w0, w1;
};
struct Window5 {
  std::int64_t h0, h1, w0, w1, divisor;
};

/// Adaptive windows: [floor(i in / out), ceil((i + 1) in / out)).
/// In 128 bits: i * in overflows int64 when the output size times the input size does.
std::int64_t adaptive_start(std::int64_t i, std::int64_t in, std::int64_t out) {
  return static_cast<std::int64_t>(static_cast<__int128>(i) * in / out);
}
std::int64_t adaptive_end(std::int64_t i, std::int64_t in, std::int64_t out) {
  return static_cast<std::int64_t>((static_cast<__int128>(i + 1) * in + out - 1) / out);
}

void check_positive(Int2 v, const char* what, const char* op) {
  TG_CHECK(v.h > 0 && v.w > 0, "{}: {} must be positive, got ({}, {})", op, what, v.h, v.w);
}

/// Validates a window sweep's parameters for max_pool2d and avg_pool2d; returns the stride.
Int2 check_window_sweep(const Tensor& input, Int2 kernel, std::optional<Int2> stride_opt, Int2 padding, Int2 dilation,
                        const char* op) {
  check_input(input, op);
  const Int2 stride = stride_opt.value_or(kernel);
  check_positive(kernel, "kernel size", op);
  check_positive(stride, "stride", op);
  check_positive(dilation, "dilation", op);
  TG_CHECK(padding.h >= 0 && padding.w >= 0, "{}: negative padding ({}, {}) is not supported", op, padding.h,
           padding.w);
  TG_CHECK(padding.h <= kernel.h / 2 && padding.w <= kernel.w / 2,  // not padding * 2 <= kernel: it can overflow
           "{}: padding ({}, {}) must be at most half the kernel size ({}, {})", op, padding.h, padding.w, kernel.h,
           kernel.w);
  const std::int64_t H = input.size(-2), W = input.size(-1);
  const std::int64_t eh = dilated_extent(kernel.h, dilation.h, op), ew = dilated_extent(kernel.w, dilation.w, op);
  const std::int64_t ph = padded_extent(H, padding.h, op), pw = padded_extent(W, padding.w, op);
  TG_CHECK(eh <= ph && ew <= pw, "{}: the kernel ({}x{}{}) is larger than the padded input ({}x{})", op, eh, ew,
           dilation.h == 1 && dilation.w == 1 ? "" : " with dilation", ph, pw);
  return stride;
}

}  // namespace

Tensor max_pool2d(const Tensor& input, Int2 kernel, std::optional<Int2> stride_opt, Int2 padding, Int2 dilation,
                  bool ceil_mode) {
  const char* op = "max_pool2d";
  const Int2 stride = check_window_sweep(input, kernel, stride_opt, padding, dilation, op);
  const std::int64_t H = input.size(-2), W = input.size(-1);
  const std::int64_t eh = dilated_extent(kernel.h, dilation.h, op), ew = dilated_extent(kernel.w, dilation.w, op);
  const std::int64_t Ho = pooled_size(H, kernel.h, stride.h, padding.h, dilation.h, ceil_mode, op);
  const std::int64_t Wo = pooled_size(W, kernel.w, stride.w, padding.w, dilation.w, ceil_mode, op);
  const PoolInput in = prepare(input, Ho, Wo, op);
  if (kernel.h == 2 && kernel.w == 2 && stride.h == 2 && stride.w == 2 && padding.h == 0 && padding.w == 0 &&
      dilation.h == 1 && dilation.w == 1 && 2 * Ho == H && 2 * Wo == W)
    return max_pool2d_2x2(input, in, op);
  auto window = [=](std::int64_t oh, std::int64_t ow) {
    // Start at the first tap inside the input; padding never wins (it counts as -inf).
    std::int64_t h0 = oh * stride.h - padding.h, w0 = ow * stride.w - padding.w;
    const std::int64_t h1 = std::min(h0 + eh, H), w1 = std::min(w0 + ew, W);
    while (h0 < 0) h0 += dilation.h;
    while (w0 < 0) w0 += dilation.w;
    return Window4{h0, h1, w0, w1};
  };
  // A one-tap window never steps, so any dilation is 1 (h += a huge dilation would overflow).
  auto [out, idx] = max_over_windows(in, kernel.h == 1 ? 1 : dilation.h, kernel.w == 1 ? 1 : dilation.w, window, op);
  if (autograd::needs_grad(input)) {
    autograd::record(op, out, {&input}, [idx = idx, g = in.g, in_shape = input.shape()](BackwardContext& c) {
      c.set(0, scatter_to_argmax(c.grad(), idx, in_shape, g));
    });
  }
  return out;
}

Tensor avg_pool2d(const Tensor& input, Int2 kernel, std::optional<Int2> stride_opt, Int2 padding, bool ceil_mode,
                  bool count_include_pad) {
  const char* op = "avg_pool2d";
  const Int2 stride = check_window_sweep(input, kernel, stride_opt, padding, 1, op);
  const std::int64_t H = input.size(-2), W = input.size(-1);
  const std::int64_t Ho = pooled_size(H, kernel.h, stride.h, padding.h, 1, ceil_mode, op);
  const std::int64_t Wo = pooled_size(W, kernel.w, stride.w, padding.w, 1, ceil_mode, op);
  const PoolInput in = prepare(input, Ho, Wo, op);
  auto window = [=](std::int64_t oh, std::int64_t ow) {
    // PyTorch's divisor: the window clipped to the padded input, or to the input itself.
    std::int64_t h0 = oh * stride.h - padding.h, w0 = ow * stride.w - padding.w;
    std::int64_t h1 = std::min(h0 + kernel.h, H + padding.h), w1 = std::min(w0 + kernel.w, W + padding.w);
    const std::int64_t padded = (h1 - h0) * (w1 - w0);
    h0 = std::max<std::int64_t>(h0, 0), w0 = std::max<std::int64_t>(w0, 0);
    h1 = std::min(h1, H), w1 = std::min(w1, W);
    return Window5{h0, h1, w0, w1, count_include_pad ? padded : std::max<std::int64_t>((h1 - h0) * (w1 - w0), 1)};
  };
  return average_over_windows(input, in, window, op);
}

namespace {

/// The checks and the geometry of the adaptive pools: a 3-D or 4-D floating input whose spatial
/// size is positive, pooled to a positive output size.
PoolInput prepare_adaptive(const Tensor& input, Int2 size, const char* op) {
  check_input(input, op);
  check_positive(size, "output size", op);
  const std::int64_t H = input.size(-2), W = input.size(-1);
  TG_CHECK(H > 0 && W > 0, "{}: the input's spatial size must be positive, got {}x{}", op, H, W);
  return prepare(input, size.h, size.w, op);
}

}  // namespace

Tensor adaptive_avg_pool2d(const Tensor& input, Int2 size) {
  const char* op = "adaptive_avg_pool2d";
  const PoolInput in = prepare_adaptive(input, size, op);
  const std::int64_t H = in.g.H, W = in.g.W;
  auto window = [=](std::int64_t oh, std::int64_t ow) {
    const std::int64_t h0 = adaptive_start(oh, H, size.h), h1 = adaptive_end(oh, H, size.h);
    const std::int64_t w0 = adaptive_start(ow, W, size.w), w1 = adaptive_end(ow, W, size.w);
    return Window5{h0, h1, w0, w1, (h1 - h0) * (w1 - w0)};
  };
  return average_over_windows(input, in, window, op);
}

Tensor adaptive_max_pool2d(const Tensor& input, Int2 size) {
  const char* op = "adaptive_max_pool2d";
  const PoolInput in = prepare_adaptive(input, size, op);
  const std::int64_t H = in.g.H, W = in.g.W;
  auto window = [=](std::int64_t oh, std::int64_t ow) {
    return Window4{adaptive_start(oh, H, size.h), adaptive_end(oh, H, size.h), adaptive_start(ow, W, size.w),
                   adaptive_end(ow, W, size.w)};
  };
  auto [out, idx] = max_over_windows(in, 1, 1, window, op);
  if (autograd::needs_grad(input)) {
    autograd::record(op, out, {&input}, [idx = idx, g = in.g, in_shape = input.shape()](BackwardContext& c) {
      c.set(0, scatter_to_argmax(c.grad(), idx, in_shape, g));
    });
  }
  return out;
}

}  // namespace tg

// Convolution as im2col + GEMM.
//
// For one sample and one group, im2col lays the input windows out as a matrix cols [K, P]
// (K = C/groups * kH * kW rows, one per weight element; P = Ho * Wo columns, one per output
// position), so that out[O/groups, P] = W[O/groups, K] @ cols is a single GEMM. Backward:
//   dW += dout @ cols^T    and    dcols = W^T @ dout, scattered back by col2im.
// Samples run in parallel as TBB tasks (each GEMM single-threaded). The weight gradient is
// summed per fixed chunk of samples and the chunks are added in order, so the result does not
// depend on the thread count.
#include "tapegrad/core/ops/conv.h"

#include <algorithm>
#include <vector>

#include "kernels/blas.h"
#include "kernels/parallel.h"
#include "kernels/scratch.h"
#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops.h"
#include "tapegrad/core/ops/pool.h"
#include "tensor_detail.h"

namespace tg {
namespace {

using autograd::BackwardContext;
using autograd::SavedTensor;

struct ConvGeom {
  std::int64_t N, C, H, W, O, kh, kw, sh, sw, ph, pw, dh, dw, groups, Ho, Wo;
  std::int64_t Cg() const { return C / groups; }
  std::int64_t Og() const { return O / groups; }
  std::int64_t K() const { return Cg() * kh * kw; }
  std::int64_t P() const { return Ho * Wo; }
  bool is_pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
};

/// Output positions [lo, hi) whose input coordinate o * s + off falls inside [0, n).
std::pair<std::int64_t, std::int64_t> valid_range(std::int64_t off, std::int64_t s, std::int64_t n, std::int64_t out) {
  std::int64_t lo = off >= 0 ? 0 : (-off + s - 1) / s;
  std::int64_t hi = off > n - 1 ? 0 : (n - 1 - off) / s + 1;
  return {std::min(lo, out), std::clamp(hi, std::min(lo, out), out)};
}

/// cols[(c kH + i) kW + j, oh Wo + ow] = x[c, oh sh - ph + i dh, ow sw - pw + j dw] (0 outside).
template <typename T>
void im2col(const T* x, const ConvGeom& g, T* cols) {
  const std::int64_t P = g.P();
  for (std::int64_t c = 0; c < g.Cg(); ++c)
    for (std::int64_t i = 0; i < g.kh; ++i)
      for (std::int64_t j = 0; j < g.kw; ++j) {
        T* dst = cols + ((c * g.kh + i) * g.kw + j) * P;
        const std::int64_t hoff = i * g.dh - g.ph, woff = j * g.dw - g.pw;
        const auto [ow_lo, ow_hi] = valid_range(woff, g.sw, g.W, g.Wo);
        for (std::int64_t oh = 0; oh < g.Ho; ++oh) {
          T* row = dst + oh * g.Wo;
          const std::int64_t ih = oh * g.sh + hoff;
          if (ih < 0 || ih >= g.H) {
            std::fill(row, row + g.Wo, T(0));
            continue;
          }
          const T* src = x + (c * g.H + ih) * g.W + woff;
          std::fill(row, row + ow_lo, T(0));
          if (g.sw == 1) std::copy(src + ow_lo, src + ow_hi, row + ow_lo);
          else
            for (std::int64_t ow = ow_lo; ow < ow_hi; ++ow) row[ow] = src[ow * g.sw];
          std::fill(row + ow_hi, row + g.Wo, T(0));
        }
      }
}

/// The adjoint of im2col: gx[c, ih, iw] += dcols[...] (gx zeroed by the caller).
template <typename T>
void col2im(const T* cols, const ConvGeom& g, T* gx) {
  const std::int64_t P = g.P();
  for (std::int64_t c = 0; c < g.Cg(); ++c)
    for (std::int64_t i = 0; i < g.kh; ++i)
      for (std::int64_t j = 0; j < g.kw; ++j) {
        const T* src = cols + ((c * g.kh + i) * g.kw + j) * P;
        const std::int64_t hoff = i * g.dh - g.ph, woff = j * g.dw - g.pw;
        const auto [ow_lo, ow_hi] = valid_range(woff, g.sw, g.W, g.Wo);
        for (std::int64_t oh = 0; oh < g.Ho; ++oh) {
          const std::int64_t ih = oh * g.sh + hoff;
          if (ih < 0 || ih >= g.H) continue;
          T* dst = gx + (c * g.H + ih) * g.W + woff;
          const T* row = src + oh * g.Wo;
          for (std::int64_t ow = ow_lo; ow < ow_hi; ++ow) dst[ow * g.sw] += row[ow];
        }
      }
}

template <typename T>
void conv_forward(const T* x, const T* w, const T* b, T* out, const ConvGeom& g) {
  const std::int64_t K = g.K(), P = g.P(), Og = g.Og(), Cg = g.Cg();
  kernels::parallel_for(g.N, 1, [&](std::int64_t n0, std::int64_t n1) {
    const kernels::Scratch<T> cols(g.is_pointwise() ? 0 : K * P);
    for (std::int64_t n = n0; n < n1; ++n)
      for (std::int64_t gr = 0; gr < g.groups; ++gr) {
        const T* xg = x + (n * g.C + gr * Cg) * g.H * g.W;
        T* og = out + (n * g.O + gr * Og) * P;
        const T* colsp = xg;
        if (!g.is_pointwise()) {
          im2col(xg, g, cols.data());
          colsp = cols.data();
        }
        kernels::gemm<T>(CblasNoTrans, CblasNoTrans, Og, P, K, w + gr * Og * K, K, colsp, P, og, P);
        if (b != nullptr)
          for (std::int64_t o = 0; o < Og; ++o) {
            const T bias = b[gr * Og + o];
            for (std::int64_t p = 0; p < P; ++p) og[o * P + p] += bias;
          }
      }
  });
}

/// dx (if gx) and dW (if gw) from dout; x, w, gout contiguous.
template <typename T>
void conv_backward(const T* x, const T* w, const T* gout, T* gx, T* gw, const ConvGeom& g) {
  const std::int64_t K = g.K(), P = g.P(), Og = g.Og(), Cg = g.Cg();
  const std::int64_t chunks =
      std::max<std::int64_t>(1, std::min<std::int64_t>(g.N, 16));  // by the shape, not the threads
  const std::int64_t per_chunk = (g.N + chunks - 1) / chunks;
  const std::int64_t wsize = g.O * K;
  // Each chunk's first GEMM overwrites its partial sum (beta = 0); a chunk past the batch is zeroed.
  const kernels::Scratch<T> partial(gw != nullptr ? chunks * wsize : 0);
  kernels::parallel_for(chunks, 1, [&](std::int64_t c0, std::int64_t c1) {
    const kernels::Scratch<T> cols(K * P);
    for (std::int64_t ch = c0; ch < c1; ++ch) {
      T* pw = gw != nullptr ? partial.data() + ch * wsize : nullptr;
      bool first = true;
      for (std::int64_t n = ch * per_chunk; n < std::min(g.N, (ch + 1) * per_chunk); ++n) {
        for (std::int64_t gr = 0; gr < g.groups; ++gr) {
          const T* go = gout + (n * g.O + gr * Og) * P;
          if (pw != nullptr) {
            const T* xg = x + (n * g.C + gr * Cg) * g.H * g.W;
            const T* colsp = xg;
            if (!g.is_pointwise()) {
              im2col(xg, g, cols.data());
              colsp = cols.data();
            }
            // dW_g (+)= dout_g [Og, P] @ cols^T [P, K]
            kernels::gemm<T>(CblasNoTrans, CblasTrans, Og, K, P, go, P, colsp, P, pw + gr * Og * K, K,
                             first ? T(0) : T(1));
          }
          if (gx != nullptr) {
            T* gxg = gx + (n * g.C + gr * Cg) * g.H * g.W;
            if (g.is_pointwise()) {  // dx_g = W_g^T @ dout_g directly
              kernels::gemm<T>(CblasTrans, CblasNoTrans, K, P, Og, w + gr * Og * K, K, go, P, gxg, P);
            } else {
              kernels::gemm<T>(CblasTrans, CblasNoTrans, K, P, Og, w + gr * Og * K, K, go, P, cols.data(), P);
              col2im(cols.data(), g, gxg);
            }
          }
        }
        first = false;
      }
      if (pw != nullptr && first) std::fill(pw, pw + wsize, T(0));
    }
  });
  if (gw != nullptr) {
    // Add the chunks' partial sums in chunk order.
    kernels::parallel_for(wsize, 4096, [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) {
        const T* part = partial.data();
        T s = part[i];
        for (std::int64_t ch = 1; ch < chunks; ++ch) s += part[ch * wsize + i];
        gw[i] = s;
      }
    });
  }
}

/// conv on 4-D input and weight; `op` names the public op in errors.
Tensor conv_nd(const Tensor& input, const Tensor& weight, const Tensor& bias, Int2 stride, Int2 padding, Int2 dilation,
               std::int64_t groups, const char* op, bool one_d) {
  TG_CHECK(input.dtype() == weight.dtype(), "{}: input is {} but weight is {}", op, dtype_name(input.dtype()),
           dtype_name(weight.dtype()));
  dispatch_floating(input.dtype(), op, [](auto) {});
  TG_CHECK(groups > 0, "{}: groups must be positive, got {}", op, groups);
  TG_CHECK(stride.h > 0 && stride.w > 0, "{}: stride must be positive, got {}", op,
           one_d ? fmt::format("{}", stride.w) : fmt::format("({}, {})", stride.h, stride.w));
  TG_CHECK(dilation.h > 0 && dilation.w > 0, "{}: dilation must be positive, got {}", op,
           one_d ? fmt::format("{}", dilation.w) : fmt::format("({}, {})", dilation.h, dilation.w));
  TG_CHECK(padding.h >= 0 && padding.w >= 0, "{}: negative padding {} is not supported", op,
           one_d ? fmt::format("{}", padding.w) : fmt::format("({}, {})", padding.h, padding.w));
  ConvGeom g{};
  g.N = input.size(0), g.C = input.size(1), g.H = input.size(2), g.W = input.size(3);
  g.O = weight.size(0), g.kh = weight.size(2), g.kw = weight.size(3);
  g.sh = stride.h, g.sw = stride.w, g.ph = padding.h, g.pw = padding.w, g.dh = dilation.h, g.dw = dilation.w;
  g.groups = groups;
  TG_CHECK(g.C % groups == 0, "{}: groups ({}) must divide the input channels ({})", op, groups, g.C);
  TG_CHECK(g.O % groups == 0, "{}: groups ({}) must divide the output channels ({})", op, groups, g.O);
  TG_CHECK(weight.size(1) * groups == g.C,
           "{}: weight of shape {} with groups={} expects {} input channels, but the input has {} (shape {})", op,
           one_d ? weight.squeeze(2).shape() : weight.shape(), groups, weight.size(1) * groups, g.C,
           one_d ? input.squeeze(2).shape() : input.shape());
  // Kernel extents and padded sizes in checked arithmetic: a huge padding or dilation is an
  // error, not a wrapped size.
  auto extent = [op](std::int64_t k, std::int64_t d) {
    return checked_add(checked_mul(d, k - 1, op, "the dilated kernel size"), 1, op, "the dilated kernel size");
  };
  auto padded = [op](std::int64_t n, std::int64_t p) {
    return checked_add(n, checked_mul(p, 2, op, "the padding"), op, "the padded input size");
  };
  const std::int64_t eh = extent(g.kh, g.dh), ew = extent(g.kw, g.dw);
  const std::int64_t Hp = padded(g.H, g.ph), Wp = padded(g.W, g.pw);
  TG_CHECK(eh <= Hp && ew <= Wp, "{}: the kernel ({} with dilation, {} without) is larger than the padded input ({})",
           op, one_d ? fmt::format("{}", ew) : fmt::format("{}x{}", eh, ew),
           one_d ? fmt::format("{}", g.kw) : fmt::format("{}x{}", g.kh, g.kw),
           one_d ? fmt::format("{}", Wp) : fmt::format("{}x{}", Hp, Wp));
  if (bias.defined()) {
    TG_CHECK(bias.dim() == 1 && bias.size(0) == g.O, "{}: bias must have shape [{}], got {}", op, g.O, bias.shape());
    TG_CHECK(bias.dtype() == input.dtype(), "{}: bias is {} but input is {}", op, dtype_name(bias.dtype()),
             dtype_name(input.dtype()));
  }
  g.Ho = (Hp - eh) / g.sh + 1;
  g.Wo = (Wp - ew) / g.sw + 1;
  checked_numel({g.N, g.O, g.Ho, g.Wo}, op);

  const Tensor x = detail::as_contiguous(input), w = detail::as_contiguous(weight);
  const Tensor b = bias.defined() ? detail::as_contiguous(bias) : Tensor();
  Tensor out = detail::new_empty({g.N, g.O, g.Ho, g.Wo}, input.dtype(), op);
  dispatch_floating(input.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    conv_forward<T>(x.data<T>(), w.data<T>(), b.defined() ? b.data<T>() : nullptr, out.data<T>(), g);
  });
  if (autograd::needs_grad(input, weight) || (bias.defined() && autograd::needs_grad(bias))) {
    std::vector<const Tensor*> inputs{&input, &weight};
    if (bias.defined()) inputs.push_back(&bias);
    autograd::record(
        op, out, inputs,
        [sx = SavedTensor::input(x), sw = SavedTensor::input(w), g, has_bias = bias.defined()](BackwardContext& c) {
      const Tensor gout = detail::as_contiguous(c.grad());
      const Tensor& xv = c.unpack(sx);
      const Tensor& wv = c.unpack(sw);
      Tensor gx = c.needs(0) ? zeros(xv.shape(), xv.dtype()) : Tensor();
      Tensor gw = c.needs(1) ? detail::new_empty(wv.shape(), wv.dtype()) : Tensor();
      if (gx.defined() || gw.defined()) {
        dispatch_floating(xv.dtype(), "conv_backward", [&](auto tag) {
          using T = typename decltype(tag)::type;
          conv_backward<T>(xv.data<T>(), wv.data<T>(), gout.data<T>(), gx.defined() ? gx.data<T>() : nullptr,
                           gw.defined() ? gw.data<T>() : nullptr, g);
        });
      }
      if (gx.defined()) c.set(0, gx);
      if (gw.defined()) c.set(1, gw);
      if (has_bias && c.needs(2)) c.set(2, sum(gout, {0, 2, 3}));
        });
  }
  return out;
}

}  // namespace

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, Int2 stride, Int2 padding, Int2 dilation,
              std::int64_t groups) {
  TG_CHECK(input.dim() == 3 || input.dim() == 4, "conv2d: expected a 3-D or 4-D input [N, C, H, W], got shape {}",
           input.shape());
  TG_CHECK(weight.dim() == 4, "conv2d: expected a 4-D weight [O, C/groups, kH, kW], got shape {}", weight.shape());
  if (input.dim() == 3) return conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0);
  return conv_nd(input, weight, bias, stride, padding, dilation, groups, "conv2d", false);
}

Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, std::int64_t stride, std::int64_t padding,
              std::int64_t dilation, std::int64_t groups) {
  TG_CHECK(input.dim() == 2 || input.dim() == 3, "conv1d: expected a 2-D or 3-D input [N, C, L], got shape {}",
           input.shape());
  TG_CHECK(weight.dim() == 3, "conv1d: expected a 3-D weight [O, C/groups, k], got shape {}", weight.shape());
  if (input.dim() == 2) return conv1d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0);
  // A 1-d convolution is a 2-d one over a height of 1.
  return conv_nd(input.unsqueeze(2), weight.unsqueeze(2), bias, Int2(1, stride), Int2(0, padding), Int2(1, dilation),
                 groups, "conv1d", true)
      .squeeze(2);
}

}  // namespace tg

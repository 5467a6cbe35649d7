// Fused LSTM and GRU steps. Forward and backward each make one pass over the [B, H] state.
//
// LSTM, with i, f, o = sigmoid and g = tanh of the summed gate pre-activations:
//   c' = f c + i g,  h' = o tanh(c')
//   dc' = gc + gh o (1 - tanh(c')^2)          (gh, gc: gradients of h' and c')
//   di = dc' g i (1 - i),  df = dc' c f (1 - f),  dg = dc' i (1 - g^2),  do = gh tanh(c') o (1 - o)
//   dc = dc' f;  the gate gradient goes to both gates_x and gates_h.
// GRU, with r, z = sigmoid, n = tanh(gx_n + r gh_n):
//   h' = (1 - z) n + z h
//   dn = g (1 - z) (1 - n^2),  dz = g (h - n) z (1 - z),  dr = dn gh_n r (1 - r),  dh = g z
//   d gx = [dr, dz, dn],  d gh = [dr, dz, dn r].
#include "tapegrad/core/ops/rnn.h"

#include "kernels/parallel.h"
#include "kernels/vec_math.h"
#include "tapegrad/core/autograd.h"
#include "tensor_detail.h"

namespace tg {
namespace {

using autograd::BackwardContext;
using autograd::SavedTensor;

void check_rnn_args(const Tensor& gx, const Tensor& gh, const Tensor& state, std::int64_t gates, const char* op) {
  TG_CHECK(state.dim() == 2, "{}: the state must be 2-D [B, H], got shape {}", op, state.shape());
  const std::int64_t B = state.size(0), H = state.size(1);
  for (const Tensor* t : {&gx, &gh}) {
    TG_CHECK(t->dim() == 2 && t->size(0) == B && t->size(1) == gates * H,
             "{}: gate pre-activations must have shape [{}, {}] for a state of shape {}, got {}", op, B, gates * H,
             state.shape(), t->shape());
    TG_CHECK(t->dtype() == state.dtype(), "{}: dtypes differ ({} and {})", op, dtype_name(t->dtype()),
             dtype_name(state.dtype()));
  }
  dispatch_floating(state.dtype(), op, [](auto) {});
}

/// Runs f(b) for each batch row, in parallel when the step is large enough.
template <typename F>
void for_batch(std::int64_t B, std::int64_t H, F f) {
  kernels::parallel_for(B, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(H, 1)),
                        [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) f(b);
  });
}

}  // namespace

Tensor lstm_cell_fused(const Tensor& gates_x, const Tensor& gates_h, const Tensor& c) {
  check_rnn_args(gates_x, gates_h, c, 4, "lstm_cell");
  const std::int64_t B = c.size(0), H = c.size(1);
  const Tensor gx = detail::as_contiguous(gates_x), gh = detail::as_contiguous(gates_h), cc = detail::as_contiguous(c);
  Tensor out = detail::new_empty({2, B, H}, c.dtype());
  Tensor acts = detail::new_empty({B, 4 * H}, c.dtype());  // i, f, g, o after their nonlinearities
  dispatch_floating(c.dtype(), "lstm_cell", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *px = gx.data<T>(), *ph = gh.data<T>(), *pc = cc.data<T>();
    T *ho = out.data<T>(), *co = ho + B * H, *pa = acts.data<T>();
    for_batch(B, H, [&](std::int64_t b) {
      const T* x = px + b * 4 * H;
      const T* h = ph + b * 4 * H;
      T* a = pa + b * 4 * H;
      for (std::int64_t j = 0; j < H; ++j) a[j] = kernels::sigmoid_impl(x[j] + h[j]);
      for (std::int64_t j = H; j < 2 * H; ++j) a[j] = kernels::sigmoid_impl(x[j] + h[j]);
      for (std::int64_t j = 2 * H; j < 3 * H; ++j) a[j] = kernels::tanh_impl(x[j] + h[j]);
      for (std::int64_t j = 3 * H; j < 4 * H; ++j) a[j] = kernels::sigmoid_impl(x[j] + h[j]);
      for (std::int64_t j = 0; j < H; ++j) {
        const T cn = a[H + j] * pc[b * H + j] + a[j] * a[2 * H + j];
        co[b * H + j] = cn;
        ho[b * H + j] = a[3 * H + j] * kernels::tanh_impl(cn);
      }
    });
  });
  if (autograd::needs_grad(gates_x, gates_h, c)) {
    autograd::record("lstm_cell", out, {&gates_x, &gates_h, &c},
                     [acts, sc = SavedTensor::input(cc), so = SavedTensor::output(out), B, H](BackwardContext& ctx) {
      const Tensor g = detail::as_contiguous(ctx.grad());
      const Tensor& cv = ctx.unpack(sc);
      const Tensor& ov = ctx.unpack(so);
      Tensor dgates = detail::new_empty({B, 4 * H}, g.dtype());
      Tensor dc = detail::new_empty({B, H}, g.dtype());
      dispatch_floating(g.dtype(), "lstm_cell_backward", [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T *pg = g.data<T>(), *pa = acts.data<T>(), *pc = cv.data<T>(), *pcn = ov.data<T>() + B * H;
        T *pd = dgates.data<T>(), *pdc = dc.data<T>();
        for_batch(B, H, [&](std::int64_t b) {
          const T* a = pa + b * 4 * H;
          T* d = pd + b * 4 * H;
          for (std::int64_t j = 0; j < H; ++j) {
            const std::int64_t k = b * H + j;
            const T i = a[j], f = a[H + j], gg = a[2 * H + j], o = a[3 * H + j];
            const T gh = pg[k], gc = pg[B * H + k];
            const T tc = kernels::tanh_impl(pcn[k]);
            const T dcn = gc + gh * o * (T(1) - tc * tc);
            d[j] = dcn * gg * i * (T(1) - i);
            d[H + j] = dcn * pc[k] * f * (T(1) - f);
            d[2 * H + j] = dcn * i * (T(1) - gg * gg);
            d[3 * H + j] = gh * tc * o * (T(1) - o);
            pdc[k] = dcn * f;
          }
        });
      });
      if (ctx.needs(0)) ctx.set(0, dgates);
      if (ctx.needs(1)) ctx.set(1, dgates);
      if (ctx.needs(2)) ctx.set(2, dc);
    });
  }
  return out;
}

Tensor gru_cell_fused(const Tensor& gates_x, const Tensor& gates_h, const Tensor& h) {
  check_rnn_args(gates_x, gates_h, h, 3, "gru_cell");
  const std::int64_t B = h.size(0), H = h.size(1);
  const Tensor gx = detail::as_contiguous(gates_x), gh = detail::as_contiguous(gates_h), hc = detail::as_contiguous(h);
  Tensor out = detail::new_empty({B, H}, h.dtype());
  Tensor acts = detail::new_empty({B, 3 * H}, h.dtype());  // r, z, n
  dispatch_floating(h.dtype(), "gru_cell", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *px = gx.data<T>(), *ph = gh.data<T>(), *pp = hc.data<T>();
    T *po = out.data<T>(), *pa = acts.data<T>();
    for_batch(B, H, [&](std::int64_t b) {
      const T* x = px + b * 3 * H;
      const T* hh = ph + b * 3 * H;
      T* a = pa + b * 3 * H;
      for (std::int64_t j = 0; j < 2 * H; ++j) a[j] = kernels::sigmoid_impl(x[j] + hh[j]);
      for (std::int64_t j = 0; j < H; ++j) a[2 * H + j] = kernels::tanh_impl(x[2 * H + j] + a[j] * hh[2 * H + j]);
      for (std::int64_t j = 0; j < H; ++j) {
        const T z = a[H + j];
        po[b * H + j] = (T(1) - z) * a[2 * H + j] + z * pp[b * H + j];
      }
    });
  });
  if (autograd::needs_grad(gates_x, gates_h, h)) {
    autograd::record("gru_cell", out, {&gates_x, &gates_h, &h},
                     [acts, sgh = SavedTensor::input(gh), sh = SavedTensor::input(hc), B, H](BackwardContext& ctx) {
      const Tensor g = detail::as_contiguous(ctx.grad());
      const Tensor& ghv = ctx.unpack(sgh);
      const Tensor& hv = ctx.unpack(sh);
      Tensor dx = detail::new_empty({B, 3 * H}, g.dtype());
      Tensor dh_gates = detail::new_empty({B, 3 * H}, g.dtype());
      Tensor dh = detail::new_empty({B, H}, g.dtype());
      dispatch_floating(g.dtype(), "gru_cell_backward", [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T *pg = g.data<T>(), *pa = acts.data<T>(), *pgh = ghv.data<T>(), *ph = hv.data<T>();
        T *pdx = dx.data<T>(), *pdg = dh_gates.data<T>(), *pdh = dh.data<T>();
        for_batch(B, H, [&](std::int64_t b) {
          const T* a = pa + b * 3 * H;
          for (std::int64_t j = 0; j < H; ++j) {
            const std::int64_t k = b * H + j;
            const T r = a[j], z = a[H + j], n = a[2 * H + j], gv = pg[k];
            const T ghn = pgh[b * 3 * H + 2 * H + j];
            const T dn = gv * (T(1) - z) * (T(1) - n * n);
            const T dz = gv * (ph[k] - n) * z * (T(1) - z);
            const T dr = dn * ghn * r * (T(1) - r);
            T* x = pdx + b * 3 * H;
            T* hh = pdg + b * 3 * H;
            x[j] = hh[j] = dr;
            x[H + j] = hh[H + j] = dz;
            x[2 * H + j] = dn;
            hh[2 * H + j] = dn * r;
            pdh[k] = gv * z;
          }
        });
      });
      if (ctx.needs(0)) ctx.set(0, dx);
      if (ctx.needs(1)) ctx.set(1, dh_gates);
      if (ctx.needs(2)) ctx.set(2, dh);
    });
  }
  return out;
}

}  // namespace tg

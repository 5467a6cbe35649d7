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

#include <utility>

#include "kernels/gemm_blocks.h"
#include "kernels/parallel.h"
#include "kernels/vec_math.h"
#include "tapegrad/core/autograd.h"
#include "tapegrad/core/ops/reduce.h"
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

/// Checks a whole-sequence recurrence's xproj [T, B, G H], w_hh [G H, H] and h0 [B, H].
void check_recurrence_args(const Tensor& xproj, const Tensor& w_hh, const Tensor& h0, std::int64_t gates,
                           const char* op) {
  TG_CHECK(h0.dim() == 2, "{}: h0 must be 2-D [B, H], got shape {}", op, h0.shape());
  const std::int64_t B = h0.size(0), H = h0.size(1);
  TG_CHECK(xproj.dim() == 3 && xproj.size(1) == B && xproj.size(2) == gates * H,
           "{}: xproj must have shape [T, {}, {}] for h0 of shape {}, got {}", op, B, gates * H, h0.shape(),
           xproj.shape());
  TG_CHECK(w_hh.dim() == 2 && w_hh.size(0) == gates * H && w_hh.size(1) == H,
           "{}: w_hh must have shape [{}, {}] for h0 of shape {}, got {}", op, gates * H, H, h0.shape(), w_hh.shape());
  for (const Tensor* t : {&xproj, &w_hh})
    TG_CHECK(t->dtype() == h0.dtype(), "{}: dtypes differ ({} and {})", op, dtype_name(t->dtype()),
             dtype_name(h0.dtype()));
  dispatch_floating(h0.dtype(), op, [](auto) {});
}

/// The step order of a recurrence: position s runs time step step_at(s).
struct StepOrder {
  std::int64_t T;
  bool reverse;
  std::int64_t at(std::int64_t s) const { return reverse ? T - 1 - s : s; }
};

/// Runs f(b) for each batch row, in parallel when the step is large enough.
template <typename F>
void for_batch(std::int64_t B, std::int64_t H, F f) {
  kernels::parallel_for(B, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(H, 1)),
                        [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) f(b);
  });
}

/// [T, B, H]: at step t, the hidden state the step started from (h0 for the first step run).
template <typename T>
Tensor previous_states(const T* h0, const T* hs, StepOrder order, std::int64_t B, std::int64_t H, DType dtype) {
  Tensor prev = detail::new_empty({order.T, B, H}, dtype);
  T* pp = prev.data<T>();
  for (std::int64_t s = 0; s < order.T; ++s) {
    const T* src = s == 0 ? h0 : hs + order.at(s - 1) * B * H;
    std::copy(src, src + B * H, pp + order.at(s) * B * H);
  }
  return prev;
}

/// One batch row of the LSTM step: a = the activated gates [4H], c' and h' from c.
template <typename T>
void lstm_row_forward(const T* __restrict x, const T* __restrict h, const T* __restrict c, T* __restrict a,
                      T* __restrict hout, T* __restrict cout, std::int64_t H) {
  for (std::int64_t j = 0; j < H; ++j) a[j] = kernels::sigmoid_impl(x[j] + h[j]);
  for (std::int64_t j = H; j < 2 * H; ++j) a[j] = kernels::sigmoid_impl(x[j] + h[j]);
  for (std::int64_t j = 2 * H; j < 3 * H; ++j) a[j] = kernels::tanh_impl(x[j] + h[j]);
  for (std::int64_t j = 3 * H; j < 4 * H; ++j) a[j] = kernels::sigmoid_impl(x[j] + h[j]);
  for (std::int64_t j = 0; j < H; ++j) {
    const T cn = a[H + j] * c[j] + a[j] * a[2 * H + j];
    cout[j] = cn;
    hout[j] = a[3 * H + j] * kernels::tanh_impl(cn);
  }
}

/// One batch row of the LSTM step's backward: from gh, gc (gradients of h', c'), the gate
/// gradient d [4H] and dc. No two pointers of a row kernel overlap (__restrict), so that the
/// loops vectorise.
template <typename T>
void lstm_row_backward(const T* __restrict a, const T* __restrict c, const T* __restrict cn, const T* __restrict gh,
                       const T* __restrict gc, T* __restrict d, T* __restrict dc, std::int64_t H) {
  for (std::int64_t j = 0; j < H; ++j) {
    const T i = a[j], f = a[H + j], gg = a[2 * H + j], o = a[3 * H + j];
    const T tc = kernels::tanh_impl(cn[j]);
    const T dcn = gc[j] + gh[j] * o * (T(1) - tc * tc);
    d[j] = dcn * gg * i * (T(1) - i);
    d[H + j] = dcn * c[j] * f * (T(1) - f);
    d[2 * H + j] = dcn * i * (T(1) - gg * gg);
    d[3 * H + j] = gh[j] * tc * o * (T(1) - o);
    dc[j] = dcn * f;
  }
}

/// One batch row of the GRU step: a = r, z, n [3H] and h' from h.
template <typename T>
void gru_row_forward(const T* __restrict x, const T* __restrict hh, const T* __restrict h, T* __restrict a,
                     T* __restrict out, std::int64_t H) {
  for (std::int64_t j = 0; j < 2 * H; ++j) a[j] = kernels::sigmoid_impl(x[j] + hh[j]);
  for (std::int64_t j = 0; j < H; ++j) a[2 * H + j] = kernels::tanh_impl(x[2 * H + j] + a[j] * hh[2 * H + j]);
  for (std::int64_t j = 0; j < H; ++j) {
    const T z = a[H + j];
    out[j] = (T(1) - z) * a[2 * H + j] + z * h[j];
  }
}

/// One batch row of the GRU step's backward: from g (gradient of h'), the gradients of the
/// input gates dx [3H], of the hidden gates dhg [3H], and dh = g z (the direct path only).
template <typename T>
void gru_row_backward(const T* __restrict a, const T* __restrict hh, const T* __restrict h, const T* __restrict g,
                      T* __restrict dx, T* __restrict dhg, T* __restrict dh, std::int64_t H) {
  for (std::int64_t j = 0; j < H; ++j) {
    const T r = a[j], z = a[H + j], n = a[2 * H + j], gv = g[j];
    const T dn = gv * (T(1) - z) * (T(1) - n * n);
    const T dz = gv * (h[j] - n) * z * (T(1) - z);
    const T dr = dn * hh[2 * H + j] * r * (T(1) - r);
    dx[j] = dhg[j] = dr;
    dx[H + j] = dhg[H + j] = dz;
    dx[2 * H + j] = dn;
    dhg[2 * H + j] = dn * r;
    dh[j] = gv * z;
  }
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
      lstm_row_forward(px + b * 4 * H, ph + b * 4 * H, pc + b * H, pa + b * 4 * H, ho + b * H, co + b * H, H);
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
          const std::int64_t k = b * H;
          lstm_row_backward(pa + b * 4 * H, pc + k, pcn + k, pg + k, pg + B * H + k, pd + b * 4 * H, pdc + k, H);
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
      gru_row_forward(px + b * 3 * H, ph + b * 3 * H, pp + b * H, pa + b * 3 * H, po + b * H, H);
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
          const std::int64_t k = b * H, r = b * 3 * H;
          gru_row_backward(pa + r, pgh + r, ph + k, pg + k, pdx + r, pdg + r, pdh + k, H);
        });
      });
      if (ctx.needs(0)) ctx.set(0, dx);
      if (ctx.needs(1)) ctx.set(1, dh_gates);
      if (ctx.needs(2)) ctx.set(2, dh);
    });
  }
  return out;
}

// Whole-sequence recurrences. Forward runs the steps as the per-step path does (the same GEMM,
// cut the same way, and the same row kernels), keeping every step's activations. Backward runs
// the steps in reverse with a running gradient of the state; the gate gradients of all steps
// land in one [T, B, G H] tensor, which is the gradient of xproj, and after the loop
//   d w_hh = sum_t dgates_t^T h_{t-1} = dgates^T [G H, T B] x H_prev [T B, H]
// is one GEMM (H_prev: each step's starting state, gathered into one tensor).

Tensor lstm_recurrence(const Tensor& xproj, const Tensor& w_hh, const Tensor& h0, const Tensor& c0, bool reverse) {
  check_recurrence_args(xproj, w_hh, h0, 4, "lstm_recurrence");
  TG_CHECK(c0.dim() == 2 && same_values(c0.shape(), h0.shape()) && c0.dtype() == h0.dtype(),
           "lstm_recurrence: c0 must match h0 (shape {}, {}), got shape {}, {}", h0.shape(), dtype_name(h0.dtype()),
           c0.shape(), dtype_name(c0.dtype()));
  const std::int64_t T = xproj.size(0), B = h0.size(0), H = h0.size(1);
  const StepOrder order{T, reverse};
  const Tensor xp = detail::as_contiguous(xproj), w = detail::as_contiguous(w_hh);
  const Tensor hc0 = detail::as_contiguous(h0), cc0 = detail::as_contiguous(c0);
  Tensor out = detail::new_empty({2, T, B, H}, h0.dtype(), "lstm_recurrence");
  Tensor acts = detail::new_empty({T, B, 4 * H}, h0.dtype());  // i, f, g, o of every step
  dispatch_floating(h0.dtype(), "lstm_recurrence", [&](auto tag) {
    using V = typename decltype(tag)::type;
    if (B * H == 0) return;
    Tensor gates = detail::new_empty({B, 4 * H}, h0.dtype());
    const V *px = xp.data<V>(), *pw = w.data<V>();
    V *hs = out.data<V>(), *cs = hs + T * B * H, *pa = acts.data<V>(), *pg = gates.data<V>();
    for (std::int64_t s = 0; s < T; ++s) {
      const std::int64_t t = order.at(s);
      const V* hp = s == 0 ? hc0.data<V>() : hs + order.at(s - 1) * B * H;
      const V* cp = s == 0 ? cc0.data<V>() : cs + order.at(s - 1) * B * H;
      kernels::parallel_gemm<V>(CblasNoTrans, CblasTrans, B, 4 * H, H, hp, H, pw, H, pg, 4 * H);
      for_batch(B, H, [&](std::int64_t b) {
        const std::int64_t r = t * B + b;
        lstm_row_forward(px + r * 4 * H, pg + b * 4 * H, cp + b * H, pa + r * 4 * H, hs + r * H, cs + r * H, H);
      });
    }
  });
  if (autograd::needs_grad(xproj, w_hh, h0, c0)) {
    autograd::record("lstm_recurrence", out, {&xproj, &w_hh, &h0, &c0},
                     [acts, sw = SavedTensor::input(w), sh0 = SavedTensor::input(hc0), sc0 = SavedTensor::input(cc0),
                      so = SavedTensor::output(out), order, B, H](BackwardContext& ctx) {
      const Tensor g = detail::as_contiguous(ctx.grad());
      const Tensor &wv = ctx.unpack(sw), &h0v = ctx.unpack(sh0), &c0v = ctx.unpack(sc0), &ov = ctx.unpack(so);
      const std::int64_t T = order.T;
      Tensor dx = detail::new_empty({T, B, 4 * H}, g.dtype());
      Tensor dh = detail::new_empty({B, H}, g.dtype()).zero_();  // running gradients of the state
      // The gradient of c: two buffers, one read and the other written by each step (the row
      // kernel's pointers must not overlap), swapped after it.
      Tensor dc = detail::new_empty({B, H}, g.dtype()).zero_();
      Tensor dc_next = detail::new_empty({B, H}, g.dtype());
      Tensor dw = detail::new_empty({4 * H, H}, g.dtype()).zero_();
      dispatch_floating(g.dtype(), "lstm_recurrence_backward", [&](auto tag) {
        using V = typename decltype(tag)::type;
        if (B * H == 0) return;
        const V *pgo = g.data<V>(), *pa = acts.data<V>(), *pw = wv.data<V>(), *hs = ov.data<V>();
        const V* cs = hs + T * B * H;
        V *pdx = dx.data<V>(), *pdh = dh.data<V>(), *pdc = dc.data<V>(), *pdc_next = dc_next.data<V>();
        for (std::int64_t s = T - 1; s >= 0; --s) {
          const std::int64_t t = order.at(s);
          const V* cp = s == 0 ? c0v.data<V>() : cs + order.at(s - 1) * B * H;
          for_batch(B, H, [&](std::int64_t b) {
            const std::int64_t k = b * H, r = t * B + b;
            for (std::int64_t j = 0; j < H; ++j) {
              pdh[k + j] += pgo[r * H + j];
              pdc[k + j] += pgo[T * B * H + r * H + j];
            }
            lstm_row_backward(pa + r * 4 * H, cp + k, cs + r * H, pdh + k, pdc + k, pdx + r * 4 * H, pdc_next + k, H);
          });
          std::swap(pdc, pdc_next);
          std::swap(dc, dc_next);
          if (s > 0 || ctx.needs(2))  // dh_{t-1} = dgates_t w_hh
            kernels::parallel_gemm<V>(CblasNoTrans, CblasNoTrans, B, H, 4 * H, pdx + t * B * 4 * H, 4 * H, pw, H, pdh,
                                      H);
        }
        if (ctx.needs(1) && T > 0) {
          const Tensor prev = previous_states<V>(h0v.data<V>(), hs, order, B, H, g.dtype());
          kernels::parallel_gemm<V>(CblasTrans, CblasNoTrans, 4 * H, H, T * B, pdx, 4 * H, prev.data<V>(), H,
                                    dw.data<V>(), H);
        }
      });
      if (ctx.needs(0)) ctx.set(0, dx);
      if (ctx.needs(1)) ctx.set(1, dw);
      if (ctx.needs(2)) ctx.set(2, dh);
      if (ctx.needs(3)) ctx.set(3, dc);
    });
  }
  return out;
}

Tensor gru_recurrence(const Tensor& xproj, const Tensor& w_hh, const Tensor& b_hh, const Tensor& h0, bool reverse) {
  check_recurrence_args(xproj, w_hh, h0, 3, "gru_recurrence");
  const std::int64_t T = xproj.size(0), B = h0.size(0), H = h0.size(1);
  if (b_hh.defined())
    TG_CHECK(b_hh.dim() == 1 && b_hh.size(0) == 3 * H && b_hh.dtype() == h0.dtype(),
             "gru_recurrence: b_hh must have shape [{}] and dtype {}, got shape {}, {}", 3 * H, dtype_name(h0.dtype()),
             b_hh.shape(), dtype_name(b_hh.dtype()));
  const StepOrder order{T, reverse};
  const Tensor xp = detail::as_contiguous(xproj), w = detail::as_contiguous(w_hh), hc0 = detail::as_contiguous(h0);
  Tensor out = detail::new_empty({T, B, H}, h0.dtype(), "gru_recurrence");
  Tensor acts = detail::new_empty({T, B, 3 * H}, h0.dtype());  // r, z, n of every step
  Tensor ghs = detail::new_empty({T, B, 3 * H}, h0.dtype());   // h W_hh^T + b_hh of every step
  dispatch_floating(h0.dtype(), "gru_recurrence", [&](auto tag) {
    using V = typename decltype(tag)::type;
    if (B * H == 0) return;
    const Tensor bc = b_hh.defined() ? detail::as_contiguous(b_hh) : Tensor();
    const V *px = xp.data<V>(), *pw = w.data<V>();
    V *hs = out.data<V>(), *pa = acts.data<V>(), *pgh = ghs.data<V>();
    for (std::int64_t s = 0; s < T; ++s) {
      const std::int64_t t = order.at(s);
      const V* hp = s == 0 ? hc0.data<V>() : hs + order.at(s - 1) * B * H;
      V* gh = pgh + t * B * 3 * H;
      kernels::parallel_gemm<V>(CblasNoTrans, CblasTrans, B, 3 * H, H, hp, H, pw, H, gh, 3 * H);
      if (bc.defined()) {
        const V* pb = bc.data<V>();
        for (std::int64_t b = 0; b < B; ++b)
          for (std::int64_t j = 0; j < 3 * H; ++j) gh[b * 3 * H + j] += pb[j];
      }
      for_batch(B, H, [&](std::int64_t b) {
        const std::int64_t r = t * B + b;
        gru_row_forward(px + r * 3 * H, gh + b * 3 * H, hp + b * H, pa + r * 3 * H, hs + r * H, H);
      });
    }
  });
  if (autograd::needs_grad(xproj, w_hh, h0) || (b_hh.defined() && autograd::needs_grad(b_hh))) {
    const Tensor* inputs[] = {&xproj, &w_hh, &h0, &b_hh};
    autograd::record("gru_recurrence", out, inputs, b_hh.defined() ? 4 : 3,
                     [acts, ghs, sw = SavedTensor::input(w), sh0 = SavedTensor::input(hc0),
                      so = SavedTensor::output(out), order, B, H, has_bias = b_hh.defined()](BackwardContext& ctx) {
      const Tensor g = detail::as_contiguous(ctx.grad());
      const Tensor &wv = ctx.unpack(sw), &h0v = ctx.unpack(sh0), &ov = ctx.unpack(so);
      const std::int64_t T = order.T;
      Tensor dx = detail::new_empty({T, B, 3 * H}, g.dtype());
      Tensor dhg = detail::new_empty({T, B, 3 * H}, g.dtype());  // gradients of h W_hh^T + b_hh
      // The running gradient of the state: two buffers, one read and the other written by each
      // step, swapped after it.
      Tensor dh = detail::new_empty({B, H}, g.dtype()).zero_();
      Tensor dh_next = detail::new_empty({B, H}, g.dtype());
      Tensor dw = detail::new_empty({3 * H, H}, g.dtype()).zero_();
      dispatch_floating(g.dtype(), "gru_recurrence_backward", [&](auto tag) {
        using V = typename decltype(tag)::type;
        if (B * H == 0) return;
        const V *pgo = g.data<V>(), *pa = acts.data<V>(), *pgh = ghs.data<V>(), *pw = wv.data<V>();
        const V* hs = ov.data<V>();
        V *pdx = dx.data<V>(), *pdhg = dhg.data<V>(), *pdh = dh.data<V>(), *pdh_next = dh_next.data<V>();
        for (std::int64_t s = T - 1; s >= 0; --s) {
          const std::int64_t t = order.at(s);
          const V* hp = s == 0 ? h0v.data<V>() : hs + order.at(s - 1) * B * H;
          for_batch(B, H, [&](std::int64_t b) {
            const std::int64_t k = b * H, r = t * B + b;
            for (std::int64_t j = 0; j < H; ++j) pdh[k + j] += pgo[r * H + j];
            gru_row_backward(pa + r * 3 * H, pgh + r * 3 * H, hp + k, pdh + k, pdx + r * 3 * H, pdhg + r * 3 * H,
                             pdh_next + k, H);
          });
          if (s > 0 || ctx.needs(2))  // dh_{t-1} = g z + d(h W_hh^T)_t w_hh
            kernels::parallel_gemm<V>(CblasNoTrans, CblasNoTrans, B, H, 3 * H, pdhg + t * B * 3 * H, 3 * H, pw, H,
                                      pdh_next, H, V(1));
          std::swap(pdh, pdh_next);
          std::swap(dh, dh_next);
        }
        if (ctx.needs(1) && T > 0) {
          const Tensor prev = previous_states<V>(h0v.data<V>(), hs, order, B, H, g.dtype());
          kernels::parallel_gemm<V>(CblasTrans, CblasNoTrans, 3 * H, H, T * B, pdhg, 3 * H, prev.data<V>(), H,
                                    dw.data<V>(), H);
        }
      });
      if (ctx.needs(0)) ctx.set(0, dx);
      if (ctx.needs(1)) ctx.set(1, dw);
      if (ctx.needs(2)) ctx.set(2, dh);
      if (has_bias && ctx.needs(3)) ctx.set(3, sum(dhg.view({T * B, 3 * H}), {0}));
    });
  }
  return out;
}

}  // namespace tg

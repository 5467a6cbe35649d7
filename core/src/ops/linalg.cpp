// matmul with torch.matmul's semantics, on cblas sgemm/dgemm (no hand-written GEMM).
//
// 1-D arguments become matrices by a view (and the added dim is dropped after), so the core
// is [..., M, K] x [..., K, N] with broadcast batch dims. Each operand's last two dims are
// handed to BLAS as they lie in memory: row-major (NoTrans) or transposed (Trans), so a
// k.transpose(-2, -1) or the transposes in backward cost no copy. When b has no batch dims
// and a is contiguous, a's batch folds into M and the whole product is one GEMM.
//
// Threads: OpenBLAS is kept single-threaded and TBB is the only pool (one thread budget, no
// oversubscription). A large product is cut into row blocks (or column blocks when N > M) and
// a batch into its matrices; the blocks run as TBB tasks, each a single-threaded GEMM, cut by
// the shape alone (kernels/gemm_blocks.h), so the bits do not depend on the thread count.
#include "tapegrad/core/ops/linalg.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <utility>

#include "kernels/gemm_blocks.h"
#include "kernels/vec_math.h"
#include "ops/pointwise.h"
#include "tapegrad/core/autograd.h"
#include "tapegrad/core/ops.h"
#include "tensor_detail.h"

namespace tg {
namespace {

using autograd::BackwardContext;
using autograd::SavedTensor;

using kernels::gemm_blocks;
using kernels::layout_of;
using kernels::MatLayout;

/// [..., M, K] x [..., K, N] -> [..., M, N] (both at least 2-D, same floating dtype).
Tensor matmul_nd(const Tensor& a0, const Tensor& b0) {
  const std::int64_t M = a0.size(-2), K = a0.size(-1), N = b0.size(-1);
  const DimVec batch_a(IntArrayRef(a0.shape().data(), a0.dim() - 2));
  const DimVec batch_b(IntArrayRef(b0.shape().data(), b0.dim() - 2));
  const DimVec batch = broadcast_shapes(batch_a, batch_b, "matmul (batch dims)");
  DimVec out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor out = detail::new_empty(out_shape, a0.dtype(), "matmul");
  if (out.numel() == 0) return out;
  if (K == 0) return out.zero_(), out;

  dispatch_floating(a0.dtype(), "matmul", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* C = static_cast<T*>(out.data_ptr());
    Tensor a = a0, b = b0;
    MatLayout lb = layout_of(K, N, b.stride(-2), b.stride(-1));
    if (!lb.ok) {
      b = detail::contiguous_copy(b);
      lb = layout_of(K, N, b.stride(-2), b.stride(-1));
    }
    const bool b_is_matrix = numel_of(batch_b) == 1;
    if (b_is_matrix && a.is_contiguous()) {  // fold a's batch into M: one GEMM
      const T* A = static_cast<const T*>(a.data_ptr());
      const T* B = static_cast<const T*>(b.data_ptr());
      gemm_blocks<T>(MatLayout{true, CblasNoTrans, K}, lb, numel_of(batch_a) * M, N, K, 1, C, [&](std::int64_t) {
        return std::pair{A, B};
      });
      return;
    }
    MatLayout la = layout_of(M, K, a.stride(-2), a.stride(-1));
    if (!la.ok) {
      a = detail::contiguous_copy(a);
      la = layout_of(M, K, a.stride(-2), a.stride(-1));
    }
    // Batch offsets (elements) of a and b for each output batch index, with broadcasting.
    const std::int64_t nb = numel_of(batch), nd = static_cast<std::int64_t>(batch.size());
    auto offset_of = [&](const Tensor& t, std::int64_t flat) {
      const std::int64_t tb = t.dim() - 2;
      std::int64_t off = 0;
      for (std::int64_t d = nd - 1; d >= 0; --d) {
        const std::int64_t i = flat % batch[d];
        flat /= batch[d];
        const std::int64_t j = d - (nd - tb);
        if (j >= 0 && t.shape().data()[j] != 1) off += i * t.strides().data()[j];
      }
      return off;
    };
    const T* A = static_cast<const T*>(a.data_ptr());
    const T* B = static_cast<const T*>(b.data_ptr());
    gemm_blocks<T>(la, lb, M, N, K, nb, C, [&](std::int64_t i) {
      return std::pair{A + offset_of(a, i), B + offset_of(b, i)};
    });
  });
  return out;
}

/// Gradient of b for a batched a and a 2-D b: sum over the batch in one GEMM.
Tensor grad_of_matrix_b(const Tensor& a, const Tensor& g) {
  const std::int64_t K = a.size(-1), N = g.size(-1);
  return matmul_nd(a.reshape({-1, K}).t(), g.reshape({-1, N}));
}

/// The activations that linear_activation applies in the GEMM's epilogue.
enum class Act { None, ReLU, GELU };

/// PyTorch's exact GELU, x Phi(x), and its derivative Phi(x) + x phi(x): the formulas of gelu
/// (activation.cpp) with approximate "none".
template <typename T>
T gelu_of(T v) {
  return T(0.5) * v * (T(1) + std::erf(v * static_cast<T>(std::numbers::sqrt2 / 2)));
}
template <typename T>
T gelu_grad_of(T v) {
  const T cdf = T(0.5) * (T(1) + std::erf(v * static_cast<T>(std::numbers::sqrt2 / 2)));
  const T pdf = kernels::exp_impl(T(-0.5) * v * v) * static_cast<T>(std::numbers::inv_sqrtpi / std::numbers::sqrt2);
  return cdf + v * pdf;
}

/// x (contiguous, R rows of K) times weight [N, K]^T, plus bias [N] when defined, into a new
/// tensor of out_shape (R rows of N): one GEMM whose output starts as the bias rows (beta = 1),
/// as PyTorch's addmm does. act: ReLU is applied in place by each GEMM task to its block; GELU
/// writes gelu of each block into *act_out (a new tensor) and leaves the pre-activation in the
/// returned one.
Tensor linear_rows(const Tensor& x, std::int64_t R, const Tensor& weight, const Tensor& bias, IntArrayRef out_shape,
                   Act act = Act::None, Tensor* act_out = nullptr) {
  const std::int64_t K = weight.size(1), N = weight.size(0);
  Tensor out = detail::new_empty(out_shape, x.dtype(), "linear");
  if (act == Act::GELU) *act_out = detail::new_empty(out_shape, x.dtype(), "linear_activation");
  if (out.numel() == 0) return out;
  dispatch_floating(x.dtype(), "linear", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* C = static_cast<T*>(out.data_ptr());
    if (bias.defined()) {
      const Tensor b = detail::as_contiguous(bias);
      const T* bp = static_cast<const T*>(b.data_ptr());
      for (std::int64_t r = 0; r < R; ++r) std::copy(bp, bp + N, C + r * N);
    }
    // The epilogue on a block [rows, cols] (row stride ldc) of the output.
    T* G = act == Act::GELU ? static_cast<T*>(act_out->data_ptr()) : nullptr;
    auto epilogue = [act, C, G](T* blk, std::int64_t rows, std::int64_t cols, std::int64_t ldc) {
      if (act == Act::ReLU) {
        for (std::int64_t r = 0; r < rows; ++r)
          for (T *p = blk + r * ldc, *e = p + cols; p != e; ++p) *p = *p > 0 ? *p : T(0);
      } else if (act == Act::GELU) {
        for (std::int64_t r = 0; r < rows; ++r) {
          const T* p = blk + r * ldc;
          T* q = G + (p - C);
          for (std::int64_t j = 0; j < cols; ++j) q[j] = gelu_of(p[j]);
        }
      }
    };
    if (K == 0) {
      if (!bias.defined()) out.zero_();
      epilogue(C, R, N, N);
      return;
    }
    Tensor w = weight;
    MatLayout lw = layout_of(K, N, w.stride(1), w.stride(0));  // weight^T as a [K, N] matrix
    if (!lw.ok) {
      w = detail::contiguous_copy(w);
      lw = layout_of(K, N, w.stride(1), w.stride(0));
    }
    const T* A = static_cast<const T*>(x.data_ptr());
    const T* B = static_cast<const T*>(w.data_ptr());
    gemm_blocks<T>(
        MatLayout{true, CblasNoTrans, K}, lw, R, N, K, 1, C,
        [&](std::int64_t) {
      return std::pair{A, B};
        },
        T(bias.defined() ? 1 : 0), -1, epilogue);
  });
  return out;
}

/// linear's checks, for linear and linear_activation (op names the op in the messages).
void check_linear(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias) {
  TG_CHECK(weight.dim() == 2, "{}: weight must be 2-D [out_features, in_features], got shape {}", op, weight.shape());
  TG_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1),
           "{}: input has {} features (shape {}) but the weight expects {} (weight shape {})", op,
           x.dim() >= 1 ? x.size(-1) : 0, x.shape(), weight.size(1), weight.shape());
  TG_CHECK(x.dtype() == weight.dtype() && is_floating(x.dtype()),
           "{}: expected a floating input of the weight's dtype {}, got {}; convert it with .to({})", op,
           dtype_name(weight.dtype()), dtype_name(x.dtype()), dtype_name(weight.dtype()));
  if (bias.defined()) {
    TG_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), "{}: bias must have shape [{}], got {}", op,
             weight.size(0), bias.shape());
    TG_CHECK(bias.dtype() == weight.dtype(), "{}: bias has dtype {}, the weight {}", op, dtype_name(bias.dtype()),
             dtype_name(weight.dtype()));
  }
}

/// What linear's backward needs: x and the weight (each saved only when the other's gradient is
/// needed), the row count R of K inputs and N outputs, x's shape and whether there is a bias.
struct LinearSaved {
  SavedTensor sx, sw;
  std::int64_t R, K, N;
  DimVec x_shape;
  bool has_bias;
};

LinearSaved save_linear(const Tensor& x, const Tensor& weight, const Tensor& bias, std::int64_t R) {
  return {weight.requires_grad() ? SavedTensor::input(x) : SavedTensor(),
          x.requires_grad() ? SavedTensor::input(weight) : SavedTensor(),
          R,
          weight.size(1),
          weight.size(0),
          x.shape(),
          bias.defined()};
}

/// y = x W^T + b over the rows of x, given dy (any layout): dx = dy W, dW = dy^T x (written in
/// W's own [N, K] layout, so AccumulateGrad keeps it as it is), db = the column sums of dy.
void linear_backward(BackwardContext& c, const LinearSaved& s, const Tensor& grad) {
  const std::int64_t R = s.R, K = s.K, N = s.N;
  const Tensor gc = detail::as_contiguous(grad);
  const Tensor g = detail::make_view(gc, {R, N}, {N, 1}, gc.offset());
  if (c.needs(0)) {
    const Tensor dx = matmul_nd(g, c.unpack(s.sw));
    c.set(0, detail::make_view(dx, s.x_shape, contiguous_strides(s.x_shape), 0));
  }
  if (c.needs(1)) {
    const Tensor xc = detail::as_contiguous(c.unpack(s.sx));
    c.set(1, matmul_nd(g.t(), detail::make_view(xc, {R, K}, {K, 1}, xc.offset())));
  }
  if (s.has_bias && c.needs(2)) {
    // One row (a single sample, as in an RNN step) needs no reduction: the row is the sum.
    c.set(2, R == 1 ? detail::contiguous_copy(detail::make_view(gc, {N}, {1}, gc.offset())) : sum(g, {0}));
  }
}

/// The output's shape and the row count R of x [..., K] through weight [N, K].
std::pair<DimVec, std::int64_t> linear_shape(const Tensor& x, const Tensor& weight, const char* op) {
  DimVec out_shape = x.shape();
  out_shape[out_shape.size() - 1] = weight.size(0);
  checked_nbytes(out_shape, x.dtype(), op);  // before x is made contiguous
  return {out_shape, numel_of(IntArrayRef(x.shape().data(), x.shape().size() - 1))};
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_linear("linear", x, weight, bias);
  // x is R rows of K features, the output R rows of N: one GEMM, one node.
  const auto [out_shape, R] = linear_shape(x, weight, "linear");
  Tensor out = linear_rows(detail::as_contiguous(x), R, weight, bias, out_shape);
  if (autograd::needs_grad(x, weight) || (bias.defined() && autograd::needs_grad(bias))) {
    const Tensor* inputs[] = {&x, &weight, &bias};
    autograd::record("linear", out, inputs, bias.defined() ? 3 : 2,
                     [s = save_linear(x, weight, bias, R)](BackwardContext& c) { linear_backward(c, s, c.grad()); });
  }
  return out;
}

Tensor linear_activation(const Tensor& x, const Tensor& weight, const Tensor& bias, std::string_view activation) {
  TG_CHECK(activation == "relu" || activation == "gelu",
           "linear_activation: activation must be \"relu\" or \"gelu\", got \"{}\"", activation);
  check_linear("linear_activation", x, weight, bias);
  const Act act = activation == "relu" ? Act::ReLU : Act::GELU;
  const auto [out_shape, R] = linear_shape(x, weight, "linear_activation");
  Tensor gelu_out;
  Tensor out = linear_rows(detail::as_contiguous(x), R, weight, bias, out_shape, act, &gelu_out);
  // For GELU, out holds the pre-activation (saved for backward) and gelu_out the result.
  const Tensor result = act == Act::GELU ? gelu_out : out;
  if (autograd::needs_grad(x, weight) || (bias.defined() && autograd::needs_grad(bias))) {
    const Tensor* inputs[] = {&x, &weight, &bias};
    // relu: the gradient passes where the output is positive (relu's own rule, on the output);
    // gelu: times gelu'(pre-activation).
    SavedTensor saved = act == Act::ReLU ? SavedTensor::output(result) : SavedTensor::output(out);
    autograd::record("linear_activation", result, inputs, bias.defined() ? 3 : 2,
                     [s = save_linear(x, weight, bias, R), saved, act](BackwardContext& c) {
      const Tensor& v = c.unpack(saved);
      const Tensor g = act == Act::ReLU
                           ? detail::binary_floating(c.grad(), v, "linear_activation_backward",
                                                     [](auto g, auto y) { return y > 0 ? g : decltype(g)(0); })
                           : detail::binary_floating(c.grad(), v, "linear_activation_backward",
                                                     [](auto g, auto p) { return g * gelu_grad_of(p); });
      linear_backward(c, s, g);
    });
  }
  return result;
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  TG_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both arguments need at least 1 dimension, got shapes {} and {}",
           a.shape(), b.shape());
  TG_CHECK(a.dtype() == b.dtype(), "matmul: expected both tensors to have the same dtype, got {} and {}",
           dtype_name(a.dtype()), dtype_name(b.dtype()));
  TG_CHECK(is_floating(a.dtype()), "matmul: expected floating-point tensors, got {}", dtype_name(a.dtype()));
  const std::int64_t ka = a.size(-1), kb = b.dim() == 1 ? b.size(0) : b.size(-2);
  TG_CHECK(ka == kb, "matmul: cannot multiply {} by {} ({} != {})", a.shape(), b.shape(), ka, kb);
  if (a.dim() == 1 && b.dim() == 1) return matmul(a.unsqueeze(0), b.unsqueeze(1)).reshape({});
  if (a.dim() == 1) return matmul(a.unsqueeze(0), b).squeeze(-2);
  if (b.dim() == 1) return matmul(a, b.unsqueeze(1)).squeeze(-1);

  Tensor out = matmul_nd(a, b);
  if (autograd::needs_grad(a, b)) {
    // C = A B: dA = dC B^T, dB = A^T dC (batch broadcasting undone by the engine).
    SavedTensor sa = b.requires_grad() ? SavedTensor::input(a) : SavedTensor();
    SavedTensor sb = a.requires_grad() ? SavedTensor::input(b) : SavedTensor();
    autograd::record("matmul", out, {&a, &b}, [sa, sb, b_dim = b.dim()](BackwardContext& c) {
      const Tensor& g = c.grad();
      if (c.needs(0)) c.set(0, matmul_nd(g, c.unpack(sb).transpose(-2, -1)));
      if (c.needs(1)) {
        const Tensor& av = c.unpack(sa);
        c.set(1, b_dim == 2 && av.dim() > 2 ? grad_of_matrix_b(av, g) : matmul_nd(av.transpose(-2, -1), g));
      }
    });
  }
  return out;
}

}  // namespace tg

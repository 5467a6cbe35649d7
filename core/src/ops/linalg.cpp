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
#include <utility>

#include "kernels/gemm_blocks.h"
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

/// x (contiguous, R rows of K) times weight [N, K]^T, plus bias [N] when defined, into a new
/// tensor of out_shape (R rows of N): one GEMM whose output starts as the bias rows (beta = 1),
/// as PyTorch's addmm does.
Tensor linear_rows(const Tensor& x, std::int64_t R, const Tensor& weight, const Tensor& bias, IntArrayRef out_shape) {
  const std::int64_t K = weight.size(1), N = weight.size(0);
  Tensor out = detail::new_empty(out_shape, x.dtype(), "linear");
  if (out.numel() == 0) return out;
  dispatch_floating(x.dtype(), "linear", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* C = static_cast<T*>(out.data_ptr());
    if (bias.defined()) {
      const Tensor b = detail::as_contiguous(bias);
      const T* bp = static_cast<const T*>(b.data_ptr());
      for (std::int64_t r = 0; r < R; ++r) std::copy(bp, bp + N, C + r * N);
    }
    if (K == 0) {
      if (!bias.defined()) out.zero_();
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
        T(bias.defined() ? 1 : 0));
  });
  return out;
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  TG_CHECK(weight.dim() == 2, "linear: weight must be 2-D [out_features, in_features], got shape {}", weight.shape());
  TG_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1),
           "linear: input has {} features (shape {}) but the weight expects {} (weight shape {})",
           x.dim() >= 1 ? x.size(-1) : 0, x.shape(), weight.size(1), weight.shape());
  TG_CHECK(x.dtype() == weight.dtype() && is_floating(x.dtype()),
           "linear: expected a floating input of the weight's dtype {}, got {}; convert it with .to({})",
           dtype_name(weight.dtype()), dtype_name(x.dtype()), dtype_name(weight.dtype()));
  if (bias.defined()) {
    TG_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), "linear: bias must have shape [{}], got {}",
             weight.size(0), bias.shape());
    TG_CHECK(bias.dtype() == weight.dtype(), "linear: bias has dtype {}, the weight {}", dtype_name(bias.dtype()),
             dtype_name(weight.dtype()));
  }
  const std::int64_t K = weight.size(1), N = weight.size(0);
  const std::int64_t R = numel_of(IntArrayRef(x.shape().data(), x.shape().size() - 1));
  // x is R rows of K features, the output R rows of N: one GEMM, one node.
  DimVec out_shape = x.shape();
  out_shape[out_shape.size() - 1] = N;
  checked_nbytes(out_shape, x.dtype(), "linear");  // before x is made contiguous
  Tensor out = linear_rows(detail::as_contiguous(x), R, weight, bias, out_shape);
  if (autograd::needs_grad(x, weight) || (bias.defined() && autograd::needs_grad(bias))) {
    // y = x W^T + b over the rows of x: dx = dy W, dW = dy^T x (written in W's own [N, K]
    // layout, so AccumulateGrad keeps it as it is), db = the column sums of dy.
    SavedTensor sx = weight.requires_grad() ? SavedTensor::input(x) : SavedTensor();
    SavedTensor sw = x.requires_grad() ? SavedTensor::input(weight) : SavedTensor();
    const Tensor* inputs[] = {&x, &weight, &bias};
    autograd::record("linear", out, inputs, bias.defined() ? 3 : 2,
                     [sx, sw, R, K, N, x_shape = x.shape(), has_bias = bias.defined()](BackwardContext& c) {
      const Tensor gc = detail::as_contiguous(c.grad());
      const Tensor g = detail::make_view(gc, {R, N}, {N, 1}, gc.offset());
      if (c.needs(0)) {
        const Tensor dx = matmul_nd(g, c.unpack(sw));
        c.set(0, detail::make_view(dx, x_shape, contiguous_strides(x_shape), 0));
      }
      if (c.needs(1)) {
        const Tensor xc = detail::as_contiguous(c.unpack(sx));
        c.set(1, matmul_nd(g.t(), detail::make_view(xc, {R, K}, {K, 1}, xc.offset())));
      }
      if (has_bias && c.needs(2)) {
        // One row (a single sample, as in an RNN step) needs no reduction: the row is the sum.
        c.set(2, R == 1 ? detail::contiguous_copy(detail::make_view(gc, {N}, {1}, gc.offset())) : sum(g, {0}));
      }
    });
  }
  return out;
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

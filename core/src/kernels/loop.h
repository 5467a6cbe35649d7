#pragma once
// The strided loop behind every elementwise kernel.
//
// N operands (operand 0 is the output) are laid over one iteration shape with their own byte
// strides; a broadcast dim has stride 0. Size-1 dims are dropped and neighbouring dims that
// are contiguous for every operand are merged, so a contiguous tensor becomes a single run.
// The kernel sees runs along the innermost dim: (pointers, inner byte strides, length), and
// picks a tight loop when the strides are the element size (or 0, a broadcast scalar).
#include <array>
#include <cstdint>

#include "kernels/parallel.h"
#include "tapegrad/core/tensor.h"

namespace tg::kernels {

template <int N>
struct Loop {
  int ndim = 0;
  std::int64_t numel = 1;
  std::int64_t sizes[kMaxDims];
  std::int64_t strides[kMaxDims][N];  // bytes, per dim per operand
  char* base[N];
};

template <int N>
Loop<N> make_loop(IntArrayRef shape, const std::array<const Tensor*, N>& operands) {
  Loop<N> loop;
  const int ndim = static_cast<int>(shape.size());
  for (int k = 0; k < N; ++k) loop.base[k] = static_cast<char*>(operands[k]->data_ptr());
  loop.numel = numel_of(shape);
  for (int d = 0; d < ndim; ++d) {
    if (shape[d] == 1) continue;
    std::int64_t s[N];
    for (int k = 0; k < N; ++k) {
      const Tensor& t = *operands[k];
      const int j = d - (ndim - static_cast<int>(t.dim()));
      const std::int64_t item = static_cast<std::int64_t>(itemsize(t.dtype()));
      s[k] = (j < 0 || t.shape().data()[j] == 1) ? 0 : t.strides().data()[j] * item;  // 0 <= j < t.dim() here
    }
    bool merge = loop.ndim > 0;
    for (int k = 0; merge && k < N; ++k) merge = loop.strides[loop.ndim - 1][k] == s[k] * shape[d];
    if (merge) {
      loop.sizes[loop.ndim - 1] *= shape[d];
      for (int k = 0; k < N; ++k) loop.strides[loop.ndim - 1][k] = s[k];
    } else {
      loop.sizes[loop.ndim] = shape[d];
      for (int k = 0; k < N; ++k) loop.strides[loop.ndim][k] = s[k];
      ++loop.ndim;
    }
  }
  return loop;
}

/// Calls run(ptrs, inner_strides, n) for the runs covering flat positions [begin, end).
template <int N, typename Run>
void for_range(const Loop<N>& loop, std::int64_t begin, std::int64_t end, Run&& run) {
  std::int64_t zero[N] = {};
  if (loop.ndim == 0) {
    if (begin < end) {
      char* p[N];
      for (int k = 0; k < N; ++k) p[k] = loop.base[k];
      run(p, zero, std::int64_t{1});
    }
    return;
  }
  const int last = loop.ndim - 1;
  std::int64_t idx[kMaxDims];
  std::int64_t rem = begin;
  for (int d = last; d >= 0; --d) {
    idx[d] = rem % loop.sizes[d];
    rem /= loop.sizes[d];
  }
  std::int64_t inner_strides[N];
  for (int k = 0; k < N; ++k) inner_strides[k] = loop.strides[last][k];
  while (begin < end) {
    char* p[N];
    for (int k = 0; k < N; ++k) {
      std::int64_t off = 0;
      for (int d = 0; d <= last; ++d) off += idx[d] * loop.strides[d][k];
      p[k] = loop.base[k] + off;
    }
    const std::int64_t n = std::min(loop.sizes[last] - idx[last], end - begin);
    run(p, inner_strides, n);
    begin += n;
    idx[last] += n;
    for (int d = last; d > 0 && idx[d] == loop.sizes[d]; --d) {
      idx[d] = 0;
      ++idx[d - 1];
    }
  }
}

/// Runs the loop over all positions, in parallel above the grain.
template <int N, typename Run>
void run_loop(const Loop<N>& loop, Run&& run) {
  parallel_for(loop.numel, kGrain, [&](std::int64_t b, std::int64_t e) { for_range(loop, b, e, run); });
}

/// out[i] = f(a[i]) over out's shape (a broadcasts to it).
template <typename Out, typename A, typename F>
void map1(const Tensor& out, const Tensor& a, F f) {
  const auto loop = make_loop<2>(out.shape(), {&out, &a});
  run_loop(loop, [&](char** p, const std::int64_t* s, std::int64_t n) {
    Out* o = reinterpret_cast<Out*>(p[0]);
    const A* x = reinterpret_cast<const A*>(p[1]);
    if (s[0] == sizeof(Out) && s[1] == sizeof(A)) {
      for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
    } else if (s[0] == sizeof(Out) && s[1] == 0) {
      const Out v = f(*x);
      for (std::int64_t i = 0; i < n; ++i) o[i] = v;
    } else {
      for (std::int64_t i = 0; i < n; ++i)
        *reinterpret_cast<Out*>(p[0] + i * s[0]) = f(*reinterpret_cast<const A*>(p[1] + i * s[1]));
    }
  });
}

/// out[i] = f(a[i], b[i]) over out's shape (a and b broadcast to it).
template <typename Out, typename A, typename B, typename F>
void map2(const Tensor& out, const Tensor& a, const Tensor& b, F f) {
  const auto loop = make_loop<3>(out.shape(), {&out, &a, &b});
  run_loop(loop, [&](char** p, const std::int64_t* s, std::int64_t n) {
    Out* o = reinterpret_cast<Out*>(p[0]);
    const A* x = reinterpret_cast<const A*>(p[1]);
    const B* y = reinterpret_cast<const B*>(p[2]);
    if (s[0] == sizeof(Out) && s[1] == sizeof(A) && s[2] == sizeof(B)) {
      for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    } else if (s[0] == sizeof(Out) && s[1] == sizeof(A) && s[2] == 0) {
      const B yv = *y;
      for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
    } else if (s[0] == sizeof(Out) && s[1] == 0 && s[2] == sizeof(B)) {
      const A xv = *x;
      for (std::int64_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
    } else {
      for (std::int64_t i = 0; i < n; ++i)
        *reinterpret_cast<Out*>(p[0] + i * s[0]) =
            f(*reinterpret_cast<const A*>(p[1] + i * s[1]), *reinterpret_cast<const B*>(p[2] + i * s[2]));
    }
  });
}

/// out[i] = f(a[i], b[i], c[i]) over out's shape.
template <typename Out, typename A, typename B, typename C, typename F>
void map3(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor& c, F f) {
  const auto loop = make_loop<4>(out.shape(), {&out, &a, &b, &c});
  run_loop(loop, [&](char** p, const std::int64_t* s, std::int64_t n) {
    if (s[0] == sizeof(Out) && s[1] == sizeof(A) && s[2] == sizeof(B) && s[3] == sizeof(C)) {
      Out* o = reinterpret_cast<Out*>(p[0]);
      const A* x = reinterpret_cast<const A*>(p[1]);
      const B* y = reinterpret_cast<const B*>(p[2]);
      const C* z = reinterpret_cast<const C*>(p[3]);
      for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i], z[i]);
    } else {
      for (std::int64_t i = 0; i < n; ++i)
        *reinterpret_cast<Out*>(p[0] + i * s[0]) =
            f(*reinterpret_cast<const A*>(p[1] + i * s[1]), *reinterpret_cast<const B*>(p[2] + i * s[2]),
              *reinterpret_cast<const C*>(p[3] + i * s[3]));
    }
  });
}

}  // namespace tg::kernels

// Indexing, masking and selection. Index loops that write (the backward of index_select and
// gather, scatter_add, embedding's backward) run in index order on one thread per output
// slice, so repeated indices add up in a fixed order: deterministic and race-free.
#include "tapegrad/core/ops/index.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "kernels/loop.h"
#include "ops/pointwise.h"
#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops.h"
#include "tapegrad/core/ops/shape.h"
#include "tensor_detail.h"

namespace tg {
namespace {

using autograd::BackwardContext;
using autograd::SavedTensor;

void check_index_dtype(const Tensor& index, const char* op) {
  TG_CHECK(index.dtype() == kInt64, "{}: expected an int64 index tensor, got {}", op, dtype_name(index.dtype()));
}

void check_bool_mask(const Tensor& mask, const char* op) {
  TG_CHECK(mask.dtype() == kBool, "{}: expected a bool mask, got {}", op, dtype_name(mask.dtype()));
}

/// Sizes before, at and after dim.
struct Split3 {
  std::int64_t outer = 1, size = 1, inner = 1;
};
Split3 split3(IntArrayRef shape, std::int64_t dim) {
  Split3 s;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(shape.size()); ++i) {
    if (i < dim) s.outer *= shape[i];
    else if (i == dim) s.size = shape[i];
    else s.inner *= shape[i];
  }
  return s;
}

/// Validated index values, as a contiguous int64 copy. As in PyTorch, negative indices are
/// out of range here (they do not count from the end).
std::vector<std::int64_t> checked_indices(const Tensor& index, std::int64_t size, std::int64_t dim, const char* op) {
  std::vector<std::int64_t> idx = index.to_vector<std::int64_t>();
  for (auto i : idx)
    TG_CHECK(i >= 0 && i < size, "{}: index {} is out of range for dim {} of size {}", op, i, dim, size);
  return idx;
}

/// gx[o, idx[i], j] += g[o, i, j] (contiguous layouts).
Tensor index_add_zeros(IntArrayRef shape, std::int64_t dim, const std::vector<std::int64_t>& idx, const Tensor& g0) {
  const Tensor g = detail::as_contiguous(g0);
  Tensor gx = zeros(shape, g.dtype());
  const Split3 s = split3(shape, dim);
  const auto n = static_cast<std::int64_t>(idx.size());
  dispatch_floating(g.dtype(), "index_select_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* gp = static_cast<const T*>(g.data_ptr());
    T* xp = static_cast<T*>(gx.data_ptr());
    kernels::parallel_for(s.outer, 1, [&](std::int64_t o0, std::int64_t o1) {
      for (std::int64_t o = o0; o < o1; ++o)
        for (std::int64_t i = 0; i < n; ++i) {
          T* dst = xp + (o * s.size + idx[i]) * s.inner;
          const T* src = gp + (o * n + i) * s.inner;
          for (std::int64_t j = 0; j < s.inner; ++j) dst[j] += src[j];
        }
    });
  });
  return gx;
}

/// Calls f(flat position in a contiguous tensor of `shape`, coordinates) for every element.
template <typename F>
void for_each_coord(IntArrayRef shape, F f) {
  const std::int64_t n = numel_of(shape), nd = static_cast<std::int64_t>(shape.size());
  std::int64_t c[kMaxDims] = {};
  for (std::int64_t p = 0; p < n; ++p) {
    f(p, c);
    for (std::int64_t d = nd - 1; d >= 0; --d) {
      if (++c[d] < shape[d]) break;
      c[d] = 0;
    }
  }
}

/// Checks shared by gather and scatter_add: index has t's rank and fits in the other dims.
void check_gather_shapes(const Tensor& t, const Tensor& index, std::int64_t d, const char* op) {
  TG_CHECK(index.dim() == t.dim(), "{}: index has {} dims (shape {}) but the tensor has {} (shape {})", op, index.dim(),
           index.shape(), t.dim(), t.shape());
  for (std::int64_t k = 0; k < t.dim(); ++k) {
    TG_CHECK(k == d || index.shape()[k] <= t.shape()[k],
             "{}: index shape {} is larger than the tensor's shape {} in dim {} ({} > {})", op, index.shape(),
             t.shape(), k, index.shape()[k], t.shape()[k]);
  }
}

Tensor scatter_add_impl(const Tensor& self, std::int64_t d, const Tensor& index, const Tensor& src) {
  Tensor out = detail::contiguous_copy(self);
  const Tensor s = detail::as_contiguous(detail::convert(src, self.dtype()));
  const Tensor idx = detail::as_contiguous(index);
  const std::int64_t* ip = idx.data<std::int64_t>();
  const DimVec out_strides = out.strides(), src_strides = s.strides();
  const std::int64_t size = self.dim() == 0 ? 1 : self.shape()[d];
  dispatch_numeric(self.dtype(), "scatter_add", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* op = static_cast<T*>(out.data_ptr());
    const T* sp = static_cast<const T*>(s.data_ptr());
    for_each_coord(idx.shape(), [&](std::int64_t p, const std::int64_t* c) {
      const std::int64_t i = ip[p];
      TG_CHECK(i >= 0 && i < size, "scatter_add: index {} is out of range for dim {} of size {}", i, d, size);
      std::int64_t o = 0, so = 0;
      for (std::int64_t k = 0; k < idx.dim(); ++k) {
        o += (k == d ? i : c[k]) * out_strides[k];
        so += c[k] * src_strides[k];
      }
      op[o] += sp[so];
    });
  });
  return out;
}

}  // namespace

Tensor index_select(const Tensor& t, std::int64_t dim, const Tensor& index) {
  check_index_dtype(index, "index_select");
  TG_CHECK(index.dim() <= 1, "index_select: index must be 0-d or 1-d, got shape {}", index.shape());
  const std::int64_t d = normalize_dim(dim, t.dim(), "index_select");
  const DimVec in_shape = t.shape();
  const std::int64_t size = t.dim() == 0 ? 1 : in_shape[d];
  const std::vector<std::int64_t> idx = checked_indices(index, size, d, "index_select");
  const auto n = static_cast<std::int64_t>(idx.size());
  DimVec shape = in_shape;
  if (t.dim() > 0) shape[d] = n;
  Tensor out = detail::new_empty(shape, t.dtype(), "index_select");
  const Tensor x = detail::as_contiguous(t);
  const Split3 s = split3(in_shape, d);
  const std::size_t item = itemsize(t.dtype());
  const char* xp = static_cast<const char*>(x.data_ptr());
  char* op = static_cast<char*>(out.data_ptr());
  kernels::parallel_for(s.outer * n, std::max<std::int64_t>(1, kernels::kGrain / std::max<std::int64_t>(s.inner, 1)),
                        [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::int64_t o = r / n, i = r % n;
      std::memcpy(op + r * s.inner * item, xp + (o * s.size + idx[i]) * s.inner * item,
                  static_cast<std::size_t>(s.inner) * item);
    }
  });
  if (autograd::needs_grad(t)) {
    autograd::record("index_select", out, {&t},
                     [in_shape, d, idx](BackwardContext& c) { c.set(0, index_add_zeros(in_shape, d, idx, c.grad())); });
  }
  return out;
}

Tensor gather(const Tensor& t, std::int64_t dim, const Tensor& index) {
  check_index_dtype(index, "gather");
  const std::int64_t d = normalize_dim(dim, t.dim(), "gather");
  check_gather_shapes(t, index, d, "gather");
  const Tensor idx = detail::as_contiguous(index);
  const std::int64_t* ip = idx.data<std::int64_t>();
  const std::int64_t size = t.dim() == 0 ? 1 : t.shape()[d];
  Tensor out = detail::new_empty(index.shape(), t.dtype(), "gather");
  dispatch(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = static_cast<const T*>(t.data_ptr());
    T* op = static_cast<T*>(out.data_ptr());
    for_each_coord(idx.shape(), [&](std::int64_t p, const std::int64_t* c) {
      const std::int64_t i = ip[p];
      TG_CHECK(i >= 0 && i < size, "gather: index {} is out of range for dim {} of size {}", i, d, size);
      std::int64_t off = 0;
      for (std::int64_t k = 0; k < idx.dim(); ++k) off += (k == d ? i : c[k]) * t.strides()[k];
      op[p] = xp[off];
    });
  });
  if (autograd::needs_grad(t)) {
    autograd::record("gather", out, {&t}, [in_shape = t.shape(), d, si = SavedTensor::input(idx)](BackwardContext& c) {
      c.set(0, scatter_add_impl(zeros(in_shape, c.grad().dtype()), d, c.unpack(si), c.grad()));
    });
  }
  return out;
}

Tensor scatter_add(const Tensor& self, std::int64_t dim, const Tensor& index, const Tensor& src) {
  check_index_dtype(index, "scatter_add");
  const std::int64_t d = normalize_dim(dim, self.dim(), "scatter_add");
  check_gather_shapes(self, index, d, "scatter_add");
  TG_CHECK(src.dim() == index.dim(), "scatter_add: src has {} dims (shape {}) but index has {} (shape {})", src.dim(),
           src.shape(), index.dim(), index.shape());
  for (std::int64_t k = 0; k < index.dim(); ++k) {
    TG_CHECK(index.shape()[k] <= src.shape()[k], "scatter_add: index shape {} is larger than src's shape {} in dim {}",
             index.shape(), src.shape(), k);
  }
  // PyTorch: "scatter(): Expected self.dtype to be equal to src.dtype". Converting silently
  // would round a float64 source into float32 (and send the gradient back in the wrong dtype).
  TG_CHECK(src.dtype() == self.dtype(), "scatter_add: expected src dtype {} like self, got {}",
           dtype_name(self.dtype()), dtype_name(src.dtype()));
  Tensor out = scatter_add_impl(self, d, index, src);
  if (autograd::needs_grad(self, src)) {
    autograd::record("scatter_add", out, {&self, &src},
                     [d, si = SavedTensor::input(index), src_shape = src.shape()](BackwardContext& c) {
      if (c.needs(0)) c.set(0, c.grad());
      if (c.needs(1)) {
        const Tensor& idx = c.unpack(si);
        Tensor g = gather(c.grad(), d, idx);
        if (!same_values(g.shape(), src_shape)) {  // src larger than index: zeros elsewhere
          Tensor full = zeros(src_shape, g.dtype());
          Tensor view = full;
          for (std::int64_t k = 0; k < idx.dim(); ++k) view = view.slice(k, 0, idx.shape()[k]);
          view.copy_(g);
          g = full;
        }
        c.set(1, g);
      }
    });
  }
  return out;
}

Tensor embedding(const Tensor& weight, const Tensor& indices, std::int64_t padding_idx) {
  TG_CHECK(weight.dim() == 2, "embedding: weight must be 2-D [num_embeddings, embedding_dim], got shape {}",
           weight.shape());
  check_index_dtype(indices, "embedding");
  const std::int64_t V = weight.shape()[0], E = weight.shape()[1];
  TG_CHECK(padding_idx >= -1 && padding_idx < V,
           "embedding: padding_idx {} must be within num_embeddings ({}), or -1 for none", padding_idx, V);
  const std::vector<std::int64_t> idx = indices.to_vector<std::int64_t>();
  for (auto i : idx) TG_CHECK(i >= 0 && i < V, "embedding: index {} is out of range for an embedding of {} rows", i, V);
  DimVec shape = indices.shape();
  shape.push_back(E);
  Tensor out = detail::new_empty(shape, weight.dtype(), "embedding");
  const Tensor w = detail::as_contiguous(weight);
  const std::size_t row = static_cast<std::size_t>(E) * itemsize(weight.dtype());
  const char* wp = static_cast<const char*>(w.data_ptr());
  char* op = static_cast<char*>(out.data_ptr());
  const auto n = static_cast<std::int64_t>(idx.size());
  kernels::parallel_for(n, std::max<std::int64_t>(1, kernels::kGrain / std::max<std::int64_t>(E, 1)),
                        [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) std::memcpy(op + i * row, wp + idx[i] * row, row);
  });
  if (autograd::needs_grad(weight)) {
    // Rows of repeated indices add up; the padding row gets nothing.
    autograd::record("embedding", out, {&weight}, [idx, V, E, padding_idx](BackwardContext& c) {
      const Tensor g = detail::as_contiguous(c.grad());
      Tensor gw = zeros({V, E}, g.dtype());
      dispatch_floating(g.dtype(), "embedding_backward", [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* gp = static_cast<const T*>(g.data_ptr());
        T* wp = static_cast<T*>(gw.data_ptr());
        for (std::size_t i = 0; i < idx.size(); ++i) {
          if (idx[i] == padding_idx) continue;
          T* dst = wp + idx[i] * E;
          const T* src = gp + static_cast<std::int64_t>(i) * E;
          for (std::int64_t j = 0; j < E; ++j) dst[j] += src[j];
        }
      });
      c.set(0, gw);
    });
  }
  return out;
}

Tensor masked_fill(const Tensor& t, const Tensor& mask, double value) {
  check_bool_mask(mask, "masked_fill");
  TG_CHECK(same_values(broadcast_shapes(t.shape(), mask.shape(), "masked_fill"), t.shape()),
           "masked_fill: mask of shape {} does not broadcast to the tensor's shape {}", mask.shape(), t.shape());
  Tensor out = detail::new_empty(t.shape(), t.dtype());
  dispatch(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T v = scalar_cast<T>(value, "masked_fill");
    kernels::map2<T, T, bool>(out, t, mask, [v](T x, bool m) { return m ? v : x; });
  });
  if (autograd::needs_grad(t)) {
    autograd::record("masked_fill", out, {&t}, [sm = SavedTensor::input(mask)](BackwardContext& c) {
      c.set(0, masked_fill(c.grad(), c.unpack(sm), 0.0));
    });
  }
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_bool_mask(cond, "where");
  const DType dt = promote_types(a.dtype(), b.dtype());
  const DimVec shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  const Tensor x = detail::convert(a, dt), y = detail::convert(b, dt);
  Tensor out = detail::new_empty(shape, dt, "where");
  dispatch(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::map3<T, bool, T, T>(out, cond, x, y, [](bool m, T u, T v) { return m ? u : v; });
  });
  if (autograd::needs_grad(a, b)) {
    autograd::record("where", out, {&a, &b}, [sc = SavedTensor::input(cond)](BackwardContext& c) {
      const Tensor& m = c.unpack(sc);
      if (c.needs(0)) c.set(0, where(m, c.grad(), 0.0));
      if (c.needs(1)) c.set(1, where(m, 0.0, c.grad()));
    });
  }
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, double b) {
  return where(cond, a, scalar_tensor(b, is_floating(a.dtype()) ? a.dtype() : kFloat32));
}
Tensor where(const Tensor& cond, double a, const Tensor& b) {
  return where(cond, scalar_tensor(a, is_floating(b.dtype()) ? b.dtype() : kFloat32), b);
}

namespace {
Tensor triangle(const Tensor& t, std::int64_t diagonal, bool lower) {
  const char* op = lower ? "tril" : "triu";
  TG_CHECK(t.dim() >= 2, "{}: expected a tensor of at least 2 dims, got shape {}", op, t.shape());
  Tensor out = detail::contiguous_copy(t);
  const std::int64_t R = t.size(-2), C = t.size(-1), mats = R * C == 0 ? 0 : t.numel() / (R * C);
  const std::size_t item = itemsize(t.dtype());
  char* p = static_cast<char*>(out.data_ptr());
  for (std::int64_t m = 0; m < mats; ++m)
    for (std::int64_t i = 0; i < R; ++i) {
      // Keep j - i <= diagonal (lower) or j - i >= diagonal (upper); zero the rest of the row.
      char* row = p + (m * R + i) * C * static_cast<std::int64_t>(item);
      const std::int64_t split = std::clamp<std::int64_t>(lower ? i + diagonal + 1 : i + diagonal, 0, C);
      if (lower)
        std::memset(row + split * static_cast<std::int64_t>(item), 0, static_cast<std::size_t>(C - split) * item);
      else std::memset(row, 0, static_cast<std::size_t>(split) * item);
    }
  if (autograd::needs_grad(t)) {
    autograd::record(op, out, {&t}, [diagonal, lower](BackwardContext& c) {
      c.set(0, lower ? tril(c.grad(), diagonal) : triu(c.grad(), diagonal));
    });
  }
  return out;
}
}  // namespace

Tensor tril(const Tensor& t, std::int64_t diagonal) { return triangle(t, diagonal, true); }
Tensor triu(const Tensor& t, std::int64_t diagonal) { return triangle(t, diagonal, false); }

Tensor one_hot(const Tensor& indices, std::int64_t num_classes) {
  check_index_dtype(indices, "one_hot");
  const std::vector<std::int64_t> idx = indices.to_vector<std::int64_t>();
  if (num_classes < 0) {
    TG_CHECK(!idx.empty(), "one_hot: cannot infer num_classes from an empty tensor; pass it");
    const std::int64_t largest = *std::max_element(idx.begin(), idx.end());
    TG_CHECK(largest < INT64_MAX, "one_hot: index {} leaves no room for a class count in int64", largest);
    num_classes = largest + 1;
  }
  for (auto i : idx)
    TG_CHECK(i >= 0 && i < num_classes, "one_hot: index {} is out of range for {} classes", i, num_classes);
  DimVec shape = indices.shape();
  shape.push_back(num_classes);
  Tensor out = detail::new_empty(shape, kInt64, "one_hot");
  std::int64_t* p = out.data<std::int64_t>();
  std::fill(p, p + out.numel(), std::int64_t{0});
  for (std::size_t i = 0; i < idx.size(); ++i) p[static_cast<std::int64_t>(i) * num_classes + idx[i]] = 1;
  return out;
}

ValuesIndices topk(const Tensor& t, std::int64_t k, std::int64_t dim, bool largest, bool sorted) {
  (void)sorted;  // results always come sorted, which satisfies both settings
  const std::int64_t d = normalize_dim(dim, t.dim(), "topk");
  const std::int64_t n = t.dim() == 0 ? 1 : t.shape()[d];
  TG_CHECK(k >= 0 && k <= n, "topk: k ({}) is out of range for dim {} of size {}", k, d, n);
  TG_CHECK(t.dtype() != kBool, "topk: not defined for bool tensors");
  // Indices on rows (dim moved last), then the values by gather, which carries the gradient.
  const Tensor rows = detail::as_contiguous(t.dim() == 0 ? t.reshape({1}) : t.transpose(d, -1));
  DimVec idx_shape = rows.shape();
  idx_shape[idx_shape.size() - 1] = k;
  Tensor indices = detail::new_empty(idx_shape, kInt64, "topk");
  const std::int64_t nrows = n == 0 ? 0 : rows.numel() / n;
  dispatch(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = static_cast<const T*>(rows.data_ptr());
    std::int64_t* ip = indices.data<std::int64_t>();
    kernels::parallel_for(nrows, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(n, 1)),
                          [&](std::int64_t r0, std::int64_t r1) {
      std::vector<std::int64_t> order(static_cast<std::size_t>(n));
      for (std::int64_t r = r0; r < r1; ++r) {
        const T* x = xp + r * n;
        std::iota(order.begin(), order.end(), 0);
        // NaN counts as the largest value, as in PyTorch; ties go to the lower index.
        auto before = [&](std::int64_t a, std::int64_t b) {
          const T va = x[a], vb = x[b];
          const bool na = va != va, nb = vb != vb;
          if (na || nb) return largest ? (na && !nb) || (na && nb && a < b) : (!na && nb) || (na && nb && a < b);
          if (va != vb) return largest ? va > vb : va < vb;
          return a < b;
        };
        std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
        std::copy(order.begin(), order.begin() + k, ip + r * k);
      }
    });
  });
  if (t.dim() == 0) indices = indices.reshape({});
  else indices = indices.transpose(d, -1).contiguous();
  Tensor values = gather(t, d, indices);
  return {values, indices};
}

Tensor cumsum(const Tensor& t, std::int64_t dim) {
  const std::int64_t d = normalize_dim(dim, t.dim(), "cumsum");
  const DType dt = is_floating(t.dtype()) ? t.dtype() : kInt64;
  const Tensor x = detail::as_contiguous(detail::convert(t, dt));
  Tensor out = detail::new_empty(t.shape(), dt);
  const Split3 s = split3(t.shape(), d);
  dispatch_numeric(dt, "cumsum", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = static_cast<const T*>(x.data_ptr());
    T* op = static_cast<T*>(out.data_ptr());
    kernels::parallel_for(s.outer, 1, [&](std::int64_t o0, std::int64_t o1) {
      for (std::int64_t o = o0; o < o1; ++o) {
        const T* src = xp + o * s.size * s.inner;
        T* dst = op + o * s.size * s.inner;
        for (std::int64_t j = 0; j < s.inner; ++j) dst[j] = src[j];
        for (std::int64_t i = 1; i < s.size; ++i)
          for (std::int64_t j = 0; j < s.inner; ++j)
            dst[i * s.inner + j] = dst[(i - 1) * s.inner + j] + src[i * s.inner + j];
      }
    });
  });
  if (autograd::needs_grad(t)) {
    // d/dx_i of sum_{k <= j} x_k is 1 for every j >= i: the gradient is a reversed running sum.
    autograd::record("cumsum", out, {&t},
                     [d](BackwardContext& c) { c.set(0, flip(cumsum(flip(c.grad(), {d}), d), {d})); });
  }
  return out;
}

const Tensor& masked_fill_(const Tensor& x, const Tensor& mask, double value) {
  TG_CHECK(mask.dtype() == kBool, "masked_fill_: expected a bool mask, got {}", dtype_name(mask.dtype()));
  const bool recording = autograd::needs_grad(x);
  detail::check_inplace(x, &mask, "masked_fill_", recording);
  dispatch(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T v = scalar_cast<T>(value, "masked_fill_");
    kernels::map2<T, T, bool>(x, x, mask, [v](T u, bool m) { return m ? v : u; });
  });
  x.impl()->storage->bump_version("masked_fill_");
  if (recording) {
    autograd::record("masked_fill_", x, {&x}, [sm = SavedTensor::input(mask)](BackwardContext& c) {
      c.set(0, masked_fill(c.grad(), c.unpack(sm), 0.0));
    });
  }
  return x;
}

}  // namespace tg

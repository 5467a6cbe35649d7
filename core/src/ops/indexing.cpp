// x.index({...}) and x.index_put_({...}, value): PyTorch's x[...] (part of the index family).
//
// An index list is applied in two steps, as PyTorch does. First the basic part: integers
// select, slices slice, None unsqueezes and Ellipsis skips dims; that is a view of x made by the
// differentiable view ops. Then the advanced part, when there are tensors: each int64 tensor
// (a bool mask counts as one int64 tensor per dim it covers, its true positions) indexes one
// dim of that view. The tensors broadcast together to a shape B; the indexed dims are replaced
// by B, in place when they are next to each other and at the front otherwise.
//
// Reading the advanced part is a composition: permute the indexed dims to the front, merge them
// into one dim, and index_select the merged positions (whose backward adds up repeated
// indices), then reshape and move B where it belongs. Writing computes the storage offset of
// every element the index names and writes the value there; its backward is the same indexing
// applied to the gradient: the value's gradient is grad[indices], and x's gradient is grad
// with those positions zeroed.
#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>

#include "ops/pointwise.h"
#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops.h"
#include "tensor_detail.h"

namespace tg {
namespace {

using autograd::BackwardContext;

/// One tensor index of the advanced part: int64 values indexing dim `dim` of the basic view
/// (`xdim` is that dim's number in x, for messages).
struct Advanced {
  std::int64_t dim;
  std::int64_t xdim;
  Tensor index;
};

/// The result of the basic part, and what is left for the advanced part.
struct Plan {
  Tensor view;
  std::vector<Advanced> advanced;
};

std::int64_t dims_taken(const TensorIndex& i) {
  switch (i.kind()) {
    case TensorIndex::Kind::Integer:
    case TensorIndex::Kind::Slice: return 1;
    case TensorIndex::Kind::Tensor: return i.tensor().dtype() == kBool ? i.tensor().dim() : 1;
    default: return 0;
  }
}

/// The coordinates of the true entries of a bool mask in row-major order: one 1-D int64 tensor
/// per mask dim (PyTorch's mask.nonzero().unbind(1)).
std::vector<Tensor> true_positions(const Tensor& mask) {
  const Tensor m = detail::as_contiguous(mask);
  const bool* p = m.data<bool>();
  const std::int64_t n = m.numel(), nd = m.dim();
  std::vector<std::vector<std::int64_t>> cols(static_cast<std::size_t>(nd));
  std::int64_t c[kMaxDims] = {};
  for (std::int64_t k = 0; k < n; ++k) {
    if (p[k])
      for (std::int64_t d = 0; d < nd; ++d) cols[d].push_back(c[d]);
    for (std::int64_t d = nd - 1; d >= 0; --d) {
      if (++c[d] < m.shape().data()[d]) break;
      c[d] = 0;
    }
  }
  std::vector<Tensor> out;
  for (auto& col : cols) {
    const auto len = static_cast<std::int64_t>(col.size());
    out.push_back(from_vector(col, {len}));
  }
  return out;
}

Plan plan_indices(const Tensor& x, const std::vector<TensorIndex>& indices, const char* op) {
  std::int64_t taken = 0, ellipses = 0;
  for (const TensorIndex& i : indices) {
    taken += dims_taken(i);
    if (i.kind() == TensorIndex::Kind::Ellipsis) ++ellipses;
    if (i.kind() == TensorIndex::Kind::Tensor) {
      const DType dt = i.tensor().dtype();
      TG_CHECK(dt == kInt64 || dt == kBool, "{}: tensors used as indices must be int64 or bool, got {}", op,
               dtype_name(dt));
      TG_CHECK(dt != kBool || i.tensor().dim() > 0, "{}: a 0-d bool index is not supported; use None to add a dim", op);
    }
  }
  TG_CHECK(ellipses <= 1, "{}: an index can have only one Ellipsis (...), got {}", op, ellipses);
  TG_CHECK(taken <= x.dim(), "{}: too many indices for a tensor of {} dims (shape {}): the index takes {} dims", op,
           x.dim(), x.shape(), taken);
  Plan plan{x, {}};
  Tensor& v = plan.view;
  std::int64_t d = 0, xd = 0;  // the next dim of the view, and of x
  for (const TensorIndex& i : indices) {
    switch (i.kind()) {
      case TensorIndex::Kind::Integer: {
        const std::int64_t n = v.shape().data()[d], k = i.integer();
        TG_CHECK(k >= -n && k < n, "{}: index {} is out of range for dim {} of size {} (shape {})", op, k, xd, n,
                 x.shape());
        v = v.select(d, k);
        ++xd;
        break;
      }
      case TensorIndex::Kind::Slice: {
        const Slice& s = i.slice();
        const std::int64_t step = s.step().value_or(1);
        TG_CHECK(step > 0, "{}: a slice step must be positive, got {} (dim {})", op, step, xd);
        v = v.slice(d, s.start().value_or(0), s.stop().value_or(std::numeric_limits<std::int64_t>::max()), step);
        ++d, ++xd;
        break;
      }
      case TensorIndex::Kind::None:
        v = v.unsqueeze(d);
        ++d;
        break;
      case TensorIndex::Kind::Ellipsis:
        d += x.dim() - taken;
        xd += x.dim() - taken;
        break;
      case TensorIndex::Kind::Tensor: {
        const Tensor& t = i.tensor();
        if (t.dtype() == kInt64) {
          plan.advanced.push_back({d, xd, t});
          ++d, ++xd;
          break;
        }
        const std::int64_t m = t.dim();
        const DimVec covered(IntArrayRef(v.shape().data() + d, static_cast<std::size_t>(m)));
        TG_CHECK(same_values(t.shape(), covered),
                 "{}: the bool mask's shape {} does not match the shape {} of the dims {} to {} it indexes (tensor "
                 "shape {})",
                 op, t.shape(), covered, xd, xd + m - 1, x.shape());
        std::vector<Tensor> cols = true_positions(t);
        for (std::int64_t k = 0; k < m; ++k) plan.advanced.push_back({d + k, xd + k, std::move(cols[k])});
        d += m, xd += m;
        break;
      }
    }
  }
  return plan;
}

/// The advanced part's geometry: the broadcast index shape B, the flat index into the indexed
/// dims (row-major over their sizes) per element of B, and where B goes in the result.
struct AdvancedLayout {
  DimVec b_shape;
  std::vector<std::int64_t> flat;  // numel(B) entries
  std::vector<std::int64_t> indexed_dims, rest_dims;
  std::int64_t b_position = 0;  // the result's dim at which B starts
};

AdvancedLayout layout_of(const Plan& plan, const char* op) {
  const Tensor& v = plan.view;
  AdvancedLayout l;
  l.b_shape = plan.advanced[0].index.shape();
  for (const Advanced& a : plan.advanced) l.b_shape = broadcast_shapes(l.b_shape, a.index.shape(), op);
  const std::int64_t nb = numel_of(l.b_shape);
  l.flat.assign(static_cast<std::size_t>(nb), 0);
  std::int64_t scale = 1;
  for (auto a = plan.advanced.rbegin(); a != plan.advanced.rend(); ++a) {
    const std::int64_t n = v.shape().data()[a->dim];
    const Tensor idx = detail::as_contiguous(a->index.expand(l.b_shape));
    const std::int64_t* ip = idx.data<std::int64_t>();
    for (std::int64_t p = 0; p < nb; ++p) {
      std::int64_t k = ip[p];
      TG_CHECK(k >= -n && k < n, "{}: index {} is out of range for dim {} of size {}", op, k, a->xdim, n);
      l.flat[p] += (k < 0 ? k + n : k) * scale;
    }
    scale *= n;
  }
  bool adjacent = true;
  for (std::size_t k = 0; k < plan.advanced.size(); ++k) {
    l.indexed_dims.push_back(plan.advanced[k].dim);
    if (k > 0 && plan.advanced[k].dim != plan.advanced[k - 1].dim + 1) adjacent = false;
  }
  for (std::int64_t d = 0; d < v.dim(); ++d)
    if (std::find(l.indexed_dims.begin(), l.indexed_dims.end(), d) == l.indexed_dims.end()) l.rest_dims.push_back(d);
  l.b_position = adjacent ? l.indexed_dims[0] : 0;
  return l;
}

/// The result's shape: B at b_position among the remaining dims of the view.
DimVec result_shape(const Tensor& v, const AdvancedLayout& l) {
  DimVec shape;
  for (std::size_t k = 0; k <= l.rest_dims.size(); ++k) {
    if (static_cast<std::int64_t>(k) == l.b_position)
      for (auto s : l.b_shape) shape.push_back(s);
    if (k < l.rest_dims.size()) shape.push_back(v.shape().data()[l.rest_dims[k]]);
  }
  return shape;
}

Tensor read_advanced(const Plan& plan, const char* op) {
  const Tensor& v = plan.view;
  const AdvancedLayout l = layout_of(plan, op);
  DimVec perm, merged{1};
  for (auto d : l.indexed_dims) {
    perm.push_back(d);
    merged[0] *= v.shape().data()[d];
  }
  for (auto d : l.rest_dims) {
    perm.push_back(d);
    merged.push_back(v.shape().data()[d]);
  }
  const auto nb = static_cast<std::int64_t>(l.flat.size());
  const Tensor rows = index_select(v.permute(perm).reshape(merged), 0, from_vector(l.flat, {nb}));
  // rows: [numel(B), rest...] -> [B..., rest...], then B moved to b_position.
  DimVec unmerged = l.b_shape;
  for (auto d : l.rest_dims) unmerged.push_back(v.shape().data()[d]);
  Tensor out = rows.reshape(unmerged);
  if (l.b_position == 0) return out;
  const auto nbd = static_cast<std::int64_t>(l.b_shape.size());
  DimVec order;
  for (std::int64_t k = 0; k < l.b_position; ++k) order.push_back(nbd + k);
  for (std::int64_t k = 0; k < nbd; ++k) order.push_back(k);
  for (std::int64_t k = nbd + l.b_position; k < out.dim(); ++k) order.push_back(k);
  return out.permute(order);
}

/// Writes value (already of x's dtype, broadcastable to the indexed shape) at the elements the
/// plan names, or adds it there when accumulate (an element named several times gets every
/// value added, in order); the plan was made on a detached alias of x. No autograd, no version
/// bump.
void write_indexed(const Plan& plan, const Tensor& value, const char* op, bool accumulate = false) {
  const Tensor& v = plan.view;
  if (plan.advanced.empty()) {
    TG_CHECK(same_values(broadcast_shapes(v.shape(), value.shape(), op), v.shape()),
             "{}: the value's shape {} does not broadcast to the indexed shape {}", op, value.shape(), v.shape());
    detail::copy_into(v, accumulate ? add(v, value) : value);
    return;
  }
  const AdvancedLayout l = layout_of(plan, op);
  const DimVec shape = result_shape(v, l);
  TG_CHECK(same_values(broadcast_shapes(shape, value.shape(), op), shape),
           "{}: the value's shape {} does not broadcast to the indexed shape {}", op, value.shape(), shape);
  const Tensor val = detail::as_contiguous(value.expand(shape));
  // Storage offset of each element of B (the indexed dims' strides) ...
  std::vector<std::int64_t> b_offset(l.flat.size(), 0);
  for (std::size_t p = 0; p < l.flat.size(); ++p) {
    std::int64_t rem = l.flat[p];
    for (std::size_t k = l.indexed_dims.size(); k-- > 0;) {
      const std::int64_t d = l.indexed_dims[k], n = v.shape().data()[d];
      b_offset[p] += (rem % n) * v.strides().data()[d];
      rem /= n;
    }
  }
  // ... and of each result element: walk the result's coordinates in row-major order.
  const auto nbd = static_cast<std::int64_t>(l.b_shape.size());
  const std::int64_t nd = static_cast<std::int64_t>(shape.size()), n = numel_of(shape);
  dispatch(v.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* base = static_cast<T*>(v.impl()->storage->data()) + v.offset();
    const T* src = static_cast<const T*>(val.data_ptr());
    std::int64_t c[kMaxDims] = {};
    for (std::int64_t p = 0; p < n; ++p) {
      std::int64_t b = 0, off = 0, r = 0;
      for (std::int64_t d = 0; d < nd; ++d) {
        if (d >= l.b_position && d < l.b_position + nbd) {
          b = b * shape[d] + c[d];
        } else {
          off += c[d] * v.strides().data()[l.rest_dims[r++]];
        }
      }
      if (accumulate) {
        base[off + b_offset[b]] += src[p];
      } else {
        base[off + b_offset[b]] = src[p];
      }
      for (std::int64_t d = nd - 1; d >= 0; --d) {
        if (++c[d] < shape[d]) break;
        c[d] = 0;
      }
    }
  });
}

/// Index lists saved for backward own copies of their tensors (a later in-place change to an
/// index tensor must not change the gradient).
std::vector<TensorIndex> saved_indices(const std::vector<TensorIndex>& indices) {
  std::vector<TensorIndex> out;
  out.reserve(indices.size());
  for (const TensorIndex& i : indices)
    out.push_back(i.kind() == TensorIndex::Kind::Tensor ? TensorIndex(detail::contiguous_copy(i.tensor())) : i);
  return out;
}

const Tensor& put(const Tensor& x, const std::vector<TensorIndex>& indices, const Tensor* value_tensor, double value,
                  bool accumulate) {
  const char* op = "index_put_";
  TG_CHECK(!accumulate || x.dtype() != kBool,
           "index_put_: accumulate=true adds values, which a bool tensor cannot hold; use a numeric dtype");
  const bool recording =
      is_floating(x.dtype()) && (value_tensor ? autograd::needs_grad(x, *value_tensor) : autograd::needs_grad(x));
  detail::check_inplace(x, nullptr, op, recording);
  {
    NoGradGuard no_grad;
    const Plan plan = plan_indices(x.detach(), indices, op);
    Tensor v;
    if (value_tensor) {
      v = detail::convert(*value_tensor, x.dtype());
      if (v.shares_storage_with(x)) v = detail::contiguous_copy(v);  // read it all before writing
    } else {
      v = scalar_tensor(value, x.dtype());
    }
    write_indexed(plan, v, op, accumulate);
  }
  x.impl()->storage->bump_version(op);
  if (recording) {
    auto backward =
        [saved = saved_indices(indices), has_value = value_tensor != nullptr, accumulate](BackwardContext& c) {
      if (c.needs(0) && accumulate) c.set(0, c.grad());  // x + (values at the indices): all of x passes
      if (c.needs(0) && !accumulate) {                   // the overwritten elements get no gradient
        Tensor g = detail::contiguous_copy(c.grad());
        write_indexed(plan_indices(g, saved, "index_put_ backward"), scalar_tensor(0.0, g.dtype()),
                      "index_put_ backward");
        c.set(0, g);
      }
      if (has_value && c.needs(1))
        c.set(1, index(c.grad(), saved));  // a scalar value has no edge  // the engine sums it to the value's shape
    };
    if (value_tensor) autograd::record(op, x, {&x, value_tensor}, std::move(backward));
    else autograd::record(op, x, {&x}, std::move(backward));
  }
  return x;
}

}  // namespace

TensorIndex::TensorIndex(const char* text) : kind_(Kind::Ellipsis) {
  TG_CHECK(text != nullptr && std::string_view(text) == "...",
           "index: the only string an index takes is \"...\" (Ellipsis), got \"{}\"", text ? text : "");
}

Tensor index(const Tensor& x, const std::vector<TensorIndex>& indices) {
  Plan plan = plan_indices(x, indices, "index");
  if (plan.advanced.empty()) return plan.view;
  return read_advanced(plan, "index");
}

const Tensor& index_put_(const Tensor& x, const std::vector<TensorIndex>& indices, const Tensor& value,
                         bool accumulate) {
  return put(x, indices, &value, 0.0, accumulate);
}

const Tensor& index_put_(const Tensor& x, const std::vector<TensorIndex>& indices, double value, bool accumulate) {
  return put(x, indices, nullptr, value, accumulate);
}

Tensor Tensor::operator[](const TensorIndex& i) const { return tg::index(*this, {i}); }
Tensor Tensor::index(std::initializer_list<TensorIndex> indices) const { return tg::index(*this, indices); }
Tensor Tensor::index(const std::vector<TensorIndex>& indices) const { return tg::index(*this, indices); }
const Tensor& Tensor::index_put_(std::initializer_list<TensorIndex> indices, const Tensor& value,
                                 bool accumulate) const {
  return tg::index_put_(*this, indices, value, accumulate);
}
const Tensor& Tensor::index_put_(std::initializer_list<TensorIndex> indices, double value, bool accumulate) const {
  return tg::index_put_(*this, indices, value, accumulate);
}
const Tensor& Tensor::index_put_(const std::vector<TensorIndex>& indices, const Tensor& value, bool accumulate) const {
  return tg::index_put_(*this, indices, value, accumulate);
}
const Tensor& Tensor::index_put_(const std::vector<TensorIndex>& indices, double value, bool accumulate) const {
  return tg::index_put_(*this, indices, value, accumulate);
}

}  // namespace tg

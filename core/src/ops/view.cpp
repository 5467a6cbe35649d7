// View ops: new shape, strides and offset over the same storage. Each records a node whose
// backward maps the gradient back onto the input's geometry.
#include <numeric>
#include <optional>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops.h"
#include "tensor_detail.h"

namespace tg {
namespace {

using autograd::BackwardContext;

/// Resolves one -1 in a requested shape against numel; the result is a valid shape.
DimVec infer_shape(IntArrayRef requested, std::int64_t numel, const char* op) {
  DimVec shape(requested);
  int infer = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      TG_CHECK(infer < 0, "{}: only one dimension can be inferred (-1) in shape {}", op, requested);
      infer = static_cast<int>(i);
    } else {
      TG_CHECK(shape[i] >= 0, "{}: invalid size {} in shape {}", op, shape[i], requested);
    }
  }
  if (infer >= 0) shape[infer] = 1;  // for the product of the known sizes
  std::int64_t known = 0;
  TG_CHECK(numel_within_int64(shape, &known),
           "{}: shape {} is invalid for input of size {} (its sizes multiply past 2^63-1)", op, requested, numel);
  if (infer >= 0) {
    TG_CHECK(known != 0 && numel % known == 0, "{}: shape {} is invalid for input of size {}", op, requested, numel);
    shape[infer] = numel / known;
  } else {
    TG_CHECK(known == numel, "{}: shape {} is invalid for input of size {}", op, requested, numel);
  }
  return shape;
}

/// Strides that let `shape` view memory laid out as (old_shape, old_strides), if any exist.
/// Walks the old dims from the inside out in chunks that are contiguous with each other; each
/// chunk must be covered exactly by a run of new dims.
std::optional<DimVec> view_strides(IntArrayRef old_shape, IntArrayRef old_strides, IntArrayRef shape) {
  DimVec strides = DimVec::filled(shape.size(), 1);
  if (old_shape.empty()) return strides;  // a 0-d tensor: every new dim has size 1
  if (numel_of(old_shape) == 0) return contiguous_strides(shape);
  std::int64_t view_d = static_cast<std::int64_t>(shape.size()) - 1;
  std::int64_t chunk_base_stride = old_strides[old_strides.size() - 1];
  std::int64_t tensor_numel = 1;
  std::int64_t view_numel = 1;
  for (std::int64_t d = static_cast<std::int64_t>(old_shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_shape[d];
    const bool chunk_ends = d == 0 || (old_shape[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base_stride);
    if (!chunk_ends) continue;
    while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
      strides[view_d] = view_numel * chunk_base_stride;
      view_numel *= shape[view_d];
      --view_d;
    }
    if (view_numel != tensor_numel) return std::nullopt;
    if (d > 0) {
      chunk_base_stride = old_strides[d - 1];
      tensor_numel = 1;
      view_numel = 1;
    }
  }
  if (view_d != -1) return std::nullopt;
  return strides;
}

/// A view of in with the given geometry, tracked as a differentiable view of in's base (so that
/// an in-place op on it rewrites the base's history: autograd/view_history.cpp).
Tensor view_of(const Tensor& in, IntArrayRef shape, IntArrayRef strides, std::int64_t offset) {
  Tensor out = detail::make_view(in, shape, strides, offset);
  detail::track_view(out, in);
  return out;
}

/// Records a view's node: the gradient is reshaped back to the input's shape.
void record_reshape_back(const char* name, const Tensor& out, const Tensor& in) {
  if (!autograd::needs_grad(in)) return;
  autograd::record(name, out, {&in}, [shape = in.shape()](BackwardContext& c) { c.set(0, c.grad().reshape(shape)); });
}

}  // namespace

Tensor Tensor::view(IntArrayRef requested) const {
  const DimVec shape = infer_shape(requested, numel(), "view");
  const auto strides = view_strides(this->shape(), this->strides(), shape);
  TG_CHECK(strides.has_value(),
           "view: shape {} is not compatible with the strides {} of the input of shape {} (the input is not "
           "contiguous); use reshape(), which copies",
           shape, this->strides(), this->shape());
  Tensor out = view_of(*this, shape, *strides, offset());
  record_reshape_back("view", out, *this);
  return out;
}

Tensor Tensor::reshape(IntArrayRef requested) const {
  const DimVec shape = infer_shape(requested, numel(), "reshape");
  if (const auto strides = view_strides(this->shape(), this->strides(), shape)) {
    Tensor out = view_of(*this, shape, *strides, offset());
    record_reshape_back("reshape", out, *this);
    return out;
  }
  Tensor copy = detail::contiguous_copy(*this);
  Tensor out = detail::make_view(copy, shape, contiguous_strides(shape), 0);
  out.impl()->is_view = false;
  record_reshape_back("reshape", out, *this);
  return out;
}

Tensor Tensor::permute(IntArrayRef dims) const {
  const std::int64_t n = dim();
  TG_CHECK(static_cast<std::int64_t>(dims.size()) == n, "permute: expected {} dims for a tensor of shape {}, got {}", n,
           shape(), dims);
  DimVec shape, strides, inverse = DimVec::filled(n, -1);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t d = normalize_dim(dims[i], n, "permute");
    TG_CHECK(inverse[d] < 0, "permute: dim {} appears twice in {}", d, dims);
    inverse[d] = i;
    shape.push_back(this->shape().data()[d]);
    strides.push_back(this->strides().data()[d]);
  }
  Tensor out = view_of(*this, shape, strides, offset());
  if (autograd::needs_grad(*this))
    autograd::record("permute", out, {this}, [inverse](BackwardContext& c) { c.set(0, c.grad().permute(inverse)); });
  return out;
}

Tensor Tensor::transpose(std::int64_t dim0, std::int64_t dim1) const {
  const std::int64_t n = dim();
  const std::int64_t a = normalize_dim(dim0, n, "transpose");
  const std::int64_t b = normalize_dim(dim1, n, "transpose");
  DimVec shape = this->shape(), strides = this->strides();
  if (n > 0) {
    std::swap(shape[a], shape[b]);
    std::swap(strides[a], strides[b]);
  }
  Tensor out = view_of(*this, shape, strides, offset());
  if (autograd::needs_grad(*this))
    autograd::record("transpose", out, {this}, [a, b](BackwardContext& c) { c.set(0, c.grad().transpose(a, b)); });
  return out;
}

Tensor Tensor::t() const {
  TG_CHECK(dim() <= 2, "t: expects a tensor of at most 2 dims, got shape {}", shape());
  return dim() < 2 ? *this : transpose(0, 1);
}

Tensor Tensor::unsqueeze(std::int64_t d) const {
  const std::int64_t pos = normalize_dim(d, dim() + 1, "unsqueeze");
  DimVec shape = this->shape(), strides = this->strides();
  const std::int64_t stride = pos < dim() ? shape[pos] * strides[pos] : 1;
  shape.insert(pos, 1);
  strides.insert(pos, stride);
  Tensor out = view_of(*this, shape, strides, offset());
  record_reshape_back("unsqueeze", out, *this);
  return out;
}

Tensor Tensor::squeeze() const {
  DimVec shape, strides;
  for (std::int64_t i = 0; i < dim(); ++i) {
    if (this->shape().data()[i] == 1) continue;
    shape.push_back(this->shape().data()[i]);
    strides.push_back(this->strides().data()[i]);
  }
  Tensor out = view_of(*this, shape, strides, offset());
  record_reshape_back("squeeze", out, *this);
  return out;
}

Tensor Tensor::squeeze(std::int64_t d) const {
  const std::int64_t pos = normalize_dim(d, dim(), "squeeze");
  if (dim() == 0 || shape().data()[pos] != 1) return *this;
  DimVec shape = this->shape(), strides = this->strides();
  shape.erase(pos);
  strides.erase(pos);
  Tensor out = view_of(*this, shape, strides, offset());
  record_reshape_back("squeeze", out, *this);
  return out;
}

Tensor Tensor::expand(IntArrayRef requested) const {
  const std::int64_t n = static_cast<std::int64_t>(requested.size());
  TG_CHECK(n >= dim(), "expand: the requested shape {} has fewer dims than the tensor's shape {}", requested, shape());
  DimVec shape = DimVec::filled(n, 0), strides = DimVec::filled(n, 0);
  for (std::int64_t i = n - 1; i >= 0; --i) {
    const std::int64_t j = i - (n - dim());
    std::int64_t want = requested[i];
    if (j < 0) {
      TG_CHECK(want >= 0, "expand: size {} is not allowed for the new leading dim {} of {}", want, i, requested);
      shape[i] = want;
      strides[i] = 0;
      continue;
    }
    const std::int64_t have = this->shape().data()[j];
    if (want == -1) want = have;
    TG_CHECK(want >= 0, "expand: invalid size {} for dim {} in {} (only -1, which keeps the size, may be negative)",
             want, j, requested);
    TG_CHECK(have == want || have == 1,
             "expand: the size of dim {} ({}) must match the requested size {} or be 1 (shape {} to {})", j, have, want,
             this->shape(), requested);
    shape[i] = want;
    strides[i] = have == want ? this->strides().data()[j] : 0;
  }
  checked_numel(shape, "expand");
  Tensor out = view_of(*this, shape, strides, offset());
  if (autograd::needs_grad(*this))  // the engine sums the gradient back to the input's shape
    autograd::record("expand", out, {this}, [](BackwardContext& c) { c.set(0, c.grad()); });
  return out;
}

Tensor Tensor::slice(std::int64_t d, std::int64_t start, std::int64_t end, std::int64_t step) const {
  const std::int64_t pos = normalize_dim(d, dim(), "slice");
  TG_CHECK(dim() > 0, "slice: cannot slice a 0-d tensor");
  TG_CHECK(step > 0, "slice: step must be positive, got {}", step);
  const std::int64_t n = shape().data()[pos];
  if (start < 0) start += n;  // start + n and end + n cannot overflow: one is negative, n >= 0
  if (end < 0) end += n;
  start = std::clamp<std::int64_t>(start, 0, n);
  end = std::clamp<std::int64_t>(end, start, n);
  DimVec shape = this->shape(), strides = this->strides();
  // ceil((end - start) / step) without forming end - start + step - 1, which overflows for a
  // huge step; a step beyond the extent takes one element, and its stride is then never used.
  const std::int64_t len = end - start;
  shape[pos] = len == 0 ? 0 : (len - 1) / step + 1;
  if (shape[pos] > 1) strides[pos] *= step;  // step < n here, so stride * step stays in the storage
  Tensor out = view_of(*this, shape, strides, offset() + start * this->strides().data()[pos]);
  if (autograd::needs_grad(*this)) {
    autograd::record("slice", out, {this}, [pos, start, end, step](BackwardContext& c) {
      c.set_region(
          0, [=](const Tensor& full) { return full.slice(pos, start, end, step); }, c.grad());
    });
  }
  return out;
}

Tensor Tensor::select(std::int64_t d, std::int64_t index) const {
  const std::int64_t pos = normalize_dim(d, dim(), "select");
  TG_CHECK(dim() > 0, "select: cannot select from a 0-d tensor");
  const std::int64_t n = shape().data()[pos];
  TG_CHECK(index >= -n && index < n, "select: index {} is out of range for dim {} of size {}", index, pos, n);
  if (index < 0) index += n;
  DimVec shape = this->shape(), strides = this->strides();
  shape.erase(pos);
  strides.erase(pos);
  Tensor out = view_of(*this, shape, strides, offset() + index * this->strides().data()[pos]);
  if (autograd::needs_grad(*this)) {
    autograd::record("select", out, {this}, [pos, index](BackwardContext& c) {
      c.set_region(
          0, [pos, index](const Tensor& full) { return full.select(pos, index); }, c.grad());
    });
  }
  return out;
}

}  // namespace tg

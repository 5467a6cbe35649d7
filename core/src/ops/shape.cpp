// Joining, splitting and rearranging. Most are compositions of views (split, chunk, narrow,
// flatten, unflatten, repeat, stack) and need no backward of their own; cat and flip copy and
// carry their own.
#include "tapegrad/core/ops/shape.h"

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/ops.h"
#include "tensor_detail.h"

namespace tg {

using autograd::BackwardContext;

Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim) {
  TG_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
  const Tensor& first = tensors[0];
  TG_CHECK(first.dim() > 0, "cat: zero-dimensional tensor 0 cannot be concatenated");
  const std::int64_t d = normalize_dim(dim, first.dim(), "cat");
  DimVec shape = first.shape();
  shape[d] = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    TG_CHECK(t.dtype() == first.dtype(), "cat: tensor {} has dtype {} but tensor 0 has {}", i, dtype_name(t.dtype()),
             dtype_name(first.dtype()));
    TG_CHECK(t.dim() == first.dim(), "cat: tensor {} has {} dims (shape {}) but tensor 0 has {} (shape {})", i, t.dim(),
             t.shape(), first.dim(), first.shape());
    for (std::int64_t k = 0; k < t.dim(); ++k) {
      TG_CHECK(k == d || t.shape()[k] == first.shape()[k],
               "cat: sizes must match except in dim {}: tensor {} has shape {} but tensor 0 has shape {} (dim {}: {} "
               "!= {})",
               d, i, t.shape(), first.shape(), k, t.shape()[k], first.shape()[k]);
    }
    shape[d] = checked_add(shape[d], t.shape()[d], "cat", "the size of the concatenated dim");
  }
  Tensor out = detail::new_empty(shape, first.dtype(), "cat");
  std::vector<std::int64_t> sizes;
  std::int64_t offset = 0;
  {
    NoGradGuard guard;
    for (const Tensor& t : tensors) {
      detail::copy_into(out.slice(d, offset, offset + t.shape()[d]), t);
      sizes.push_back(t.shape()[d]);
      offset += t.shape()[d];
    }
  }
  bool any = false;
  for (const Tensor& t : tensors) any = any || autograd::needs_grad(t);
  if (any) {
    std::vector<const Tensor*> inputs;
    for (const Tensor& t : tensors) inputs.push_back(&t);
    autograd::record("cat", out, inputs, [d, sizes](BackwardContext& c) {
      std::int64_t off = 0;
      for (std::size_t i = 0; i < sizes.size(); ++i) {
        if (c.needs(i)) c.set(i, c.grad().slice(d, off, off + sizes[i]));
        off += sizes[i];
      }
    });
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim) {
  TG_CHECK(!tensors.empty(), "stack: expected a non-empty list of tensors");
  const std::int64_t d = normalize_dim(dim, tensors[0].dim() + 1, "stack");
  for (std::size_t i = 1; i < tensors.size(); ++i) {
    TG_CHECK(tensors[i].dtype() == tensors[0].dtype(), "stack: tensor {} has dtype {} but tensor 0 has {}", i,
             dtype_name(tensors[i].dtype()), dtype_name(tensors[0].dtype()));
    TG_CHECK(same_values(tensors[i].shape(), tensors[0].shape()),
             "stack: all tensors must have the same shape, but tensor {} has shape {} and tensor 0 has {}", i,
             tensors[i].shape(), tensors[0].shape());
  }
  DimVec shape = tensors[0].shape();
  shape.insert(static_cast<std::size_t>(d), static_cast<std::int64_t>(tensors.size()));
  checked_numel(shape, "stack");
  std::vector<Tensor> parts;
  parts.reserve(tensors.size());
  for (const Tensor& t : tensors) parts.push_back(t.unsqueeze(d));
  return cat(parts, d);
}

std::vector<Tensor> split(const Tensor& t, std::int64_t split_size, std::int64_t dim) {
  TG_CHECK(t.dim() > 0, "split: expected a tensor of at least 1 dim, got a 0-d tensor");
  const std::int64_t d = normalize_dim(dim, t.dim(), "split");
  TG_CHECK(split_size > 0 || (split_size == 0 && t.shape()[d] == 0),
           "split: split_size must be positive, got {} (dim {} has size {})", split_size, d, t.shape()[d]);
  std::vector<Tensor> out;
  const std::int64_t n = t.shape()[d];
  for (std::int64_t start = 0; start < n; start += split_size)
    out.push_back(t.slice(d, start, std::min(n, start + split_size)));
  if (out.empty()) out.push_back(t);
  return out;
}

std::vector<Tensor> split(const Tensor& t, IntArrayRef sizes, std::int64_t dim) {
  TG_CHECK(t.dim() > 0, "split: expected a tensor of at least 1 dim, got a 0-d tensor");
  const std::int64_t d = normalize_dim(dim, t.dim(), "split");
  std::int64_t total = 0;
  for (auto s : sizes) {
    TG_CHECK(s >= 0, "split: sizes must be non-negative, got {}", sizes);
    total = checked_add(total, s, "split", "the sum of the sizes");
  }
  TG_CHECK(total == t.shape()[d], "split: sizes {} add up to {} but dim {} has size {}", sizes, total, d, t.shape()[d]);
  std::vector<Tensor> out;
  std::int64_t start = 0;
  for (auto s : sizes) {
    out.push_back(t.slice(d, start, start + s));
    start += s;
  }
  return out;
}

std::vector<Tensor> chunk(const Tensor& t, std::int64_t chunks, std::int64_t dim) {
  TG_CHECK(chunks > 0, "chunk: the number of chunks must be positive, got {}", chunks);
  TG_CHECK(t.dim() > 0, "chunk: expected a tensor of at least 1 dim, got a 0-d tensor");
  const std::int64_t d = normalize_dim(dim, t.dim(), "chunk");
  const std::int64_t n = t.shape()[d];
  const std::int64_t per_chunk = n / chunks + (n % chunks != 0 ? 1 : 0);  // ceil(n / chunks) without n + chunks
  return split(t, std::max<std::int64_t>(per_chunk, n == 0 ? 0 : 1), d);
}

Tensor narrow(const Tensor& t, std::int64_t dim, std::int64_t start, std::int64_t length) {
  TG_CHECK(t.dim() > 0, "narrow: cannot be applied to a 0-d tensor");
  const std::int64_t d = normalize_dim(dim, t.dim(), "narrow");
  const std::int64_t n = t.shape()[d];
  if (start < 0) start += n;
  TG_CHECK(start >= 0 && start <= n && length >= 0 && length <= n - start,  // not start + length: it can overflow
           "narrow: start {} and length {} are out of range for dim {} of size {}", start, length, d, n);
  return t.slice(d, start, start + length);
}

Tensor flip(const Tensor& t, IntArrayRef dims) {
  if (t.dim() == 0) {  // nothing to reverse
    for (auto dim : dims) normalize_dim(dim, 0, "flip");
    return t.clone();
  }
  DimVec strides = t.strides();
  std::int64_t offset = t.offset();
  bool seen[kMaxDims] = {};
  for (auto dim : dims) {
    const std::int64_t d = normalize_dim(dim, t.dim(), "flip");
    TG_CHECK(!seen[d], "flip: dim {} appears more than once in {}", d, dims);
    seen[d] = true;
    if (t.shape()[d] > 0) offset += (t.shape()[d] - 1) * strides[d];
    strides[d] = -strides[d];
  }
  // A view that walks the flipped dims backwards (negative strides), copied out.
  Tensor out = detail::contiguous_copy(detail::make_view(t, t.shape(), strides, offset));
  if (autograd::needs_grad(t)) {
    autograd::record("flip", out, {&t}, [d = DimVec(dims)](BackwardContext& c) { c.set(0, flip(c.grad(), d)); });
  }
  return out;
}

Tensor repeat(const Tensor& t, IntArrayRef repeats) {
  const std::int64_t n = static_cast<std::int64_t>(repeats.size());
  TG_CHECK(n >= t.dim(), "repeat: {} repeats given for a tensor of {} dims (shape {}); give at least one per dim", n,
           t.dim(), t.shape());
  // [.., s_i, ..] viewed as [.., 1, s_i, ..], expanded to [.., r_i, s_i, ..], then merged.
  DimVec interleaved, expanded, result;
  for (std::int64_t i = 0; i < n; ++i) {
    TG_CHECK(repeats[i] >= 0, "repeat: repeats must be non-negative, got {}", repeats);
    const std::int64_t j = i - (n - t.dim());
    const std::int64_t s = j >= 0 ? t.shape()[j] : 1;
    interleaved.push_back(1);
    interleaved.push_back(s);
    expanded.push_back(repeats[i]);
    expanded.push_back(s);
    std::int64_t size = 0;
    TG_CHECK(!__builtin_mul_overflow(repeats[i], s, &size),
             "repeat: repeats {} of shape {} make dim {} larger than 2^63-1 ({} * {})", repeats, t.shape(), i,
             repeats[i], s);
    result.push_back(size);
  }
  checked_numel(result, "repeat");
  return t.reshape(interleaved).expand(expanded).reshape(result);
}

Tensor expand_as(const Tensor& t, const Tensor& other) { return t.expand(other.shape()); }

Tensor flatten(const Tensor& t, std::int64_t start_dim, std::int64_t end_dim) {
  if (t.dim() == 0) return t.reshape({1});
  const std::int64_t s = normalize_dim(start_dim, t.dim(), "flatten");
  const std::int64_t e = normalize_dim(end_dim, t.dim(), "flatten");
  TG_CHECK(s <= e, "flatten: start_dim {} comes after end_dim {}", s, e);
  DimVec shape;
  for (std::int64_t i = 0; i < s; ++i) shape.push_back(t.shape()[i]);
  std::int64_t merged = 1;
  for (std::int64_t i = s; i <= e; ++i) merged *= t.shape()[i];
  shape.push_back(merged);
  for (std::int64_t i = e + 1; i < t.dim(); ++i) shape.push_back(t.shape()[i]);
  return t.reshape(shape);
}

Tensor unflatten(const Tensor& t, std::int64_t dim, IntArrayRef sizes) {
  TG_CHECK(t.dim() > 0, "unflatten: expected a tensor of at least 1 dim, got a 0-d tensor");
  const std::int64_t d = normalize_dim(dim, t.dim(), "unflatten");
  TG_CHECK(!sizes.empty(), "unflatten: sizes must not be empty");
  DimVec shape;
  for (std::int64_t i = 0; i < d; ++i) shape.push_back(t.shape()[i]);
  std::int64_t infer = -1;
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    if (sizes[k] == -1) {
      TG_CHECK(infer < 0, "unflatten: only one size can be inferred (-1), got sizes {}", sizes);
      infer = static_cast<std::int64_t>(shape.size());
    } else {
      TG_CHECK(sizes[k] >= 0, "unflatten: invalid size {} in sizes {}", sizes[k], sizes);
    }
    shape.push_back(sizes[k] == -1 ? 1 : sizes[k]);  // 1 stands for -1 in the product of the known sizes
  }
  std::int64_t known = 0;
  TG_CHECK(numel_within_int64(IntArrayRef(shape.data() + d, sizes.size()), &known),
           "unflatten: sizes {} multiply past 2^63-1 (dim {} has size {})", sizes, d, t.shape()[d]);
  if (infer >= 0) {
    TG_CHECK(known != 0, "unflatten: the size -1 in {} cannot be inferred when the other sizes multiply to 0", sizes);
    shape[infer] = t.shape()[d] / known;
  }
  TG_CHECK(numel_of(IntArrayRef(shape.data() + d, sizes.size())) == t.shape()[d],
           "unflatten: sizes {} do not multiply to the size {} of dim {}", sizes, t.shape()[d], d);
  for (std::int64_t i = d + 1; i < t.dim(); ++i) shape.push_back(t.shape()[i]);
  return t.reshape(shape);
}

}  // namespace tg

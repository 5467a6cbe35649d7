#pragma once
/// tg::Tensor: a handle to shape, strides and offset over shared Storage, plus the autograd
/// state that the tape needs. Copying a Tensor copies the handle, not the data (as in PyTorch).
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tapegrad/core/dtype.h"
#include "tapegrad/core/shape.h"
#include "tapegrad/core/storage.h"

namespace tg {

namespace autograd {
class Node;
}

namespace detail {
/// Throws the tg::Error of an out-of-range index into shape() ("shape") or strides() ("strides").
[[noreturn]] void throw_dims_index(const char* what, std::int64_t index, IntArrayRef dims);
}  // namespace detail

/// What shape() / sizes() and strides() return: a DimVec whose operator[] takes negative
/// indices from the end (`x.shape()[-1]` is the last extent, as `x.shape[-1]` in Python) and
/// throws tg::Error for an index out of range, never reading past the dims. Everything else is
/// DimVec's (iteration, size(), ==, conversion to IntArrayRef). Library code that has checked
/// its index already reads `data()[i]`.
template <typename Tag>
class CheckedDims : public DimVec {
 public:
  using DimVec::DimVec;
  CheckedDims() = default;
  CheckedDims(const DimVec& values) : DimVec(values) {}  // NOLINT: implicit by design
  std::int64_t operator[](std::int64_t i) const { return data()[checked_index(i)]; }
  std::int64_t& operator[](std::int64_t i) { return data()[checked_index(i)]; }

 private:
  std::size_t checked_index(std::int64_t i) const {
    const auto n = static_cast<std::int64_t>(size());
    const std::int64_t j = i < 0 ? i + n : i;
    if (j < 0 || j >= n) [[unlikely]]
      detail::throw_dims_index(Tag::kName, i, *this);
    return static_cast<std::size_t>(j);
  }
};
struct SizesTag {
  static constexpr const char* kName = "shape";
};
struct StridesTag {
  static constexpr const char* kName = "strides";
};
/// A tensor's extents (Tensor::shape(), Tensor::sizes()).
using Sizes = CheckedDims<SizesTag>;
/// A tensor's strides in elements (Tensor::strides()).
using Strides = CheckedDims<StridesTag>;

/// What a tensor is: a strided view of a Storage, and its place in the autograd graph.
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Sizes shape;
  Strides strides;          // in elements
  std::int64_t offset = 0;  // in elements
  DType dtype = kFloat32;
  bool is_view = false;  // shares its storage with the tensor it was made from

  // Autograd. A tensor produced by a recorded op holds the Node that made it (grad_fn);
  // a leaf that requires grad holds its gradient and, weakly, the node that accumulates it.
  bool requires_grad = false;
  std::shared_ptr<autograd::Node> grad_fn;
  std::shared_ptr<TensorImpl> grad;
  std::weak_ptr<autograd::Node> grad_accumulator;
  // A differentiable view (made by a view op while grad mode was on) keeps the tensor whose
  // storage it views (view_base; never a differentiable view itself) and the storage version
  // at which its grad_fn was last made. An in-place op on the view rewrites the base's history
  // (CopySlices); a view whose version has moved takes its grad_fn again from the base's
  // history when next used. See docs/autograd.md, "In-place ops on views".
  std::shared_ptr<TensorImpl> view_base;
  std::uint64_t view_version = 0;

  std::int64_t numel() const { return numel_of(shape); }
  char* data_bytes() const {
    return static_cast<char*>(storage->data()) + offset * static_cast<std::int64_t>(itemsize(dtype));
  }
};

/// Options for factories: dtype and requires_grad. Implicit from a DType, so
/// `zeros({2, 3}, kFloat64)` works; `Options().dtype(kFloat64).requires_grad(true)` chains.
class Options {
 public:
  Options() = default;
  Options(DType dtype) : dtype_(dtype) {}  // NOLINT: implicit by design
  Options& dtype(DType d) {
    dtype_ = d;
    return *this;
  }
  Options& requires_grad(bool r = true) {
    requires_grad_ = r;
    return *this;
  }
  DType dtype() const { return dtype_; }
  bool requires_grad() const { return requires_grad_; }

 private:
  DType dtype_ = kFloat32;
  bool requires_grad_ = false;
};

class Tensor;
/// A (values, indices) pair, as returned by max(dim) and min(dim).
struct ValuesIndices;
/// One entry of x.index({...}): an integer, Slice, None, Ellipsis, or a bool / int64 tensor
/// (tapegrad/core/indexing.h).
class TensorIndex;

/// Integer arguments of the variadic forms x.view(2, 3), x.permute(0, 2, 1).
template <typename T>
concept DimInteger = std::integral<T> && !std::same_as<T, bool>;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  // ---- metadata -------------------------------------------------------------------------
  /// The extents; shape()[-1] is the last one, and an index out of range throws tg::Error.
  const Sizes& shape() const { return checked()->shape; }
  /// libtorch's name for shape().
  const Sizes& sizes() const { return checked()->shape; }
  const Strides& strides() const { return checked()->strides; }
  /// Extent of one dim (negative dims count from the end).
  std::int64_t size(std::int64_t dim) const;
  std::int64_t stride(std::int64_t dim) const;
  std::int64_t offset() const { return checked()->offset; }
  std::int64_t dim() const { return static_cast<std::int64_t>(checked()->shape.size()); }
  std::int64_t numel() const { return checked()->numel(); }
  DType dtype() const { return checked()->dtype; }
  bool is_contiguous() const;
  /// Pointer to the first element (offset applied).
  void* data_ptr() const { return checked()->data_bytes(); }
  /// Typed pointer to the first element; checks that T matches the dtype.
  template <typename T>
  T* data() const;
  /// True when both tensors view the same storage.
  bool shares_storage_with(const Tensor& other) const;
  /// The storage's version counter (bumped by in-place ops).
  std::uint64_t version() const { return checked()->storage->version(); }

  // ---- autograd ---------------------------------------------------------------------------
  /// True when the tensor has or will take a gradient (a view also when its base requires grad).
  bool requires_grad() const {
    const TensorImpl* t = checked();
    return t->requires_grad || (t->view_base && t->view_base->requires_grad);
  }
  /// Marks a leaf as requiring grad (floating dtypes only).
  const Tensor& requires_grad_(bool on = true) const;
  /// The accumulated gradient of a leaf (undefined until a backward reaches it).
  Tensor grad() const;
  void set_grad(const Tensor& grad) const;
  /// Zeroes the gradient in place, or drops it when set_to_none.
  void zero_grad(bool set_to_none = false) const;
  /// A tensor is a leaf when no recorded op produced it (a view of a tensor that requires grad
  /// is not a leaf).
  bool is_leaf() const {
    const TensorImpl* t = checked();
    return t->grad_fn == nullptr && !(t->view_base && t->view_base->requires_grad);
  }
  /// The node that made this tensor (null for a leaf). A view whose base was modified in place
  /// since gets a fresh one from the base's history ("AsStridedBackward").
  const std::shared_ptr<autograd::Node>& grad_fn() const;
  /// "MulBackward" and so on, or "" for a leaf.
  std::string grad_fn_name() const;
  /// Same data, cut from the graph.
  Tensor detach() const;
  /// Makes this tensor (and every handle to it) hold other's data, shape and dtype, keeping its
  /// own autograd flags; the gradient is dropped. For leaves only (PyTorch's `t.data = other`).
  void set_data(const Tensor& other) const;
  /// Backpropagates from this tensor: a scalar, or any shape with an explicit gradient.
  void backward(const Tensor& gradient = {}, bool retain_graph = false) const;

  // ---- conversion and access --------------------------------------------------------------
  /// A copy in another dtype (this tensor when it already has it). Floating to int64 truncates
  /// toward zero; NaN, inf or a value outside int64's range is a tg::Error naming the element
  /// (as are item<std::int64_t>(), at<std::int64_t>(), to_vector<std::int64_t>() and copy_()).
  Tensor to(DType dtype) const;
  /// This tensor if already contiguous, else a contiguous copy (differentiable).
  Tensor contiguous() const;
  /// A copy with its own storage (differentiable).
  Tensor clone() const;
  /// The value of a one-element tensor, converted to double.
  double item() const;
  template <typename T>
  T item() const;
  /// One element, by index (negative indices count from the end); for tests and debugging.
  template <typename T>
  T at(IntArrayRef index) const;
  /// All elements in row-major order.
  template <typename T>
  std::vector<T> to_vector() const;

  // ---- views (share storage; differentiable) -------------------------------------------------
  // view, reshape, permute, expand, repeat and flip also take their ints one by one, as in
  // PyTorch: x.view(B, T, H, d), x.permute(0, 2, 1); the brace forms x.view({B, T, H, d}) work too.
  /// Same data with a new shape; one -1 is inferred. Errors if the strides do not allow a view.
  Tensor view(IntArrayRef shape) const;
  /// view() when possible, else a copy.
  Tensor reshape(IntArrayRef shape) const;
  Tensor permute(IntArrayRef dims) const;
  Tensor transpose(std::int64_t dim0, std::int64_t dim1) const;
  /// Transpose of a 2-D tensor.
  Tensor t() const;
  Tensor unsqueeze(std::int64_t dim) const;
  /// Drops every size-1 dim.
  Tensor squeeze() const;
  /// Drops dim if its size is 1 (else returns the tensor as is, like PyTorch).
  Tensor squeeze(std::int64_t dim) const;
  /// Broadcasts size-1 dims to the given shape (-1 keeps a size), without copying.
  Tensor expand(IntArrayRef shape) const;
  /// Elements start, start+step, ... < end along dim (negative start/end count from the end).
  Tensor slice(std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step = 1) const;
  /// The sub-tensor at index along dim, with that dim removed.
  Tensor select(std::int64_t dim, std::int64_t index) const;
  template <DimInteger I0, DimInteger... I>
  Tensor view(I0 first, I... rest) const {
    return view(IntArrayRef{static_cast<std::int64_t>(first), static_cast<std::int64_t>(rest)...});
  }
  template <DimInteger I0, DimInteger... I>
  Tensor reshape(I0 first, I... rest) const {
    return reshape(IntArrayRef{static_cast<std::int64_t>(first), static_cast<std::int64_t>(rest)...});
  }
  template <DimInteger I0, DimInteger... I>
  Tensor permute(I0 first, I... rest) const {
    return permute(IntArrayRef{static_cast<std::int64_t>(first), static_cast<std::int64_t>(rest)...});
  }
  template <DimInteger I0, DimInteger... I>
  Tensor expand(I0 first, I... rest) const {
    return expand(IntArrayRef{static_cast<std::int64_t>(first), static_cast<std::int64_t>(rest)...});
  }
  // The shape family's methods (ops/shape.h has the free forms and their semantics).
  Tensor view_as(const Tensor& other) const { return view(other.shape()); }
  Tensor reshape_as(const Tensor& other) const { return reshape(other.shape()); }
  Tensor expand_as(const Tensor& other) const;
  Tensor flatten(std::int64_t start_dim = 0, std::int64_t end_dim = -1) const;
  Tensor unflatten(std::int64_t dim, IntArrayRef sizes) const;
  Tensor narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const;
  std::vector<Tensor> chunk(std::int64_t chunks, std::int64_t dim = 0) const;
  /// Pieces of split_size along dim (the last may be smaller), or pieces of the given sizes.
  template <DimInteger I>
  std::vector<Tensor> split(I split_size, std::int64_t dim = 0) const {
    return split_size_(static_cast<std::int64_t>(split_size), dim);
  }
  std::vector<Tensor> split(IntArrayRef sizes, std::int64_t dim = 0) const;
  Tensor repeat(IntArrayRef repeats) const;
  template <DimInteger I0, DimInteger... I>
  Tensor repeat(I0 first, I... rest) const {
    return repeat(IntArrayRef{static_cast<std::int64_t>(first), static_cast<std::int64_t>(rest)...});
  }
  Tensor flip(IntArrayRef dims) const;
  template <DimInteger I0, DimInteger... I>
  Tensor flip(I0 first, I... rest) const {
    return flip(IntArrayRef{static_cast<std::int64_t>(first), static_cast<std::int64_t>(rest)...});
  }

  // ---- indexing (tapegrad/core/indexing.h; differentiable) -------------------------------------
  /// x[i]: the sub-tensor at i along dim 0 (a view; negative i counts from the end).
  Tensor operator[](std::int64_t i) const { return select(0, i); }
  /// x[index] for one Slice, None, Ellipsis or bool / int64 tensor.
  Tensor operator[](const TensorIndex& index) const;
  /// x.index({0, Slice(1, None), None, Ellipsis, mask}): PyTorch's x[0, 1:, None, ..., mask].
  /// Integers, slices, None and Ellipsis give a view; bool and int64 tensors a copy.
  Tensor index(std::initializer_list<TensorIndex> indices) const;
  Tensor index(const std::vector<TensorIndex>& indices) const;
  /// x[indices] = value, in place (value broadcasts to the shape x.index(indices) has). With
  /// accumulate, x[indices] += value, and an element named several times by the index tensors
  /// receives the sum of all its values (PyTorch's index_put_(..., accumulate=True)).
  const Tensor& index_put_(std::initializer_list<TensorIndex> indices, const Tensor& value,
                           bool accumulate = false) const;
  const Tensor& index_put_(std::initializer_list<TensorIndex> indices, double value, bool accumulate = false) const;
  const Tensor& index_put_(const std::vector<TensorIndex>& indices, const Tensor& value, bool accumulate = false) const;
  const Tensor& index_put_(const std::vector<TensorIndex>& indices, double value, bool accumulate = false) const;
  // The index family's methods (ops/index.h).
  Tensor index_select(std::int64_t dim, const Tensor& index) const;
  Tensor gather(std::int64_t dim, const Tensor& index) const;
  Tensor scatter_add(std::int64_t dim, const Tensor& index, const Tensor& src) const;
  Tensor masked_fill(const Tensor& mask, double value) const;
  /// PyTorch's x.where(condition, y): x where condition is true, y elsewhere.
  Tensor where(const Tensor& condition, const Tensor& other) const;
  Tensor where(const Tensor& condition, double other) const;
  Tensor tril(std::int64_t diagonal = 0) const;
  Tensor triu(std::int64_t diagonal = 0) const;
  ValuesIndices topk(std::int64_t k, std::int64_t dim = -1, bool largest = true, bool sorted = true) const;
  Tensor cumsum(std::int64_t dim) const;

  // ---- math (see ops.h for the free-function forms and their shapes) --------------------------
  Tensor add(const Tensor& o) const;
  Tensor sub(const Tensor& o) const;
  Tensor mul(const Tensor& o) const;
  Tensor div(const Tensor& o) const;
  Tensor add(double o) const;
  Tensor sub(double o) const;
  Tensor mul(double o) const;
  Tensor div(double o) const;
  Tensor neg() const;
  Tensor pow(double exponent) const;
  Tensor pow(const Tensor& exponent) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor abs() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor relu() const;
  Tensor log1p() const;
  Tensor expm1() const;
  Tensor erf() const;
  Tensor sign() const;
  Tensor reciprocal() const;
  /// Limits to [min, max] (either may be absent: x.clamp(0.0), x.clamp(std::nullopt, 1.0)).
  Tensor clamp(std::optional<double> min, std::optional<double> max = std::nullopt) const;
  Tensor clamp_min(double min) const;
  Tensor clamp_max(double max) const;
  Tensor maximum(const Tensor& o) const;
  Tensor minimum(const Tensor& o) const;
  Tensor matmul(const Tensor& o) const;
  Tensor softmax(std::int64_t dim) const;
  Tensor log_softmax(std::int64_t dim) const;

  // ---- reductions: dims as a list {0, 1} or a single int (x.sum(-1), x.mean(-1, true)) ---------
  Tensor sum() const;
  Tensor sum(IntArrayRef dims, bool keepdim = false) const;
  template <DimInteger I>
  Tensor sum(I dim, bool keepdim = false) const {
    return sum(one_dim_(dim), keepdim);
  }
  Tensor mean() const;
  Tensor mean(IntArrayRef dims, bool keepdim = false) const;
  template <DimInteger I>
  Tensor mean(I dim, bool keepdim = false) const {
    return mean(one_dim_(dim), keepdim);
  }
  Tensor amax() const;
  Tensor amax(IntArrayRef dims, bool keepdim = false) const;
  template <DimInteger I>
  Tensor amax(I dim, bool keepdim = false) const {
    return amax(one_dim_(dim), keepdim);
  }
  Tensor amin() const;
  Tensor amin(IntArrayRef dims, bool keepdim = false) const;
  template <DimInteger I>
  Tensor amin(I dim, bool keepdim = false) const {
    return amin(one_dim_(dim), keepdim);
  }
  /// The maximum of all elements (0-d), as x.max() in PyTorch; max(dim) gives values and indices.
  Tensor max() const;
  Tensor min() const;
  ValuesIndices max(std::int64_t dim, bool keepdim = false) const;
  ValuesIndices min(std::int64_t dim, bool keepdim = false) const;
  /// Elementwise maximum / minimum with another tensor (x.max(y) in PyTorch).
  Tensor max(const Tensor& other) const;
  Tensor min(const Tensor& other) const;
  Tensor argmax() const;
  Tensor argmax(std::int64_t dim, bool keepdim = false) const;
  /// Variance / standard deviation over dims (all when empty), unbiased by default.
  Tensor var(IntArrayRef dims = {}, bool unbiased = true, bool keepdim = false) const;
  template <DimInteger I>
  Tensor var(I dim, bool unbiased = true, bool keepdim = false) const {
    return var(one_dim_(dim), unbiased, keepdim);
  }
  Tensor std(IntArrayRef dims = {}, bool unbiased = true, bool keepdim = false) const;
  template <DimInteger I>
  Tensor std(I dim, bool unbiased = true, bool keepdim = false) const {
    return std(one_dim_(dim), unbiased, keepdim);
  }
  /// The p-norm over dims (all when empty): x.norm(), x.norm(1), x.norm(2, -1, true).
  Tensor norm(double p = 2.0, IntArrayRef dims = {}, bool keepdim = false) const;
  template <DimInteger I>
  Tensor norm(double p, I dim, bool keepdim = false) const {
    return norm(p, one_dim_(dim), keepdim);
  }
  Tensor logsumexp(IntArrayRef dims, bool keepdim = false) const;
  template <DimInteger I>
  Tensor logsumexp(I dim, bool keepdim = false) const {
    return logsumexp(one_dim_(dim), keepdim);
  }
  /// Sums a broadcast tensor back to shape (the reverse of expand).
  Tensor sum_to_size(IntArrayRef shape) const;

  // ---- comparisons: bool results (also the operators == != < <= > >= of ops/elementwise.h) ----
  Tensor eq(const Tensor& o) const;
  Tensor ne(const Tensor& o) const;
  Tensor lt(const Tensor& o) const;
  Tensor le(const Tensor& o) const;
  Tensor gt(const Tensor& o) const;
  Tensor ge(const Tensor& o) const;
  Tensor eq(double o) const;
  Tensor ne(double o) const;
  Tensor lt(double o) const;
  Tensor le(double o) const;
  Tensor gt(double o) const;
  Tensor ge(double o) const;

  // ---- in-place (bump the version counter; see docs/autograd.md) ----------------------------
  // Under autograd they are recorded like PyTorch's: a leaf that requires grad refuses them
  // (outside NoGradGuard), an intermediate result takes them and its history moves on.
  const Tensor& add_(const Tensor& o) const;
  const Tensor& add_(double o) const;
  const Tensor& sub_(const Tensor& o) const;
  const Tensor& sub_(double o) const;
  const Tensor& mul_(const Tensor& o) const;
  const Tensor& mul_(double o) const;
  /// True division in place (floating tensors only).
  const Tensor& div_(const Tensor& o) const;
  const Tensor& div_(double o) const;
  const Tensor& zero_() const;
  const Tensor& fill_(double value) const;
  /// Copies src (broadcast to this shape, converted to this dtype) into this tensor.
  const Tensor& copy_(const Tensor& src) const;
  const Tensor& relu_() const;
  const Tensor& clamp_(std::optional<double> min, std::optional<double> max = std::nullopt) const;
  const Tensor& masked_fill_(const Tensor& mask, double value) const;
  /// x += y and the rest: add_, sub_, mul_ and div_ (in place, recorded; see above).
  const Tensor& operator+=(const Tensor& o) const { return add_(o); }
  const Tensor& operator-=(const Tensor& o) const { return sub_(o); }
  const Tensor& operator*=(const Tensor& o) const { return mul_(o); }
  const Tensor& operator/=(const Tensor& o) const { return div_(o); }
  const Tensor& operator+=(double o) const { return add_(o); }
  const Tensor& operator-=(double o) const { return sub_(o); }
  const Tensor& operator*=(double o) const { return mul_(o); }
  const Tensor& operator/=(double o) const { return div_(o); }

 private:
  TensorImpl* checked() const;
  std::vector<Tensor> split_size_(std::int64_t split_size, std::int64_t dim) const;
  /// One dim as a list, for the single-int overloads (the list lives until the call returns).
  struct OneDim {
    std::int64_t dim;
    operator IntArrayRef() const { return {&dim, 1}; }  // NOLINT: implicit by design
  };
  static OneDim one_dim_(std::int64_t dim) { return {dim}; }
  std::shared_ptr<TensorImpl> impl_;
};

struct ValuesIndices {
  Tensor values;
  Tensor indices;
};

}  // namespace tg

template <>
struct fmt::formatter<tg::Sizes> : fmt::formatter<tg::DimVec> {};
template <>
struct fmt::formatter<tg::Strides> : fmt::formatter<tg::DimVec> {};

#include "tapegrad/core/indexing.h"  // TensorIndex, Slice, None, Ellipsis (needs Tensor complete)

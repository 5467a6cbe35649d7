#pragma once
/// tg::Tensor: a handle to shape, strides and offset over shared Storage, plus the autograd
/// state that the tape needs. Copying a Tensor copies the handle, not the data (as in PyTorch).
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/core/dtype.h"
#include "tapegrad/core/shape.h"
#include "tapegrad/core/storage.h"

namespace tg {

namespace autograd {
class Node;
}

/// What a tensor is: a strided view of a Storage, and its place in the autograd graph.
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  DimVec shape;
  DimVec strides;           // in elements
  std::int64_t offset = 0;  // in elements
  DType dtype = kFloat32;
  bool is_view = false;  // shares its storage with the tensor it was made from

  // Autograd. A tensor produced by a recorded op holds the Node that made it (grad_fn);
  // a leaf that requires grad holds its gradient and, weakly, the node that accumulates it.
  bool requires_grad = false;
  std::shared_ptr<autograd::Node> grad_fn;
  std::shared_ptr<TensorImpl> grad;
  std::weak_ptr<autograd::Node> grad_accumulator;

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

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  // ---- metadata -------------------------------------------------------------------------
  const DimVec& shape() const { return checked()->shape; }
  const DimVec& strides() const { return checked()->strides; }
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
  bool requires_grad() const { return checked()->requires_grad; }
  /// Marks a leaf as requiring grad (floating dtypes only).
  const Tensor& requires_grad_(bool on = true) const;
  /// The accumulated gradient of a leaf (undefined until a backward reaches it).
  Tensor grad() const;
  void set_grad(const Tensor& grad) const;
  /// Zeroes the gradient in place, or drops it when set_to_none.
  void zero_grad(bool set_to_none = false) const;
  /// A tensor is a leaf when no recorded op produced it.
  bool is_leaf() const { return checked()->grad_fn == nullptr; }
  const std::shared_ptr<autograd::Node>& grad_fn() const { return checked()->grad_fn; }
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

  // ---- math (see ops.h for the free-function forms and their shapes) --------------------------
  Tensor add(const Tensor& o) const;
  Tensor sub(const Tensor& o) const;
  Tensor mul(const Tensor& o) const;
  Tensor div(const Tensor& o) const;
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
  Tensor sum() const;
  Tensor sum(IntArrayRef dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(IntArrayRef dims, bool keepdim = false) const;
  Tensor amax() const;
  Tensor amax(IntArrayRef dims, bool keepdim = false) const;
  Tensor amin() const;
  Tensor amin(IntArrayRef dims, bool keepdim = false) const;
  ValuesIndices max(std::int64_t dim, bool keepdim = false) const;
  ValuesIndices min(std::int64_t dim, bool keepdim = false) const;
  Tensor argmax() const;
  Tensor argmax(std::int64_t dim, bool keepdim = false) const;
  Tensor matmul(const Tensor& o) const;
  Tensor softmax(std::int64_t dim) const;
  Tensor log_softmax(std::int64_t dim) const;
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
  const Tensor& add_(const Tensor& o) const;
  const Tensor& add_(double o) const;
  const Tensor& mul_(const Tensor& o) const;
  const Tensor& mul_(double o) const;
  const Tensor& zero_() const;
  const Tensor& fill_(double value) const;
  /// Copies src (broadcast to this shape, converted to this dtype) into this tensor.
  const Tensor& copy_(const Tensor& src) const;

 private:
  TensorImpl* checked() const;
  std::shared_ptr<TensorImpl> impl_;
};

struct ValuesIndices {
  Tensor values;
  Tensor indices;
};

}  // namespace tg

#pragma once
/// Indexing in PyTorch's manner, with libtorch's names (torch::indexing): x.index({...}) reads
/// and x.index_put_({...}, value) writes what Python writes as x[...] and x[...] = value.
///
///   Python                  tapegrad
///   x[1]                    x[1]            or x.index({1})
///   x[:, 1:-1:2]            x.index({Slice(), Slice(1, -1, 2)})
///   x[None, ..., 0]         x.index({None, Ellipsis, 0})
///   x[mask]                 x[mask]         (bool mask: the selected elements, 1-D)
///   x[idx, :]               x.index({idx})  (int64 tensor: rows gathered)
///   x[1:3] = 0              x.index_put_({Slice(1, 3)}, 0.0)
///
/// Integers, slices, None and Ellipsis give a view of x. Bool and int64 tensors ("advanced
/// indices") give a copy; several broadcast together, and their dims go where PyTorch puts
/// them (in place when they are next to each other, else first). Both directions are
/// differentiable. Included by tensor.h.
#include <cstdint>
#include <optional>
#include <string_view>

#include "tapegrad/core/tensor.h"

namespace tg {

/// `None` in an index list inserts a dim of size 1 (Python's None / np.newaxis); as a Slice
/// bound it means "from the start" or "to the end".
inline constexpr std::nullopt_t None = std::nullopt;

struct EllipsisIndexType {};
/// `...`: as many full slices as the dims the other indices leave.
inline constexpr EllipsisIndexType Ellipsis{};

/// start:stop:step. A missing (None) start is 0, a missing stop the dim's size, a missing step 1.
/// Negative bounds count from the end, both are clamped to the dim as in Python; step > 0.
class Slice {
 public:
  explicit Slice(std::optional<std::int64_t> start = std::nullopt, std::optional<std::int64_t> stop = std::nullopt,
                 std::optional<std::int64_t> step = std::nullopt)
      : start_(start), stop_(stop), step_(step) {}
  std::optional<std::int64_t> start() const { return start_; }
  std::optional<std::int64_t> stop() const { return stop_; }
  std::optional<std::int64_t> step() const { return step_; }

 private:
  std::optional<std::int64_t> start_, stop_, step_;
};

/// One entry of an index list.
class TensorIndex {
 public:
  enum class Kind { Integer, Slice, None, Ellipsis, Tensor };

  template <DimInteger I>
  TensorIndex(I integer) : kind_(Kind::Integer), integer_(static_cast<std::int64_t>(integer)) {}  // NOLINT
  TensorIndex(tg::Slice slice) : kind_(Kind::Slice), slice_(slice) {}                             // NOLINT
  TensorIndex(std::nullopt_t) : kind_(Kind::None) {}                                              // NOLINT
  TensorIndex(EllipsisIndexType) : kind_(Kind::Ellipsis) {}                                       // NOLINT
  /// "..." is Ellipsis (libtorch accepts it too); any other string is an error.
  TensorIndex(const char* text);                                                       // NOLINT
  TensorIndex(tg::Tensor tensor) : kind_(Kind::Tensor), tensor_(std::move(tensor)) {}  // NOLINT

  Kind kind() const { return kind_; }
  std::int64_t integer() const { return integer_; }
  const tg::Slice& slice() const { return slice_; }
  const tg::Tensor& tensor() const { return tensor_; }

 private:
  Kind kind_;
  std::int64_t integer_ = 0;
  tg::Slice slice_;
  tg::Tensor tensor_;
};

/// Free forms of Tensor::index and Tensor::index_put_ (src/ops/indexing.cpp).
Tensor index(const Tensor& x, const std::vector<TensorIndex>& indices);
/// accumulate: x[indices] += value, repeated indices summed (PyTorch's accumulate=True).
const Tensor& index_put_(const Tensor& x, const std::vector<TensorIndex>& indices, const Tensor& value,
                         bool accumulate = false);
const Tensor& index_put_(const Tensor& x, const std::vector<TensorIndex>& indices, double value,
                         bool accumulate = false);

/// libtorch spells these torch::indexing::Slice and so on; `using namespace tg::indexing;`
/// brings in the same four names.
namespace indexing {
using tg::Ellipsis;
using tg::None;
using tg::Slice;
using tg::TensorIndex;
}  // namespace indexing

}  // namespace tg

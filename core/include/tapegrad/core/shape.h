#pragma once
/// Shapes and strides: DimVec (an inline vector of up to kMaxDims extents, no heap use),
/// IntArrayRef (a borrowed list of ints for arguments), the shape algebra of broadcasting, and
/// the one checked computation of element and byte counts that every new shape goes through.
#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "tapegrad/core/dtype.h"
#include "tapegrad/core/error.h"

namespace tg {

inline constexpr int kMaxDims = 12;

/// A non-owning view of int64 values: accepts {2, 3}, a std::vector, or a DimVec.
/// Only for function arguments (the list it points to must outlive the call).
class IntArrayRef {
 public:
  constexpr IntArrayRef() = default;
  constexpr IntArrayRef(const std::int64_t* data, std::size_t size) : data_(data), size_(size) {}
#if defined(__GNUC__) && !defined(__clang__)  // a GCC-only warning (clang warns of the unknown name)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winit-list-lifetime"  // the list outlives the call it is passed to
#endif
  constexpr IntArrayRef(std::initializer_list<std::int64_t> list)  // NOLINT: implicit by design
      : data_(list.begin()), size_(list.size()) {}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  IntArrayRef(const std::vector<std::int64_t>& v) : data_(v.data()), size_(v.size()) {}  // NOLINT
  constexpr const std::int64_t* begin() const { return data_; }
  constexpr const std::int64_t* end() const { return data_ + size_; }
  constexpr const std::int64_t* data() const { return data_; }
  constexpr std::size_t size() const { return size_; }
  constexpr bool empty() const { return size_ == 0; }
  constexpr std::int64_t operator[](std::size_t i) const { return data_[i]; }
  std::vector<std::int64_t> vec() const { return {begin(), end()}; }

 private:
  const std::int64_t* data_ = nullptr;
  std::size_t size_ = 0;
};

/// Up to kMaxDims int64 values stored inline: a tensor's shape or strides.
class DimVec {
 public:
  DimVec() = default;
  DimVec(IntArrayRef values) { assign(values); }  // NOLINT: implicit by design
  DimVec(std::initializer_list<std::int64_t> values) { assign(IntArrayRef(values)); }
  static DimVec filled(std::size_t n, std::int64_t value) {
    DimVec v;
    v.resize(n, value);
    return v;
  }
  void assign(IntArrayRef values) {
    TG_CHECK(values.size() <= kMaxDims, "tensor: at most {} dimensions are supported, got {}", kMaxDims, values.size());
    size_ = static_cast<std::uint8_t>(values.size());
    std::copy(values.begin(), values.end(), data_);
  }
  operator IntArrayRef() const { return {data_, size_}; }  // NOLINT: implicit by design
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::int64_t* begin() { return data_; }
  std::int64_t* end() { return data_ + size_; }
  const std::int64_t* begin() const { return data_; }
  const std::int64_t* end() const { return data_ + size_; }
  std::int64_t* data() { return data_; }
  const std::int64_t* data() const { return data_; }
  std::int64_t& operator[](std::size_t i) { return data_[i]; }
  std::int64_t operator[](std::size_t i) const { return data_[i]; }
  std::int64_t back() const { return data_[size_ - 1]; }
  void push_back(std::int64_t v) {
    TG_CHECK(size_ < kMaxDims, "tensor: at most {} dimensions are supported", kMaxDims);
    data_[size_++] = v;
  }
  void pop_back() { --size_; }
  void insert(std::size_t pos, std::int64_t v) {
    TG_CHECK(size_ < kMaxDims, "tensor: at most {} dimensions are supported", kMaxDims);
    std::copy_backward(data_ + pos, data_ + size_, data_ + size_ + 1);
    data_[pos] = v;
    ++size_;
  }
  void erase(std::size_t pos) {
    std::copy(data_ + pos + 1, data_ + size_, data_ + pos);
    --size_;
  }
  void resize(std::size_t n, std::int64_t value = 0) {
    TG_CHECK(n <= kMaxDims, "tensor: at most {} dimensions are supported, got {}", kMaxDims, n);
    for (std::size_t i = size_; i < n; ++i) data_[i] = value;
    size_ = static_cast<std::uint8_t>(n);
  }
  std::vector<std::int64_t> vec() const { return {begin(), end()}; }
  friend bool operator==(const DimVec& a, const DimVec& b) {
    return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
  }

 private:
  std::int64_t data_[kMaxDims];
  std::uint8_t size_ = 0;
};

inline bool same_values(IntArrayRef a, IntArrayRef b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

/// Number of elements of a valid shape (1 for a 0-d shape). Every tensor's shape is valid (it
/// passed checked_numel when it was made); a shape from outside goes through checked_numel.
inline std::int64_t numel_of(IntArrayRef shape) {
  std::int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

/// True when shape is valid: no size is negative and the product of its nonzero sizes fits in
/// int64 (so its element count and its contiguous strides do too); *numel is then its count.
inline bool numel_within_int64(IntArrayRef shape, std::int64_t* numel) {
  std::int64_t n = 1;
  bool has_zero = false;
  for (auto s : shape) {
    if (s <= 0) {
      if (s < 0) return false;
      has_zero = true;
    } else if (__builtin_mul_overflow(n, s, &n)) {
      return false;
    }
  }
  *numel = has_zero ? 0 : n;
  return true;
}

/// The largest byte count of one tensor's storage: PTRDIFF_MAX (2^63-1 on 64-bit machines), so
/// that every pointer difference inside it is defined.
inline constexpr std::int64_t kMaxStorageBytes = PTRDIFF_MAX;

namespace detail {
[[noreturn]] void fail_invalid_shape(IntArrayRef shape, const char* op);
[[noreturn]] void fail_too_many_bytes(IntArrayRef shape, std::int64_t numel, DType dtype, const char* op);
[[noreturn]] void fail_size_overflow(std::int64_t a, char sign, std::int64_t b, const char* op, const char* what);
}  // namespace detail

/// The element count of a shape that op makes; a tg::Error naming op and the shape when a size
/// is negative ("zeros: negative dimension -1 in shape [2, -1]") or the count does not fit in
/// int64 ("zeros: shape [1099511627776, 1099511627776] has more than 2^63-1 elements").
inline std::int64_t checked_numel(IntArrayRef shape, const char* op) {
  std::int64_t n;
  if (!numel_within_int64(shape, &n)) [[unlikely]]
    detail::fail_invalid_shape(shape, op);
  return n;
}

/// The byte count of a contiguous tensor of shape and dtype that op allocates, checked like
/// checked_numel and against kMaxStorageBytes.
inline std::size_t checked_nbytes(IntArrayRef shape, DType dtype, const char* op) {
  const std::int64_t n = checked_numel(shape, op);
  std::int64_t bytes;
  if (__builtin_mul_overflow(n, static_cast<std::int64_t>(itemsize(dtype)), &bytes) || bytes > kMaxStorageBytes)
      [[unlikely]]
    detail::fail_too_many_bytes(shape, n, dtype, op);
  return static_cast<std::size_t>(bytes);
}

/// a + b and a * b on sizes (extents, paddings, counts): a tg::Error
/// "op: <what> overflows int64 (a + b)" instead of a wrapped value.
inline std::int64_t checked_add(std::int64_t a, std::int64_t b, const char* op, const char* what) {
  std::int64_t r;
  if (__builtin_add_overflow(a, b, &r)) [[unlikely]]
    detail::fail_size_overflow(a, '+', b, op, what);
  return r;
}
inline std::int64_t checked_mul(std::int64_t a, std::int64_t b, const char* op, const char* what) {
  std::int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) [[unlikely]]
    detail::fail_size_overflow(a, '*', b, op, what);
  return r;
}

/// Row-major strides of a shape, in elements.
inline DimVec contiguous_strides(IntArrayRef shape) {
  DimVec strides = DimVec::filled(shape.size(), 1);
  std::int64_t acc = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    strides[i] = acc;
    acc *= std::max<std::int64_t>(shape[i], 1);
  }
  return strides;
}

/// Turns a possibly negative dim into [0, ndim); names the op and the range otherwise.
inline std::int64_t normalize_dim(std::int64_t dim, std::int64_t ndim, const char* op) {
  const std::int64_t n = std::max<std::int64_t>(ndim, 1);  // a 0-d tensor takes dims 0 and -1
  TG_CHECK(dim >= -n && dim < n, "{}: dim {} is out of range for a tensor of {} dimensions (expected in [{}, {}])", op,
           dim, ndim, -n, n - 1);
  return dim < 0 ? dim + n : dim;
}

/// The broadcast of two shapes as in NumPy and PyTorch (checked like checked_numel), or an
/// error naming both.
DimVec broadcast_shapes(IntArrayRef a, IntArrayRef b, const char* op);

std::string shape_str(IntArrayRef shape);

}  // namespace tg

template <>
struct fmt::formatter<tg::IntArrayRef> : fmt::formatter<std::string_view> {
  auto format(tg::IntArrayRef s, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(tg::shape_str(s), ctx);
  }
};
template <>
struct fmt::formatter<tg::DimVec> : fmt::formatter<tg::IntArrayRef> {
  auto format(const tg::DimVec& s, fmt::format_context& ctx) const {
    return fmt::formatter<tg::IntArrayRef>::format(tg::IntArrayRef(s), ctx);
  }
};

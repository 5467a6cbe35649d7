#include "tapegrad/core/shape.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

namespace tg {

DimVec broadcast_shapes(IntArrayRef a, IntArrayRef b, const char* op) {
  const std::size_t n = std::max(a.size(), b.size());
  DimVec out = DimVec::filled(n, 1);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const std::int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    TG_CHECK(da == db || da == 1 || db == 1, "{}: shapes {} and {} cannot be broadcast (dim {}: {} vs {})", op,
             shape_str(a), shape_str(b), static_cast<std::int64_t>(i) - static_cast<std::int64_t>(n), da, db);
    out[i] = da == 1 ? db : da;
  }
  checked_numel(out, op);
  return out;
}

namespace detail {

void fail_invalid_shape(IntArrayRef shape, const char* op) {
  for (auto s : shape) TG_CHECK(s >= 0, "{}: negative dimension {} in shape {}", op, s, shape_str(shape));
  const bool has_zero = std::find(shape.begin(), shape.end(), 0) != shape.end();
  if (has_zero)
    fail("{}: shape {} is too large: the product of its nonzero sizes is more than 2^63-1", op, shape_str(shape));
  fail("{}: shape {} has more than 2^63-1 elements", op, shape_str(shape));
}

void fail_too_many_bytes(IntArrayRef shape, std::int64_t numel, DType dtype, const char* op) {
  static_assert(kMaxStorageBytes == INT64_MAX, "the message below assumes a 64-bit address space");
  fail("{}: shape {} of {} needs more than 2^63-1 bytes ({} elements of {} bytes each)", op, shape_str(shape),
       dtype_name(dtype), numel, itemsize(dtype));
}

void fail_size_overflow(std::int64_t a, char sign, std::int64_t b, const char* op, const char* what) {
  fail("{}: {} overflows int64 ({} {} {})", op, what, a, sign, b);
}

}  // namespace detail

std::string shape_str(IntArrayRef shape) { return fmt::format("[{}]", fmt::join(shape.begin(), shape.end(), ", ")); }

}  // namespace tg

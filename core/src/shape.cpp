#include "tapegrad/core/shape.h"

#include <fmt/format.h>

namespace tg {

DimVec broadcast_shapes(IntArrayRef a, IntArrayRef b, const char* op) {
  const std::size_t n = std::max(a.size(), b.size());
  DimVec out = DimVec::filled(n, 1);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const std::int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    TG_CHECK(da == db || da == 1 || db == 1,
             "{}: shapes {} and {} cannot be broadcast (dim {}: {} vs {})", op, shape_str(a), shape_str(b),
             static_cast<std::int64_t>(i) - static_cast<std::int64_t>(n), da, db);
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::string shape_str(IntArrayRef shape) { return fmt::format("[{}]", fmt::join(shape.begin(), shape.end(), ", ")); }

}  // namespace tg

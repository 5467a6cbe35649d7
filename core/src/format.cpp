// Printing tensors in PyTorch's manner.
//
// One number format for the whole tensor, chosen from the values shown (PyTorch's rules):
// scientific "1.2346e+05" when the nonzero magnitudes span more than a factor of 1000 or reach
// 1e8, or (for non-integers) go below 1e-4; otherwise integers as "3." and others as "0.1235". Past 1000 elements every
// dim shows its first and last 3 entries around "...". Then shape, dtype, and grad_fn or requires_grad.
#include "tapegrad/core/format.h"

#include <cmath>
#include <functional>
#include <ostream>

#include "tapegrad/core/autograd.h"
#include "tensor_detail.h"

namespace tg {
namespace {

constexpr std::int64_t kSummarizeAbove = 1000;
constexpr std::int64_t kEdgeItems = 3;

struct Printer {
  const std::vector<double>& values;  // the tensor's elements, row-major
  const DimVec& shape;
  DType dtype;
  bool summarize;
  enum class Mode { Integer, Fixed, Scientific } mode = Mode::Fixed;
  std::size_t width = 1;

  std::string number(double v) const {
    if (dtype == kBool) return v != 0 ? "True" : "False";
    if (dtype == kInt64) return fmt::format("{}", static_cast<std::int64_t>(v));
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    switch (mode) {
      case Mode::Integer: return fmt::format("{:.0f}.", v);
      case Mode::Fixed: return fmt::format("{:.4f}", v);
      case Mode::Scientific: return fmt::format("{:.4e}", v);
    }
    return "";
  }

  /// Indices of dim d that are shown (all, or the edges when summarising).
  std::vector<std::int64_t> shown(std::int64_t d) const {
    std::vector<std::int64_t> idx;
    const std::int64_t n = shape[d];
    if (!summarize || n <= 2 * kEdgeItems) {
      for (std::int64_t i = 0; i < n; ++i) idx.push_back(i);
    } else {
      for (std::int64_t i = 0; i < kEdgeItems; ++i) idx.push_back(i);
      idx.push_back(-1);  // the "..." marker
      for (std::int64_t i = n - kEdgeItems; i < n; ++i) idx.push_back(i);
    }
    return idx;
  }

  void visit(std::int64_t d, std::int64_t offset, const std::function<void(double)>& f) const {
    if (d == static_cast<std::int64_t>(shape.size())) return f(values[static_cast<std::size_t>(offset)]);
    const std::int64_t stride = numel_of(IntArrayRef(shape.data() + d + 1, shape.size() - d - 1));
    for (auto i : shown(d))
      if (i >= 0) visit(d + 1, offset + i * stride, f);
  }

  void choose_format() {
    if (!is_floating(dtype)) {
      visit(0, 0, [&](double v) { width = std::max(width, number(v).size()); });
      return;
    }
    double lo = INFINITY, hi = 0;
    bool all_int = true;
    visit(0, 0, [&](double v) {
      if (!std::isfinite(v)) return;
      const double a = std::abs(v);
      if (a != 0) lo = std::min(lo, a);
      hi = std::max(hi, a);
      if (v != std::nearbyint(v)) all_int = false;
    });
    const bool wide = lo != INFINITY && (hi / lo > 1000 || hi > 1e8);
    if (all_int) mode = wide ? Mode::Scientific : Mode::Integer;
    else mode = wide || (lo != INFINITY && lo < 1e-4) ? Mode::Scientific : Mode::Fixed;
    visit(0, 0, [&](double v) { width = std::max(width, number(v).size()); });
  }

  void body(std::string& out, std::int64_t d, std::int64_t offset, std::size_t indent) const {
    const auto nd = static_cast<std::int64_t>(shape.size());
    if (d == nd) {
      const std::string s = number(values[static_cast<std::size_t>(offset)]);
      out += std::string(width - std::min(width, s.size()), ' ') + s;
      return;
    }
    const std::int64_t stride = numel_of(IntArrayRef(shape.data() + d + 1, shape.size() - d - 1));
    out += '[';
    bool first = true;
    for (auto i : shown(d)) {
      if (!first) {
        out += ',';
        if (d == nd - 1) {
          out += ' ';
        } else {
          out += std::string(static_cast<std::size_t>(nd - d - 1), '\n');
          out += std::string(indent + 1, ' ');
        }
      }
      first = false;
      if (i < 0) {
        out += "...";
        continue;
      }
      body(out, d + 1, offset + i * stride, indent + 1);
    }
    out += ']';
  }
};

}  // namespace

std::string to_string(const Tensor& t) {
  if (!t.defined()) return "tensor(undefined)";
  const std::vector<double> values = t.to_vector<double>();
  Printer p{values, t.shape(), t.dtype(), t.numel() > kSummarizeAbove};
  p.choose_format();
  std::string out = "tensor(";
  if (t.dim() == 0) out += p.number(values[0]);
  else p.body(out, 0, 0, 7);
  out += fmt::format(", shape={}, dtype={}", t.shape(), dtype_name(t.dtype()));
  if (t.grad_fn()) out += fmt::format(", grad_fn=<{}>", t.grad_fn_name());
  else if (t.requires_grad()) out += ", requires_grad=True";
  out += ')';
  return out;
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << to_string(t); }

}  // namespace tg

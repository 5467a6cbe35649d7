#pragma once
// The golden tests of convolution and pooling against PyTorch (tests/core/test_conv.cpp,
// tests/core/test_pool.cpp): forward outputs and the gradients of (output * gout).sum() with
// respect to input, weight and bias, for the cases that tests/golden/make_fixtures.py computed
// with PyTorch in float64 (fixtures in tests/golden/fixtures). Each case runs in float64
// (tolerance 1e-10 relative + absolute), in float32 (1e-4), and in float64 with non-contiguous
// (transposed-view) inputs and upstream gradient. TAPEGRAD_GOLDEN_REPORT=1 prints the largest
// errors of every case to stderr. GOLDEN(op, case name, extra tags) registers one case.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "support/fixtures.h"
#include "tapegrad/core.h"

namespace tg_golden_ops {

using tg::Tensor;
using tg_fixtures::Case;
using tg_fixtures::StoredTensor;

// ---- comparison ---------------------------------------------------------------------------------

struct Tolerance {
  double rtol, atol;
};
inline constexpr Tolerance kTol64{1e-10, 1e-10};
inline constexpr Tolerance kTol32{1e-4, 1e-4};

inline bool report_enabled() {
  static const bool on = [] {
    const char* env = std::getenv("TAPEGRAD_GOLDEN_REPORT");
    return env != nullptr && *env != '\0' && std::string(env) != "0";
  }();
  return on;
}

inline std::string shape_str(const std::vector<std::int64_t>& shape) {
  std::ostringstream os;
  os << "[";
  for (std::size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}

/// The multi-index of flat position i in a row-major tensor of the given shape.
inline std::string index_str(std::size_t i, const std::vector<std::int64_t>& shape) {
  std::vector<std::int64_t> idx(shape.size());
  auto rest = static_cast<std::int64_t>(i);
  for (std::size_t d = shape.size(); d-- > 0;) {
    idx[d] = shape[d] > 0 ? rest % shape[d] : 0;
    rest = shape[d] > 0 ? rest / shape[d] : 0;
  }
  return shape_str(idx);
}

/// Compares got with want element-wise: |got - want| <= atol + rtol |want|. On failure the
/// message names the largest absolute difference and the worst violation, with their indices.
inline void check_tensor(const std::string& what, const Tensor& got, const StoredTensor& want, Tolerance tol) {
  INFO(what);
  REQUIRE(got.defined());
  const std::vector<std::int64_t> got_shape = got.shape().vec();
  INFO("shape: got " << shape_str(got_shape) << ", want " << shape_str(want.shape));
  REQUIRE(got_shape == want.shape);
  const std::vector<double> g = got.to(tg::kFloat64).to_vector<double>();
  REQUIRE(g.size() == want.values.size());

  double max_abs = 0.0, max_rel = 0.0, worst_excess = -1.0;
  std::size_t at_abs = 0, at_worst = 0;
  std::size_t bad = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double w = want.values[i];
    const double d = std::abs(g[i] - w);
    const double allowed = tol.atol + tol.rtol * std::abs(w);
    if (!(d <= allowed)) ++bad;  // also counts NaN
    if (std::isnan(d) || d > max_abs) {
      max_abs = std::isnan(d) ? INFINITY : d;
      at_abs = i;
    }
    if (w != 0.0) max_rel = std::max(max_rel, d / std::abs(w));
    const double excess = std::isnan(d) ? INFINITY : d / allowed;
    if (excess > worst_excess) {
      worst_excess = excess;
      at_worst = i;
    }
  }
  if (report_enabled())
    std::cerr << "  " << what << ": max abs diff " << max_abs << " at " << index_str(at_abs, want.shape)
              << ", max rel diff " << max_rel << "\n";
  std::ostringstream counts, largest, worst;
  counts << bad << " of " << g.size() << " elements outside atol " << tol.atol << " + rtol " << tol.rtol;
  largest.precision(17);
  largest << "max abs diff " << max_abs << " at " << index_str(at_abs, want.shape) << ": got " << g[at_abs] << ", want "
          << want.values[at_abs];
  worst.precision(17);
  worst << "worst against the tolerance at " << index_str(at_worst, want.shape) << ": got " << g[at_worst] << ", want "
        << want.values[at_worst];
  INFO(counts.str());
  INFO(largest.str());
  INFO(worst.str());
  CHECK(bad == 0);
}

// ---- running one case ----------------------------------------------------------------------------

inline tg::Int2 int2(const Case& c, const std::string& key) {
  const std::vector<std::int64_t>& v = c.param(key, 2);
  return {v[0], v[1]};
}

inline std::optional<tg::Int2> opt_int2(const Case& c, const std::string& key) {
  if (!c.has_param(key)) return std::nullopt;
  return int2(c, key);
}

inline bool flag(const Case& c, const std::string& key, bool fallback) {
  if (!c.has_param(key)) return fallback;
  const std::int64_t v = c.param1(key);
  if (v != 0 && v != 1) throw tg_fixtures::FixtureError(c.where + ": param '" + key + "' must be 0 or 1");
  return v != 0;
}

inline Tensor run_op(const Case& c, const Tensor& x, const Tensor& w, const Tensor& b) {
  const std::string& op = c.op;
  if (op == "conv2d")
    return tg::conv2d(x, w, b, int2(c, "stride"), int2(c, "padding"), int2(c, "dilation"), c.param1("groups"));
  if (op == "conv1d")
    return tg::conv1d(x, w, b, c.param1("stride"), c.param1("padding"), c.param1("dilation"), c.param1("groups"));
  if (op == "max_pool2d")
    return tg::max_pool2d(x, int2(c, "kernel"), opt_int2(c, "stride"), int2(c, "padding"), int2(c, "dilation"),
                          flag(c, "ceil_mode", false));
  if (op == "avg_pool2d")
    return tg::avg_pool2d(x, int2(c, "kernel"), opt_int2(c, "stride"), int2(c, "padding"), flag(c, "ceil_mode", false),
                          flag(c, "count_include_pad", true));
  if (op == "adaptive_avg_pool2d") return tg::adaptive_avg_pool2d(x, int2(c, "output_size"));
  if (op == "adaptive_max_pool2d") return tg::adaptive_max_pool2d(x, int2(c, "output_size"));
  throw tg_fixtures::FixtureError("golden: no runner for op '" + op + "'");
}

/// How the inputs are laid out: contiguous, or as transposed views (last two dims swapped in
/// storage), which exercises the ops' handling of strided inputs and gradients.
enum class Layout { Contiguous, Transposed };

/// The case's tensor as a leaf that requires grad, and the tensor the op gets: the leaf itself,
/// or a non-contiguous view of a leaf whose storage holds the transpose.
struct Leaf {
  Tensor leaf, used;
  bool same_layout = true;
  /// The leaf's gradient, in the layout of the fixture.
  Tensor grad() const {
    Tensor g = leaf.grad();
    return g.defined() && !same_layout ? g.transpose(-2, -1) : g;
  }
};

inline Leaf make_leaf(const Case& c, const std::string& key, tg::DType dtype, Layout layout) {
  Tensor t = c.tensor(key, dtype);
  if (layout == Layout::Contiguous || t.dim() < 2) {
    t.requires_grad_();
    return {t, t, true};
  }
  Tensor leaf = t.transpose(-2, -1).contiguous().requires_grad_();
  Tensor used = leaf.transpose(-2, -1);
  return {leaf, used, false};
}

inline void run_in(const Case& c, tg::DType dtype, Tolerance tol, Layout layout) {
  const bool is_conv = c.op == "conv2d" || c.op == "conv1d";
  const Leaf x = make_leaf(c, "input", dtype, layout);
  Leaf w, b;
  if (is_conv) {
    w = make_leaf(c, "weight", dtype, layout);
    if (!c.is_none("bias")) b = make_leaf(c, "bias", dtype, layout);
  }
  Tensor gout = c.tensor("gout", dtype);
  if (layout == Layout::Transposed && gout.dim() >= 2) gout = gout.transpose(-2, -1).contiguous().transpose(-2, -1);

  Tensor out = run_op(c, x.used, w.used, b.used);
  CHECK(out.dtype() == dtype);
  check_tensor("output", out, c.stored("output"), tol);

  out.backward(gout);
  check_tensor("grad_input", x.grad(), c.stored("grad_input"), tol);
  if (is_conv) {
    check_tensor("grad_weight", w.grad(), c.stored("grad_weight"), tol);
    if (b.leaf.defined()) {
      check_tensor("grad_bias", b.grad(), c.stored("grad_bias"), tol);
    } else {
      CHECK(c.is_none("grad_bias"));
    }
  }
}

inline void run_case(const std::string& op, const std::string& name) {
  const Case& c = tg_fixtures::load_case("golden", op, name);
  INFO("fixture " << c.where << " (" << op << ": " << name << ")");
  SECTION("float64") {
    if (report_enabled()) std::cerr << op << ": " << name << " [float64]\n";
    run_in(c, tg::kFloat64, kTol64, Layout::Contiguous);
  }
  SECTION("float32") {
    if (report_enabled()) std::cerr << op << ": " << name << " [float32]\n";
    run_in(c, tg::kFloat32, kTol32, Layout::Contiguous);
  }
  SECTION("float64, non-contiguous inputs and upstream gradient") {
    if (report_enabled()) std::cerr << op << ": " << name << " [float64 non-contiguous]\n";
    run_in(c, tg::kFloat64, kTol64, Layout::Transposed);
  }
}

// ---- registration: one TEST_CASE per fixture case, and a check that none is left out ----------------

inline std::set<std::pair<std::string, std::string>>& registered() {
  static std::set<std::pair<std::string, std::string>> s;
  return s;
}

inline bool register_case(const char* op, const char* name) {
  registered().emplace(op, name);
  return true;
}

inline const char* const kOps[] = {
    "conv2d", "conv1d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d"};

}  // namespace tg_golden_ops

#define TG_GOLDEN_CAT2(a, b) a##b
#define TG_GOLDEN_CAT(a, b) TG_GOLDEN_CAT2(a, b)
/// GOLDEN(op, case name, extra tags): a test that runs the fixture case in float64 and float32.
#define GOLDEN(op, name, tags)                                                     \
  [[maybe_unused]] static const bool TG_GOLDEN_CAT(golden_registered_, __LINE__) = \
      tg_golden_ops::register_case(op, name);                                      \
  TEST_CASE(op " matches PyTorch: " name, "[golden][" op "]" tags) { tg_golden_ops::run_case(op, name); }

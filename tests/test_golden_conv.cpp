// Golden tests of convolution and pooling against PyTorch: forward outputs and the gradients of
// (output * gout).sum() with respect to input, weight and bias, for the cases that
// tests/golden/make_fixtures.py computed with PyTorch in float64 (fixtures in tests/golden/fixtures).
// Each case runs in float64 (tolerance 1e-10 relative + absolute), in float32 (1e-4), and in
// float64 with non-contiguous (transposed-view) inputs and upstream gradient.
// TAPEGRAD_GOLDEN_REPORT=1 prints the largest errors of every case to stderr.
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

using tg::Tensor;
using tg_fixtures::Case;
using tg_fixtures::StoredTensor;

namespace {

// ---- comparison ---------------------------------------------------------------------------------

struct Tolerance {
  double rtol, atol;
};
constexpr Tolerance kTol64{1e-10, 1e-10};
constexpr Tolerance kTol32{1e-4, 1e-4};

bool report_enabled() {
  static const bool on = [] {
    const char* env = std::getenv("TAPEGRAD_GOLDEN_REPORT");
    return env != nullptr && *env != '\0' && std::string(env) != "0";
  }();
  return on;
}

std::string shape_str(const std::vector<std::int64_t>& shape) {
  std::ostringstream os;
  os << "[";
  for (std::size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}

/// The multi-index of flat position i in a row-major tensor of the given shape.
std::string index_str(std::size_t i, const std::vector<std::int64_t>& shape) {
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
void check_tensor(const std::string& what, const Tensor& got, const StoredTensor& want, Tolerance tol) {
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

tg::Int2 int2(const Case& c, const std::string& key) {
  const std::vector<std::int64_t>& v = c.param(key, 2);
  return {v[0], v[1]};
}

std::optional<tg::Int2> opt_int2(const Case& c, const std::string& key) {
  if (!c.has_param(key)) return std::nullopt;
  return int2(c, key);
}

bool flag(const Case& c, const std::string& key, bool fallback) {
  if (!c.has_param(key)) return fallback;
  const std::int64_t v = c.param1(key);
  if (v != 0 && v != 1) throw tg_fixtures::FixtureError(c.where + ": param '" + key + "' must be 0 or 1");
  return v != 0;
}

Tensor run_op(const Case& c, const Tensor& x, const Tensor& w, const Tensor& b) {
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

Leaf make_leaf(const Case& c, const std::string& key, tg::DType dtype, Layout layout) {
  Tensor t = c.tensor(key, dtype);
  if (layout == Layout::Contiguous || t.dim() < 2) {
    t.requires_grad_();
    return {t, t, true};
  }
  Tensor leaf = t.transpose(-2, -1).contiguous().requires_grad_();
  Tensor used = leaf.transpose(-2, -1);
  return {leaf, used, false};
}

void run_in(const Case& c, tg::DType dtype, Tolerance tol, Layout layout) {
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

void run_case(const std::string& op, const std::string& name) {
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

std::set<std::pair<std::string, std::string>>& registered() {
  static std::set<std::pair<std::string, std::string>> s;
  return s;
}

bool register_case(const char* op, const char* name) {
  registered().emplace(op, name);
  return true;
}

const char* const kOps[] = {
    "conv2d", "conv1d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d"};

}  // namespace

#define TG_GOLDEN_CAT2(a, b) a##b
#define TG_GOLDEN_CAT(a, b) TG_GOLDEN_CAT2(a, b)
/// GOLDEN(op, case name, extra tags): a test that runs the fixture case in float64 and float32.
#define GOLDEN(op, name, tags)                                                                              \
  [[maybe_unused]] static const bool TG_GOLDEN_CAT(golden_registered_, __LINE__) = register_case(op, name); \
  TEST_CASE(op " matches PyTorch: " name, "[golden][" op "]" tags) { run_case(op, name); }

// clang-format off
GOLDEN("conv2d", "3x3 padding 1 on 5x5", "")
GOLDEN("conv2d", "stride 2 padding 1 on 7x9", "")
GOLDEN("conv2d", "stride 3 padding 2 on 8x7 (windows past the end)", "")
GOLDEN("conv2d", "dilation 2 padding 2 on 8x8", "")
GOLDEN("conv2d", "groups 2 (C 4, O 6)", "")
GOLDEN("conv2d", "depthwise (groups = C = 3)", "")
GOLDEN("conv2d", "depthwise with multiplier 2 (C 3, O 6, groups 3)", "")
GOLDEN("conv2d", "no bias", "")
GOLDEN("conv2d", "kernel (3,2) stride (2,1) padding (1,0)", "")
GOLDEN("conv2d", "kernel (2,3) dilation (2,1) padding (0,2) stride (1,2)", "")
GOLDEN("conv2d", "batch of 3", "")
GOLDEN("conv2d", "1x1 kernel", "")
GOLDEN("conv2d", "kernel covers the whole input", "")
GOLDEN("conv2d", "stride 2 padding 2 dilation 2 groups 2 no bias on 9x7", "")
GOLDEN("conv2d", "single channel in and out", "")
GOLDEN("conv2d", "unbatched input (C, H, W)", "")

GOLDEN("conv1d", "kernel 3 padding 1 on 8", "")
GOLDEN("conv1d", "stride 2 padding 1 on 9", "")
GOLDEN("conv1d", "stride 3 padding 2 on 8 (windows past the end)", "")
GOLDEN("conv1d", "dilation 2 padding 2 on 9", "")
GOLDEN("conv1d", "groups 2 (C 4, O 6)", "")
GOLDEN("conv1d", "depthwise (groups = C = 3)", "")
GOLDEN("conv1d", "no bias", "")
GOLDEN("conv1d", "batch of 3", "")
GOLDEN("conv1d", "kernel covers the whole input", "")
GOLDEN("conv1d", "stride 2 padding 3 dilation 3 groups 3 on 9", "")
GOLDEN("conv1d", "unbatched input (C, L)", "")

GOLDEN("max_pool2d", "kernel 2 on 6x6", "")
GOLDEN("max_pool2d", "kernel 2 on 7x5 (rows and columns dropped)", "")
GOLDEN("max_pool2d", "kernel 3 stride 2 padding 1 on 7x9", "")
GOLDEN("max_pool2d", "ceil_mode on 7x7 kernel 2", "")
GOLDEN("max_pool2d", "ceil_mode kernel 3 stride 2 on 8x6", "")
GOLDEN("max_pool2d", "ceil_mode with padding 1 on 5x5 kernel 2 (last window dropped)", "")
GOLDEN("max_pool2d", "dilation 2 kernel 2 on 7x8", "")
GOLDEN("max_pool2d", "dilation 2 kernel 3 stride 2 padding 1 on 9x9", "")
GOLDEN("max_pool2d", "kernel (3,2) stride (2,1) padding (1,0) on 7x6", "")
GOLDEN("max_pool2d", "kernel (2,3) stride (1,2) dilation (2,1) on 6x9", "")
GOLDEN("max_pool2d", "overlapping windows kernel 3 stride 1 on 6x6", "")
GOLDEN("max_pool2d", "overlapping windows kernel 3 stride 2 on 9x7", "")
GOLDEN("max_pool2d", "global window kernel (5,4) on 5x4", "")
GOLDEN("max_pool2d", "unbatched input (C, H, W)", "")

GOLDEN("avg_pool2d", "kernel 2 on 6x6", "")
GOLDEN("avg_pool2d", "kernel 2 on 7x5 (rows and columns dropped)", "")
GOLDEN("avg_pool2d", "kernel 3 stride 2 padding 1 count_include_pad on 7x9", "")
GOLDEN("avg_pool2d", "kernel 3 stride 2 padding 1 exclude pad on 7x9", "")
GOLDEN("avg_pool2d", "ceil_mode kernel 2 on 7x7", "")
GOLDEN("avg_pool2d", "ceil_mode kernel 3 stride 2 on 8x6", "")
GOLDEN("avg_pool2d", "ceil_mode padding 1 count_include_pad kernel 3 stride 2 on 6x8", "")
GOLDEN("avg_pool2d", "ceil_mode padding 1 exclude pad kernel 3 stride 2 on 6x8", "")
GOLDEN("avg_pool2d", "ceil_mode with padding 1 on 5x5 kernel 2 (last window dropped)", "")
GOLDEN("avg_pool2d", "kernel (3,2) stride (2,1) padding (1,0) on 7x6", "")
GOLDEN("avg_pool2d", "kernel (2,3) stride (1,2) padding (1,1) exclude pad on 6x9", "")
GOLDEN("avg_pool2d", "overlapping windows kernel 3 stride 1 on 6x6", "")
GOLDEN("avg_pool2d", "unbatched input (C, H, W)", "")

GOLDEN("adaptive_avg_pool2d", "output (1,1) global on 6x5", "")
GOLDEN("adaptive_avg_pool2d", "output (2,3) on 7x5 (uneven windows)", "")
GOLDEN("adaptive_avg_pool2d", "output (3,2) on 7x5 (overlapping windows)", "")
GOLDEN("adaptive_avg_pool2d", "output same as input 5x6", "")
GOLDEN("adaptive_avg_pool2d", "output (4,3) on 8x6 (even split)", "")
GOLDEN("adaptive_avg_pool2d", "output (5,4) on 3x3 (larger than input)", "")
GOLDEN("adaptive_avg_pool2d", "output (1,3) on 4x7", "")
GOLDEN("adaptive_avg_pool2d", "unbatched input (C, H, W)", "")

GOLDEN("adaptive_max_pool2d", "output (1,1) global on 6x5", "")
GOLDEN("adaptive_max_pool2d", "output (2,3) on 7x5 (uneven windows)", "")
GOLDEN("adaptive_max_pool2d", "output (3,2) on 7x5 (overlapping windows)", "")
GOLDEN("adaptive_max_pool2d", "output same as input 5x6", "")
GOLDEN("adaptive_max_pool2d", "output (4,3) on 8x6 (even split)", "")
GOLDEN("adaptive_max_pool2d", "output (5,4) on 3x3 (larger than input)", "")
GOLDEN("adaptive_max_pool2d", "output (1,3) on 4x7", "")
GOLDEN("adaptive_max_pool2d", "unbatched input (C, H, W)", "")
// clang-format on

TEST_CASE("golden fixtures: every case has a test and every test a case", "[golden]") {
  std::set<std::pair<std::string, std::string>> in_files;
  for (const char* op : kOps) {
    const std::vector<Case> cases = tg_fixtures::load("golden", op);
    CHECK(cases.size() >= 5);
    for (const Case& c : cases) {
      INFO("fixture case without a GOLDEN(...) test: " << op << ": " << c.name << " (" << c.where << ")");
      CHECK(registered().count({op, c.name}) == 1);
      in_files.emplace(op, c.name);
    }
  }
  for (const auto& [op, name] : registered()) {
    INFO("GOLDEN(...) test without a fixture case: " << op << ": " << name);
    CHECK(in_files.count({op, name}) == 1);
  }
}

TEST_CASE("golden fixtures: the loader reads the format and rejects malformed files", "[golden]") {
  using tg_fixtures::FixtureError;
  auto parse = [](const std::string& text) {
    std::istringstream in(text);
    return tg_fixtures::parse_fixtures(in, "op", "test.txt");
  };

  SECTION("a well-formed file") {
    const std::vector<Case> cases = parse(
        "# comment\n\ncase first one\nparam stride 2 1\nparam groups 3\n"
        "tensor x 2 2 3\n1 2.5 -3\n4e-3 0.1 -0\nnone bias\ntensor s 0\n7\nend\n"
        "case second\r\ntensor e 2 0 4\nend\n");
    REQUIRE(cases.size() == 2);
    const Case& c = cases[0];
    CHECK(c.name == "first one");
    CHECK(c.where == "test.txt:3");
    CHECK(c.param("stride") == std::vector<std::int64_t>{2, 1});
    CHECK(c.param1("groups") == 3);
    CHECK(c.param_or("dilation", 1) == 1);
    CHECK(c.is_none("bias"));
    CHECK_FALSE(c.has_tensor("bias"));
    CHECK_FALSE(c.tensor_or_undefined("bias").defined());
    const Tensor x = c.tensor("x");
    CHECK(x.dtype() == tg::kFloat64);
    CHECK(x.shape().vec() == std::vector<std::int64_t>{2, 3});
    CHECK(x.to_vector<double>() == std::vector<double>{1, 2.5, -3, 4e-3, 0.1, -0.0});
    CHECK(c.tensor("x", tg::kFloat32).dtype() == tg::kFloat32);
    CHECK(c.tensor("s").dim() == 0);
    CHECK(c.tensor("s").item() == 7.0);
    CHECK(cases[1].name == "second");
    CHECK(cases[1].tensor("e").numel() == 0);
    CHECK_THROWS_WITH(c.param("padding"), Catch::Contains("has no param 'padding'"));
    CHECK_THROWS_WITH(c.param("stride", 1), Catch::Contains("has 2 values, expected 1"));
    CHECK_THROWS_WITH(c.tensor("y"), Catch::Contains("has no tensor 'y'"));
    CHECK_THROWS_WITH(c.tensor("bias"), Catch::Contains("is none"));
  }
  SECTION("malformed files name the line and the problem") {
    CHECK_THROWS_WITH(parse("param stride 1\n"), Catch::Contains("test.txt:1") && Catch::Contains("outside a case"));
    CHECK_THROWS_WITH(parse("case a\nbogus 1\nend\n"),
                      Catch::Contains("test.txt:2") && Catch::Contains("unknown directive 'bogus'"));
    CHECK_THROWS_WITH(parse("case a\ntensor x 2 2 2\n1 2 3\n"), Catch::Contains("ends early: file has 3 of its 4"));
    CHECK_THROWS_WITH(parse("case a\ntensor x 1 2\n1 2 3\nend\n"), Catch::Contains("more than its 2 values"));
    CHECK_THROWS_WITH(parse("case a\ntensor x 1 2\n1 zz\nend\n"),
                      Catch::Contains("test.txt:3") && Catch::Contains("not a number: 'zz'"));
    CHECK_THROWS_WITH(parse("case a\ntensor x 3 2 2\nend\n"), Catch::Contains("says ndim 3 but lists 2 dims"));
    CHECK_THROWS_WITH(parse("case a\nparam k 1.5\nend\n")[0].param1("k"), Catch::Contains("not an integer: '1.5'"));
    CHECK_THROWS_WITH(parse("case a\nend\ncase a\nend\n"), Catch::Contains("duplicate case name 'a'"));
    CHECK_THROWS_WITH(parse("case a\nnone b\nnone b\nend\n"), Catch::Contains("duplicate tensor 'b'"));
    CHECK_THROWS_WITH(parse("case a\nparam k 1\n"), Catch::Contains("case 'a' has no 'end'"));
    CHECK_THROWS_WITH(parse("case a\ncase b\nend\n"), Catch::Contains("'case' before the 'end' of case 'a'"));
    CHECK_THROWS_AS(parse("case\nend\n"), FixtureError);
  }
}

// Forward values of the model-building ops (shape_ops.h, index_ops.h, activation.h, conv.h)
// against hand-computed numbers, PyTorch's results (torch 1.13, quoted where used), and naive
// direct implementations written here in double (convolution and pooling).
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <numbers>

#include "helpers.h"
#include "tapegrad/core.h"

using tg::Tensor;
using tg_test::all_close;
using tg_test::shape_of;
using tg_test::values;
using Shape = std::vector<std::int64_t>;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<std::int64_t> ints(const Tensor& t) { return t.to_vector<std::int64_t>(); }
Tensor index64(const std::vector<std::int64_t>& v, tg::IntArrayRef shape) { return tg::from_vector(v, shape); }
Tensor mask(const std::vector<bool>& v, tg::IntArrayRef shape) { return tg::from_vector(v, shape); }
Tensor randn64(tg::IntArrayRef shape, std::uint64_t seed) {
  tg::Generator gen(seed);
  return tg::randn(shape, tg::kFloat64, &gen);
}

// ---- naive convolution and pooling, straight from the definitions -----------------------------------

struct ConvCase {
  std::int64_t N, C, H, W, O, kh, kw;
  std::int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
  bool bias = true;
};

std::int64_t conv_out(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p, std::int64_t d) {
  return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

/// out[n, o, y, x] = b[o] + sum over the group's channels c and taps (i, j) of
/// in[n, c, y sh - ph + i dh, x sw - pw + j dw] w[o, c, i, j], zero outside the input.
std::vector<double> naive_conv(const std::vector<double>& in, const std::vector<double>& w,
                               const std::vector<double>& b, const ConvCase& c) {
  const std::int64_t Ho = conv_out(c.H, c.kh, c.sh, c.ph, c.dh), Wo = conv_out(c.W, c.kw, c.sw, c.pw, c.dw);
  const std::int64_t Cg = c.C / c.groups, Og = c.O / c.groups;
  std::vector<double> out(static_cast<std::size_t>(c.N * c.O * Ho * Wo));
  for (std::int64_t n = 0; n < c.N; ++n)
    for (std::int64_t o = 0; o < c.O; ++o)
      for (std::int64_t y = 0; y < Ho; ++y)
        for (std::int64_t x = 0; x < Wo; ++x) {
          double s = c.bias ? b[static_cast<std::size_t>(o)] : 0.0;
          const std::int64_t g = o / Og;
          for (std::int64_t ci = 0; ci < Cg; ++ci)
            for (std::int64_t i = 0; i < c.kh; ++i)
              for (std::int64_t j = 0; j < c.kw; ++j) {
                const std::int64_t h = y * c.sh - c.ph + i * c.dh, v = x * c.sw - c.pw + j * c.dw;
                if (h < 0 || h >= c.H || v < 0 || v >= c.W) continue;
                s += in[static_cast<std::size_t>(((n * c.C + g * Cg + ci) * c.H + h) * c.W + v)] *
                     w[static_cast<std::size_t>(((o * Cg + ci) * c.kh + i) * c.kw + j)];
              }
          out[static_cast<std::size_t>(((n * c.O + o) * Ho + y) * Wo + x)] = s;
        }
  return out;
}

struct PoolCase {
  std::int64_t kh, kw, sh, sw, ph = 0, pw = 0, dh = 1, dw = 1;
  bool ceil_mode = false;
};

/// PyTorch's output length: floor (or ceil) of the sweep, minus a last window that would start
/// in the right padding.
std::int64_t pool_out(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p, std::int64_t d, bool ceil_mode) {
  const double span = static_cast<double>(in + 2 * p - d * (k - 1) - 1) / static_cast<double>(s);
  std::int64_t out = static_cast<std::int64_t>(ceil_mode ? std::ceil(span) : std::floor(span)) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

enum class PoolKind { Max, AvgIncludePad, AvgExcludePad };

/// Pools every [H, W] plane of `in` (planes * H * W values): the max over the taps inside the
/// input, or their sum divided by the number of taps inside the padded input (include pad) or
/// inside the input (exclude pad).
std::vector<double> naive_pool(const std::vector<double>& in, std::int64_t planes, std::int64_t H, std::int64_t W,
                               const PoolCase& p, PoolKind kind) {
  const std::int64_t Ho = pool_out(H, p.kh, p.sh, p.ph, p.dh, p.ceil_mode);
  const std::int64_t Wo = pool_out(W, p.kw, p.sw, p.pw, p.dw, p.ceil_mode);
  std::vector<double> out;
  for (std::int64_t pl = 0; pl < planes; ++pl)
    for (std::int64_t y = 0; y < Ho; ++y)
      for (std::int64_t x = 0; x < Wo; ++x) {
        double best = -kInf, sum = 0;
        std::int64_t inside = 0, padded_rows = 0, padded_cols = 0;
        for (std::int64_t i = 0; i < p.kh; ++i) padded_rows += y * p.sh - p.ph + i * p.dh < H + p.ph;
        for (std::int64_t j = 0; j < p.kw; ++j) padded_cols += x * p.sw - p.pw + j * p.dw < W + p.pw;
        for (std::int64_t i = 0; i < p.kh; ++i)
          for (std::int64_t j = 0; j < p.kw; ++j) {
            const std::int64_t h = y * p.sh - p.ph + i * p.dh, v = x * p.sw - p.pw + j * p.dw;
            if (h < 0 || h >= H || v < 0 || v >= W) continue;
            const double value = in[static_cast<std::size_t>((pl * H + h) * W + v)];
            best = std::max(best, value);
            sum += value;
            ++inside;
          }
        if (kind == PoolKind::Max) out.push_back(best);
        else if (kind == PoolKind::AvgIncludePad) out.push_back(sum / static_cast<double>(padded_rows * padded_cols));
        else out.push_back(sum / static_cast<double>(inside));
      }
  return out;
}

/// Adaptive pooling: window i of n over a length L is [floor(i L / n), ceil((i + 1) L / n)).
std::vector<double> naive_adaptive(const std::vector<double>& in, std::int64_t planes, std::int64_t H, std::int64_t W,
                                   std::int64_t Ho, std::int64_t Wo, bool is_max) {
  auto start = [](std::int64_t i, std::int64_t L, std::int64_t n) {
    return static_cast<std::int64_t>(std::floor(static_cast<double>(i * L) / static_cast<double>(n)));
  };
  auto end = [](std::int64_t i, std::int64_t L, std::int64_t n) {
    return static_cast<std::int64_t>(std::ceil(static_cast<double>((i + 1) * L) / static_cast<double>(n)));
  };
  std::vector<double> out;
  for (std::int64_t pl = 0; pl < planes; ++pl)
    for (std::int64_t y = 0; y < Ho; ++y)
      for (std::int64_t x = 0; x < Wo; ++x) {
        double best = -kInf, sum = 0;
        std::int64_t count = 0;
        for (std::int64_t h = start(y, H, Ho); h < end(y, H, Ho); ++h)
          for (std::int64_t v = start(x, W, Wo); v < end(x, W, Wo); ++v) {
            const double value = in[static_cast<std::size_t>((pl * H + h) * W + v)];
            best = std::max(best, value);
            sum += value;
            ++count;
          }
        out.push_back(is_max ? best : sum / static_cast<double>(count));
      }
  return out;
}

/// 1, 2, ..., 35 as [1, 1, 7, 5] (float32), the input of the PyTorch results quoted below.
Tensor arange_7x5() { return tg::arange(1.0, 36.0).reshape({1, 1, 7, 5}); }

}  // namespace

// ---- joining and splitting ------------------------------------------------------------------------

TEST_CASE("cat joins along dim 0 and along the inner dim", "[model-ops][values][shape]") {
  const Tensor a = tg::tensor({{1, 2}, {3, 4}}), b = tg::tensor({{5}, {6}}), c = tg::tensor({{7, 8}});
  const Tensor inner = tg::cat({a, b}, 1);
  CHECK(shape_of(inner) == Shape{2, 3});
  CHECK(values(inner) == std::vector<double>{1, 2, 5, 3, 4, 6});
  CHECK(values(tg::cat({a, b}, -1)) == values(inner));
  const Tensor outer = tg::cat({a, c, a});
  CHECK(shape_of(outer) == Shape{5, 2});
  CHECK(values(outer) == std::vector<double>{1, 2, 3, 4, 7, 8, 1, 2, 3, 4});
  CHECK(tg::cat({tg::arange(3)}).dtype() == tg::kInt64);
}

TEST_CASE("stack adds a new dim at the front, the middle or the end", "[model-ops][values][shape]") {
  const Tensor a = tg::tensor({1, 2, 3}), b = tg::tensor({4, 5, 6});
  const Tensor s0 = tg::stack({a, b});
  CHECK(shape_of(s0) == Shape{2, 3});
  CHECK(values(s0) == std::vector<double>{1, 2, 3, 4, 5, 6});
  const Tensor s1 = tg::stack({a, b}, 1);
  CHECK(shape_of(s1) == Shape{3, 2});
  CHECK(values(s1) == std::vector<double>{1, 4, 2, 5, 3, 6});
  const Tensor m = tg::stack({tg::ones({2, 3}), tg::zeros({2, 3}), tg::ones({2, 3})}, -2);
  CHECK(shape_of(m) == Shape{2, 3, 3});
  CHECK(values(m.select(0, 0).select(1, 0)) == std::vector<double>{1, 0, 1});
}

TEST_CASE("chunk of 5 into 3 gives sizes 2, 2, 1, of 2 into 3 gives 2 chunks, of 6 into 4 gives 3 chunks",
          "[model-ops][values][shape]") {
  const auto five = tg::chunk(tg::arange(5), 3);
  REQUIRE(five.size() == 3);
  CHECK(ints(five[0]) == std::vector<std::int64_t>{0, 1});
  CHECK(ints(five[1]) == std::vector<std::int64_t>{2, 3});
  CHECK(ints(five[2]) == std::vector<std::int64_t>{4});
  const auto two = tg::chunk(tg::arange(2), 3);
  REQUIRE(two.size() == 2);
  CHECK(ints(two[0]) == std::vector<std::int64_t>{0});
  CHECK(ints(two[1]) == std::vector<std::int64_t>{1});
  const auto six = tg::chunk(tg::arange(6), 4);  // ceil(6 / 4) = 2 per chunk: torch gives 3 chunks
  REQUIRE(six.size() == 3);
  CHECK(ints(six[2]) == std::vector<std::int64_t>{4, 5});
  const auto cols = tg::chunk(tg::arange(10).reshape({2, 5}), 2, 1);
  REQUIRE(cols.size() == 2);
  CHECK(shape_of(cols[0]) == Shape{2, 3});
  CHECK(ints(cols[1]) == std::vector<std::int64_t>{3, 4, 8, 9});
}

TEST_CASE("split by a size (last piece smaller) and by a list of sizes", "[model-ops][values][shape]") {
  const auto by_two = tg::split(tg::arange(5), 2);
  REQUIRE(by_two.size() == 3);
  CHECK(ints(by_two[2]) == std::vector<std::int64_t>{4});
  const auto sized = tg::split(tg::arange(12).reshape({2, 6}), {1, 3, 2}, 1);
  REQUIRE(sized.size() == 3);
  CHECK(shape_of(sized[0]) == Shape{2, 1});
  CHECK(ints(sized[1]) == std::vector<std::int64_t>{1, 2, 3, 7, 8, 9});
  CHECK(ints(sized[2]) == std::vector<std::int64_t>{4, 5, 10, 11});
  const auto with_empty = tg::split(tg::arange(3), {0, 3});
  CHECK(shape_of(with_empty[0]) == Shape{0});
}

TEST_CASE("chunk, split and narrow return views that share the input's storage", "[model-ops][values][shape]") {
  const Tensor t = tg::arange(0.0, 6.0).reshape({2, 3});
  const auto chunks = tg::chunk(t, 3, 1);
  const auto pieces = tg::split(t, {2, 1}, 1);
  const Tensor n = tg::narrow(t, 0, 1, 1);
  for (const Tensor& v : chunks) CHECK(v.shares_storage_with(t));
  for (const Tensor& v : pieces) CHECK(v.shares_storage_with(t));
  CHECK(n.shares_storage_with(t));
  CHECK(values(n) == std::vector<double>{3, 4, 5});
  chunks[1].fill_(-1.0);  // column 1
  n.fill_(9.0);           // row 1
  CHECK(values(t) == std::vector<double>{0, -1, 2, 9, 9, 9});
  CHECK(values(tg::narrow(t, 1, -2, 2)) == std::vector<double>{-1, 2, 9, 9});
}

TEST_CASE("flip reverses one or several dims", "[model-ops][values][shape]") {
  const Tensor x = tg::tensor({{1, 2, 3}, {4, 5, 6}});
  CHECK(values(tg::flip(x, {1})) == std::vector<double>{3, 2, 1, 6, 5, 4});
  CHECK(values(tg::flip(x, {0})) == std::vector<double>{4, 5, 6, 1, 2, 3});
  CHECK(values(tg::flip(x, {0, -1})) == std::vector<double>{6, 5, 4, 3, 2, 1});
  CHECK(values(tg::flip(x.t(), {0})) == std::vector<double>{3, 6, 2, 5, 1, 4});
  CHECK_FALSE(tg::flip(x, {1}).shares_storage_with(x));
}

TEST_CASE("repeat tiles along each dim, extra repeats adding leading dims", "[model-ops][values][shape]") {
  const Tensor x = tg::tensor({1, 2});
  const Tensor r = tg::repeat(x, {2, 3});
  CHECK(shape_of(r) == Shape{2, 6});
  CHECK(values(r) == std::vector<double>{1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2});
  const Tensor m = tg::repeat(tg::tensor({{1, 2}, {3, 4}}), {2, 1, 2});
  CHECK(shape_of(m) == Shape{2, 2, 4});
  CHECK(values(m.select(0, 1)) == std::vector<double>{1, 2, 1, 2, 3, 4, 3, 4});
  CHECK(shape_of(tg::repeat(x, {0})) == Shape{0});
}

TEST_CASE("expand_as, flatten and unflatten give the expected shapes and row-major values",
          "[model-ops][values][shape]") {
  const Tensor col = tg::tensor({{1}, {2}});
  const Tensor e = tg::expand_as(col, tg::zeros({3, 2, 4}));
  CHECK(shape_of(e) == Shape{3, 2, 4});
  CHECK(values(e.select(0, 2).select(0, 1)) == std::vector<double>{2, 2, 2, 2});
  const Tensor x = tg::arange(24).reshape({2, 3, 4});
  CHECK(shape_of(tg::flatten(x)) == Shape{24});
  CHECK(shape_of(tg::flatten(x, 1)) == Shape{2, 12});
  CHECK(shape_of(tg::flatten(x, 0, 1)) == Shape{6, 4});
  CHECK(shape_of(tg::flatten(tg::scalar_tensor(3.0))) == Shape{1});
  CHECK(shape_of(tg::unflatten(tg::flatten(x, 1), 1, {3, -1})) == Shape{2, 3, 4});
  CHECK(ints(tg::flatten(x.transpose(0, 2), 1)).front() == 0);
  CHECK(ints(tg::flatten(x.transpose(0, 2), 1))[1] == 12);
}

// ---- indexing ---------------------------------------------------------------------------------------

TEST_CASE("index_select, gather, scatter_add and embedding pick and add the expected elements",
          "[model-ops][values][index]") {
  const Tensor x = tg::tensor({{1, 2, 3}, {4, 5, 6}});
  CHECK(values(tg::index_select(x, 1, index64({2, 0, 2}, {3}))) == std::vector<double>{3, 1, 3, 6, 4, 6});
  CHECK(values(tg::index_select(x, 0, index64({1}, {1}))) == std::vector<double>{4, 5, 6});
  CHECK(values(tg::gather(x, 1, index64({0, 0, 2, 1}, {2, 2}))) == std::vector<double>{1, 1, 6, 5});
  CHECK(values(tg::gather(x, 0, index64({1, 0, 1}, {1, 3}))) == std::vector<double>{4, 2, 6});
  const Tensor sa = tg::scatter_add(tg::zeros({3}), 0, index64({0, 2, 0, 2, 2}, {5}), tg::tensor({1, 2, 3, 4, 5}));
  CHECK(values(sa) == std::vector<double>{4, 0, 11});
  const Tensor sa2 = tg::scatter_add(tg::ones({2, 3}), 1, index64({2, 2, 0, 1}, {2, 2}), tg::tensor({{1, 2}, {3, 4}}));
  CHECK(values(sa2) == std::vector<double>{1, 1, 4, 4, 5, 1});
  const Tensor w = tg::tensor({{0, 0}, {1, 10}, {2, 20}});
  const Tensor e = tg::embedding(w, index64({2, 1, 2, 0}, {2, 2}), /*padding_idx=*/0);
  CHECK(shape_of(e) == Shape{2, 2, 2});
  CHECK(values(e) == std::vector<double>{2, 20, 1, 10, 2, 20, 0, 0});
}

TEST_CASE("one_hot: int64 rows of zeros and ones, num_classes -1 is max + 1", "[model-ops][values][index]") {
  const Tensor h = tg::one_hot(index64({0, 2, 1}, {3}), 4);
  CHECK(h.dtype() == tg::kInt64);
  CHECK(shape_of(h) == Shape{3, 4});
  CHECK(ints(h) == std::vector<std::int64_t>{1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0});
  const Tensor inferred = tg::one_hot(index64({0, 2, 1, 2}, {2, 2}));
  CHECK(shape_of(inferred) == Shape{2, 2, 3});
  CHECK(ints(inferred) == std::vector<std::int64_t>{1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1});
}

TEST_CASE("topk: values sorted, ties broken by the lower index, k = 0 gives empty results",
          "[model-ops][values][index]") {
  // Tapegrad's documented order. (PyTorch leaves the order of ties unspecified: torch 1.13 on CPU
  // gives indices [2, 4] for the first case.)
  const Tensor x = tg::tensor({1, 3, 3, 2, 3});
  const auto top = tg::topk(x, 2);
  CHECK(values(top.values) == std::vector<double>{3, 3});
  CHECK(ints(top.indices) == std::vector<std::int64_t>{1, 2});
  CHECK(top.indices.dtype() == tg::kInt64);
  const auto low = tg::topk(x, 3, -1, /*largest=*/false);
  CHECK(values(low.values) == std::vector<double>{1, 2, 3});
  CHECK(ints(low.indices) == std::vector<std::int64_t>{0, 3, 1});
  const auto all = tg::topk(tg::tensor({0.5, -1, 7, 2}), 4);
  CHECK(values(all.values) == std::vector<double>{7, 2, 0.5, -1});
  CHECK(ints(all.indices) == std::vector<std::int64_t>{2, 3, 0, 1});
  // Along dim 0 of a matrix: per column.
  const auto cols = tg::topk(tg::tensor({{1, 9}, {5, 2}, {3, 4}}), 2, 0);
  CHECK(shape_of(cols.values) == Shape{2, 2});
  CHECK(values(cols.values) == std::vector<double>{5, 9, 3, 4});
  CHECK(ints(cols.indices) == std::vector<std::int64_t>{1, 0, 2, 2});
  const auto none = tg::topk(tg::ones({2, 5}), 0);
  CHECK(shape_of(none.values) == Shape{2, 0});
  CHECK(shape_of(none.indices) == Shape{2, 0});
}

TEST_CASE("cumsum: running sums along a dim, int64 and bool inputs give int64", "[model-ops][values][index]") {
  const Tensor i = tg::cumsum(index64({1, 2, 3, 4}, {4}), 0);
  CHECK(i.dtype() == tg::kInt64);
  CHECK(ints(i) == std::vector<std::int64_t>{1, 3, 6, 10});
  const Tensor b = tg::cumsum(mask({true, false, true, true}, {4}), 0);
  CHECK(b.dtype() == tg::kInt64);
  CHECK(ints(b) == std::vector<std::int64_t>{1, 1, 2, 3});
  const Tensor m = tg::tensor({{1, 2, 3}, {4, 5, 6}});
  CHECK(values(tg::cumsum(m, 1)) == std::vector<double>{1, 3, 6, 4, 9, 15});
  CHECK(values(tg::cumsum(m, 0)) == std::vector<double>{1, 2, 3, 5, 7, 9});
  CHECK(tg::cumsum(m, -1).dtype() == tg::kFloat32);
}

TEST_CASE("tril(ones(4, 4)) is a causal mask, tril and triu with diagonals -1 and 1", "[model-ops][values][index]") {
  const Tensor causal = tg::tril(tg::ones({4, 4}));
  CHECK(values(causal) == std::vector<double>{1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1});
  const Tensor x = tg::arange(1.0, 10.0).reshape({3, 3});
  CHECK(values(tg::tril(x, -1)) == std::vector<double>{0, 0, 0, 4, 0, 0, 7, 8, 0});
  CHECK(values(tg::tril(x, 1)) == std::vector<double>{1, 2, 0, 4, 5, 6, 7, 8, 9});
  CHECK(values(tg::triu(x)) == std::vector<double>{1, 2, 3, 0, 5, 6, 0, 0, 9});
  CHECK(values(tg::triu(x, 1)) == std::vector<double>{0, 2, 3, 0, 0, 6, 0, 0, 0});
  CHECK(values(tg::triu(x, -1)) == std::vector<double>{1, 2, 3, 4, 5, 6, 0, 8, 9});
  // A batch of two 2x3 matrices: each is masked on its own.
  const Tensor batch = tg::tril(tg::ones({2, 2, 3}));
  CHECK(values(batch) == std::vector<double>{1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0});
  // The causal mask as used by attention: masked_fill where triu(ones, 1) is set.
  const Tensor scores = tg::zeros({3, 3});
  const Tensor future = tg::triu(tg::ones({3, 3}), 1).gt(0.0);
  const Tensor filled = tg::masked_fill(scores, future, -kInf);
  CHECK(values(filled) == std::vector<double>{0, -kInf, -kInf, 0, 0, -kInf, 0, 0, 0});
}

TEST_CASE("masked_fill with a broadcast (1, T) mask fills the same columns of every row",
          "[model-ops][values][index]") {
  const Tensor x = tg::arange(0.0, 8.0).reshape({2, 4});
  const Tensor pad = mask({false, false, true, true}, {1, 4});
  CHECK(values(tg::masked_fill(x, pad, -1e9)) == std::vector<double>{0, 1, -1e9, -1e9, 4, 5, -1e9, -1e9});
  const Tensor softened = tg::softmax(tg::masked_fill(x, pad, -kInf), 1);
  CHECK(values(softened)[2] == 0.0);
  CHECK(values(softened)[0] + values(softened)[1] == Approx(1.0));
  CHECK(ints(tg::masked_fill(tg::arange(3), mask({true, false, true}, {3}), 7)) == std::vector<std::int64_t>{7, 1, 7});
}

TEST_CASE("where picks from a where cond is true, from b elsewhere, broadcasting all three",
          "[model-ops][values][index]") {
  const Tensor cond = mask({true, false}, {2, 1});
  CHECK(values(tg::where(cond, tg::tensor({{1, 2}, {3, 4}}), tg::tensor({-1, -2}))) ==
        std::vector<double>{1, 2, -1, -2});
  CHECK(values(tg::where(cond, tg::tensor({5, 6}), 0.0)) == std::vector<double>{5, 6, 0, 0});
  CHECK(values(tg::where(cond, 9.0, tg::tensor({5, 6}))) == std::vector<double>{9, 9, 5, 6});
}

// ---- activations and elementwise math -------------------------------------------------------------------

TEST_CASE("gelu(1) is 0.8413447 exactly and 0.8411920 with the tanh approximation (torch 1.13)",
          "[model-ops][values][activation]") {
  const Tensor one = tg::tensor({1.0});
  CHECK(tg::gelu(one).item() == Approx(0.8413447141647339).margin(1e-7));
  CHECK(tg::gelu(one, "tanh").item() == Approx(0.8411920070648193).margin(1e-7));
  const Tensor x = tg::tensor({-1.0, 0.0, 2.0}, tg::kFloat64);
  CHECK(all_close(values(tg::gelu(x)), {-0.15865525393145707, 0.0, 1.9544997361036416}, 1e-12));
}

TEST_CASE("leaky_relu, elu, silu: values on both sides of 0", "[model-ops][values][activation]") {
  const Tensor x = tg::tensor({-2.0, -1.0, 0.0, 1.0}, tg::kFloat64);
  CHECK(values(tg::leaky_relu(x)) == std::vector<double>{-0.02, -0.01, 0, 1});
  CHECK(values(tg::leaky_relu(x, 0.5)) == std::vector<double>{-1, -0.5, 0, 1});
  CHECK(all_close(values(tg::elu(x)), {std::exp(-2.0) - 1, std::exp(-1.0) - 1, 0, 1}, 1e-12));
  CHECK(all_close(values(tg::elu(x, 2.0)), {2 * (std::exp(-2.0) - 1), 2 * (std::exp(-1.0) - 1), 0, 1}, 1e-12));
  CHECK(all_close(values(tg::silu(x)), {-0.23840584404423515, -0.2689414213699951, 0, 0.7310585786300049}, 1e-12));
}

TEST_CASE("softplus equals log1p(exp(x)) below the threshold and x above it", "[model-ops][values][activation]") {
  const Tensor x = tg::tensor({-10.0, -1.0, 0.0, 1.0, 5.0, 15.0}, tg::kFloat64);
  std::vector<double> want;
  for (double v : values(x)) want.push_back(std::log1p(std::exp(v)));
  CHECK(all_close(values(tg::softplus(x)), want, 1e-12));
  CHECK(tg::softplus(tg::tensor({0.0})).item() == Approx(std::log(2.0)));
  CHECK(tg::softplus(tg::tensor({30.0})).item() == 30.0);      // above the threshold 20
  CHECK(tg::softplus(tg::tensor({1000.0})).item() == 1000.0);  // no overflow
  // beta 2: log(1 + e^(2x)) / 2; threshold 3 compares beta x: 2 * 1.6 > 3 gives x itself.
  CHECK(tg::softplus(tg::tensor({0.5}, tg::kFloat64), 2.0, 3.0).item() == Approx(std::log1p(std::exp(1.0)) / 2));
  CHECK(tg::softplus(tg::tensor({1.6}, tg::kFloat64), 2.0, 3.0).item() == 1.6);
}

TEST_CASE("erf matches the table, log1p and expm1 are exact near 0, reciprocal", "[model-ops][values][activation]") {
  const Tensor x = tg::tensor({0.0, 0.5, 1.0, 2.0, -1.0}, tg::kFloat64);
  CHECK(all_close(values(tg::erf(x)),
                  {0.0, 0.5204998778130465, 0.8427007929497149, 0.9953222650189527, -0.8427007929497149}, 1e-12));
  CHECK(all_close(values(tg::erf(x.to(tg::kFloat32))), {0.0, 0.5204999, 0.8427008, 0.9953223, -0.8427008}, 1e-6));
  // log(1 + 1e-10) computed naively is off by 8e-8 relative; log1p and expm1 are exact.
  CHECK(tg::log1p(tg::tensor({1e-10}, tg::kFloat64)).item() == Approx(9.9999999995e-11).epsilon(1e-12));
  CHECK(tg::expm1(tg::tensor({1e-10}, tg::kFloat64)).item() == Approx(1.00000000005e-10).epsilon(1e-12));
  CHECK(tg::log1p(tg::tensor({std::exp(1.0) - 1}, tg::kFloat64)).item() == Approx(1.0));
  CHECK(tg::expm1(tg::tensor({1.0}, tg::kFloat64)).item() == Approx(std::exp(1.0) - 1));
  CHECK(values(tg::reciprocal(tg::tensor({2.0, -4.0, 0.5}))) == std::vector<double>{0.5, -0.25, 2});
  const Tensor ri = tg::reciprocal(index64({2, 4}, {2}));
  CHECK(ri.dtype() == tg::kFloat32);
  CHECK(values(ri) == std::vector<double>{0.5, 0.25});
}

TEST_CASE("sign is -1, 0 or 1 and does not require grad", "[model-ops][values][activation]") {
  const Tensor x = tg::tensor({-2.5, 0.0, 3.0}, tg::kFloat64).requires_grad_();
  const Tensor s = tg::sign(x);
  CHECK(values(s) == std::vector<double>{-1, 0, 1});
  CHECK_FALSE(s.requires_grad());
  CHECK(ints(tg::sign(index64({-7, 0, 9}, {3}))) == std::vector<std::int64_t>{-1, 0, 1});
}

TEST_CASE("clamp limits to the interval from min to max and passes NaN through", "[model-ops][values][activation]") {
  const Tensor x = tg::tensor({-3.0, -0.5, 0.5, 3.0});
  CHECK(values(tg::clamp(x, -1.0, 1.0)) == std::vector<double>{-1, -0.5, 0.5, 1});
  CHECK(values(tg::clamp(x, 0.0)) == std::vector<double>{0, 0, 0.5, 3});
  CHECK(values(tg::clamp(x, std::nullopt, 0.0)) == std::vector<double>{-3, -0.5, 0, 0});
  const auto c = values(tg::clamp(tg::tensor({kNaN, 5.0}), -1.0, 1.0));
  CHECK(std::isnan(c[0]));
  CHECK(c[1] == 1.0);
  CHECK(ints(tg::clamp(index64({-5, 2, 9}, {3}), 0.0, 4.0)) == std::vector<std::int64_t>{0, 2, 4});
}

TEST_CASE("clamp with min > max sets every element to max, as PyTorch documents", "[model-ops][values][activation]") {
  // torch.clamp(torch.tensor([0., 1.5, 3.]), min=2, max=1) -> [1., 1., 1.] (min(max(x, min), max)).
  CHECK(values(tg::clamp(tg::tensor({0.0, 1.5, 3.0}), 2.0, 1.0)) == std::vector<double>{1, 1, 1});
  const Tensor y = tg::tensor({0.0, 1.5, 3.0});
  tg::clamp_(y, 2.0, 1.0);
  CHECK(values(y) == std::vector<double>{1, 1, 1});
}

TEST_CASE("maximum and minimum: elementwise with broadcasting, NaN propagates from either side",
          "[model-ops][values][activation]") {
  const Tensor a = tg::tensor({{1, 5}, {-2, 0}}), b = tg::tensor({3, -1});
  CHECK(values(tg::maximum(a, b)) == std::vector<double>{3, 5, 3, 0});
  CHECK(values(tg::minimum(a, b)) == std::vector<double>{1, -1, -2, -1});
  const Tensor n1 = tg::tensor({kNaN, 1.0}), n2 = tg::tensor({0.0, kNaN});
  for (const auto& v : {values(tg::maximum(n1, n2)), values(tg::minimum(n1, n2))}) {
    CHECK(std::isnan(v[0]));
    CHECK(std::isnan(v[1]));
  }
  CHECK(tg::maximum(index64({1, 4}, {2}), tg::tensor({2.5, 0.5})).dtype() == tg::kFloat32);
}

// ---- statistics -------------------------------------------------------------------------------------------

TEST_CASE("var of (1, 2, 3, 4) is 5/3 unbiased and 1.25 biased, std is their square root",
          "[model-ops][values][stats]") {
  const Tensor x = tg::tensor({1, 2, 3, 4}, tg::kFloat64);
  CHECK(tg::var(x).item() == Approx(5.0 / 3.0).epsilon(1e-12));
  CHECK(tg::var(x, {}, false).item() == Approx(1.25).epsilon(1e-12));
  CHECK(tg::std(x).item() == Approx(std::sqrt(5.0 / 3.0)).epsilon(1e-12));
  CHECK(tg::std(x, {}, false).item() == Approx(std::sqrt(1.25)).epsilon(1e-12));
  const Tensor m = tg::tensor({{1, 2, 3, 4}, {2, 4, 6, 8}}, tg::kFloat64);
  const Tensor rows = tg::var(m, {1});
  CHECK(shape_of(rows) == Shape{2});
  CHECK(all_close(values(rows), {5.0 / 3.0, 20.0 / 3.0}, 1e-12));
  CHECK(shape_of(tg::var(m, {1}, true, true)) == Shape{2, 1});
  CHECK(all_close(values(tg::var(m, {0}, false)), {0.25, 1, 2.25, 4}, 1e-12));
  CHECK(shape_of(tg::std(m, {}, true, true)) == Shape{1, 1});
  CHECK(std::isnan(tg::var(tg::tensor({3.0})).item()));  // one element: 0 / 0, as in PyTorch
}

TEST_CASE("norm with p = 1, 2 and infinity, over all elements and over dims", "[model-ops][values][stats]") {
  const Tensor v = tg::tensor({3, -4});
  CHECK(tg::norm(v).item() == Approx(5.0));
  CHECK(tg::norm(v, 1.0).item() == Approx(7.0));
  CHECK(tg::norm(v, kInf).item() == Approx(4.0));
  const Tensor m = tg::tensor({{3, 4}, {-6, 8}});
  CHECK(values(tg::norm(m, 2.0, {1})) == std::vector<double>{5, 10});
  CHECK(values(tg::norm(m, 1.0, {0})) == std::vector<double>{9, 12});
  CHECK(values(tg::norm(m, kInf, {1})) == std::vector<double>{4, 8});
  CHECK(shape_of(tg::norm(m, 2.0, {1}, true)) == Shape{2, 1});
  CHECK(shape_of(tg::norm(m, 2.0, {}, true)) == Shape{1, 1});
  CHECK(tg::norm(m).item() == Approx(std::sqrt(125.0)));
}

TEST_CASE("logsumexp of (1000, 1000) is 1000 + ln 2 (no overflow)", "[model-ops][values][stats]") {
  const Tensor big = tg::tensor({1000.0, 1000.0});
  CHECK(tg::logsumexp(big, {0}).item() == Approx(1000.0 + std::log(2.0)).epsilon(1e-7));
  CHECK(tg::logsumexp(tg::tensor({-1000.0, -1000.0}), {0}).item() == Approx(-1000.0 + std::log(2.0)).epsilon(1e-7));
  const Tensor m = tg::tensor({{0.0, std::log(3.0)}, {1.0, 1.0}}, tg::kFloat64);
  CHECK(all_close(values(tg::logsumexp(m, {1})), {std::log(4.0), 1.0 + std::log(2.0)}, 1e-12));
  CHECK(shape_of(tg::logsumexp(m, {1}, true)) == Shape{2, 1});
  CHECK(tg::logsumexp(m, {0, 1}).item() == Approx(std::log(4.0 + 2.0 * std::exp(1.0))));
  CHECK(tg::logsumexp(tg::tensor({-kInf, -kInf}), {0}).item() == -kInf);
}

// ---- dropout ------------------------------------------------------------------------------------------------

TEST_CASE("dropout: p = 0 and eval mode return the input itself, p = 1 gives zeros", "[model-ops][values][dropout]") {
  const Tensor x = tg::tensor({1, -2, 3});
  CHECK(tg::dropout(x, 0.0).impl() == x.impl());
  CHECK(tg::dropout(x, 0.5, /*training=*/false).impl() == x.impl());
  CHECK(tg::dropout(x, 1.0, /*training=*/false).impl() == x.impl());
  CHECK(values(tg::dropout(x, 1.0)) == std::vector<double>{0, 0, 0});
}

TEST_CASE("dropout p = 0.5 on 10^5 elements keeps 50% +- 1%, scaled exactly by 2, reproducibly",
          "[model-ops][values][dropout]") {
  tg::Generator gen(99);
  const Tensor x = tg::rand({100000}, {}, &gen) + 0.5;  // no zeros in x
  tg::manual_seed(2024);
  const Tensor y = tg::dropout(x, 0.5);
  const auto xv = values(x), yv = values(y);
  std::int64_t kept = 0;
  bool exact = true;
  for (std::size_t i = 0; i < xv.size(); ++i) {
    if (yv[i] == 0.0) continue;
    ++kept;
    exact = exact && yv[i] == 2.0 * xv[i];
  }
  CHECK(kept >= 49000);
  CHECK(kept <= 51000);
  CHECK(exact);
  tg::manual_seed(2024);
  CHECK(values(tg::dropout(x, 0.5)) == yv);
  CHECK(values(tg::dropout(x, 0.5)) != yv);  // the stream moved on
  tg::Generator g1(5), g2(5);
  CHECK(values(tg::dropout(x, 0.3, true, &g1)) == values(tg::dropout(x, 0.3, true, &g2)));
}

// ---- convolution against a naive direct convolution --------------------------------------------------------

TEST_CASE("conv2d equals a naive direct convolution for stride, padding, dilation, groups, bias",
          "[model-ops][values][conv]") {
  const std::vector<ConvCase> cases = {
      {.N = 2, .C = 3, .H = 7, .W = 5, .O = 4, .kh = 3, .kw = 3},
      {.N = 2, .C = 3, .H = 7, .W = 5, .O = 4, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1},
      {.N = 1, .C = 2, .H = 8, .W = 7, .O = 3, .kh = 3, .kw = 2, .ph = 2, .pw = 1, .dh = 2, .dw = 3},
      {.N = 2, .C = 6, .H = 5, .W = 5, .O = 6, .kh = 3, .kw = 3, .ph = 1, .pw = 1, .groups = 3},
      {.N = 1,
       .C = 4,
       .H = 6,
       .W = 5,
       .O = 8,
       .kh = 3,
       .kw = 3,
       .sh = 2,
       .sw = 1,
       .ph = 1,
       .pw = 1,
       .groups = 4,
       .bias = false},
      {.N = 3, .C = 5, .H = 4, .W = 3, .O = 2, .kh = 1, .kw = 1},
      {.N = 1,
       .C = 2,
       .H = 9,
       .W = 6,
       .O = 2,
       .kh = 2,
       .kw = 3,
       .sh = 3,
       .sw = 2,
       .ph = 1,
       .pw = 0,
       .dh = 2,
       .dw = 1,
       .bias = false},
  };
  std::uint64_t seed = 400;
  for (const ConvCase& c : cases) {
    INFO("N " << c.N << " C " << c.C << " " << c.H << "x" << c.W << " O " << c.O << " k " << c.kh << "x" << c.kw
              << " stride " << c.sh << "," << c.sw << " pad " << c.ph << "," << c.pw << " dilation " << c.dh << ","
              << c.dw << " groups " << c.groups << " bias " << c.bias);
    const Tensor x = randn64({c.N, c.C, c.H, c.W}, seed++), w = randn64({c.O, c.C / c.groups, c.kh, c.kw}, seed++);
    const Tensor b = c.bias ? randn64({c.O}, seed++) : Tensor();
    const auto want = naive_conv(values(x), values(w), c.bias ? values(b) : std::vector<double>{}, c);
    const Tensor got = tg::conv2d(x, w, b, {c.sh, c.sw}, {c.ph, c.pw}, {c.dh, c.dw}, c.groups);
    CHECK(shape_of(got) ==
          Shape{c.N, c.O, conv_out(c.H, c.kh, c.sh, c.ph, c.dh), conv_out(c.W, c.kw, c.sw, c.pw, c.dw)});
    CHECK(all_close(values(got), want, 1e-12, 1e-12));
    const Tensor got32 = tg::conv2d(x.to(tg::kFloat32), w.to(tg::kFloat32), c.bias ? b.to(tg::kFloat32) : Tensor(),
                                    {c.sh, c.sw}, {c.ph, c.pw}, {c.dh, c.dw}, c.groups);
    CHECK(all_close(values(got32), want, 1e-5, 1e-5));
  }
}

TEST_CASE("conv2d of an unbatched (C, H, W) input equals the batch of one, without the batch dim",
          "[model-ops][values][conv]") {
  const Tensor x = randn64({2, 5, 4}, 450), w = randn64({3, 2, 2, 2}, 451), b = randn64({3}, 452);
  const Tensor single = tg::conv2d(x, w, b, 1, 1);
  CHECK(shape_of(single) == Shape{3, 6, 5});
  CHECK(values(single) == values(tg::conv2d(x.unsqueeze(0), w, b, 1, 1)));
}

TEST_CASE("conv2d weight and bias gradients over a batch of 17 equal the naive sums", "[model-ops][values][conv]") {
  // 17 samples are split into fixed chunks for the weight gradient; the sum must not lose any.
  const ConvCase c{.N = 17, .C = 2, .H = 4, .W = 4, .O = 2, .kh = 2, .kw = 2};
  const Tensor x = randn64({c.N, c.C, c.H, c.W}, 460);
  const Tensor w = randn64({c.O, c.C, c.kh, c.kw}, 461).requires_grad_();
  const Tensor b = randn64({c.O}, 462).requires_grad_();
  tg::conv2d(x, w, b).sum().backward();
  // d(sum out)/dw[o, c, i, j] = sum over n and output positions of x[n, c, y + i, x + j].
  const auto xv = values(x);
  std::vector<double> want(static_cast<std::size_t>(c.O * c.C * c.kh * c.kw));
  for (std::int64_t o = 0; o < c.O; ++o)
    for (std::int64_t ci = 0; ci < c.C; ++ci)
      for (std::int64_t i = 0; i < c.kh; ++i)
        for (std::int64_t j = 0; j < c.kw; ++j) {
          double s = 0;
          for (std::int64_t n = 0; n < c.N; ++n)
            for (std::int64_t y = 0; y < 3; ++y)
              for (std::int64_t v = 0; v < 3; ++v)
                s += xv[static_cast<std::size_t>(((n * c.C + ci) * c.H + y + i) * c.W + v + j)];
          want[static_cast<std::size_t>(((o * c.C + ci) * c.kh + i) * c.kw + j)] = s;
        }
  CHECK(all_close(values(w.grad()), want, 1e-12, 1e-12));
  CHECK(values(b.grad()) == std::vector<double>{17 * 9, 17 * 9});
}

TEST_CASE("conv1d equals a naive direct convolution for stride, padding, dilation, groups, bias",
          "[model-ops][values][conv]") {
  // A 1-d convolution is the 2-d one over a height of 1.
  const std::vector<ConvCase> cases = {
      {.N = 2, .C = 3, .H = 1, .W = 9, .O = 4, .kh = 1, .kw = 3},
      {.N = 2, .C = 3, .H = 1, .W = 10, .O = 2, .kh = 1, .kw = 4, .sw = 3, .pw = 2},
      {.N = 1, .C = 2, .H = 1, .W = 11, .O = 3, .kh = 1, .kw = 3, .pw = 1, .dw = 3, .bias = false},
      {.N = 2, .C = 4, .H = 1, .W = 7, .O = 6, .kh = 1, .kw = 2, .sw = 2, .pw = 1, .groups = 2},
      {.N = 1, .C = 3, .H = 1, .W = 5, .O = 3, .kh = 1, .kw = 3, .pw = 1, .groups = 3},
  };
  std::uint64_t seed = 500;
  for (const ConvCase& c : cases) {
    INFO("N " << c.N << " C " << c.C << " L " << c.W << " O " << c.O << " k " << c.kw << " stride " << c.sw << " pad "
              << c.pw << " dilation " << c.dw << " groups " << c.groups << " bias " << c.bias);
    const Tensor x = randn64({c.N, c.C, c.W}, seed++), w = randn64({c.O, c.C / c.groups, c.kw}, seed++);
    const Tensor b = c.bias ? randn64({c.O}, seed++) : Tensor();
    const auto want = naive_conv(values(x), values(w), c.bias ? values(b) : std::vector<double>{}, c);
    const Tensor got = tg::conv1d(x, w, b, c.sw, c.pw, c.dw, c.groups);
    CHECK(shape_of(got) == Shape{c.N, c.O, conv_out(c.W, c.kw, c.sw, c.pw, c.dw)});
    CHECK(all_close(values(got), want, 1e-12, 1e-12));
    const Tensor got32 = tg::conv1d(x.to(tg::kFloat32), w.to(tg::kFloat32), c.bias ? b.to(tg::kFloat32) : Tensor(),
                                    c.sw, c.pw, c.dw, c.groups);
    CHECK(all_close(values(got32), want, 1e-5, 1e-5));
  }
  const Tensor x = randn64({3, 8}, 550), w = randn64({2, 3, 3}, 551);
  CHECK(shape_of(tg::conv1d(x, w)) == Shape{2, 6});  // unbatched
}

// ---- pooling against naive implementations -----------------------------------------------------------------

TEST_CASE("max_pool2d equals a naive max over the taps inside the input", "[model-ops][values][pool]") {
  // Output shapes from torch 1.13 for a [2, 2, 7, 5] input.
  const std::vector<std::pair<PoolCase, Shape>> cases = {
      {{.kh = 2, .kw = 2, .sh = 2, .sw = 2}, {3, 2}},
      {{.kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1}, {4, 3}},
      {{.kh = 2, .kw = 2, .sh = 2, .sw = 2, .ceil_mode = true}, {4, 3}},
      {{.kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .ceil_mode = true}, {4, 3}},
      {{.kh = 2, .kw = 2, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .ceil_mode = true}, {4, 3}},  // last window dropped
      {{.kh = 3, .kw = 3, .sh = 3, .sw = 3, .ph = 1, .pw = 1, .ceil_mode = true}, {3, 2}},
      {{.kh = 2, .kw = 2, .sh = 1, .sw = 1, .dh = 2, .dw = 2}, {5, 3}},
      {{.kh = 3, .kw = 2, .sh = 2, .sw = 1, .ph = 1, .pw = 0, .dh = 1, .dw = 2}, {4, 3}},
  };
  const Tensor x = randn64({2, 2, 7, 5}, 600);
  for (const auto& [p, hw] : cases) {
    INFO("kernel " << p.kh << "x" << p.kw << " stride " << p.sh << "," << p.sw << " pad " << p.ph << "," << p.pw
                   << " dilation " << p.dh << "," << p.dw << " ceil " << p.ceil_mode);
    const Tensor got = tg::max_pool2d(x, {p.kh, p.kw}, tg::Int2(p.sh, p.sw), {p.ph, p.pw}, {p.dh, p.dw}, p.ceil_mode);
    CHECK(shape_of(got) == Shape{2, 2, hw[0], hw[1]});
    CHECK(values(got) == naive_pool(values(x), 4, 7, 5, p, PoolKind::Max));
  }
}

TEST_CASE("max_pool2d, avg_pool2d, adaptive pools on 1..35 as 7x5 give torch 1.13's numbers",
          "[model-ops][values][pool]") {
  const Tensor x = arange_7x5();
  CHECK(values(tg::max_pool2d(x, 3, 2, 1, 1, true)) ==
        std::vector<double>{7, 9, 10, 17, 19, 20, 27, 29, 30, 32, 34, 35});
  CHECK(values(tg::max_pool2d(x, 2, 2, 1, 1, true)) ==
        std::vector<double>{1, 3, 5, 11, 13, 15, 21, 23, 25, 31, 33, 35});
  CHECK(values(tg::max_pool2d(x, {3, 2}, tg::Int2(2, 1), {1, 0}, {1, 2})) ==
        std::vector<double>{8, 9, 10, 18, 19, 20, 28, 29, 30, 33, 34, 35});
  CHECK(all_close(values(tg::avg_pool2d(x, 3, 2, 1, true, true)),
                  {1.7777778, 3.6666667, 3.1111111, 7.6666667, 13, 9.6666667, 14.333333, 23, 16.333333, 12.888889,
                   20.333333, 14.222222},
                  1e-6));
  CHECK(all_close(values(tg::avg_pool2d(x, 3, 2, 1, true, false)),
                  {4, 5.5, 7, 11.5, 13, 14.5, 21.5, 23, 24.5, 29, 30.5, 32}, 1e-6));
  CHECK(all_close(values(tg::avg_pool2d(x, 2, 2, 1, true, true)),
                  {0.25, 1.25, 2.25, 4.25, 10, 12, 9.25, 20, 22, 14.25, 30, 32}, 1e-6));
  CHECK(all_close(values(tg::avg_pool2d(x, 2, 2, 1, true, false)),
                  {1, 2.5, 4.5, 8.5, 10, 12, 18.5, 20, 22, 28.5, 30, 32}, 1e-6));
  CHECK(all_close(values(tg::avg_pool2d(x, 3, 3, 1, true, true)), {1.7777778, 4.3333333, 11, 19, 12.888889, 21}, 1e-6));
  CHECK(values(tg::adaptive_avg_pool2d(x, {3, 2})) == std::vector<double>{7, 9, 17, 19, 27, 29});
  CHECK(values(tg::adaptive_max_pool2d(x, {3, 2})) == std::vector<double>{13, 15, 23, 25, 33, 35});
  CHECK(values(tg::adaptive_avg_pool2d(x, 1)) == std::vector<double>{18});
  CHECK(values(tg::adaptive_max_pool2d(x, 1)) == std::vector<double>{35});
}

TEST_CASE("avg_pool2d equals a naive mean, dividing by the padded or the inside count", "[model-ops][values][pool]") {
  const std::vector<PoolCase> cases = {
      {.kh = 2, .kw = 2, .sh = 2, .sw = 2},
      {.kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1},
      {.kh = 2, .kw = 2, .sh = 2, .sw = 2, .ceil_mode = true},
      {.kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .ceil_mode = true},
      {.kh = 2, .kw = 2, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .ceil_mode = true},
      {.kh = 3, .kw = 3, .sh = 3, .sw = 3, .ph = 1, .pw = 1, .ceil_mode = true},
      {.kh = 3, .kw = 2, .sh = 1, .sw = 2, .ph = 1, .pw = 1},
  };
  const Tensor x = randn64({2, 2, 7, 5}, 610);
  for (const PoolCase& p : cases)
    for (bool include_pad : {true, false}) {
      INFO("kernel " << p.kh << "x" << p.kw << " stride " << p.sh << "," << p.sw << " pad " << p.ph << "," << p.pw
                     << " ceil " << p.ceil_mode << " count_include_pad " << include_pad);
      const Tensor got = tg::avg_pool2d(x, {p.kh, p.kw}, tg::Int2(p.sh, p.sw), {p.ph, p.pw}, p.ceil_mode, include_pad);
      const auto want =
          naive_pool(values(x), 4, 7, 5, p, include_pad ? PoolKind::AvgIncludePad : PoolKind::AvgExcludePad);
      CHECK(shape_of(got) ==
            Shape{2, 2, pool_out(7, p.kh, p.sh, p.ph, 1, p.ceil_mode), pool_out(5, p.kw, p.sw, p.pw, 1, p.ceil_mode)});
      CHECK(all_close(values(got), want, 1e-12, 1e-12));
    }
}

TEST_CASE("adaptive_avg_pool2d and adaptive_max_pool2d equal naive pools over floor/ceil windows",
          "[model-ops][values][pool]") {
  const Tensor x = randn64({2, 3, 7, 5}, 620);
  const std::vector<std::pair<std::int64_t, std::int64_t>> sizes = {{1, 1}, {3, 2}, {2, 4}, {7, 5},
                                                                    {4, 3}, {5, 1}, {9, 7}};
  for (const auto& [h, w] : sizes) {
    INFO("output " << h << "x" << w);
    const Tensor avg = tg::adaptive_avg_pool2d(x, {h, w});
    CHECK(shape_of(avg) == Shape{2, 3, h, w});
    CHECK(all_close(values(avg), naive_adaptive(values(x), 6, 7, 5, h, w, false), 1e-12, 1e-12));
    CHECK(values(tg::adaptive_max_pool2d(x, {h, w})) == naive_adaptive(values(x), 6, 7, 5, h, w, true));
  }
  CHECK(shape_of(tg::adaptive_avg_pool2d(randn64({3, 7, 5}, 621), 2)) == Shape{3, 2, 2});  // unbatched
}

// ---- strided inputs --------------------------------------------------------------------------------------------

TEST_CASE(
    "index, selection, cumsum, conv and pooling ops give the same result on a transposed view as on its "
    "contiguous copy",
    "[model-ops][values][strided]") {
  const Tensor base = randn64({5, 4}, 700);
  const Tensor v = base.t();  // [4, 5], not contiguous
  const Tensor c = v.contiguous();
  REQUIRE_FALSE(v.is_contiguous());
  const Tensor idx = index64({4, 0, 0, 2}, {4});
  CHECK(values(tg::index_select(v, 1, idx)) == values(tg::index_select(c, 1, idx)));
  const Tensor gidx = index64({1, 1, 3, 0, 2, 2, 4, 4}, {4, 2});
  CHECK(values(tg::gather(v, 1, gidx)) == values(tg::gather(c, 1, gidx)));
  CHECK(values(tg::scatter_add(v, 1, gidx, v)) == values(tg::scatter_add(c, 1, gidx, c)));
  CHECK(values(tg::topk(v, 3, 0).values) == values(tg::topk(c, 3, 0).values));
  CHECK(ints(tg::topk(v, 2, 1, false).indices) == ints(tg::topk(c, 2, 1, false).indices));
  CHECK(values(tg::cumsum(v, 1)) == values(tg::cumsum(c, 1)));
  CHECK(values(tg::flip(v, {0, 1})) == values(tg::flip(c, {0, 1})));
  CHECK(values(tg::tril(v, 1)) == values(tg::tril(c, 1)));
  CHECK(values(tg::cat({v, c}, 0)) == values(tg::cat({c, c}, 0)));
  CHECK(values(tg::embedding(v, index64({3, 1}, {2}))) == values(tg::embedding(c, index64({3, 1}, {2}))));
  CHECK(values(tg::masked_fill(v, mask({true, false, true, false, true}, {5}), 0.0)) ==
        values(tg::masked_fill(c, mask({true, false, true, false, true}, {5}), 0.0)));

  const Tensor img = randn64({2, 6, 5, 3}, 701).permute({0, 3, 1, 2});  // [2, 3, 6, 5], channels-last memory
  const Tensor imgc = img.contiguous();
  const Tensor w = randn64({4, 3, 3, 3}, 702).transpose(2, 3);
  const Tensor wc = w.contiguous();
  CHECK(all_close(values(tg::conv2d(img, w, {}, 2, 1)), values(tg::conv2d(imgc, wc, {}, 2, 1)), 1e-12, 1e-12));
  CHECK(values(tg::max_pool2d(img, 3, 2, 1)) == values(tg::max_pool2d(imgc, 3, 2, 1)));
  CHECK(values(tg::avg_pool2d(img, 2)) == values(tg::avg_pool2d(imgc, 2)));
  CHECK(values(tg::adaptive_avg_pool2d(img, {2, 3})) == values(tg::adaptive_avg_pool2d(imgc, {2, 3})));
}

TEST_CASE("where and maximum with float32 and float64 operands: each gradient has its input's dtype",
          "[model-ops][values][dtype]") {
  const Tensor a = tg::tensor({1.0, 2.0}, tg::kFloat64).requires_grad_();
  const Tensor b = tg::tensor({3.0, -1.0}).requires_grad_();  // float32
  const Tensor w = tg::where(mask({true, false}, {2}), a, b);
  CHECK(w.dtype() == tg::kFloat64);
  CHECK(values(w) == std::vector<double>{1, -1});
  (w + tg::maximum(a, b)).sum().backward();
  CHECK(a.grad().dtype() == tg::kFloat64);
  CHECK(b.grad().dtype() == tg::kFloat32);
  CHECK(values(a.grad()) == std::vector<double>{1, 1});  // where picks a[0]; maximum picks a[1]
  CHECK(values(b.grad()) == std::vector<double>{1, 1});  // where picks b[1]; maximum picks b[0]
}

// ---- in place ------------------------------------------------------------------------------------------------

TEST_CASE("relu_, leaky_relu_, clamp_, masked_fill_ write in place: same memory, version bumped by one",
          "[model-ops][values][inplace]") {
  const Tensor x = tg::tensor({-2.0, 0.5, -1.0, 3.0});
  const void* p = x.data_ptr();
  auto v = x.version();
  CHECK(&tg::relu_(x) == &x);
  CHECK(values(x) == std::vector<double>{0, 0.5, 0, 3});
  CHECK(x.version() == v + 1);
  CHECK(x.data_ptr() == p);

  const Tensor y = tg::tensor({-2.0, 0.5, -1.0, 3.0});
  v = y.version();
  CHECK(&tg::leaky_relu_(y, 0.5) == &y);
  CHECK(values(y) == std::vector<double>{-1, 0.5, -0.5, 3});
  CHECK(y.version() == v + 1);
  tg::clamp_(y, -0.75, 1.0);
  CHECK(values(y) == std::vector<double>{-0.75, 0.5, -0.5, 1});
  CHECK(y.version() == v + 2);
  tg::masked_fill_(y, mask({true, false, false, true}, {4}), 7.0);
  CHECK(values(y) == std::vector<double>{7, 0.5, -0.5, 7});
  CHECK(y.version() == v + 3);

  // Through a view: the base sees the write and shares the bumped counter.
  const Tensor base = tg::tensor({{-1.0, 2.0}, {3.0, -4.0}});
  const Tensor row = base.select(0, 1);
  const auto vb = base.version();
  tg::relu_(row);
  CHECK(values(base) == std::vector<double>{-1, 2, 3, 0});
  CHECK(base.version() == vb + 1);
  tg::masked_fill_(base, mask({true, false}, {1, 2}), 0.0);  // broadcast [1, 2] mask
  CHECK(values(base) == std::vector<double>{0, 2, 0, 0});
}

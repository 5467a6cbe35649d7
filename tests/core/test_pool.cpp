// Pooling (tapegrad/core/ops/pool.h): max_pool2d, avg_pool2d and the adaptive pools against
// naive references, gradients, bad inputs and the golden cases computed by PyTorch.
#include "support/golden_ops.h"
#include "support/prelude.h"

namespace {

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

TEST_CASE("max_pool2d: gradients go to each window's unique arg-max", "[model-ops][grad][pool]") {
  const Tensor x = distinct64({2, 2, 7, 5});
  SECTION("plain 2x2") {
    CHECK(tg::gradcheck([](const Inputs& in) { return tg::max_pool2d(in[0], 2); }, {x}));
  }
  SECTION("3x3, stride 2, padding 1 (overlapping windows)") {
    CHECK(tg::gradcheck([](const Inputs& in) { return tg::max_pool2d(in[0], 3, 2, 1); }, {x}));
  }
  SECTION("ceil_mode on odd sizes") {
    CHECK(tg::gradcheck([](const Inputs& in) { return tg::max_pool2d(in[0], 2, 2, 0, 1, true); }, {x}));
  }
  SECTION("dilation 2") {
    CHECK(tg::gradcheck([](const Inputs& in) { return tg::max_pool2d(in[0], 2, 1, 0, 2); }, {x}));
  }
  SECTION("non-square kernel (3, 2), stride (1, 2), unbatched") {
    CHECK(tg::gradcheck(
        [](const Inputs& in) {
      return tg::max_pool2d(in[0], {3, 2}, tg::Int2(1, 2));
        },
        {distinct64({2, 5, 4})}));
  }
}

TEST_CASE("max_pool2d: a window's gradient goes to its maximum only", "[model-ops][grad][pool]") {
  const Tensor x = leaf64({{{{1, 5}, {3, 2}}}});
  tg::max_pool2d(x, 2).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{0, 1, 0, 0});
}

TEST_CASE("max_pool2d: a window whose taps all fall in the padding outputs -inf and sends no gradient to other planes",
          "[model-ops][grad][pool]") {
  // Kernel 2, padding 1, dilation 3 on 2x2 planes: the only window's taps are rows/cols -1 and 2,
  // all padding. torch 1.13 gives -inf and, here, a zero gradient.
  const Tensor x = tg::arange(1.0, 9.0, 1.0, tg::kFloat64).reshape({1, 2, 2, 2}).detach().requires_grad_();
  const Tensor y = tg::max_pool2d(x, 2, 1, 1, 3);
  CHECK(values(y) == std::vector<double>{-kInf, -kInf});
  y.sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{0, 0, 0, 0, 0, 0, 0, 0});
  // Only the columns are padding (taps -1 and 2 of a width of 2), rows 0 and 2 are real. The
  // -inf outputs are constants: no element gets a gradient. (torch 1.13 reports arg-max 2 and 6
  // here, the next row's first element, and sends the gradient there.)
  const Tensor z = tg::arange(1.0, 9.0, 1.0, tg::kFloat64).reshape({1, 1, 4, 2}).detach().requires_grad_();
  const Tensor w = tg::max_pool2d(z, {1, 2}, tg::Int2(2, 1), {0, 1}, {1, 3});
  CHECK(values(w) == std::vector<double>{-kInf, -kInf});
  w.sum().backward();
  CHECK(values(z.grad()) == std::vector<double>{0, 0, 0, 0, 0, 0, 0, 0});
}

TEST_CASE("avg_pool2d: gradients with and without count_include_pad, and ceil_mode", "[model-ops][grad][pool]") {
  const Tensor x = any64({2, 2, 7, 5}, 350);
  for (bool include_pad : {true, false})
    for (bool ceil_mode : {false, true}) {
      INFO("count_include_pad " << include_pad << ", ceil_mode " << ceil_mode);
      CHECK(
          tg::gradcheck([=](const Inputs& in) { return tg::avg_pool2d(in[0], 3, 2, 1, ceil_mode, include_pad); }, {x}));
    }
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::avg_pool2d(in[0], 2); }, {x}));
  // A 2x2 window at padding 1: the corner window covers one input element; its divisor is 4
  // with count_include_pad, 1 without.
  const Tensor y = leaf64({{{{1, 1}, {1, 1}}}});
  tg::avg_pool2d(y, 2, 2, 1, false, true).sum().backward();
  CHECK(values(y.grad()) == std::vector<double>{0.25, 0.25, 0.25, 0.25});
  y.zero_grad(true);
  tg::avg_pool2d(y, 2, 2, 1, false, false).sum().backward();
  CHECK(values(y.grad()) == std::vector<double>{1, 1, 1, 1});
}

TEST_CASE("adaptive_avg_pool2d and adaptive_max_pool2d: gradients for 1x1 and uneven 3x2 on 7x5",
          "[model-ops][grad][pool]") {
  const Tensor x = any64({2, 2, 7, 5}, 360);
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::adaptive_avg_pool2d(in[0], 1); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::adaptive_avg_pool2d(in[0], {3, 2}); }, {x}));
  const Tensor d = distinct64({2, 2, 7, 5});
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::adaptive_max_pool2d(in[0], 1); }, {d}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::adaptive_max_pool2d(in[0], {3, 2}); }, {d}));
}

TEST_CASE("max_pool2d: padding over half the kernel, a kernel larger than the padded input, zero stride",
          "[model-ops][bad_input][pool]") {
  const Tensor x = tg::ones({1, 1, 3, 4});
  CHECK_TG_ERROR(tg::max_pool2d(x, 3, 1, 2),
                 Contains("max_pool2d") && Contains("padding (2, 2)") && Contains("half the kernel size (3, 3)"));
  CHECK_TG_ERROR(tg::max_pool2d(x, {2, 3}, 1, {0, 2}), Contains("max_pool2d") && Contains("padding (0, 2)"));
  CHECK_TG_ERROR(tg::max_pool2d(x, 4), Contains("max_pool2d") && Contains("4x4") && Contains("padded input (3x4)"));
  CHECK_TG_ERROR(tg::max_pool2d(x, 2, 1, 0, 3),
                 Contains("max_pool2d") && Contains("4x4 with dilation") && Contains("(3x4)"));
  CHECK_TG_ERROR(tg::max_pool2d(x, 2, 0), Contains("max_pool2d") && Contains("stride") && Contains("(0, 0)"));
  CHECK_TG_ERROR(tg::max_pool2d(x, 2, tg::Int2(1, -1)),
                 Contains("max_pool2d") && Contains("stride") && Contains("(1, -1)"));
  CHECK_TG_ERROR(tg::max_pool2d(x, 0), Contains("max_pool2d") && Contains("kernel size") && Contains("(0, 0)"));
  CHECK_TG_ERROR(tg::max_pool2d(x, 2, 2, -1), Contains("max_pool2d") && Contains("negative padding (-1, -1)"));
  CHECK_TG_ERROR(tg::max_pool2d(x, 2, 1, 0, 0), Contains("max_pool2d") && Contains("dilation") && Contains("(0, 0)"));
  CHECK_TG_ERROR(tg::max_pool2d(tg::ones({4, 4}), 2), Contains("max_pool2d") && Contains("[4, 4]"));
  CHECK_TG_ERROR(tg::max_pool2d(tg::ones({1, 4, 4}, tg::kInt64), 2), Contains("max_pool2d") && Contains("int64"));
}

TEST_CASE("avg_pool2d: padding over half the kernel, a kernel larger than the padded input, zero stride",
          "[model-ops][bad_input][pool]") {
  const Tensor x = tg::ones({1, 1, 3, 4});
  CHECK_TG_ERROR(tg::avg_pool2d(x, 3, 1, 2),
                 Contains("avg_pool2d") && Contains("padding (2, 2)") && Contains("half the kernel size (3, 3)"));
  CHECK_TG_ERROR(tg::avg_pool2d(x, {5, 2}),
                 Contains("avg_pool2d") && Contains("5x2") && Contains("padded input (3x4)"));
  CHECK_NOTHROW(tg::avg_pool2d(x, {5, 2}, 1, {1, 0}));  // padded to 5x4 it fits
  CHECK_TG_ERROR(tg::avg_pool2d(x, 2, 0), Contains("avg_pool2d") && Contains("stride") && Contains("(0, 0)"));
  CHECK_TG_ERROR(tg::avg_pool2d(x, {0, 2}), Contains("avg_pool2d") && Contains("kernel size") && Contains("(0, 2)"));
  CHECK_TG_ERROR(tg::avg_pool2d(x, 2, 2, {0, -1}), Contains("avg_pool2d") && Contains("negative padding (0, -1)"));
  CHECK_TG_ERROR(tg::avg_pool2d(tg::ones({2, 1, 1, 4, 4}), 2), Contains("avg_pool2d") && Contains("[2, 1, 1, 4, 4]"));
}

TEST_CASE("adaptive pools: an output size of 0 names the size", "[model-ops][bad_input][pool]") {
  const Tensor x = tg::ones({1, 2, 5, 5});
  CHECK_TG_ERROR(tg::adaptive_avg_pool2d(x, {0, 2}),
                 Contains("adaptive_avg_pool2d") && Contains("output size") && Contains("(0, 2)"));
  CHECK_TG_ERROR(tg::adaptive_max_pool2d(x, 0),
                 Contains("adaptive_max_pool2d") && Contains("output size") && Contains("(0, 0)"));
  CHECK_TG_ERROR(tg::adaptive_avg_pool2d(tg::ones({1, 2, 0, 5}), 1),
                 Contains("adaptive_avg_pool2d") && Contains("0x5"));
  CHECK_TG_ERROR(tg::adaptive_max_pool2d(tg::ones({5, 5}), 1), Contains("adaptive_max_pool2d") && Contains("[5, 5]"));
}

// ---- golden cases computed by PyTorch (tests/golden/fixtures) ----

// clang-format off
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

// The 2x2, stride 2 fast path (windows that tile the plane) against the general window sweep,
// which adaptive_max_pool2d to half the size runs over the same windows with the same rules.
namespace {

void check_2x2_against_general(const Tensor& x) {
  const std::int64_t H = x.size(-2), W = x.size(-1);
  const Tensor xa = x.detach().requires_grad_(), xb = x.detach().requires_grad_();
  const Tensor fast = tg::max_pool2d(xa, 2), general = tg::adaptive_max_pool2d(xb, {H / 2, W / 2});
  REQUIRE(shape_of(fast) == shape_of(general));
  const std::vector<double> vf = values(fast), vg = values(general);
  for (std::size_t i = 0; i < vf.size(); ++i) {
    INFO("output " << i);
    CHECK(((std::isnan(vf[i]) && std::isnan(vg[i])) || vf[i] == vg[i]));
  }
  const Tensor w = tg::arange(1, static_cast<double>(fast.numel()) + 1, 1, x.dtype()).reshape(fast.shape().vec());
  (fast * w).sum().backward();  // d/dfast is w, NaN or not
  (general * w).sum().backward();
  CHECK(values(xa.grad()) == values(xb.grad()));
}

}  // namespace

TEST_CASE("max_pool2d 2x2 stride 2 equals the general sweep: values, ties, NaN, every gradient", "[pool][grad]") {
  tg::manual_seed(21);
  check_2x2_against_general(tg::randn({3, 4, 6, 8}));
  check_2x2_against_general(tg::randn({2, 3, 4, 38}));             // 19 windows a row: 8 at a time, then 3 one by one
  check_2x2_against_general(tg::randn({2, 4, 10}, tg::kFloat64));  // 3-D input, float64
  // Rounded values: many ties inside windows (the first max in scan order takes the gradient).
  check_2x2_against_general(tg::randint(0, 3, {2, 3, 8, 8}).to(tg::kFloat32));
  check_2x2_against_general(tg::randint(0, 3, {2, 3, 8, 34}).to(tg::kFloat32));
  check_2x2_against_general(tg::zeros({1, 1, 4, 4}));
  // NaN at every position of a window, and after a larger value: the first NaN wins.
  // Rows of 18 (9 windows: 8 in the vectorised loop, 1 after it), NaN in the windows 0 and 8.
  for (std::int64_t pos = 0; pos < 4; ++pos) {
    std::vector<double> v(4 * 18, 1.0);
    for (const std::int64_t w0 : {0, 16}) v[static_cast<std::size_t>((pos / 2) * 18 + w0 + pos % 2)] = std::nan("");
    v[19] = 9.0;  // and a 9 and more NaN in windows 0 and 1
    v[20] = std::nan("");
    v[3] = std::nan("");
    check_2x2_against_general(tg::from_vector(v, {1, 1, 4, 18}).to(tg::kFloat32));
  }
  // A non-contiguous input (a transposed view).
  check_2x2_against_general(tg::randn({2, 3, 8, 6}).transpose(2, 3));
}

TEST_CASE("max_pool2d 2x2 stride 2: gradient check, and the general path for odd sizes and ceil_mode", "[pool][grad]") {
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::max_pool2d(in[0], 2); }, {uniform64({2, 2, 4, 6}, -1, 1, 3)}));
  // Odd sizes fall back to the general sweep: floor drops the last row, ceil_mode keeps a half window.
  const Tensor x = tg::arange(0, 25, 1, tg::kFloat32).reshape({1, 1, 5, 5});
  CHECK(values(tg::max_pool2d(x, 2)) == std::vector<double>{6, 8, 16, 18});
  CHECK(values(tg::max_pool2d(x, 2, std::nullopt, 0, 1, true)) == std::vector<double>{6, 8, 9, 16, 18, 19, 21, 23, 24});
}

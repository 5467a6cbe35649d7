// Convolutions (tapegrad/core/ops/conv.h): conv1d and conv2d against naive sums, their
// gradients, bad inputs, and the golden cases computed by PyTorch (tests/golden/fixtures).
#include "support/golden_ops.h"
#include "support/prelude.h"

namespace {

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

/// The gradients of conv(x, w, b) for input, weight and bias (all three require grad; the bias
/// is absent unless with_bias).
template <typename Conv>
bool conv_gradcheck(tg::IntArrayRef in_shape, tg::IntArrayRef w_shape, bool with_bias, std::uint64_t seed, Conv conv) {
  Inputs inputs{any64(in_shape, seed), any64(w_shape, seed + 1)};
  if (with_bias) inputs.push_back(any64({w_shape[0]}, seed + 2));
  return tg::gradcheck([&](const Inputs& in) { return conv(in[0], in[1], in.size() > 2 ? in[2] : Tensor()); }, inputs);
}

bool conv2d_gradcheck(tg::IntArrayRef in_shape, tg::IntArrayRef w_shape, bool with_bias, tg::Int2 stride,
                      tg::Int2 padding, tg::Int2 dilation, std::int64_t groups, std::uint64_t seed) {
  return conv_gradcheck(in_shape, w_shape, with_bias, seed, [&](const Tensor& x, const Tensor& w, const Tensor& b) {
    return tg::conv2d(x, w, b, stride, padding, dilation, groups);
  });
}

bool conv1d_gradcheck(tg::IntArrayRef in_shape, tg::IntArrayRef w_shape, bool with_bias, std::int64_t stride,
                      std::int64_t padding, std::int64_t dilation, std::int64_t groups, std::uint64_t seed) {
  return conv_gradcheck(in_shape, w_shape, with_bias, seed, [&](const Tensor& x, const Tensor& w, const Tensor& b) {
    return tg::conv1d(x, w, b, stride, padding, dilation, groups);
  });
}

}  // namespace

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

TEST_CASE("conv2d: input, weight and bias gradients for stride, padding, dilation, groups, non-square kernels",
          "[model-ops][grad][conv]") {
  SECTION("stride 2, padding 1 on an odd 7x5 input") {
    CHECK(conv2d_gradcheck({2, 2, 7, 5}, {3, 2, 3, 3}, true, 2, 1, 1, 1, 230));
  }
  SECTION("dilation 2") { CHECK(conv2d_gradcheck({1, 2, 7, 6}, {2, 2, 3, 2}, true, 1, 0, 2, 1, 240)); }
  SECTION("groups 2") { CHECK(conv2d_gradcheck({2, 4, 5, 5}, {4, 2, 3, 3}, true, 1, 1, 1, 2, 250)); }
  SECTION("depthwise (groups = channels, two filters each)") {
    CHECK(conv2d_gradcheck({1, 3, 5, 4}, {6, 1, 3, 3}, true, 1, 1, 1, 3, 260));
  }
  SECTION("no bias, pointwise 1x1") { CHECK(conv2d_gradcheck({2, 3, 4, 3}, {2, 3, 1, 1}, false, 1, 0, 1, 1, 270)); }
  SECTION("no bias, non-square 2x3 kernel, stride (2, 1), padding (0, 2)") {
    CHECK(conv2d_gradcheck({1, 2, 6, 5}, {3, 2, 2, 3}, false, {2, 1}, {0, 2}, 1, 1, 280));
  }
  SECTION("unbatched [C, H, W] input") { CHECK(conv2d_gradcheck({2, 5, 4}, {2, 2, 2, 2}, true, 1, 1, 1, 1, 290)); }
}

TEST_CASE("conv2d: the bias gradient is the sum of the output gradient over batch and positions",
          "[model-ops][grad][conv]") {
  const Tensor x = any64({2, 1, 4, 4}, 300), w = any64({3, 1, 3, 3}, 301), b = leaf64({0, 0, 0});
  tg::conv2d(x, w, b).sum().backward();  // output [2, 3, 2, 2]: 8 positions per channel
  CHECK(values(b.grad()) == std::vector<double>{8, 8, 8});
}

TEST_CASE("conv1d: input, weight and bias gradients for stride, padding, dilation, groups", "[model-ops][grad][conv]") {
  SECTION("stride 2, padding 1") { CHECK(conv1d_gradcheck({2, 2, 9}, {3, 2, 3}, true, 2, 1, 1, 1, 310)); }
  SECTION("dilation 2") { CHECK(conv1d_gradcheck({1, 2, 8}, {2, 2, 3}, true, 1, 0, 2, 1, 320)); }
  SECTION("groups 2, padding 2") { CHECK(conv1d_gradcheck({2, 4, 6}, {2, 2, 2}, true, 1, 2, 1, 2, 330)); }
  SECTION("no bias, stride 3, unbatched") { CHECK(conv1d_gradcheck({3, 10}, {2, 3, 4}, false, 3, 0, 1, 1, 340)); }
}

TEST_CASE("conv2d: a kernel larger than the padded input names both sizes", "[model-ops][bad_input][conv]") {
  const Tensor x = tg::ones({1, 1, 3, 4});
  CHECK_TG_ERROR(tg::conv2d(x, tg::ones({1, 1, 5, 2})),
                 Contains("conv2d") && Contains("kernel") && Contains("5x2") && Contains("padded input (3x4)"));
  CHECK_TG_ERROR(tg::conv2d(x, tg::ones({1, 1, 3, 3}), {}, 1, 0, 2),  // dilated 3x3 spans 5x5
                 Contains("conv2d") && Contains("5x5 with dilation") && Contains("3x3 without") && Contains("(3x4)"));
  CHECK_NOTHROW(tg::conv2d(x, tg::ones({1, 1, 5, 2}), {}, 1, 1));  // padded to 5x6 it fits
}

TEST_CASE("conv2d: negative padding, zero or negative stride, zero dilation or groups name the values",
          "[model-ops][bad_input][conv]") {
  const Tensor x = tg::ones({1, 2, 5, 5}), w = tg::ones({2, 2, 3, 3});
  CHECK_TG_ERROR(tg::conv2d(x, w, {}, 1, {-1, 0}), Contains("conv2d") && Contains("negative padding (-1, 0)"));
  CHECK_TG_ERROR(tg::conv2d(x, w, {}, 0), Contains("conv2d") && Contains("stride") && Contains("(0, 0)"));
  CHECK_TG_ERROR(tg::conv2d(x, w, {}, {1, -2}), Contains("conv2d") && Contains("stride") && Contains("(1, -2)"));
  CHECK_TG_ERROR(tg::conv2d(x, w, {}, 1, 0, 0), Contains("conv2d") && Contains("dilation") && Contains("(0, 0)"));
  CHECK_TG_ERROR(tg::conv2d(x, w, {}, 1, 0, 1, 0), Contains("conv2d") && Contains("groups") && Contains("got 0"));
}

TEST_CASE("conv2d: groups must divide the input and output channels", "[model-ops][bad_input][conv]") {
  CHECK_TG_ERROR(tg::conv2d(tg::ones({1, 3, 5, 5}), tg::ones({4, 1, 3, 3}), {}, 1, 0, 1, 2),
                 Contains("conv2d") && Contains("groups (2)") && Contains("input channels (3)"));
  CHECK_TG_ERROR(tg::conv2d(tg::ones({1, 4, 5, 5}), tg::ones({3, 2, 3, 3}), {}, 1, 0, 1, 2),
                 Contains("conv2d") && Contains("groups (2)") && Contains("output channels (3)"));
}

TEST_CASE("conv2d: a weight for the wrong number of input channels names expected and actual",
          "[model-ops][bad_input][conv]") {
  CHECK_TG_ERROR(tg::conv2d(tg::ones({1, 3, 5, 5}), tg::ones({4, 2, 3, 3})),
                 Contains("conv2d") && Contains("[4, 2, 3, 3]") && Contains("expects 2 input channels") &&
                     Contains("input has 3") && Contains("[1, 3, 5, 5]"));
  CHECK_TG_ERROR(
      tg::conv2d(tg::ones({1, 4, 5, 5}), tg::ones({4, 1, 3, 3}), {}, 1, 0, 1, 2),
      Contains("conv2d") && Contains("groups=2") && Contains("expects 2 input channels") && Contains("input has 4"));
}

TEST_CASE("conv2d: wrong ranks, wrong bias shape and mismatched dtypes name the shapes and dtypes",
          "[model-ops][bad_input][conv]") {
  const Tensor x = tg::ones({1, 2, 5, 5}), w = tg::ones({3, 2, 3, 3});
  CHECK_TG_ERROR(tg::conv2d(tg::ones({5, 5}), w),
                 Contains("conv2d") && Contains("3-D or 4-D input") && Contains("[5, 5]"));
  CHECK_TG_ERROR(tg::conv2d(tg::ones({1, 1, 2, 5, 5}), w), Contains("conv2d") && Contains("[1, 1, 2, 5, 5]"));
  CHECK_TG_ERROR(tg::conv2d(x, tg::ones({3, 2, 3})),
                 Contains("conv2d") && Contains("4-D weight") && Contains("[3, 2, 3]"));
  CHECK_TG_ERROR(tg::conv2d(x, w, tg::ones({2})),
                 Contains("conv2d") && Contains("bias") && Contains("[3]") && Contains("[2]"));
  CHECK_TG_ERROR(tg::conv2d(x, w, tg::ones({1, 3})), Contains("conv2d") && Contains("bias") && Contains("[1, 3]"));
  CHECK_TG_ERROR(tg::conv2d(x, w.to(tg::kFloat64)), Contains("conv2d") && Contains("float32") && Contains("float64"));
  CHECK_TG_ERROR(tg::conv2d(x, w, tg::ones({3}, tg::kFloat64)),
                 Contains("conv2d") && Contains("bias is float64") && Contains("float32"));
  CHECK_TG_ERROR(tg::conv2d(x.to(tg::kInt64), w.to(tg::kInt64)), Contains("conv2d") && Contains("int64"));
}

TEST_CASE("conv1d: the same checks, with 1-d sizes in the messages", "[model-ops][bad_input][conv]") {
  const Tensor x = tg::ones({1, 2, 8}), w = tg::ones({3, 2, 3});
  CHECK_TG_ERROR(tg::conv1d(tg::ones({1, 1, 3}), tg::ones({1, 1, 5})),
                 Contains("conv1d") && Contains("kernel (5 with dilation, 5 without)") && Contains("padded input (3)"));
  CHECK_TG_ERROR(tg::conv1d(x, tg::ones({1, 2, 3}), {}, 1, 0, 4),
                 Contains("conv1d") && Contains("9 with dilation") && Contains("(8)"));
  CHECK_TG_ERROR(tg::conv1d(x, w, {}, 1, -1), Contains("conv1d") && Contains("negative padding -1"));
  CHECK_TG_ERROR(tg::conv1d(x, w, {}, 0), Contains("conv1d") && Contains("stride must be positive, got 0"));
  CHECK_TG_ERROR(tg::conv1d(x, w, {}, -3), Contains("conv1d") && Contains("got -3"));
  CHECK_TG_ERROR(tg::conv1d(x, w, {}, 1, 0, 0), Contains("conv1d") && Contains("dilation") && Contains("got 0"));
  CHECK_TG_ERROR(tg::conv1d(tg::ones({1, 3, 8}), tg::ones({4, 1, 3}), {}, 1, 0, 1, 2),
                 Contains("conv1d") && Contains("groups (2)") && Contains("input channels (3)"));
  CHECK_TG_ERROR(tg::conv1d(tg::ones({1, 4, 8}), tg::ones({3, 2, 3}), {}, 1, 0, 1, 2),
                 Contains("conv1d") && Contains("output channels (3)"));
  CHECK_TG_ERROR(tg::conv1d(tg::ones({1, 3, 8}), tg::ones({4, 2, 3})),
                 Contains("conv1d") && Contains("[4, 2, 3]") && Contains("expects 2 input channels") &&
                     Contains("input has 3") && Contains("[1, 3, 8]"));
  CHECK_TG_ERROR(tg::conv1d(tg::ones({8}), w), Contains("conv1d") && Contains("2-D or 3-D input") && Contains("[8]"));
  CHECK_TG_ERROR(tg::conv1d(x, tg::ones({3, 2, 3, 1})),
                 Contains("conv1d") && Contains("3-D weight") && Contains("[3, 2, 3, 1]"));
  CHECK_TG_ERROR(tg::conv1d(x, w, tg::ones({4})),
                 Contains("conv1d") && Contains("bias") && Contains("[3]") && Contains("[4]"));
  CHECK_TG_ERROR(tg::conv1d(x.to(tg::kFloat64), w), Contains("conv1d") && Contains("float64") && Contains("float32"));
}

// ---- golden cases computed by PyTorch (tests/golden/fixtures) ----

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
// clang-format on

// The upsample family (core/src/ops/upsample.cpp): nearest and bilinear resizing of [N, C, H, W]
// planes, by values worked out by hand (they are PyTorch's), gradient checks of both modes with
// and without scale factors, and bad input.
#include "support/prelude.h"

namespace {
Tensor two_by_two() { return tg::tensor({{{{1.0, 2.0}, {3.0, 4.0}}}}, tg::kFloat64); }  // [1, 1, 2, 2]
}  // namespace

TEST_CASE("upsample_nearest2d copies the nearest source pixel", "[upsample]") {
  const Tensor y = tg::upsample_nearest2d(two_by_two(), {4, 4});
  CHECK(tg_test::shape_of(y) == std::vector<std::int64_t>{1, 1, 4, 4});
  CHECK(values(y) == std::vector<double>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  // 3 -> 5: source floor(i * 3 / 5) = 0, 0, 1, 1, 2 (PyTorch's rule, not rounding).
  const Tensor row = tg::tensor({{{10.0, 20.0, 30.0}}}, tg::kFloat32);  // [1, 1, 3]
  CHECK(values(tg::upsample_nearest2d(row, {1, 5})) == std::vector<double>{10, 10, 20, 20, 30});
  // Down-sampling picks floor(i * in / out): 4 -> 3 takes 0, 1, 2.
  const Tensor four = tg::tensor({{{1.0, 2.0, 3.0, 4.0}}}, tg::kFloat64);
  CHECK(values(tg::upsample_nearest2d(four, {1, 3})) == std::vector<double>{1, 2, 3});
  // A scale factor sets the source step: 3 columns at scale 1.5 -> 4 columns reading
  // floor(i / 1.5) = 0, 0, 1, 2 (in / out = 0.75 would read 0, 0, 1, 2 too; at scale 1.7,
  // floor(3 * 1.7) = 5 columns read floor(i / 1.7) = 0, 0, 1, 1, 2).
  CHECK(values(tg::upsample_nearest2d(row, {1, 5}, tg::Scale2{1.0, 1.7})) == std::vector<double>{10, 10, 20, 20, 30});
  // inf and NaN are copied, not multiplied by a zero weight.
  const double inf = std::numeric_limits<double>::infinity();
  const Tensor special = tg::tensor({{{inf, 1.0}}}, tg::kFloat64);
  CHECK(values(tg::upsample_nearest2d(special, {1, 4})) == std::vector<double>{inf, inf, 1, 1});
}

TEST_CASE("upsample_bilinear2d interpolates between pixel centres or aligned corners", "[upsample]") {
  CHECK(all_close(values(tg::upsample_bilinear2d(two_by_two(), {4, 4}, false)),
                  {1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4}, 0, 1e-15));
  CHECK(all_close(values(tg::upsample_bilinear2d(two_by_two(), {3, 3}, true)), {1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4}, 0,
                  1e-15));
  // One output row with aligned corners reads the first input row.
  CHECK(all_close(values(tg::upsample_bilinear2d(two_by_two(), {1, 2}, true)), {1, 2}, 0, 0));
  // The same size is the identity in both conventions; float32 works as float64 does.
  const Tensor x = tg::rand({2, 3, 5, 4});
  CHECK(all_close(values(tg::upsample_bilinear2d(x, {5, 4}, false)), values(x), 0, 0));
  CHECK(all_close(values(tg::upsample_bilinear2d(x, {5, 4}, true)), values(x), 0, 0));
  // Every output is a convex mix of inputs: the mean of a constant plane stays the constant.
  const Tensor c = tg::full({1, 2, 3, 3}, 0.75);
  CHECK(all_close(values(tg::upsample_bilinear2d(c, {7, 5}, false)), std::vector<double>(2 * 35, 0.75), 1e-7));
}

TEST_CASE("upsample: the gradient of nearest counts the copies of each pixel", "[upsample]") {
  Tensor x = tg::ones({1, 1, 3, 2}, tg::kFloat64).requires_grad_();
  tg::upsample_nearest2d(x, {5, 4}).sum().backward();
  // rows 3 -> 5 read 0, 0, 1, 1, 2; columns 2 -> 4 read 0, 0, 1, 1.
  CHECK(values(x.grad()) == std::vector<double>{4, 4, 4, 4, 2, 2});
}

TEST_CASE("upsample: gradient checks of both modes (float64, central differences)", "[upsample][grad]") {
  const Tensor x = uniform64({2, 2, 3, 4}, -1, 1, 71);
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::upsample_nearest2d(in[0], {5, 7}); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::upsample_nearest2d(in[0], {2, 3}); }, {x}));
  for (bool align : {false, true}) {
    INFO("align_corners " << align);
    CHECK(tg::gradcheck([=](const Inputs& in) { return tg::upsample_bilinear2d(in[0], {5, 7}, align); }, {x}));
    CHECK(tg::gradcheck([=](const Inputs& in) { return tg::upsample_bilinear2d(in[0], {2, 3}, align); }, {x}));
  }
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    return tg::upsample_bilinear2d(in[0], {4, 6}, false, tg::Scale2{1.5, 1.7});
      },
      {x}));
  // A [C, H, W] input that is a transposed view.
  const Tensor v = uniform64({4, 3, 2}, -1, 1, 72);
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    return tg::upsample_bilinear2d(in[0].transpose(0, 2), {3, 5}, false);
      },
      {v}));
}

TEST_CASE("upsample: bad input names the op and the values", "[upsample][bad-input]") {
  const Tensor x = tg::rand({1, 1, 2, 2});
  CHECK_THROWS_WITH(tg::upsample_nearest2d(tg::rand({2, 2}), {4, 4}),
                    Contains("upsample_nearest2d") && Contains("3-D or 4-D") && Contains("[2, 2]"));
  CHECK_THROWS_WITH(tg::upsample_bilinear2d(x, {0, 4}, false),
                    Contains("upsample_bilinear2d") && Contains("output size must be positive") && Contains("0x4"));
  CHECK_THROWS_WITH(tg::upsample_nearest2d(tg::zeros({1, 1, 0, 2}), {2, 2}),
                    Contains("upsample_nearest2d") && Contains("0x2"));
  CHECK_THROWS_WITH(tg::upsample_nearest2d(x, {4, 4}, tg::Scale2{-2, 2}),
                    Contains("upsample_nearest2d") && Contains("scale factors") && Contains("-2"));
  CHECK_THROWS_WITH(tg::upsample_bilinear2d(tg::ones({1, 1, 2, 2}, tg::kInt64), {4, 4}, false),
                    Contains("upsample_bilinear2d") && Contains("int64"));
}

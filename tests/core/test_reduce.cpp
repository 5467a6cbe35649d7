// Reductions (tapegrad/core/ops/reduce.h): sum, mean, amax/amin, max/min/argmax, var, std,
// norm, logsumexp; values, gradients and bad inputs.
#include "support/prelude.h"

TEST_CASE("sum and mean over dims: hand-computed values and shapes", "[values][reduce]") {
  const Tensor x = tg::arange(0.0, 24.0, 1.0, tg::kFloat64).reshape({2, 3, 4});
  CHECK(x.sum().item() == 276);
  CHECK(x.sum().dim() == 0);
  CHECK(values(x.sum({0, 2})) == std::vector<double>{60, 92, 124});
  CHECK(shape_of(x.sum({0, 2}, true)) == Shape{1, 3, 1});
  CHECK(values(x.sum({-1})) == std::vector<double>{6, 22, 38, 54, 70, 86});
  CHECK(values(x.mean({1})) == std::vector<double>{4, 5, 6, 7, 16, 17, 18, 19});
  CHECK(shape_of(x.mean({1}, true)) == Shape{2, 1, 4});
  CHECK(x.mean().item() == 11.5);
  // permuted to [k, i, j], summed over i: 12 + 8j + 2k.
  CHECK(values(x.permute({2, 0, 1}).sum({1})) == std::vector<double>{12, 20, 28, 14, 22, 30, 16, 24, 32, 18, 26, 34});
}

TEST_CASE("reductions over empty tensors: sum is 0, mean is NaN", "[values][reduce]") {
  CHECK(tg::zeros({0}).sum().item() == 0.0);
  CHECK(std::isnan(tg::zeros({0}).mean().item()));
  const Tensor s = tg::ones({2, 0}).sum({1});
  CHECK(shape_of(s) == Shape{2});
  CHECK(values(s) == std::vector<double>{0, 0});
  CHECK(shape_of(tg::ones({0, 3}).sum({1})) == Shape{0});
}

TEST_CASE("float32 sum of 1..10^6 equals the exact sum rounded once to float32", "[values][reduce]") {
  const Tensor x = tg::arange(1.0, 1000001.0);
  REQUIRE(x.numel() == 1000000);
  REQUIRE(x.dtype() == tg::kFloat32);
  const double exact = 500000500000.0;
  const float rounded = static_cast<float>(exact);
  // 500000500000 is not a float32 (float32's spacing there is 2^15 = 32768); the nearest one is:
  CHECK(static_cast<double>(rounded) == 500000489472.0);
  const float got = x.sum().item<float>();
  CHECK(got == rounded);
  CHECK(x.mean().item<float>() == static_cast<float>(500000.5));
  CHECK(x.to(tg::kFloat64).sum().item() == exact);
}

TEST_CASE("amax and amin: values over all elements and dims", "[values][reduce]") {
  const Tensor x = tg::tensor({{3, -1, 7}, {2, 9, -5}});
  CHECK(x.amax().item() == 9);
  CHECK(x.amin().item() == -5);
  CHECK(values(x.amax({0})) == std::vector<double>{3, 9, 7});
  CHECK(values(x.amin({1}, true)) == std::vector<double>{-1, -5});
  CHECK(shape_of(x.amin({1}, true)) == Shape{2, 1});
  CHECK(tg::tensor({-kInf, 1.0}).amax().item() == 1.0);
  CHECK(tg::tensor({kInf, -1.0}).amax().item() == kInf);
  CHECK(tg::arange(10).amax().item<std::int64_t>() == 9);
  CHECK(tg::arange(10).amin().item<std::int64_t>() == 0);
}

TEST_CASE("amax of all -inf is -inf and amin of all +inf is +inf, like PyTorch", "[values][reduce]") {
  // Regression: MaxOp/MinOp started from numeric_limits<T>::lowest()/max() (-FLT_MAX/FLT_MAX),
  // so a row of infinities reduced to the finite limit, before 3acc932.
  CHECK(tg::tensor({-kInf, -kInf}).amax().item() == -kInf);
  CHECK(tg::tensor({kInf, kInf}).amin().item() == kInf);
  CHECK(values(tg::tensor({{-kInf, -kInf}, {0, 1}}).amax({1})) == std::vector<double>{-kInf, 1});
  CHECK(values(tg::tensor({{-kInf, -kInf}, {0, 1}}, tg::kFloat64).amax({1})) == std::vector<double>{-kInf, 1});
  // The gradient goes to the (tied) maxima, not NaN.
  const Tensor x = tg::tensor({-kInf, -kInf}, tg::kFloat64).requires_grad_();
  x.amax().backward();
  CHECK(values(x.grad()) == std::vector<double>{0.5, 0.5});
}

TEST_CASE("max, min and argmax pick the first occurrence of a tie, like PyTorch", "[values][reduce]") {
  const Tensor x = tg::tensor({{1, 3, 3, 2}, {5, 5, 0, 5}});
  const tg::ValuesIndices mx = x.max(1);
  CHECK(values(mx.values) == std::vector<double>{3, 5});
  CHECK(mx.indices.dtype() == tg::kInt64);
  CHECK(mx.indices.to_vector<std::int64_t>() == I64{1, 0});
  const tg::ValuesIndices mn = x.min(0, true);
  CHECK(shape_of(mn.indices) == Shape{1, 4});
  CHECK(values(mn.values) == std::vector<double>{1, 3, 0, 2});
  CHECK(mn.indices.to_vector<std::int64_t>() == I64{0, 0, 1, 0});
  CHECK(x.argmax().item<std::int64_t>() == 4);
  CHECK(x.argmax(1).to_vector<std::int64_t>() == I64{1, 0});
  CHECK(tg::tensor({2, 2, 2}).argmax().item<std::int64_t>() == 0);
  CHECK(x.argmax(0, true).to_vector<std::int64_t>() == I64{1, 1, 0, 1});
}

TEST_CASE("max along a dim of a transposed tensor indexes the transposed dim", "[values][reduce]") {
  const Tensor x = tg::tensor({{1, 9}, {8, 2}, {3, 4}}).t();  // [[1, 8, 3], [9, 2, 4]]
  const tg::ValuesIndices m = x.max(1);
  CHECK(values(m.values) == std::vector<double>{8, 9});
  CHECK(m.indices.to_vector<std::int64_t>() == I64{1, 0});
}

TEST_CASE("NaN propagates through max, min, amax, amin and argmax, like PyTorch", "[values][reduce]") {
  const Tensor x = tg::tensor({{1, kNaN, 3, kNaN}, {4, 5, 6, 7}});
  CHECK(std::isnan(x.amax().item()));
  CHECK(std::isnan(x.amin().item()));
  const std::vector<double> am = values(x.amax({1}));
  CHECK(std::isnan(am[0]));
  CHECK(am[1] == 7);
  const tg::ValuesIndices mx = x.max(1);
  CHECK(std::isnan(mx.values.to_vector<double>()[0]));
  CHECK(mx.indices.to_vector<std::int64_t>() == I64{1, 3});
  const tg::ValuesIndices mn = x.min(1);
  CHECK(std::isnan(mn.values.to_vector<double>()[0]));
  CHECK(mn.indices.to_vector<std::int64_t>() == I64{1, 0});
  CHECK(x.argmax().item<std::int64_t>() == 1);
  CHECK(x.argmax(1).to_vector<std::int64_t>() == I64{1, 3});
  // A NaN first in a row, then larger numbers, still wins.
  CHECK(std::isnan(tg::tensor({kNaN, 100.0}).amax().item()));
  CHECK(tg::tensor({kNaN, 100.0}).argmax().item<std::int64_t>() == 0);
}

TEST_CASE("large reductions (over several parallel blocks) match a double reference", "[values][reduce]") {
  const Tensor x = randn64({300, 1000}, 4);
  const std::vector<double> v = values(x);
  double total = 0, mx = -kInf;
  std::vector<double> col(1000, 0.0);
  for (std::size_t i = 0; i < v.size(); ++i) {
    total += v[i];
    mx = std::max(mx, v[i]);
    col[i % 1000] += v[i];
  }
  CHECK(x.sum().item() == Approx(total).margin(1e-9));
  CHECK(x.amax().item() == mx);
  CHECK(all_close(values(x.sum({0})), col, 1e-12, 1e-12));
  const Tensor xf = x.to(tg::kFloat32);
  CHECK(xf.sum().item() == Approx(total).margin(1e-2));
}

TEST_CASE("sum: gradients over all elements, a list of dims, keepdim both ways, negative dims", "[grad][reduce]") {
  const Tensor x = any64({2, 3, 4}, 80);
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].sum(); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].sum({0, 2}); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].sum({0, 2}, true); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].sum({1}); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].sum({1}, true); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].sum({-1}); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].sum({-3, -1}, true); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].sum({0, 1, 2}); }, {x}));
  // A weighted sum makes every output's Jacobian row distinct.
  const Tensor w = tg::arange(0.0, 24.0, 1.0, tg::kFloat64).reshape({2, 3, 4});
  CHECK(tg::gradcheck([w](const Inputs& in) { return (in[0] * w).sum({1}); }, {x}));
}

TEST_CASE("sum over dims of a non-contiguous (permuted) input: gradient", "[grad][reduce]") {
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].permute({2, 0, 1}).sum({0, 2}); }, {any64({2, 3, 4}, 81)}));
}

TEST_CASE("mean: gradients over all elements, a list of dims, keepdim both ways, negative dims", "[grad][reduce]") {
  const Tensor x = any64({2, 3, 4}, 90);
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].mean(); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].mean({0, 2}); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].mean({0, 2}, true); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].mean({-1}); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].mean({-2}, true); }, {x}));
}

TEST_CASE("mean over 6 elements has gradient 1/6 for each", "[grad][reduce]") {
  const Tensor x = tg::zeros({2, 3}, tg::kFloat64).requires_grad_();
  x.mean().backward();
  CHECK(tg_test::all_close(values(x.grad()), std::vector<double>(6, 1.0 / 6.0), 1e-15));
}

TEST_CASE("amax and amin: gradients over all elements, dims and keepdim (distinct values)", "[grad][reduce]") {
  const Tensor x = any64({2, 3, 4}, 100);
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].amax(); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].amin(); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].amax({1}); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].amin({1}, true); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].amax({0, -1}, true); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].amin({-1, 0}); }, {x}));
}

TEST_CASE("amax shares the gradient evenly among tied maxima", "[grad][reduce]") {
  const Tensor x = leaf64({{1, 3, 3}, {2, 2, 2}, {5, 0, 4}});
  x.amax({1}).sum().backward();
  const double t = 1.0 / 3.0;
  CHECK(tg_test::all_close(values(x.grad()), {0, 0.5, 0.5, t, t, t, 1, 0, 0}, 1e-15));

  const Tensor y = leaf64({{1, 3}, {3, 0}});
  y.amax().backward();
  CHECK(values(y.grad()) == std::vector<double>{0, 0.5, 0.5, 0});
}

TEST_CASE("amin shares the gradient evenly among tied minima, with an upstream gradient", "[grad][reduce]") {
  const Tensor x = leaf64({{4, 1, 1, 1}, {0, 7, 0, 9}});
  x.amin({1}, true).backward(tg::tensor({{6}, {10}}, tg::kFloat64));
  CHECK(tg_test::all_close(values(x.grad()), {0, 2, 2, 2, 5, 0, 5, 0}, 1e-15));
}

TEST_CASE("max and min along a dim: the values' gradients", "[grad][reduce]") {
  const Tensor x = any64({3, 4, 2}, 110);
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].max(1).values; }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].max(-1, true).values; }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].min(0).values; }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::min(in[0], 2, true).values; }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].transpose(0, 2).max(1).values; }, {x}));
}

TEST_CASE("max along a dim sends the gradient to the first of tied maxima only", "[grad][reduce]") {
  const Tensor x = leaf64({{3, 3, 1}, {0, 2, 2}});
  const tg::ValuesIndices m = x.max(1);
  CHECK(m.indices.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1});
  m.values.backward(tg::tensor({10, 20}, tg::kFloat64));
  CHECK(values(x.grad()) == std::vector<double>{10, 0, 0, 0, 20, 0});
}

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

TEST_CASE("var and std, unbiased and biased, over dims and all, with keepdim: gradients", "[model-ops][grad][stats]") {
  const Tensor x = any64({3, 4}, 190);
  for (bool unbiased : {true, false})
    for (bool keepdim : {true, false}) {
      INFO("unbiased " << unbiased << ", keepdim " << keepdim);
      CHECK(tg::gradcheck([=](const Inputs& in) { return tg::var(in[0], {}, unbiased, keepdim); }, {x}));
      CHECK(tg::gradcheck([=](const Inputs& in) { return tg::var(in[0], {1}, unbiased, keepdim); }, {x}));
      CHECK(tg::gradcheck([=](const Inputs& in) { return tg::std(in[0], {}, unbiased, keepdim); }, {x}));
      CHECK(tg::gradcheck([=](const Inputs& in) { return tg::std(in[0], {0}, unbiased, keepdim); }, {x}));
    }
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::std(in[0], {0, 2}); }, {any64({2, 3, 4}, 191)}));
}

TEST_CASE("norm with p = 1, 2 and infinity over dims and all: gradients", "[model-ops][grad][stats]") {
  const Tensor x = away64({3, 4}, 200);
  for (double p : {1.0, 2.0, kInf}) {
    INFO("p " << p);
    // For infinity, the largest |x| of every row and column is unique.
    const Tensor in_x =
        p == kInf ? leaf64({{0.3, -1.1, 0.7, -0.2}, {-0.9, 0.4, 1.2, -0.6}, {0.8, -0.5, -1.0, 0.1}}) : x;
    CHECK(tg::gradcheck([p](const Inputs& in) { return tg::norm(in[0], p); }, {in_x}));
    CHECK(tg::gradcheck([p](const Inputs& in) { return tg::norm(in[0], p, {1}); }, {in_x}));
    CHECK(tg::gradcheck([p](const Inputs& in) { return tg::norm(in[0], p, {0}, true); }, {in_x}));
    CHECK(tg::gradcheck([p](const Inputs& in) { return tg::norm(in[0], p, {}, true); }, {in_x}));
  }
}

TEST_CASE("norm p=2 at an all-zero row has gradient 0, not NaN", "[model-ops][grad][stats]") {
  const Tensor x = leaf64({{0, 0, 0}, {3, 0, 4}});
  tg::norm(x, 2.0, {1}).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{0, 0, 0, 0.6, 0, 0.8});
  const Tensor z = leaf64({0, 0});
  tg::norm(z).backward();
  CHECK(values(z.grad()) == std::vector<double>{0, 0});
}

TEST_CASE("logsumexp over one dim, two dims, keepdim: gradients (softmax)", "[model-ops][grad][stats]") {
  const Tensor x = any64({2, 3, 4}, 210);
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::logsumexp(in[0], {1}); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::logsumexp(in[0], {0, 2}, true); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::logsumexp(in[0], {-1}) * 2.0; }, {x}));
}

TEST_CASE("a dim listed twice in sum, mean or amax is an error naming it", "[bad_input][dims]") {
  const Tensor x = tg::ones({2, 3, 4});
  CHECK_TG_ERROR(x.sum({1, -2}), Equals("sum: dim 1 appears more than once in [1, -2]"));
  CHECK_TG_ERROR(x.mean({0, 0}), Contains("mean: dim 0 appears more than once in [0, 0]"));
  CHECK_TG_ERROR(x.amin({2, -1}, true), Contains("amin: dim 2 appears more than once"));
}

TEST_CASE("an empty list of dims is rejected with a pointer to the all-elements form", "[bad_input][dims]") {
  const Tensor x = tg::ones({2, 3});
  CHECK_TG_ERROR(x.sum(std::vector<std::int64_t>{}), Contains("sum: the list of dims is empty") && Contains("sum(t)"));
  CHECK_TG_ERROR(x.mean(std::vector<std::int64_t>{}), Contains("mean: the list of dims is empty"));
}

TEST_CASE("mean of an integer tensor names the dtype", "[bad_input][dtype]") {
  CHECK_TG_ERROR(tg::arange(4).mean(), StartsWith("mean: expected a floating-point tensor, got int64"));
  CHECK_TG_ERROR(tg::arange(4).mean({0}), StartsWith("mean: expected a floating-point tensor, got int64"));
}

TEST_CASE("reducing an empty dim with max, amax or argmax names the shape", "[bad_input][reduce]") {
  CHECK_TG_ERROR(tg::zeros({0}).amax(), Equals("amax: cannot reduce over a dim of size 0 (shape [0])"));
  CHECK_TG_ERROR(tg::zeros({0, 3}).max(0), Equals("max: cannot reduce over dim 0 of size 0 (shape [0, 3])"));
  CHECK_TG_ERROR(tg::zeros({0}).argmax(), Equals("argmax: cannot take the argmax of an empty tensor (shape [0])"));
}

TEST_CASE("statistics: norm with an unsupported p, logsumexp without dims, var of integers",
          "[model-ops][bad_input][stats]") {
  const Tensor x = tg::ones({2, 3});
  CHECK_TG_ERROR(tg::norm(x, 3.0), Contains("norm") && Contains("got 3"));
  CHECK_TG_ERROR(tg::logsumexp(x, {}), Contains("logsumexp") && Contains("dims"));
  CHECK_TG_ERROR(tg::var(tg::ones({3}, tg::kInt64)), Contains("var") && Contains("int64"));
  CHECK_TG_ERROR(tg::gelu(tg::ones({3}, tg::kInt64)), Contains("gelu") && Contains("int64"));
}

TEST_CASE("logsumexp over a dim out of range names logsumexp, not the amax inside it",
          "[model-ops][bad_input][stats]") {
  CHECK_TG_ERROR(tg::logsumexp(tg::ones({2, 3}), {2}), Contains("logsumexp") && Contains("dim 2"));
}

// Reductions over a run of middle dims ([outer, R, inner] of a contiguous input) run in place;
// their values equal the reduction of the permuted copy (the reduced dims moved last), and the
// fused amax/amin backward equals the composed mask * g / count, ties and NaN included.
TEST_CASE("reductions over a run of middle dims equal the permuted copy's, and amax's gradient its composition",
          "[values][grad][reduce]") {
  tg::manual_seed(8);
  const Tensor x = tg::randn({3, 5, 4, 6}, tg::kFloat64);
  const Tensor moved = x.permute({0, 3, 1, 2}).contiguous();  // [3, 6, 5, 4]: dims 1 and 2 last
  CHECK(all_close(values(x.sum({1, 2})), values(moved.sum({2, 3})), 1e-12, 1e-12));
  CHECK(all_close(values(x.mean({1, 2})), values(moved.mean({2, 3})), 1e-12, 1e-12));
  CHECK(values(x.amax({1, 2})) == values(moved.amax({2, 3})));
  CHECK(values(tg::amin(x, {1}, true)) == values(tg::amin(x.permute({0, 2, 3, 1}).contiguous(), {3}, false)));
  // Ties (small integers), a NaN slice and a size-1 dim inside the run.
  Tensor t = tg::randint(0, 3, {2, 4, 1, 3, 5}).to(tg::kFloat64);
  t.index_put_({0, 1, 0, 2, 3}, std::nan(""));
  for (const I64& dims : {I64{1, 3}, I64{1, 2, 3}, I64{0}, I64{4}, I64{3, 4}}) {
    INFO("dims " << dims.size() << " first " << dims[0]);
    const Tensor a = t.detach().requires_grad_(), b = t.detach().requires_grad_();
    const Tensor fused = tg::amax(a, dims, true);
    const Tensor w =
        tg::arange(1, static_cast<double>(fused.numel()) + 1, 1, tg::kFloat64).reshape(fused.shape().vec());
    (fused * w).sum().backward();
    // The composition the fused backward replaces: the gradient split evenly among the ties.
    const Tensor m = tg::amax(b.detach(), dims, true);
    const Tensor mask = tg::eq(b, m).to(tg::kFloat64);
    const Tensor want = mask * w / mask.sum(dims, true);
    const std::vector<double> got = values(a.grad()), exp = values(want);
    REQUIRE(got.size() == exp.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      INFO("element " << i);
      CHECK(((std::isnan(got[i]) && std::isnan(exp[i])) || got[i] == exp[i]));
    }
  }
}

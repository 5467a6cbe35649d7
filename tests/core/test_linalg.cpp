// The linalg family (core/src/ops/linalg.cpp): linear as one tape node, checked against its
// composed oracle matmul(x, weight.t()) + bias, by gradient checks and on bad input.
#include <catch2/catch.hpp>
#include <functional>

#include "helpers.h"
#include "tapegrad/core.h"

using Catch::Matchers::Contains;
using tg::Tensor;
using tg_test::all_close;
using tg_test::uniform64;
using tg_test::values;
using Inputs = std::vector<Tensor>;

namespace {

Tensor composed_linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  Tensor y = tg::matmul(x, w.t());
  return b.defined() ? y + b : y;
}

/// Forward and every gradient of linear(view(x), w, b) equal the composition's; view turns the
/// leaf x into the input actually passed (a transpose, say).
void check_against_composition(
    const Tensor& x, const Tensor& w, const Tensor& b,
    const std::function<Tensor(const Tensor&)>& view = [](const Tensor& t) { return t; }) {
  const Tensor y = tg::linear(view(x), w, b), want = composed_linear(view(x), w, b);
  REQUIRE(y.shape() == want.shape());
  CHECK(y.grad_fn_name() == "LinearBackward");
  CHECK(all_close(values(y), values(want), 1e-12, 1e-12));
  // A weighting that is not symmetric, so that a transposed gradient would show.
  const Tensor weights = tg::arange(0, static_cast<double>(y.numel()), 1, tg::kFloat64).reshape(y.shape().vec()) * 0.1;
  std::vector<Tensor> leaves{x, w};
  if (b.defined()) leaves.push_back(b);
  auto grads_of = [&](const Tensor& out) {
    for (const Tensor& l : leaves) l.zero_grad(true);
    (out * weights).sum().backward();
    std::vector<std::vector<double>> g;
    for (const Tensor& l : leaves) g.push_back(values(l.grad()));
    return g;
  };
  const auto got = grads_of(tg::linear(view(x), w, b));
  const auto expected = grads_of(composed_linear(view(x), w, b));
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(all_close(got[i], expected[i], 1e-12, 1e-12));
}

}  // namespace

TEST_CASE("linear equals matmul(x, weight.t()) + bias, forward and every gradient", "[linalg][linear]") {
  const Tensor w = uniform64({4, 3}, -1, 1, 1), b = uniform64({4}, -1, 1, 2);
  SECTION("1-D input") { check_against_composition(uniform64({3}, -1, 1, 3), w, b); }
  SECTION("2-D input") { check_against_composition(uniform64({5, 3}, -1, 1, 4), w, b); }
  SECTION("3-D input, no bias") { check_against_composition(uniform64({2, 5, 3}, -1, 1, 5), w, Tensor()); }
  SECTION("a transposed (non-contiguous) input") {
    check_against_composition(uniform64({3, 5}, -1, 1, 6), w, b, [](const Tensor& t) { return t.t(); });
  }
  SECTION("a weight that is a row slice of a larger one (as MultiheadAttention's in_proj)") {
    const Tensor big = uniform64({12, 3}, -1, 1, 7);
    const Tensor x = uniform64({2, 3}, -1, 1, 8);
    const Tensor ws = big.slice(0, 4, 8);
    CHECK(all_close(values(tg::linear(x, ws, b)), values(composed_linear(x, ws, b)), 1e-12, 1e-12));
    tg::linear(x, ws, b).sum().backward();
    const std::vector<double> g = values(big.grad());
    for (std::size_t i = 0; i < g.size(); ++i) {
      const bool inside = i >= 12 && i < 24;  // rows 4..7 of 3 columns
      if (!inside) CHECK(g[i] == 0.0);
    }
  }
  SECTION("no rows at all") {
    const Tensor y = tg::linear(tg::zeros({0, 3}, tg::kFloat64), w, b);
    CHECK(y.shape().vec() == std::vector<std::int64_t>{0, 4});
  }
  SECTION("no input features: the output is the bias") {
    const Tensor w0 = tg::zeros({4, 0}, tg::kFloat64);
    CHECK(values(tg::linear(tg::zeros({2, 0}, tg::kFloat64), w0, b)) ==
          values(b.detach().unsqueeze(0).expand({2, 4}).contiguous()));
    CHECK(values(tg::linear(tg::zeros({2, 0}, tg::kFloat64), w0)) == std::vector<double>(8, 0.0));
  }
}

TEST_CASE("linear in float32 agrees with the composition", "[linalg][linear]") {
  tg::Generator gen(11);
  const Tensor x = tg::randn({7, 33, 65}, tg::kFloat32, &gen), w = tg::randn({40, 65}, tg::kFloat32, &gen);
  const Tensor b = tg::randn({40}, tg::kFloat32, &gen);
  CHECK(all_close(values(tg::linear(x, w, b)), values(composed_linear(x, w, b)), 1e-5, 1e-5));
}

TEST_CASE("linear: the weight's gradient comes in the weight's own layout", "[linalg][linear]") {
  const Tensor w = uniform64({4, 3}, -1, 1, 21), x = uniform64({6, 3}, -1, 1, 22);
  tg::linear(x, w).sum().backward();
  CHECK(w.grad().shape().vec() == std::vector<std::int64_t>{4, 3});
  CHECK(w.grad().is_contiguous());
}

TEST_CASE("linear: gradient checks with and without bias, batched and transposed inputs", "[linalg][linear][grad]") {
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::linear(in[0], in[1], in[2]); },
                      {uniform64({2, 3, 4}, -1, 1, 31), uniform64({5, 4}, -1, 1, 32), uniform64({5}, -1, 1, 33)}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::linear(in[0].t(), in[1]); },
                      {uniform64({4, 3}, -1, 1, 34), uniform64({2, 4}, -1, 1, 35)}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::linear(in[0], in[1], in[2]); },
                      {uniform64({4}, -1, 1, 36), uniform64({3, 4}, -1, 1, 37), uniform64({3}, -1, 1, 38)}));
}

TEST_CASE("linear: bad input names the op and the values", "[linalg][linear][bad-input]") {
  const Tensor w = tg::zeros({4, 3}), b = tg::zeros({4});
  CHECK_THROWS_AS(tg::linear(tg::zeros({2, 5}), w, b), tg::Error);
  CHECK_THROWS_WITH(tg::linear(tg::zeros({2, 5}), w, b),
                    Contains("linear: input has 5 features (shape [2, 5]) but the weight expects 3"));
  CHECK_THROWS_WITH(tg::linear(tg::zeros({2, 3}), tg::zeros({4, 3, 1}), b),
                    Contains("linear: weight must be 2-D [out_features, in_features], got shape [4, 3, 1]"));
  CHECK_THROWS_WITH(tg::linear(tg::zeros({2, 3}), w, tg::zeros({3})),
                    Contains("linear: bias must have shape [4], got [3]"));
  CHECK_THROWS_WITH(tg::linear(tg::zeros({2, 3}, tg::kInt64), w, b),
                    Contains("linear: expected a floating input of the weight's dtype float32, got int64"));
  CHECK_THROWS_WITH(tg::linear(tg::zeros({2, 3}), w, tg::zeros({4}, tg::kFloat64)),
                    Contains("linear: bias has dtype float64, the weight float32"));
  CHECK_THROWS_WITH(tg::linear(tg::zeros({}), w, b), Contains("linear: input has 0 features"));
}

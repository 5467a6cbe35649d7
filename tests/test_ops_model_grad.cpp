// Gradient checks for the model-building ops (shape_ops.h, index_ops.h, activation.h, conv.h):
// for every differentiable op, the full Jacobian computed by backward equals float64 central
// differences (tg::gradcheck). Where the gradient is a simple closed form (embedding rows,
// maximum ties, the norm at zero, in-place activations) it is also compared with exact numbers.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "helpers.h"
#include "tapegrad/core.h"

using Catch::Matchers::Contains;
using tg::Tensor;
using tg_test::leaf64;
using tg_test::uniform64;
using tg_test::values;
using Inputs = std::vector<Tensor>;

namespace {

Tensor any64(tg::IntArrayRef shape, std::uint64_t seed) { return uniform64(shape, -2.0, 2.0, seed); }
Tensor away64(tg::IntArrayRef shape, std::uint64_t seed) { return tg_test::away_from_zero64(shape, seed); }
Tensor constant64(const tg::NestedList& v) { return tg::tensor(v, tg::kFloat64); }
Tensor index64(const std::vector<std::int64_t>& v, tg::IntArrayRef shape) { return tg::from_vector(v, shape); }

/// A float64 leaf whose values are all different, at least 0.1 apart (a permutation of
/// 0.1 * (i - n/2)): the arg-max of every pooling window is unique and far from ties.
Tensor distinct64(tg::IntArrayRef shape, std::int64_t stride = 7919) {
  const std::int64_t n = tg::numel_of(shape);
  std::vector<double> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    v[static_cast<std::size_t>(i)] = 0.1 * static_cast<double>((i * stride) % n - n / 2);
  return tg::from_vector(v, shape).requires_grad_();
}

constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

// ---- joining and splitting ------------------------------------------------------------------------

TEST_CASE("cat of three tensors along the inner dim: gradients go only to the inputs that require grad",
          "[model-ops][grad][shape]") {
  const Tensor a = any64({2, 3}, 1), c = any64({2, 2}, 3);
  const Tensor b = constant64({{10}, {20}});  // does not require grad
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    return tg::cat({in[0], in[1], in[2]}, 1) * tg::cat({in[0], in[1], in[2]}, -1);
      },
      {a, b, c}));
  const Tensor w = constant64({{1, 2, 3, 4, 5, 6}, {7, 8, 9, 10, 11, 12}});
  (tg::cat({a, b, c}, 1) * w).sum().backward();
  CHECK(values(a.grad()) == std::vector<double>{1, 2, 3, 7, 8, 9});
  CHECK(values(c.grad()) == std::vector<double>{5, 6, 11, 12});
  CHECK_FALSE(b.grad().defined());
}

TEST_CASE("stack along a new middle dim: gradients", "[model-ops][grad][shape]") {
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    return tg::stack({in[0], in[1], in[0] * in[2]}, 1);
      },
      {any64({2, 3}, 10), any64({2, 3}, 11), any64({2, 3}, 12)}));
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    return tg::stack({in[0], in[1]}, -1);
      },
      {any64({2, 3}, 13), any64({2, 3}, 14)}));
}

TEST_CASE("chunk of 5 into 3 and split into sizes {1, 3, 1}: weighted pieces give each piece its weight",
          "[model-ops][grad][shape]") {
  // sum_i (i + 1) * sum(p_i^2): the gradient is 2 (i + 1) x on piece i.
  auto weighted = [](const std::vector<Tensor>& pieces) {
    Tensor total = (pieces[0] * pieces[0]).sum();
    for (std::size_t i = 1; i < pieces.size(); ++i)
      total = total + (pieces[i] * pieces[i]).sum() * static_cast<double>(i + 1);
    return total;
  };
  CHECK(tg::gradcheck([&](const Inputs& in) { return weighted(tg::chunk(in[0], 3, 1)); }, {any64({2, 5}, 20)}));
  CHECK(tg::gradcheck([&](const Inputs& in) { return weighted(tg::split(in[0], {1, 3, 1}, 0)); }, {any64({5, 2}, 21)}));
  CHECK(tg::gradcheck([&](const Inputs& in) { return weighted(tg::split(in[0], 2, -1)); }, {any64({2, 5}, 22)}));

  const Tensor x = leaf64({1, 1, 1, 1, 1});
  const auto pieces = tg::split(x, {1, 3, 1});
  (pieces[0].sum() * 1.0 + pieces[1].sum() * 2.0 + pieces[2].sum() * 3.0).backward();
  CHECK(values(x.grad()) == std::vector<double>{1, 2, 2, 2, 3});
  x.zero_grad(true);
  const auto chunks = tg::chunk(x, 3);  // sizes 2, 2, 1
  (chunks[0].sum() * 1.0 + chunks[1].sum() * 2.0 + chunks[2].sum() * 3.0).backward();
  CHECK(values(x.grad()) == std::vector<double>{1, 1, 2, 2, 3});
}

TEST_CASE("narrow and slice with a step: gradients, zero outside the selected elements", "[model-ops][grad][shape]") {
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::narrow(in[0], 1, 1, 3) * 2.0; }, {any64({3, 5}, 30)}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::narrow(in[0], 0, -2, 2); }, {any64({3, 5}, 31)}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].slice(1, 1, 6, 2) * in[0].slice(1, 0, 7, 3); },
                      {any64({3, 7}, 32)}));
  const Tensor x = leaf64({0, 0, 0, 0, 0, 0, 0});
  x.slice(0, 1, 6, 2).sum().backward();  // elements 1, 3, 5
  CHECK(values(x.grad()) == std::vector<double>{0, 1, 0, 1, 0, 1, 0});
}

TEST_CASE("flip over two dims, repeat with a new leading dim, expand_as: gradients", "[model-ops][grad][shape]") {
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::flip(in[0], {0, 2}) * in[0]; }, {any64({2, 3, 4}, 40)}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::flip(in[0], {-1, 1}); }, {any64({2, 3, 4}, 41)}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::repeat(in[0], {2, 1, 3}); }, {any64({2, 3}, 42)}));
  const Tensor other = tg::zeros({2, 3, 4}, tg::kFloat64);
  const Tensor w = tg::arange(0.0, 24.0, 1.0, tg::kFloat64).reshape({2, 3, 4});
  CHECK(tg::gradcheck([&](const Inputs& in) { return tg::expand_as(in[0], other) * w; }, {any64({3, 1}, 43)}));
  // repeat copies: every copy of an element sends its gradient back to it.
  const Tensor x = leaf64({1, 2});
  tg::repeat(x, {3, 2}).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{6, 6});
}

TEST_CASE("flatten and unflatten: gradients, also through a non-contiguous input", "[model-ops][grad][shape]") {
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::flatten(in[0], 1, 2) * 3.0; }, {any64({2, 3, 4}, 50)}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::flatten(in[0].transpose(0, 2)) * in[0].reshape({-1}); },
                      {any64({2, 3, 4}, 51)}));
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    return tg::unflatten(in[0], 1, {-1, 2}).transpose(1, 2);
      },
      {any64({2, 6}, 52)}));
}

// ---- indexing ---------------------------------------------------------------------------------------

TEST_CASE("index_select with repeated indices: the gradients of repeats add up", "[model-ops][grad][index]") {
  const Tensor idx = index64({2, 0, 2, 2}, {4});
  CHECK(
      tg::gradcheck([&](const Inputs& in) { return tg::index_select(in[0], 1, idx) * tg::index_select(in[0], 1, idx); },
                    {any64({2, 3, 2}, 60)}));
  CHECK(tg::gradcheck([&](const Inputs& in) { return tg::index_select(in[0], 0, idx); }, {any64({3, 2}, 61)}));
  const Tensor x = leaf64({0, 0, 0});
  tg::index_select(x, 0, idx).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{1, 0, 3});
}

TEST_CASE("gather with repeated indices along dims 0 and 1: gradients add up", "[model-ops][grad][index]") {
  const Tensor idx1 = index64({0, 0, 3, 1, 2, 2, 2, 0, 1, 3, 3, 3}, {3, 4});
  CHECK(tg::gradcheck([&](const Inputs& in) { return tg::gather(in[0], 1, idx1); }, {any64({3, 4}, 70)}));
  const Tensor idx0 = index64({2, 2, 0, 1, 2, 0}, {2, 3});  // smaller than the input in dim 1
  CHECK(tg::gradcheck([&](const Inputs& in) { return tg::gather(in[0], 0, idx0) * 2.0; }, {any64({3, 4}, 71)}));
  const Tensor x = leaf64({{0, 0, 0}});
  tg::gather(x, 1, index64({1, 1, 1, 2}, {1, 4})).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{0, 3, 1});
}

TEST_CASE("scatter_add with repeated indices: gradients for both self and src", "[model-ops][grad][index]") {
  const Tensor idx = index64({0, 2, 2, 1, 0, 0, 2, 1}, {2, 4});
  CHECK(tg::gradcheck([&](const Inputs& in) { return tg::scatter_add(in[0], 0, idx, in[1]) * in[0]; },
                      {any64({3, 4}, 80), any64({2, 4}, 81)}));
  // src larger than index (only its first index.shape() elements are used) and dim 1.
  const Tensor idx1 = index64({1, 1, 0, 2, 2, 2}, {2, 3});
  CHECK(tg::gradcheck([&](const Inputs& in) { return tg::scatter_add(in[0], 1, idx1, in[1]); },
                      {any64({2, 3}, 82), any64({3, 4}, 83)}));
  const Tensor self = leaf64({0, 0, 0}), src = leaf64({1, 2, 3, 4});
  (tg::scatter_add(self, 0, index64({2, 2, 0, 2}, {4}), src) * constant64({10, 20, 30})).sum().backward();
  CHECK(values(self.grad()) == std::vector<double>{10, 20, 30});
  CHECK(values(src.grad()) == std::vector<double>{30, 30, 10, 30});
}

TEST_CASE("embedding: gradient of the weight with repeated indices", "[model-ops][grad][index]") {
  const Tensor idx = index64({1, 3, 1, 0, 3, 3}, {2, 3});
  CHECK(tg::gradcheck([&](const Inputs& in) { return tg::embedding(in[0], idx) * tg::embedding(in[0], idx); },
                      {any64({5, 3}, 90)}));
}

TEST_CASE("embedding: repeated rows sum their gradients, the padding row gets zero", "[model-ops][grad][index]") {
  const Tensor w = any64({5, 2}, 91);
  const Tensor idx = index64({1, 3, 1, 0, 3, 3}, {2, 3});
  // Position p of the output is weighted by p + 1 (both columns): row r's gradient is the sum of
  // the weights of the positions holding r.
  const Tensor pos = tg::arange(1.0, 7.0, 1.0, tg::kFloat64).reshape({2, 3, 1});
  (tg::embedding(w, idx, /*padding_idx=*/0) * pos).sum().backward();
  CHECK(values(w.grad()) == std::vector<double>{0, 0,    // row 0: padding (index 0 at position 4)
                                                4, 4,    // row 1: positions 1 and 3
                                                0, 0,    // row 2: unused
                                                13, 13,  // row 3: positions 2, 5 and 6
                                                0, 0});  // row 4: unused
}

TEST_CASE("masked_fill with a broadcast mask: the gradient is zero where filled", "[model-ops][grad][index]") {
  const Tensor mask = tg::from_vector(std::vector<bool>{true, false, true}, {3, 1});
  CHECK(tg::gradcheck([&](const Inputs& in) { return tg::masked_fill(in[0], mask, -7.0) * in[0]; },
                      {any64({2, 3, 4}, 100)}));
  const Tensor x = leaf64({{1, 2}, {3, 4}});
  tg::masked_fill(x, tg::from_vector(std::vector<bool>{false, true}, {1, 2}), 0.0).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{1, 0, 1, 0});
}

TEST_CASE("where with a broadcast condition: gradients to both branches", "[model-ops][grad][index]") {
  const Tensor cond = tg::from_vector(std::vector<bool>{true, false, true}, {3, 1});
  CHECK(tg::gradcheck([&](const Inputs& in) { return tg::where(cond, in[0], in[1]); },
                      {any64({3, 4}, 110), any64({4}, 111)}));
  CHECK(tg::gradcheck([&](const Inputs& in) { return tg::where(cond, in[0], 0.5) + tg::where(cond, -1.0, in[0]); },
                      {any64({3, 4}, 112)}));
  const Tensor a = leaf64({{1, 1}, {1, 1}}), b = leaf64({1, 1});
  tg::where(tg::from_vector(std::vector<bool>{true, false}, {2, 1}), a, b).sum().backward();
  CHECK(values(a.grad()) == std::vector<double>{1, 1, 0, 0});
  CHECK(values(b.grad()) == std::vector<double>{1, 1});
}

TEST_CASE("tril and triu with diagonal -1, 0, 1 on a batch of 3x4 matrices: gradients", "[model-ops][grad][index]") {
  const Tensor x = any64({2, 3, 4}, 120);
  for (std::int64_t k : {-1, 0, 1}) {
    INFO("diagonal " << k);
    CHECK(tg::gradcheck([k](const Inputs& in) { return tg::tril(in[0], k) * in[0]; }, {x}));
    CHECK(tg::gradcheck([k](const Inputs& in) { return tg::triu(in[0], k) * in[0]; }, {x}));
  }
  const Tensor y = leaf64({{1, 1, 1}, {1, 1, 1}, {1, 1, 1}});
  tg::tril(y, -1).sum().backward();
  CHECK(values(y.grad()) == std::vector<double>{0, 0, 0, 1, 0, 0, 1, 1, 0});
}

TEST_CASE("topk values, largest and smallest, along the last dim and dim 0: gradients", "[model-ops][grad][index]") {
  const Tensor x = distinct64({3, 5});
  for (bool largest : {true, false}) {
    INFO("largest " << largest);
    CHECK(tg::gradcheck([largest](const Inputs& in) { return tg::topk(in[0], 2, -1, largest).values; }, {x}));
    CHECK(tg::gradcheck([largest](const Inputs& in) { return tg::topk(in[0], 2, 0, largest).values; }, {x}));
  }
  const Tensor y = leaf64({0.5, 3.0, -1.0, 2.0});
  (tg::topk(y, 2).values * constant64({10, 1})).sum().backward();  // 3.0 gets 10, 2.0 gets 1
  CHECK(values(y.grad()) == std::vector<double>{0, 10, 0, 1});
}

TEST_CASE("cumsum along dims 0 and 1: gradients are reversed running sums", "[model-ops][grad][index]") {
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::cumsum(in[0], 0); }, {any64({4, 3}, 130)}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::cumsum(in[0], 1) * in[0]; }, {any64({4, 3}, 131)}));
  const Tensor x = leaf64({1, 1, 1, 1});
  tg::cumsum(x, 0).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{4, 3, 2, 1});
}

// ---- activations and elementwise math -------------------------------------------------------------------

TEST_CASE("leaky_relu, elu (alpha 1 and 0.7), silu: gradients on both sides of 0", "[model-ops][grad][activation]") {
  const Tensor x = away64({3, 4}, 140);
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::leaky_relu(in[0]); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::leaky_relu(in[0], 0.2); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::elu(in[0]); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::elu(in[0], 0.7); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::silu(in[0]); }, {any64({3, 4}, 141)}));
}

TEST_CASE("gelu with approximate none and tanh: gradients", "[model-ops][grad][activation]") {
  const Tensor x = uniform64({3, 4}, -4.0, 4.0, 150);
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::gelu(in[0]); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::gelu(in[0], "none"); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::gelu(in[0], "tanh"); }, {x}));
}

TEST_CASE("softplus: gradient below and above the threshold (where it is x itself)", "[model-ops][grad][activation]") {
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::softplus(in[0]); }, {uniform64({2, 3}, -3.0, 3.0, 160)}));
  // beta 2, threshold 3: x = 1.9 and 2.5 are above the threshold (beta x > 3), the rest below.
  const Tensor x = leaf64({-2.0, -0.5, 0.3, 1.2, 1.9, 2.5});
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::softplus(in[0], 2.0, 3.0); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::softplus(in[0], 1.0, 1.0); }, {x}));
  tg::softplus(x, 2.0, 3.0).sum().backward();
  CHECK(x.grad().to_vector<double>()[4] == 1.0);
  CHECK(x.grad().to_vector<double>()[5] == 1.0);
  CHECK(x.grad().to_vector<double>()[3] == Approx(1.0 / (1.0 + std::exp(-2.4))));
}

TEST_CASE("log1p, expm1, erf, reciprocal: gradients", "[model-ops][grad][activation]") {
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::log1p(in[0]); }, {uniform64({2, 3}, -0.5, 2.0, 170)}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::expm1(in[0]); }, {any64({2, 3}, 171)}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::erf(in[0]); }, {any64({2, 3}, 172)}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::reciprocal(in[0]); }, {away64({2, 3}, 173)}));
}

TEST_CASE("clamp with min only, max only and both: gradients at points away from the bounds",
          "[model-ops][grad][activation]") {
  const Tensor x = leaf64({{-1.7, -0.6, -0.2}, {0.1, 0.45, 1.3}});
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::clamp(in[0], -0.5) * in[0]; }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::clamp(in[0], std::nullopt, 0.3) * in[0]; }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::clamp(in[0], -0.5, 0.3) * in[0]; }, {x}));
  tg::clamp(x, -0.5, 0.3).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{0, 0, 1, 1, 0, 0});
}

TEST_CASE("maximum and minimum without ties: gradients, with broadcasting", "[model-ops][grad][activation]") {
  const Tensor a = any64({3, 4}, 180), b = any64({4}, 181);
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::maximum(in[0], in[1]); }, {a, b}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::minimum(in[0], in[1]); }, {a, b}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::minimum(in[1], in[0]) * in[0]; }, {a, b}));
}

TEST_CASE("maximum and minimum: a tie splits the gradient 0.5 / 0.5", "[model-ops][grad][activation]") {
  const Tensor a = leaf64({1.0, 2.0, 3.0}), b = leaf64({1.0, 5.0, 3.0});
  tg::maximum(a, b).sum().backward();
  CHECK(values(a.grad()) == std::vector<double>{0.5, 0, 0.5});
  CHECK(values(b.grad()) == std::vector<double>{0.5, 1, 0.5});
  a.zero_grad(true);
  b.zero_grad(true);
  tg::minimum(a, b).sum().backward();
  CHECK(values(a.grad()) == std::vector<double>{0.5, 1, 0.5});
  CHECK(values(b.grad()) == std::vector<double>{0.5, 0, 0.5});
}

// ---- statistics -------------------------------------------------------------------------------------------

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

TEST_CASE("dropout p=0.3 with a fixed generator: gradient is the mask scaled by 1/0.7", "[model-ops][grad][stats]") {
  const Tensor x = any64({4, 5}, 220);
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    tg::Generator gen(1234);  // same seed at every evaluation: the same mask
    return tg::dropout(in[0], 0.3, true, &gen);
      },
      {x}));
  tg::Generator gen(1234);
  const Tensor y = tg::dropout(x, 0.3, true, &gen);
  y.sum().backward();
  const auto g = values(x.grad()), yv = values(y), xv = values(x);
  int kept = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    INFO("element " << i);
    if (yv[i] == 0.0) {
      CHECK(g[i] == 0.0);
    } else {
      ++kept;
      CHECK(g[i] == Approx(1 / 0.7));
      CHECK(yv[i] == Approx(xv[i] / 0.7));
    }
  }
  CHECK(kept > 0);
  CHECK(kept < 20);
}

// ---- convolution ------------------------------------------------------------------------------------------

namespace {
/// conv2d's gradients for input, weight and bias (all three require grad; bias may be absent).
bool conv2d_gradcheck(tg::IntArrayRef in_shape, tg::IntArrayRef w_shape, bool with_bias, tg::Int2 stride,
                      tg::Int2 padding, tg::Int2 dilation, std::int64_t groups, std::uint64_t seed) {
  Inputs inputs{any64(in_shape, seed), any64(w_shape, seed + 1)};
  if (with_bias) inputs.push_back(any64({w_shape[0]}, seed + 2));
  return tg::gradcheck(
      [&](const Inputs& in) {
    return tg::conv2d(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), stride, padding, dilation, groups);
      },
      inputs);
}
bool conv1d_gradcheck(tg::IntArrayRef in_shape, tg::IntArrayRef w_shape, bool with_bias, std::int64_t stride,
                      std::int64_t padding, std::int64_t dilation, std::int64_t groups, std::uint64_t seed) {
  Inputs inputs{any64(in_shape, seed), any64(w_shape, seed + 1)};
  if (with_bias) inputs.push_back(any64({w_shape[0]}, seed + 2));
  return tg::gradcheck(
      [&](const Inputs& in) {
    return tg::conv1d(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), stride, padding, dilation, groups);
      },
      inputs);
}
}  // namespace

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

// ---- pooling ---------------------------------------------------------------------------------------------

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

// ---- in place with autograd ------------------------------------------------------------------------------

TEST_CASE("relu_, leaky_relu_, clamp_, masked_fill_ on non-leaf tensors: gradients of the composition",
          "[model-ops][grad][inplace]") {
  const Tensor x = away64({3, 4}, 370);
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    Tensor y = in[0] * 1.0;
    tg::relu_(y);
    return y * in[0];
      },
      {x}));
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    Tensor y = in[0] * 1.0;
    tg::leaky_relu_(y, 0.1);
    return y;
      },
      {x}));
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    Tensor y = in[0] * 1.0;
    tg::clamp_(y, -0.5, 0.3);
    return y * in[0];
      },
      {leaf64({{-1.7, -0.6, -0.2}, {0.1, 0.45, 1.3}})}));
  const Tensor mask = tg::from_vector(std::vector<bool>{true, false, false, true}, {4});
  CHECK(tg::gradcheck(
      [&](const Inputs& in) {
    Tensor y = in[0] * 2.0;
    tg::masked_fill_(y, mask, 3.0);  // mask [4] broadcast over [3, 4]
    return y * y;
      },
      {x}));
}

TEST_CASE("relu_ of x * 1 gives x the gradient 1 where x > 0 and 0 elsewhere", "[model-ops][grad][inplace]") {
  const Tensor x = leaf64({-1.0, 2.0, -3.0, 4.0});
  Tensor y = x * 1.0;
  tg::relu_(y);
  CHECK(y.grad_fn_name() == "ReluBackward");
  (y * 3.0).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{0, 3, 0, 3});
}

TEST_CASE("leaky_relu_ with slope 0 on a non-leaf is differentiable, like relu_ (PyTorch allows slope >= 0)",
          "[model-ops][grad][inplace]") {
  const Tensor x = leaf64({-1.0, 2.0, -3.0, 4.0});
  Tensor y = x * 1.0;
  tg::leaky_relu_(y, 0.0);
  CHECK(values(y) == std::vector<double>{0, 2, 0, 4});
  y.sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{0, 1, 0, 1});
}

TEST_CASE("relu_ over an output that exp saved for backward: backward raises the version error, no gradient",
          "[model-ops][grad][inplace]") {
  const Tensor x = leaf64({-1.0, 0.5, 2.0});
  Tensor y = x.exp();
  tg::relu_(y);
  const Tensor loss = (y * 2.0).sum();
  CHECK_THROWS_AS(loss.backward(), tg::Error);
  const Tensor x2 = leaf64({-1.0, 0.5, 2.0});
  Tensor y2 = x2.exp();
  tg::relu_(y2);
  CHECK_THROWS_WITH((y2 * 2.0).sum().backward(), Contains("relu_") && Contains("ExpBackward"));
  CHECK_FALSE(x2.grad().defined());
}

TEST_CASE("clamp_ and masked_fill_ over a saved output also raise the version error naming the op",
          "[model-ops][grad][inplace]") {
  const Tensor x = leaf64({-1.0, 0.5, 2.0});
  Tensor y = x.tanh();
  tg::clamp_(y, 0.0);
  CHECK_THROWS_WITH(y.sum().backward(), Contains("clamp_") && Contains("TanhBackward"));
  Tensor z = x.sigmoid();
  tg::masked_fill_(z, tg::from_vector(std::vector<bool>{true, false, false}, {3}), 0.0);
  CHECK_THROWS_WITH(z.sum().backward(), Contains("masked_fill_") && Contains("SigmoidBackward"));
  CHECK_FALSE(x.grad().defined());
}

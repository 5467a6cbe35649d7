// Gradient checks: for every differentiable op, the full Jacobian computed by backward equals
// float64 central differences (tg::gradcheck). Where the expected gradient is a simple
// closed form (ties in amax, dtype round trips, in-place ops) the gradient is also compared
// with exact numbers.
#include <catch2/catch.hpp>

#include "helpers.h"
#include "tapegrad/core.h"

using tg::Tensor;
using tg_test::leaf64;
using tg_test::uniform64;
using tg_test::values;
using Inputs = std::vector<Tensor>;

namespace {

Tensor any64(tg::IntArrayRef shape, std::uint64_t seed) { return uniform64(shape, -2.0, 2.0, seed); }
Tensor positive64(tg::IntArrayRef shape, std::uint64_t seed) { return uniform64(shape, 0.5, 2.0, seed); }

}  // namespace

// ---- gradcheck itself ---------------------------------------------------------------------------

TEST_CASE("gradcheck rejects a wrong gradient: x * x.detach() has gradient x, not 2x", "[grad][gradcheck]") {
  const Tensor x = positive64({3}, 1);
  REQUIRE_THROWS_WITH(tg::gradcheck([](const Inputs& in) { return in[0] * in[0].detach(); }, {x}),
                      Catch::Matchers::Contains("gradcheck: Jacobian mismatch for input 0"));
}

TEST_CASE("gradcheck accepts a correct gradient and leaves the inputs' grads empty", "[grad][gradcheck]") {
  const Tensor x = positive64({3}, 2);
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0] * in[0]; }, {x}));
  CHECK_FALSE(x.grad().defined());
}

// ---- add, sub, mul, div with broadcasting -------------------------------------------------------

TEST_CASE("add, sub, mul, div: gradients through broadcasting (3,1) with (1,4)", "[grad][elementwise]") {
  const Tensor a = any64({3, 1}, 10), b = any64({1, 4}, 11);
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0] + in[1]; }, {a, b}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0] - in[1]; }, {a, b}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0] * in[1]; }, {a, b}));
  const Tensor d = positive64({1, 4}, 12);
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0] / in[1]; }, {a, d}));
}

TEST_CASE("add, sub, mul, div: gradients through broadcasting (2,3,4) with (4), both orders", "[grad][elementwise]") {
  const Tensor big = any64({2, 3, 4}, 20), small = any64({4}, 21);
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0] + in[1]; }, {big, small}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[1] + in[0]; }, {big, small}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0] - in[1]; }, {big, small}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[1] - in[0]; }, {big, small}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0] * in[1]; }, {big, small}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[1] * in[0]; }, {big, small}));
  const Tensor pbig = positive64({2, 3, 4}, 22), psmall = positive64({4}, 23);
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0] / in[1]; }, {big, psmall}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0] / in[1]; }, {small, pbig}));
}

TEST_CASE("binary ops: gradients through a 0-d operand", "[grad][elementwise]") {
  const Tensor s = leaf64(1.5), v = any64({3}, 30);
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0] * in[1]; }, {s, v}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[1] / in[0]; }, {s, v}));
}

TEST_CASE("binary ops: only the inputs that require grad receive one", "[grad][elementwise]") {
  const Tensor a = any64({2, 2}, 31);
  const Tensor b = tg::tensor({{1, 2}, {3, 4}}, tg::kFloat64);  // constant
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0] * in[1] + in[1] / in[0]; }, {a, b}));
  (a * b).sum().backward();
  CHECK_FALSE(b.grad().defined());
  CHECK(values(a.grad()) == std::vector<double>{1, 2, 3, 4});
}

TEST_CASE("tensor-scalar add, sub, mul, div, rsub, rdiv: gradients", "[grad][elementwise]") {
  const Tensor x = any64({2, 3}, 40), p = positive64({2, 3}, 41);
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0] + 2.5; }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return 2.5 + in[0]; }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0] - 1.5; }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return 1.5 - in[0]; }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::rsub(in[0], 1.5); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0] * -3.0; }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return -3.0 * in[0]; }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0] / 4.0; }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return 2.0 / in[0]; }, {p}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::rdiv(in[0], -2.0); }, {p}));
}

TEST_CASE("rsub and rdiv have the gradients -1 and -b/x^2", "[grad][elementwise]") {
  const Tensor x = leaf64({1.0, 2.0, 4.0});
  tg::rsub(x, 5.0).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{-1, -1, -1});
  x.zero_grad(true);
  tg::rdiv(x, 8.0).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{-8, -2, -0.5});
}

TEST_CASE("neg: gradient", "[grad][elementwise]") {
  CHECK(tg::gradcheck([](const Inputs& in) { return -in[0]; }, {any64({2, 3}, 50)}));
}

// ---- pow ------------------------------------------------------------------------------------------

TEST_CASE("pow with scalar exponents 2, 3, 0.5, -1, 1.7, 0, 1: gradients on positive inputs", "[grad][pow]") {
  const Tensor x = positive64({2, 3}, 60);
  for (double p : {2.0, 3.0, 0.5, -1.0, 1.7, 0.0, 1.0}) {
    INFO("exponent " << p);
    CHECK(tg::gradcheck([p](const Inputs& in) { return tg::pow(in[0], p); }, {x}));
  }
}

TEST_CASE("pow(x, 3) has gradient 3x^2", "[grad][pow]") {
  const Tensor x = leaf64({1.0, -2.0, 0.5});
  x.pow(3.0).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{3, 12, 0.75});
}

TEST_CASE("pow with a tensor exponent: gradients for base and exponent, with broadcasting", "[grad][pow]") {
  const Tensor base = positive64({2, 3}, 61), expo = uniform64({3}, -1.5, 2.5, 62);
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::pow(in[0], in[1]); }, {base, expo}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].pow(in[1]); },
                      {positive64({3}, 63), uniform64({2, 3}, -1, 2, 64)}));
}

// ---- unary functions -------------------------------------------------------------------------------

TEST_CASE("exp, log, sqrt, tanh, sigmoid: gradients", "[grad][unary]") {
  const Tensor x = any64({3, 4}, 70), p = positive64({3, 4}, 71);
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::exp(in[0]); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::log(in[0]); }, {p}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::sqrt(in[0]); }, {p}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::tanh(in[0]); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::sigmoid(in[0]); }, {x}));
}

TEST_CASE("abs and relu: gradients away from 0", "[grad][unary]") {
  const Tensor x = tg_test::away_from_zero64({3, 4}, 72);
  REQUIRE(tg::amin(tg::abs(x)).item() >= 0.5);
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::abs(in[0]); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::relu(in[0]); }, {x}));
}

TEST_CASE("abs and relu have gradient 0 at 0, like PyTorch", "[grad][unary]") {
  const Tensor x = leaf64({-2.0, 0.0, 3.0});
  tg::abs(x).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{-1, 0, 1});
  x.zero_grad(true);
  tg::relu(x).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{0, 0, 1});
}

TEST_CASE("a composition of unary ops: gradient", "[grad][unary]") {
  CHECK(
      tg::gradcheck([](const Inputs& in) { return tg::sigmoid(tg::tanh(in[0]) * 3.0) + tg::log(tg::exp(in[0]) + 1.0); },
                    {any64({5}, 73)}));
}

// ---- reductions ---------------------------------------------------------------------------------------

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

// ---- matmul ----------------------------------------------------------------------------------------

TEST_CASE("matmul: gradients in every torch.matmul case", "[grad][matmul]") {
  auto mm = [](const Inputs& in) { return tg::matmul(in[0], in[1]); };
  SECTION("1-D . 1-D (dot product)") { CHECK(tg::gradcheck(mm, {any64({4}, 120), any64({4}, 121)})); }
  SECTION("1-D . 2-D") { CHECK(tg::gradcheck(mm, {any64({3}, 122), any64({3, 4}, 123)})); }
  SECTION("2-D . 1-D") { CHECK(tg::gradcheck(mm, {any64({3, 4}, 124), any64({4}, 125)})); }
  SECTION("2-D . 2-D") { CHECK(tg::gradcheck(mm, {any64({3, 4}, 126), any64({4, 2}, 127)})); }
  SECTION("batched 3-D . 3-D") { CHECK(tg::gradcheck(mm, {any64({2, 3, 4}, 128), any64({2, 4, 2}, 129)})); }
  SECTION("broadcast batch [2,1,3,4] . [5,4,2]") {
    CHECK(tg::gradcheck(mm, {any64({2, 1, 3, 4}, 130), any64({5, 4, 2}, 131)}));
  }
  SECTION("broadcast batch [1,3,2] . [4,2,3]") {
    CHECK(tg::gradcheck(mm, {any64({1, 3, 2}, 132), any64({4, 2, 3}, 133)}));
  }
  SECTION("3-D . 2-D") { CHECK(tg::gradcheck(mm, {any64({2, 3, 4}, 134), any64({4, 5}, 135)})); }
  SECTION("2-D . 3-D") { CHECK(tg::gradcheck(mm, {any64({3, 4}, 136), any64({2, 4, 5}, 137)})); }
  SECTION("1-D . 3-D") { CHECK(tg::gradcheck(mm, {any64({4}, 138), any64({2, 4, 3}, 139)})); }
  SECTION("3-D . 1-D") { CHECK(tg::gradcheck(mm, {any64({2, 3, 4}, 140), any64({4}, 141)})); }
  SECTION("only one operand requires grad") {
    const Tensor fixed = tg::tensor({{1, -2}, {0.5, 3}, {2, 1}}, tg::kFloat64);
    CHECK(tg::gradcheck(mm, {any64({2, 3}, 142), fixed}));
    CHECK(tg::gradcheck([fixed](const Inputs& in) { return tg::matmul(fixed.t(), in[0]); }, {any64({3, 2}, 143)}));
  }
}

TEST_CASE("matmul: gradients with transposed and otherwise non-contiguous operands", "[grad][matmul]") {
  const Tensor a = any64({4, 3}, 150), b = any64({2, 4}, 151), w = any64({3, 4}, 152);
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::matmul(in[0].t(), in[1].t()); }, {a, b}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::matmul(in[0].t(), in[1]); }, {a, any64({4, 5}, 153)}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::matmul(in[0], in[1].t()); }, {w, any64({5, 4}, 154)}));
  // Batched, with the operand's last two dims swapped.
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::matmul(in[0].transpose(-2, -1), in[1]); },
                      {any64({2, 4, 3}, 155), any64({2, 4, 2}, 156)}));
  // Every other column: strides no BLAS layout can take (copied first).
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::matmul(in[0].slice(1, 0, 8, 2), in[1]); },
                      {any64({3, 8}, 157), any64({4, 2}, 158)}));
  // An expanded (stride-0) operand.
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    return tg::matmul(in[0], in[1].expand({4, 3}));
      },
      {any64({2, 4}, 159), any64({4, 1}, 160)}));
}

// ---- softmax family -----------------------------------------------------------------------------------

TEST_CASE("softmax and log_softmax: gradients over the last dim", "[grad][softmax]") {
  const Tensor x = any64({3, 5}, 170);
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::softmax(in[0], -1); }, {x}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::log_softmax(in[0], 1); }, {x}));
  const Tensor y = any64({2, 3, 4}, 171);
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].softmax(2); }, {y}));
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].log_softmax(-1); }, {y}));
}

TEST_CASE("softmax and log_softmax: gradients over an inner dim (dim 0 and dim 1 of a 3-D tensor)", "[grad][softmax]") {
  const Tensor x = any64({2, 3, 4}, 180);
  for (std::int64_t d : {0, 1, -2}) {
    INFO("dim " << d);
    CHECK(tg::gradcheck([d](const Inputs& in) { return tg::softmax(in[0], d); }, {x}));
    CHECK(tg::gradcheck([d](const Inputs& in) { return tg::log_softmax(in[0], d); }, {x}));
  }
}

TEST_CASE("softmax over the last dim of a transposed (non-contiguous) input: gradient", "[grad][softmax]") {
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::softmax(in[0].t(), -1); }, {any64({4, 3}, 181)}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::log_softmax(in[0].t(), -1); }, {any64({4, 3}, 182)}));
}

TEST_CASE("log_softmax with a one-hot upstream gradient has gradient onehot - softmax", "[grad][softmax]") {
  const Tensor x = leaf64({{0.0, 1.0, 2.0}});
  x.log_softmax(1).backward(tg::tensor({{0, 1, 0}}, tg::kFloat64));
  const double z = 1 + std::exp(1.0) + std::exp(2.0);
  CHECK(tg_test::all_close(values(x.grad()), {-1 / z, 1 - std::exp(1.0) / z, -std::exp(2.0) / z}, 1e-12));
}

// ---- views -----------------------------------------------------------------------------------------------

TEST_CASE("view ops: gradients", "[grad][views]") {
  const Tensor x = any64({2, 3, 4}, 190);
  SECTION("view") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].view({4, -1}) * 2.0; }, {x}));
  }
  SECTION("reshape as a view") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].reshape({6, 4}); }, {x}));
  }
  SECTION("reshape that copies (of a permuted tensor)") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].permute({2, 0, 1}).reshape({-1}); }, {x}));
  }
  SECTION("permute") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].permute({1, 2, 0}); }, {x}));
  }
  SECTION("transpose") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].transpose(0, -1); }, {x}));
  }
  SECTION("t") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].t(); }, {any64({3, 2}, 191)}));
  }
  SECTION("unsqueeze") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].unsqueeze(1); }, {x}));
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].unsqueeze(-1); }, {x}));
  }
  SECTION("squeeze all and squeeze(dim)") {
    const Tensor y = any64({2, 1, 3, 1}, 192);
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].squeeze(); }, {y}));
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].squeeze(1); }, {y}));
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].squeeze(-1); }, {y}));
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].squeeze(0); }, {y}));  // size 2: unchanged
  }
  SECTION("expand") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].expand({2, 3, 4}); }, {any64({3, 1}, 193)}));
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].expand({-1, 5}) * in[0]; }, {any64({3, 1}, 194)}));
  }
  SECTION("slice with step 2 and a negative start") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].slice(2, -4, 4, 2); }, {x}));
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].slice(0, 1, 7, 2); }, {any64({7, 2}, 195)}));
  }
  SECTION("select") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].select(1, -1); }, {x}));
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].select(0, 1) * in[0].select(0, 0); }, {x}));
  }
  SECTION("contiguous of a transposed tensor") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].transpose(0, 1).contiguous(); }, {x}));
  }
  SECTION("clone") {
    CHECK(tg::gradcheck([](const Inputs& in) { return in[0].clone() * in[0]; }, {x}));
  }
}

TEST_CASE("overlapping slices accumulate their gradients into the base", "[grad][views]") {
  const Tensor x = leaf64({1, 2, 3, 4, 5});
  (x.slice(0, 0, 3) + x.slice(0, 2, 5) * 2.0 + x.slice(0, -5, 5, 2) * 10.0).sum().backward();
  // slice(0,3)->[0,1,2]; slice(2,5)->[2,3,4] x2; step-2 slice->[0,2,4] x10.
  CHECK(values(x.grad()) == std::vector<double>{11, 1, 13, 2, 12});
}

// ---- dtype conversions --------------------------------------------------------------------------------

TEST_CASE("a float64 -> float32 -> float64 chain sends a float64 gradient back", "[grad][to]") {
  const Tensor x = leaf64({1.5, -2.0, 0.25});
  const Tensor y = x.to(tg::kFloat32);
  CHECK(y.dtype() == tg::kFloat32);
  CHECK(y.grad_fn_name() == "ToBackward");
  const Tensor z = (y * y).to(tg::kFloat64);
  z.sum().backward();
  REQUIRE(x.grad().defined());
  CHECK(x.grad().dtype() == tg::kFloat64);
  CHECK(values(x.grad()) == std::vector<double>{3.0, -4.0, 0.5});
}

TEST_CASE("to() with the same dtype is the identity and keeps the graph", "[grad][to]") {
  const Tensor x = leaf64({1.0});
  CHECK(x.to(tg::kFloat64).impl() == x.impl());
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0].to(tg::kFloat64) * 2.0; }, {any64({3}, 200)}));
}

// ---- in-place ops on non-leaf tensors -----------------------------------------------------------------

TEST_CASE("add_ on a non-leaf: gradients of the composition, with a broadcast operand", "[grad][inplace]") {
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    Tensor y = in[0] * 1.0;
    y.add_(in[1]);
    return y * y;
      },
      {any64({3, 4}, 210), any64({4}, 211)}));
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    Tensor y = in[0].exp();
    Tensor z = y * 2.0;
    z.add_(3.0);
    return z * in[0];
      },
      {any64({5}, 212)}));
}

TEST_CASE("mul_ on a non-leaf: gradients of the composition", "[grad][inplace]") {
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    Tensor y = in[0] * 1.0;
    y.mul_(in[1]);
    return y;
      },
      {any64({3, 4}, 220), any64({3, 4}, 221)}));
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    Tensor y = in[0].tanh();
    Tensor z = y * 1.0;
    z.mul_(in[1]);  // broadcast [4] into [3, 4]
    z.mul_(-2.5);
    return z.sum({0});
      },
      {any64({3, 4}, 222), any64({4}, 223)}));
}

TEST_CASE("y = x * 1, y.mul_(z) gives x the gradient z and z the gradient x", "[grad][inplace]") {
  const Tensor x = leaf64({1, 2, 3}), z = leaf64({4, 5, 6});
  Tensor y = x * 1.0;
  y.mul_(z);
  CHECK(y.grad_fn_name() == "MulBackward");
  y.sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{4, 5, 6});
  CHECK(values(z.grad()) == std::vector<double>{1, 2, 3});
}

TEST_CASE("y.mul_(y) squares y and gives x the gradient 2x", "[grad][inplace]") {
  // Regression: mul_ once saved `o` (here y itself) after the write, so backward multiplied by
  // the new value y^2 instead of the old y (fixed in 3acc932).
  const Tensor x = leaf64({1, 2, 3});
  Tensor y = x * 1.0;
  y.mul_(y);
  CHECK(values(y) == std::vector<double>{1, 4, 9});
  y.sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{2, 4, 6});
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    Tensor t = in[0] * 1.0;
    t.mul_(t);
    return t;
      },
      {any64({4}, 224)}));
}

TEST_CASE("copy_ into a non-leaf: the gradient goes to the source, none to the overwritten values", "[grad][inplace]") {
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    Tensor y = in[0] * 1.0;
    y.copy_(tg::tanh(in[1]));  // [4] broadcast into [3, 4]
    return y * in[0];
      },
      {any64({3, 4}, 230), any64({4}, 231)}));
  const Tensor x = leaf64({1, 2}), z = leaf64({7, 8});
  Tensor y = x * 3.0;
  y.copy_(z);
  (y * 2.0).sum().backward();
  CHECK(values(z.grad()) == std::vector<double>{2, 2});
  CHECK((!x.grad().defined() || values(x.grad()) == std::vector<double>{0, 0}));
}

TEST_CASE("copy_ into a tensor that does not require grad makes it part of the graph", "[grad][inplace]") {
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    Tensor d = tg::zeros({2, 3}, tg::kFloat64);
    d.copy_(in[0]);
    return d * in[0];
      },
      {any64({2, 3}, 232)}));
  const Tensor src = leaf64({1.0, 2.0});
  const Tensor dst = tg::zeros({2}, tg::kFloat32);
  dst.copy_(src);  // float64 -> float32
  CHECK(dst.grad_fn_name() == "CopyBackward");
  (dst * 4.0).sum().backward();
  CHECK(src.grad().dtype() == tg::kFloat64);
  CHECK(values(src.grad()) == std::vector<double>{4, 4});
}

TEST_CASE("fill_ on a non-leaf cuts the gradient to the filled values", "[grad][inplace]") {
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    Tensor y = in[0] * 1.0;
    y.fill_(2.0);
    return y * in[0];
      },
      {any64({3}, 240)}));
  const Tensor x = leaf64({1, 2, 3});
  Tensor y = x * 5.0;
  y.fill_(2.0);
  (y * x).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{2, 2, 2});  // only through the second factor
}

TEST_CASE("a chain of in-place ops on one non-leaf: gradient", "[grad][inplace]") {
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    Tensor y = in[0] * 1.0;
    y.mul_(in[1]);
    y.add_(in[1]);
    y.mul_(0.5);
    y.add_(-1.0);
    return y.exp();
      },
      {any64({2, 3}, 250), any64({3}, 251)}));
}

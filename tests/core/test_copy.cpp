// Copies and in-place ops (core/src/ops/copy.cpp): to, contiguous, clone, add_, mul_, copy_,
// fill_; version counters, gradients and bad inputs.
#include "support/prelude.h"

TEST_CASE("in-place ops write the expected values and bump the version counter by one each", "[values][inplace]") {
  const Tensor t = tg::tensor({{1, 2, 3}, {4, 5, 6}});
  const std::uint64_t v0 = t.version();
  t.add_(tg::tensor({10, 20, 30}));  // broadcast [3] into [2, 3]
  CHECK(values(t) == std::vector<double>{11, 22, 33, 14, 25, 36});
  CHECK(t.version() == v0 + 1);
  t.mul_(tg::tensor({{2}, {-1}}));
  CHECK(values(t) == std::vector<double>{22, 44, 66, -14, -25, -36});
  CHECK(t.version() == v0 + 2);
  t.add_(0.5);
  CHECK(values(t) == std::vector<double>{22.5, 44.5, 66.5, -13.5, -24.5, -35.5});
  t.mul_(2.0);
  CHECK(values(t) == std::vector<double>{45, 89, 133, -27, -49, -71});
  CHECK(t.version() == v0 + 4);
  t.fill_(7.0);
  CHECK(values(t) == std::vector<double>(6, 7.0));
  t.zero_();
  CHECK(values(t) == std::vector<double>(6, 0.0));
  CHECK(t.version() == v0 + 6);
  t.copy_(tg::tensor({1, 2, 3}, tg::kInt64));  // broadcast and convert
  CHECK(values(t) == std::vector<double>{1, 2, 3, 1, 2, 3});
  CHECK(t.version() == v0 + 7);
}

TEST_CASE("out-of-place ops and reads leave the version counter alone", "[values][inplace]") {
  const Tensor t = tg::ones({3});
  const std::uint64_t v0 = t.version();
  const Tensor u = t + 1.0;
  (void)t.sum();
  (void)t.to_vector<float>();
  (void)t.view({3, 1});
  CHECK(t.version() == v0);
  CHECK(u.version() == 0);
}

TEST_CASE("in-place ops with the tensor itself as operand", "[values][inplace]") {
  const Tensor t = tg::tensor({1, 2, 3});
  t.add_(t);
  CHECK(values(t) == std::vector<double>{2, 4, 6});
  t.mul_(t);
  CHECK(values(t) == std::vector<double>{4, 16, 36});
  // A reversed view of itself: the source is read before it is overwritten.
  const Tensor r = tg::tensor({{1, 2}, {3, 4}});
  r.add_(r.t());
  CHECK(values(r) == std::vector<double>{2, 5, 5, 8});
}

TEST_CASE("in-place ops on int64 tensors stay integral", "[values][inplace]") {
  const Tensor t = tg::arange(4);
  t.mul_(3.0);
  t.add_(tg::tensor({1, 1, 1, 1}, tg::kInt64));
  CHECK(t.dtype() == tg::kInt64);
  CHECK(t.to_vector<std::int64_t>() == I64{1, 4, 7, 10});
}

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

TEST_CASE("in-place ops reject operands that do not broadcast to self's shape", "[bad_input][broadcast]") {
  CHECK_TG_ERROR(tg::ones({3}).add_(tg::ones({2, 3})),
                 Equals("add_: the other tensor's shape [2, 3] does not broadcast to self's shape [3]"));
  CHECK_TG_ERROR(tg::ones({2, 3}).mul_(tg::ones({4})), Contains("mul_") && Contains("[2, 3]") && Contains("[4]"));
  CHECK_TG_ERROR(tg::ones({3}).copy_(tg::ones({2, 3})), Contains("copy_") && Contains("[2, 3]") && Contains("[3]"));
  CHECK_TG_ERROR(tg::ones({3}).copy_(tg::ones({2})), Contains("copy_") && Contains("[3]") && Contains("[2]"));
}

TEST_CASE("in-place writes into an expanded tensor are errors naming the stride-0 dim", "[bad_input][inplace]") {
  const Tensor e = tg::zeros({3, 1}).expand({3, 4});
  CHECK_TG_ERROR(e.add_(1.0), Equals("add_: cannot write in place into a tensor whose elements overlap (dim 1 of shape "
                                     "[3, 4] has stride 0, as made by expand()); clone() it first"));
  CHECK_TG_ERROR(e.fill_(2.0), StartsWith("fill_: cannot write in place") && Contains("dim 1"));
  CHECK_TG_ERROR(e.mul_(tg::ones({3, 4})), StartsWith("mul_: cannot write in place"));
  CHECK_TG_ERROR(e.copy_(tg::ones({3, 4})), StartsWith("copy_: cannot write in place"));
  CHECK_NOTHROW(e.clone().add_(1.0));
}

TEST_CASE("in-place ops that would need a wider dtype are errors naming both dtypes", "[bad_input][inplace]") {
  const Tensor i = tg::arange(3);
  CHECK_TG_ERROR(i.add_(tg::ones({3})),
                 Equals("add_: the result type float32 cannot be written in place into a int64 tensor"));
  CHECK_TG_ERROR(i.add_(0.5), Contains("add_") && Contains("0.5") && Contains("int64"));
  CHECK_TG_ERROR(i.mul_(1.5), Contains("mul_") && Contains("1.5") && Contains("int64"));
}

TEST_CASE("in-place writes into an expanded tensor (overlapping elements) are errors naming the op and the dim",
          "[model-ops][bad_input][inplace]") {
  const Tensor base = tg::tensor({{-1.0}, {2.0}});
  const Tensor wide = base.expand({2, 3});
  CHECK_TG_ERROR(tg::relu_(wide), Contains("relu_") && Contains("overlap") && Contains("dim 1") && Contains("[2, 3]"));
  CHECK_TG_ERROR(tg::leaky_relu_(wide), Contains("leaky_relu_") && Contains("overlap"));
  CHECK_TG_ERROR(tg::clamp_(wide, 0.0), Contains("clamp_") && Contains("overlap"));
  CHECK_TG_ERROR(tg::masked_fill_(wide, tg::ones({2, 3}, tg::kBool), 0.0),
                 Contains("masked_fill_") && Contains("overlap"));
  CHECK(tg_test::values(base) == std::vector<double>{-1, 2});
}

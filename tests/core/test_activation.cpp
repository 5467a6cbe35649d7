// Activations (tapegrad/core/ops/activation.h): leaky_relu, elu, gelu, silu, softplus and
// the in-place relu_; values and gradients.
#include "support/prelude.h"

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

TEST_CASE("gelu with an unknown approximation, softplus with beta <= 0, dropout with p below 0 or above 1",
          "[model-ops][bad_input][activation]") {
  const Tensor x = tg::ones({3});
  CHECK_TG_ERROR(tg::gelu(x, "fast"), Contains("gelu") && Contains("\"fast\"") && Contains("none") && Contains("tanh"));
  CHECK_TG_ERROR(tg::gelu(x, "Tanh"), Contains("gelu") && Contains("\"Tanh\""));
  CHECK_TG_ERROR(tg::softplus(x, 0.0), Contains("softplus") && Contains("beta") && Contains("got 0"));
  CHECK_TG_ERROR(tg::softplus(x, -2.0), Contains("softplus") && Contains("got -2"));
  CHECK_TG_ERROR(tg::dropout(x, 1.5), Contains("dropout") && Contains("[0, 1]") && Contains("1.5"));
  CHECK_TG_ERROR(tg::dropout(x, -0.1), Contains("dropout") && Contains("-0.1"));
  CHECK_TG_ERROR(tg::dropout(x, 2.0, /*training=*/false), Contains("dropout") && Contains("got 2"));
}

TEST_CASE("leaky_relu_ with a negative slope while recording cannot be differentiated and says so",
          "[model-ops][bad_input][inplace]") {
  const Tensor leaf = tg::ones({3}, tg::kFloat64).requires_grad_();
  const Tensor y = leaf * 2.0;
  CHECK_TG_ERROR(tg::leaky_relu_(y, -0.1), Contains("leaky_relu_") && Contains("-0.1") && Contains("slope"));
  // Without recording a negative slope is fine.
  const Tensor plain = tg::tensor({-1.0, 2.0});
  tg::leaky_relu_(plain, -0.5);
  CHECK(tg_test::values(plain) == std::vector<double>{0.5, 2});
  {
    tg::NoGradGuard guard;
    CHECK_NOTHROW(tg::leaky_relu_(y, -0.1));
  }
}

TEST_CASE("relu_, leaky_relu_, clamp_, masked_fill_ on a leaf that requires grad are errors naming the op",
          "[model-ops][bad_input][inplace]") {
  const Tensor leaf = tg::ones({3}).requires_grad_();
  CHECK_TG_ERROR(tg::relu_(leaf), Contains("relu_") && Contains("leaf") && Contains("[3]"));
  CHECK_TG_ERROR(tg::leaky_relu_(leaf), Contains("leaky_relu_") && Contains("leaf"));
  CHECK_TG_ERROR(tg::clamp_(leaf, 0.0), Contains("clamp_") && Contains("leaf"));
  CHECK_TG_ERROR(tg::masked_fill_(leaf, tg::ones({3}, tg::kBool), 0.0), Contains("masked_fill_") && Contains("leaf"));
  CHECK(tg_test::values(leaf) == std::vector<double>{1, 1, 1});  // nothing was written
  tg::NoGradGuard guard;
  CHECK_NOTHROW(tg::relu_(leaf));
}

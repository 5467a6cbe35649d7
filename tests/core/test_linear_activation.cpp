// linear_activation (tapegrad/core/ops/linalg.h): the fused act(x W^T + b) against
// its composition act(linear(x, W, b)) in forward and every gradient, gradient checks, bit
// identity with 1 and 2 threads, and bad inputs.
#include "support/prelude.h"
#include "tapegrad/core/ops/activation.h"
#include "tapegrad/core/ops/linalg.h"

namespace {

Tensor composed(const Tensor& x, const Tensor& w, const Tensor& b, std::string_view act) {
  const Tensor y = tg::linear(x, w, b);
  return act == "relu" ? tg::relu(y) : tg::gelu(y);
}

/// The output and the gradients of x, w and b (b when defined) under a weighting that is not
/// symmetric, from f(x, w, b).
std::vector<Tensor> forward_and_grads(const std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>& f,
                                      const Tensor& x, const Tensor& w, const Tensor& b) {
  std::vector<Tensor> leaves{x, w};
  if (b.defined()) leaves.push_back(b);
  for (const Tensor& l : leaves) l.zero_grad(true);
  const Tensor y = f(x, w, b);
  const Tensor weights = tg::arange(0, static_cast<double>(y.numel()), 1, y.dtype()).reshape(y.shape().vec()) * 0.01;
  (y * weights).sum().backward();
  std::vector<Tensor> out{y.detach()};
  for (const Tensor& l : leaves) out.push_back(l.grad());
  return out;
}

Tensor leaf(Tensor t) {
  t.requires_grad_();
  return t;
}

}  // namespace

TEST_CASE("linear_activation relu is bit-identical to relu(linear(...)), forward and every gradient",
          "[linear_activation]") {
  for (const bool with_bias : {true, false}) {
    INFO("bias " << with_bias);
    tg::manual_seed(3);
    const Tensor x = leaf(tg::randn({4, 33, 40})), w = leaf(tg::randn({72, 40}));
    const Tensor b = with_bias ? leaf(tg::randn({72})) : Tensor();
    const auto got = forward_and_grads(
        [](const Tensor& x, const Tensor& w, const Tensor& b) { return tg::linear_activation(x, w, b, "relu"); }, x, w,
        b);
    const auto want = forward_and_grads(
        [](const Tensor& x, const Tensor& w, const Tensor& b) { return composed(x, w, b, "relu"); }, x, w, b);
    REQUIRE(got.size() == want.size());
    CHECK(got[0].shape().vec() == std::vector<std::int64_t>{4, 33, 72});
    for (std::size_t i = 0; i < got.size(); ++i) {
      INFO("result " << i);
      CHECK(same_bits(got[i], want[i]));
    }
  }
}

TEST_CASE("linear_activation gelu equals gelu(linear(...)) to rounding, forward and every gradient",
          "[linear_activation]") {
  tg::manual_seed(4);
  for (const tg::DType dtype : {tg::kFloat32, tg::kFloat64}) {
    const double tol = dtype == tg::kFloat32 ? 1e-5 : 1e-12;
    const Tensor x = leaf(tg::randn({17, 24}).to(dtype)), w = leaf(tg::randn({40, 24}).to(dtype));
    const Tensor b = leaf(tg::randn({40}).to(dtype));
    const auto got = forward_and_grads(
        [](const Tensor& x, const Tensor& w, const Tensor& b) { return tg::linear_activation(x, w, b, "gelu"); }, x, w,
        b);
    const auto want = forward_and_grads(
        [](const Tensor& x, const Tensor& w, const Tensor& b) { return composed(x, w, b, "gelu"); }, x, w, b);
    for (std::size_t i = 0; i < got.size(); ++i) {
      INFO("dtype " << tg::dtype_name(dtype) << ", result " << i);
      CHECK(all_close(values(got[i]), values(want[i]), tol, tol));
    }
  }
}

TEST_CASE("linear_activation: one node, and the composition's values for large products", "[linear_activation]") {
  tg::manual_seed(5);
  const Tensor x = leaf(tg::randn({600, 256})), w = leaf(tg::randn({1024, 256})), b = leaf(tg::randn({1024}));
  const Tensor y = tg::linear_activation(x, w, b, "relu");
  CHECK(y.grad_fn_name() == "LinearActivationBackward");
  CHECK(same_bits(y, tg::relu(tg::linear(x, w, b))));
  // Wider than tall: the product is cut into column blocks, each task's epilogue a strip.
  const Tensor xs = tg::randn({40, 256}), ws = tg::randn({4096, 256});
  CHECK(same_bits(tg::linear_activation(xs, ws, Tensor(), "relu"), tg::relu(tg::linear(xs, ws))));
  CHECK(all_close(values(tg::linear_activation(xs, ws, Tensor(), "gelu")), values(tg::gelu(tg::linear(xs, ws))), 1e-5,
                  1e-5));
}

TEST_CASE("linear_activation: gradient checks for relu and gelu, with and without bias", "[linear_activation][grad]") {
  // relu's kink at 0 is kept away from: inputs in (0.2, 1) and positive weights give
  // pre-activations far from 0; the negative bias of some outputs sends those below it.
  auto relu_op = [](const Inputs& in) { return tg::linear_activation(in[0], in[1], in[2], "relu"); };
  CHECK(tg::gradcheck(relu_op, {uniform64({3, 4}, 0.2, 1, 41), uniform64({5, 4}, 0.2, 1, 42),
                                tg::tensor({-9.0, 0.5, -9.0, 1.0, 0.25}, tg::kFloat64)}));
  auto gelu_op = [](const Inputs& in) { return tg::linear_activation(in[0], in[1], in[2], "gelu"); };
  CHECK(tg::gradcheck(gelu_op,
                      {uniform64({2, 3, 4}, -1, 1, 43), uniform64({5, 4}, -1, 1, 44), uniform64({5}, -1, 1, 45)}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::linear_activation(in[0].t(), in[1], Tensor(), "gelu"); },
                      {uniform64({4, 3}, -1, 1, 46), uniform64({2, 4}, -1, 1, 47)}));
}

TEST_CASE("linear_activation: results are bit-identical with 1 and 2 threads", "[linear_activation][threads]") {
  check_same_bits_on_1_and_2_threads([] {
    tg::manual_seed(6);
    std::vector<Tensor> out;
    for (const char* act : {"relu", "gelu"}) {
      const Tensor x = leaf(tg::randn({1024, 256})), w = leaf(tg::randn({1024, 256})), b = leaf(tg::randn({1024}));
      const auto r = forward_and_grads(
          [act](const Tensor& x, const Tensor& w, const Tensor& b) { return tg::linear_activation(x, w, b, act); }, x,
          w, b);
      out.insert(out.end(), r.begin(), r.end());
    }
    return out;
  });
}

TEST_CASE("linear_activation: empty inputs and K = 0", "[linear_activation]") {
  const Tensor w = tg::ones({3, 2}), b = tg::tensor({1.0f, -1.0f, 0.5f});
  CHECK(tg::linear_activation(tg::zeros({0, 2}), w, b, "relu").shape().vec() == std::vector<std::int64_t>{0, 3});
  // No input features: the output is act(bias) on every row.
  const Tensor y = tg::linear_activation(tg::zeros({2, 0}), tg::zeros({3, 0}), b, "relu");
  CHECK(values(y) == std::vector<double>{1, 0, 0.5, 1, 0, 0.5});
}

TEST_CASE("linear_activation: bad input names the op and the values", "[linear_activation][bad-input]") {
  const Tensor w = tg::zeros({4, 3}), b = tg::zeros({4});
  CHECK_THROWS_AS(tg::linear_activation(tg::zeros({2, 3}), w, b, "tanh"), tg::Error);
  CHECK_THROWS_WITH(tg::linear_activation(tg::zeros({2, 3}), w, b, "tanh"),
                    Contains("linear_activation: activation must be \"relu\" or \"gelu\", got \"tanh\""));
  CHECK_THROWS_WITH(tg::linear_activation(tg::zeros({2, 5}), w, b, "relu"),
                    Contains("linear_activation: input has 5 features (shape [2, 5]) but the weight expects 3"));
  CHECK_THROWS_WITH(tg::linear_activation(tg::zeros({2, 3}), tg::zeros({4, 3, 1}), b, "relu"),
                    Contains("linear_activation: weight must be 2-D [out_features, in_features], got shape [4, 3, 1]"));
  CHECK_THROWS_WITH(tg::linear_activation(tg::zeros({2, 3}), w, tg::zeros({3}), "gelu"),
                    Contains("linear_activation: bias must have shape [4], got [3]"));
  CHECK_THROWS_WITH(tg::linear_activation(tg::zeros({2, 3}, tg::kInt64), w, b, "relu"),
                    Contains("linear_activation: expected a floating input of the weight's dtype float32, got int64"));
  CHECK_THROWS_WITH(tg::linear_activation(tg::zeros({2, 3}), w, tg::zeros({4}, tg::kFloat64), "relu"),
                    Contains("linear_activation: bias has dtype float64, the weight float32"));
}

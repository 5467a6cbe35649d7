// softmax and log_softmax (tapegrad/core/ops/softmax.h): values, stability, gradients.
#include "support/prelude.h"

TEST_CASE("softmax rows sum to 1 and match exp(x) / sum(exp(x))", "[values][softmax]") {
  const Tensor x = randn64({4, 7}, 1) * 3.0;
  const Tensor y = x.softmax(-1);
  const std::vector<double> xs = values(x), ys = values(y), sums = values(y.sum({1}));
  CHECK(all_close(sums, std::vector<double>(4, 1.0), 1e-15));
  for (int r = 0; r < 4; ++r) {
    double z = 0;
    for (int c = 0; c < 7; ++c) z += std::exp(xs[r * 7 + c]);
    for (int c = 0; c < 7; ++c) CHECK(ys[r * 7 + c] == Approx(std::exp(xs[r * 7 + c]) / z).epsilon(1e-14));
  }
}

TEST_CASE("softmax is stable for logits like 1000 and -1000 (no inf, no nan)", "[values][softmax]") {
  const Tensor x = tg::tensor({{1000, 0, -1000}, {1000, 1000, -1000}, {-1000, -1000, -1000}});
  const float third = 1.0f / 3.0f;
  CHECK(x.softmax(1).to_vector<float>() == std::vector<float>{1, 0, 0, 0.5f, 0.5f, 0, third, third, third});
  const std::vector<double> l = values(x.log_softmax(1));
  CHECK(l[0] == 0.0);
  CHECK(l[1] == -1000.0);
  CHECK(l[2] == -2000.0);
  CHECK(l[5] == Approx(-2000 - std::log(2.0)).epsilon(1e-6));
  for (double v : l) CHECK(std::isfinite(v));
}

TEST_CASE("log_softmax of large equal logits is -log(n) to float32 precision", "[values][softmax]") {
  // PyTorch computes (x - max) - log(sum): log_softmax([1000, 1000]) = [-0.6931472, -0.6931472].
  // Regression: the fused row kernel computed x - (max + log(sum)), rounding max + log(sum) to
  // float32 first (spacing 6.1e-5 at 1000), before 3acc932.
  const Tensor x = tg::tensor({{1000, 1000, -1000}, {-1000, -1000, -1000}, {1e6, 1e6, 0}});
  const std::vector<float> l = x.log_softmax(1).to_vector<float>();
  const float log2 = static_cast<float>(-std::log(2.0)), log3 = static_cast<float>(-std::log(3.0));
  CHECK(l[0] == Approx(log2).epsilon(1e-6));
  CHECK(l[1] == Approx(log2).epsilon(1e-6));
  CHECK(l[3] == Approx(log3).epsilon(1e-6));
  CHECK(l[6] == Approx(log2).epsilon(1e-6));
}

TEST_CASE("softmax over an inner dim (dim 0) is stable for large logits too", "[values][softmax]") {
  const Tensor x = tg::tensor({{1000, -1000}, {0, -1000}});
  CHECK(values(x.softmax(0)) == std::vector<double>{1, 0.5, 0, 0.5});
  const std::vector<double> l = values(x.log_softmax(0));
  CHECK(l[0] == 0.0);
  CHECK(l[2] == -1000.0);
  CHECK(l[1] == Approx(-std::log(2.0)).epsilon(1e-6));
}

TEST_CASE("softmax gives -inf logits probability 0", "[values][softmax]") {
  const Tensor x = tg::tensor({0.0, -kInf, 0.0});
  CHECK(values(x.softmax(0)) == std::vector<double>{0.5, 0, 0.5});
  const std::vector<double> l = values(x.log_softmax(0));
  CHECK(l[1] == -kInf);
  CHECK(l[0] == Approx(-std::log(2.0)).epsilon(1e-6));
}

TEST_CASE("log_softmax equals log(softmax) for moderate values, over every dim", "[values][softmax]") {
  const Tensor x = randn64({3, 4, 5}, 2) * 4.0;
  for (std::int64_t d : {0, 1, 2, -1}) {
    INFO("dim " << d);
    CHECK(all_close(values(x.log_softmax(d)), values(tg::log(x.softmax(d))), 1e-13, 1e-14));
  }
  const Tensor xf = x.to(tg::kFloat32);
  CHECK(all_close(values(xf.log_softmax(-1)), values(tg::log(xf.softmax(-1))), 2e-6, 2e-6));
}

TEST_CASE("softmax over dim 0 and dim 1 of a 3-D tensor matches the last-dim kernel on a permuted copy",
          "[values][softmax]") {
  const Tensor x = randn64({2, 3, 4}, 3);
  const Tensor via_last = x.transpose(0, 2).contiguous().softmax(-1).transpose(0, 2);
  CHECK(all_close(values(x.softmax(0)), values(via_last), 1e-14));
  CHECK(all_close(values(x.softmax(0).sum({0})), std::vector<double>(12, 1.0), 1e-15));
  const Tensor s1 = x.softmax(1);
  const Tensor ref1 = x.transpose(1, 2).softmax(-1).transpose(1, 2);
  CHECK(all_close(values(s1), values(ref1), 1e-14));
  CHECK(all_close(values(s1.sum({1})), std::vector<double>(8, 1.0), 1e-15));
}

TEST_CASE("softmax of a 0-d tensor is 1", "[values][softmax]") {
  CHECK(tg::scalar_tensor(5.0).softmax(0).item() == 1.0);
  CHECK(tg::scalar_tensor(5.0).log_softmax(-1).item() == 0.0);
}

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

// Parameter initialisation (tg::nn::init): the bounds and moments of each distribution on large
// tensors with fixed seeds, the formulas of xavier and kaiming (std within 2%), orthogonality,
// PyTorch's gains and fans, reproducibility, and the error messages of bad arguments.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "support/helpers.h"
#include "tapegrad/core.h"
#include "tapegrad/nn/init.h"

using tg_test::error_of;

namespace init = tg::nn::init;
using Catch::Matchers::Contains;
using init::FanMode;
using tg::Tensor;

namespace {

/// Bounds are computed in double and the samples stored in float32: allow one rounding.
constexpr double kRounding = 1.0 + 1e-6;

struct Moments {
  double mean = 0, std = 0, min = 0, max = 0;
};

Moments moments(const Tensor& t) {
  const std::vector<double> v = t.to(tg::kFloat64).to_vector<double>();
  Moments m;
  m.min = m.max = v.at(0);
  for (double x : v) {
    m.mean += x;
    m.min = std::min(m.min, x);
    m.max = std::max(m.max, x);
  }
  m.mean /= static_cast<double>(v.size());
  for (double x : v) m.std += (x - m.mean) * (x - m.mean);
  m.std = std::sqrt(m.std / static_cast<double>(v.size() - 1));
  return m;
}

/// max |A A^T - scale I| of a 2-D tensor, computed in float64 from its stored values.
double orthogonality_error(const Tensor& a, double scale = 1.0) {
  const Tensor w = a.to(tg::kFloat64);
  const Tensor gram = tg::matmul(w, w.t());
  const Tensor eye = tg::mul(tg::eye(w.size(0), -1, tg::kFloat64), scale);
  return tg::amax(tg::abs(tg::sub(gram, eye))).item();
}

}  // namespace

// ---- fans and gains -----------------------------------------------------------------------------

TEST_CASE("init: fan_in and fan_out of Linear and convolution weights follow PyTorch", "[init]") {
  const init::Fans linear = init::calculate_fan_in_and_fan_out(tg::empty({10, 20}));  // [out, in]
  CHECK(linear.fan_in == 20);
  CHECK(linear.fan_out == 10);
  const init::Fans conv2d = init::calculate_fan_in_and_fan_out(tg::empty({8, 3, 5, 5}));  // [O, C, kh, kw]
  CHECK(conv2d.fan_in == 75);
  CHECK(conv2d.fan_out == 200);
  const init::Fans conv1d = init::calculate_fan_in_and_fan_out(tg::empty({6, 4, 3}));
  CHECK(conv1d.fan_in == 12);
  CHECK(conv1d.fan_out == 18);
}

TEST_CASE("init: calculate_gain gives PyTorch's numbers", "[init]") {
  for (const char* one :
       {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid"})
    CHECK(init::calculate_gain(one) == 1.0);
  // The values torch.nn.init.calculate_gain returns (PyTorch 1.13), to the last digit.
  CHECK(init::calculate_gain("tanh") == Approx(1.6666666666666667).epsilon(1e-15));
  CHECK(init::calculate_gain("relu") == Approx(1.4142135623730951).epsilon(1e-15));
  CHECK(init::calculate_gain("leaky_relu") == Approx(1.4141428569978354).epsilon(1e-15));
  CHECK(init::calculate_gain("leaky_relu", 0.2) == Approx(1.3867504905630728).epsilon(1e-15));
  CHECK(init::calculate_gain("leaky_relu", std::sqrt(5.0)) == Approx(0.5773502691896257).epsilon(1e-15));
  CHECK(init::calculate_gain("selu") == 0.75);
}

// ---- simple distributions -------------------------------------------------------------------------

TEST_CASE("init: uniform_ stays in (a, b) with the mean and std of U(a, b)", "[init]") {
  tg::Generator gen(7);
  const Tensor t = tg::empty({1000, 1000});
  init::uniform_(t, -2.0, 3.0, &gen);
  const Moments m = moments(t);
  CHECK(m.min >= -2.0);
  CHECK(m.max <= 3.0);
  CHECK(m.min < -1.99);
  CHECK(m.max > 2.99);
  CHECK(m.mean == Approx(0.5).margin(0.01));
  CHECK(m.std == Approx(5.0 / std::sqrt(12.0)).epsilon(0.02));
}

TEST_CASE("init: normal_ has the requested mean and std", "[init]") {
  tg::Generator gen(8);
  const Tensor t = tg::empty({1000, 1000}, tg::kFloat64);
  init::normal_(t, 1.5, 0.5, &gen);
  const Moments m = moments(t);
  CHECK(m.mean == Approx(1.5).margin(0.005));
  CHECK(m.std == Approx(0.5).epsilon(0.02));
}

TEST_CASE("init: constant_, zeros_ and ones_ fill every element", "[init]") {
  const Tensor t = tg::empty({3, 4});
  init::constant_(t, 0.25);
  CHECK(moments(t).min == 0.25);
  CHECK(moments(t).max == 0.25);
  init::zeros_(t);
  CHECK(moments(t).max == 0.0);
  init::ones_(t);
  CHECK(moments(t).min == 1.0);
  const Tensor i = tg::empty({2}, tg::kInt64);
  init::constant_(i, 3);
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 3});
}

// ---- xavier and kaiming ----------------------------------------------------------------------------

TEST_CASE("init: xavier_uniform_ and xavier_normal_ follow Glorot's formulas", "[init]") {
  tg::Generator gen(9);
  const Tensor w = tg::empty({300, 700});  // fan_in 700, fan_out 300
  for (double gain : {1.0, 2.0}) {
    INFO("gain " << gain);
    const double std_dev = gain * std::sqrt(2.0 / 1000.0);
    init::xavier_uniform_(w, gain, &gen);
    Moments m = moments(w);
    const double a = gain * std::sqrt(6.0 / 1000.0);
    CHECK(m.max <= a * kRounding);
    CHECK(m.min >= -a * kRounding);
    CHECK(m.max > 0.99 * a);
    CHECK(m.std == Approx(std_dev).epsilon(0.02));
    init::xavier_normal_(w, gain, &gen);
    m = moments(w);
    CHECK(m.mean == Approx(0.0).margin(0.01 * std_dev));
    CHECK(m.std == Approx(std_dev).epsilon(0.02));
  }
}

TEST_CASE("init: kaiming_uniform_ and kaiming_normal_ follow He's formulas for each mode", "[init]") {
  tg::Generator gen(10);
  const Tensor w = tg::empty({128, 64, 3, 3});  // fan_in 576, fan_out 1152
  SECTION("uniform, default a = 0 with leaky_relu: bound sqrt(6 / fan_in)") {
    init::kaiming_uniform_(w, 0.0, FanMode::FanIn, "leaky_relu", &gen);
    const Moments m = moments(w);
    const double bound = std::sqrt(6.0 / 576.0);
    CHECK(m.max <= bound * kRounding);
    CHECK(m.min >= -bound * kRounding);
    CHECK(m.max > 0.99 * bound);
    CHECK(m.std == Approx(bound / std::sqrt(3.0)).epsilon(0.02));
  }
  SECTION("uniform, a = sqrt(5) (nn.Linear's default): bound 1 / sqrt(fan_in)") {
    init::kaiming_uniform_(w, std::sqrt(5.0), FanMode::FanIn, "leaky_relu", &gen);
    const Moments m = moments(w);
    const double bound = 1.0 / std::sqrt(576.0);
    CHECK(m.max <= bound * kRounding);
    CHECK(m.max > 0.99 * bound);
    CHECK(m.std == Approx(bound / std::sqrt(3.0)).epsilon(0.02));
  }
  SECTION("uniform, fan_out with relu") {
    init::kaiming_uniform_(w, 0.0, FanMode::FanOut, "relu", &gen);
    const Moments m = moments(w);
    CHECK(m.max <= std::sqrt(6.0 / 1152.0) * kRounding);
    CHECK(m.std == Approx(std::sqrt(2.0 / 1152.0)).epsilon(0.02));
  }
  SECTION("normal, fan_in with relu: std sqrt(2 / fan_in)") {
    init::kaiming_normal_(w, 0.0, FanMode::FanIn, "relu", &gen);
    const Moments m = moments(w);
    CHECK(m.mean == Approx(0.0).margin(0.01 * std::sqrt(2.0 / 576.0)));
    CHECK(m.std == Approx(std::sqrt(2.0 / 576.0)).epsilon(0.02));
  }
  SECTION("normal, fan_out with tanh: std (5/3) / sqrt(fan_out)") {
    init::kaiming_normal_(w, 0.0, FanMode::FanOut, "tanh", &gen);
    CHECK(moments(w).std == Approx(5.0 / 3.0 / std::sqrt(1152.0)).epsilon(0.02));
  }
}

// ---- orthogonal ---------------------------------------------------------------------------------

TEST_CASE("init: orthogonal_ gives orthonormal rows (wide) or columns (tall)", "[init]") {
  tg::Generator gen(11);
  const Tensor wide = tg::empty({64, 256});
  init::orthogonal_(wide, 1.0, &gen);
  CHECK(orthogonality_error(wide) < 1e-5);  // W W^T = I
  const Tensor tall = tg::empty({256, 64});
  init::orthogonal_(tall, 1.0, &gen);
  CHECK(orthogonality_error(tall.t()) < 1e-5);  // W^T W = I
  const Tensor square = tg::empty({128, 128});
  init::orthogonal_(square, 1.0, &gen);
  CHECK(orthogonality_error(square) < 1e-5);
  CHECK(orthogonality_error(square.t()) < 1e-5);
  const Tensor scaled = tg::empty({32, 48}, tg::kFloat64);
  init::orthogonal_(scaled, 2.0, &gen);
  CHECK(orthogonality_error(scaled, 4.0) < 1e-12);
  // A convolution weight [16, 4, 3, 3] is orthogonal as [16, 36].
  const Tensor conv = tg::empty({16, 4, 3, 3});
  init::orthogonal_(conv, 1.0, &gen);
  CHECK(orthogonality_error(conv.reshape({16, 36})) < 1e-5);
  // Entries are spread out, not a permutation: the Gaussian draw is rotated, not replaced.
  CHECK(moments(wide).std == Approx(1.0 / std::sqrt(256.0)).epsilon(0.05));
}

// ---- behaviour ------------------------------------------------------------------------------------

TEST_CASE("init: the same seed reproduces the same values, the default generator follows manual_seed", "[init]") {
  tg::Generator g1(42), g2(42);
  const Tensor a = tg::empty({5, 6}), b = tg::empty({5, 6});
  init::kaiming_uniform_(a, std::sqrt(5.0), FanMode::FanIn, "leaky_relu", &g1);
  init::kaiming_uniform_(b, std::sqrt(5.0), FanMode::FanIn, "leaky_relu", &g2);
  CHECK(a.to_vector<float>() == b.to_vector<float>());
  tg::manual_seed(123);
  init::orthogonal_(a);
  tg::manual_seed(123);
  init::orthogonal_(b);
  CHECK(a.to_vector<float>() == b.to_vector<float>());
  init::normal_(b);  // the stream moved on
  CHECK(a.to_vector<float>() != b.to_vector<float>());
}

TEST_CASE("init: a leaf that requires grad is filled in place without recording", "[init]") {
  const Tensor w = tg::zeros({4, 3}).requires_grad_();
  const std::uint64_t before = w.version();
  init::xavier_uniform_(w);
  CHECK(w.is_leaf());
  CHECK(w.requires_grad());
  CHECK(w.version() > before);
  CHECK(moments(w).max > 0);
  CHECK(tg::is_grad_enabled());
  // Zero-element tensors are left alone, as in PyTorch.
  CHECK_NOTHROW(init::kaiming_uniform_(tg::empty({0, 3})));
}

TEST_CASE("init: bad arguments name the function and the value", "[init][bad_input]") {
  CHECK_THAT(error_of([] { init::calculate_fan_in_and_fan_out(tg::empty({5})); }),
             Contains("calculate_fan_in_and_fan_out: fan in and fan out cannot be computed for a tensor with fewer "
                      "than 2 dimensions (got shape [5])"));
  CHECK_THAT(error_of([] { init::xavier_uniform_(tg::empty({5})); }), Contains("fewer than 2 dimensions"));
  CHECK_THAT(error_of([] { init::kaiming_normal_(tg::empty({5})); }), Contains("fewer than 2 dimensions"));
  CHECK_THAT(error_of([] { init::calculate_gain("swish"); }),
             Contains("calculate_gain: unsupported nonlinearity \"swish\""));
  CHECK_THAT(error_of([] {
               init::kaiming_uniform_(tg::empty({3, 3}), 0.0, FanMode::FanIn, "softmax");
             }),
             Contains("unsupported nonlinearity \"softmax\""));
  CHECK_THAT(error_of([] { init::orthogonal_(tg::empty({4})); }),
             Contains("orthogonal_: only tensors with 2 or more dimensions are supported, got shape [4]"));
  CHECK_THAT(error_of([] { init::uniform_(tg::empty({2}), 1.0, 0.5); }),
             Contains("uniform_: expects a range [a, b) with a <= b, got a = 1 > b = 0.5"));
  CHECK_THAT(error_of([] { init::normal_(tg::empty({2}), 0.0, -1.0); }),
             Contains("normal_: std must be non-negative, got -1"));
  CHECK_THAT(error_of([] { init::normal_(tg::empty({2}, tg::kInt64)); }),
             Contains("normal_: expected a floating-point tensor (float32 or float64), got int64"));
  CHECK_THAT(error_of([] { init::zeros_(Tensor()); }), Contains("constant_: the tensor is undefined"));
}

// Parameter initialisation, following torch.nn.init's formulas. Every function writes under
// NoGradGuard (so a leaf that requires grad can be filled) and returns its argument.
//
// orthogonal_ orthonormalises a Gaussian matrix by modified Gram-Schmidt in double, run twice
// per column ("twice is enough": the second pass removes what rounding left of the earlier
// directions). Gram-Schmidt's R has a positive diagonal, so Q is the same matrix that
// PyTorch's QR followed by its sign fix (q *= sign(diag(r))) gives for the same draw.
#include "tapegrad/nn/init.h"

#include <cmath>
#include <vector>

#include "tapegrad/core/autograd.h"
#include "tapegrad/core/factory.h"
#include "tapegrad/core/ops.h"

namespace tg::nn::init {
namespace {

void check_defined(const Tensor& t, const char* op) { TG_CHECK(t.defined(), "{}: the tensor is undefined", op); }

void check_floating(const Tensor& t, const char* op) {
  check_defined(t, op);
  TG_CHECK(is_floating(t.dtype()), "{}: expected a floating-point tensor (float32 or float64), got {}", op,
           dtype_name(t.dtype()));
}

/// Writes src (any floating dtype, t's shape) into t without recording.
const Tensor& assign(const Tensor& t, const Tensor& src) {
  NoGradGuard no_grad;
  t.copy_(src);
  return t;
}

std::int64_t fan_for(const Tensor& t, FanMode mode) {
  const Fans f = calculate_fan_in_and_fan_out(t);
  return mode == FanMode::FanIn ? f.fan_in : f.fan_out;
}

const Tensor& kaiming(const Tensor& t, double a, FanMode mode, std::string_view nonlinearity, Generator* gen,
                      bool uniform) {
  const char* op = uniform ? "kaiming_uniform_" : "kaiming_normal_";
  check_floating(t, op);
  if (t.numel() == 0) return t;  // PyTorch: a no-op on zero-element tensors
  const std::int64_t fan = fan_for(t, mode);
  const double std_dev = calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan));
  if (uniform) {
    const double bound = std::sqrt(3.0) * std_dev;
    return uniform_(t, -bound, bound, gen);
  }
  return normal_(t, 0.0, std_dev, gen);
}

}  // namespace

Fans calculate_fan_in_and_fan_out(const Tensor& t) {
  check_defined(t, "calculate_fan_in_and_fan_out");
  TG_CHECK(t.dim() >= 2,
           "calculate_fan_in_and_fan_out: fan in and fan out cannot be computed for a tensor with fewer than 2 "
           "dimensions (got shape {})",
           t.shape());
  std::int64_t receptive_field = 1;
  for (std::int64_t d = 2; d < t.dim(); ++d) receptive_field *= t.size(d);
  return {t.size(1) * receptive_field, t.size(0) * receptive_field};
}

double calculate_gain(std::string_view nonlinearity, std::optional<double> param) {
  for (std::string_view linear :
       {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid"})
    if (nonlinearity == linear) return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") {
    const double slope = param.value_or(0.01);
    TG_CHECK(std::isfinite(slope), "calculate_gain: negative_slope {} is not a valid number", slope);
    return std::sqrt(2.0 / (1.0 + slope * slope));
  }
  if (nonlinearity == "selu") return 3.0 / 4.0;
  fail(
      "calculate_gain: unsupported nonlinearity \"{}\" (expected linear, conv1d, conv2d, conv3d, conv_transpose1d, "
      "conv_transpose2d, conv_transpose3d, sigmoid, tanh, relu, leaky_relu or selu)",
      nonlinearity);
}

const Tensor& uniform_(const Tensor& t, double a, double b, Generator* generator) {
  check_floating(t, "uniform_");
  TG_CHECK(a <= b, "uniform_: expects a range [a, b) with a <= b, got a = {} > b = {}", a, b);
  const Tensor u = rand(t.shape(), t.dtype(), generator);
  return assign(t, add(mul(u, b - a), a));
}

const Tensor& normal_(const Tensor& t, double mean, double std_dev, Generator* generator) {
  check_floating(t, "normal_");
  TG_CHECK(std_dev >= 0.0, "normal_: std must be non-negative, got {}", std_dev);
  const Tensor z = randn(t.shape(), t.dtype(), generator);
  return assign(t, add(mul(z, std_dev), mean));
}

const Tensor& constant_(const Tensor& t, double value) {
  check_defined(t, "constant_");
  NoGradGuard no_grad;
  t.fill_(value);
  return t;
}

const Tensor& zeros_(const Tensor& t) { return constant_(t, 0.0); }
const Tensor& ones_(const Tensor& t) { return constant_(t, 1.0); }

const Tensor& xavier_uniform_(const Tensor& t, double gain, Generator* generator) {
  check_floating(t, "xavier_uniform_");
  const Fans f = calculate_fan_in_and_fan_out(t);
  const double std_dev = gain * std::sqrt(2.0 / static_cast<double>(f.fan_in + f.fan_out));
  const double a = std::sqrt(3.0) * std_dev;
  return uniform_(t, -a, a, generator);
}

const Tensor& xavier_normal_(const Tensor& t, double gain, Generator* generator) {
  check_floating(t, "xavier_normal_");
  const Fans f = calculate_fan_in_and_fan_out(t);
  return normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(f.fan_in + f.fan_out)), generator);
}

const Tensor& kaiming_uniform_(const Tensor& t, double a, FanMode mode, std::string_view nonlinearity,
                               Generator* generator) {
  return kaiming(t, a, mode, nonlinearity, generator, true);
}

const Tensor& kaiming_normal_(const Tensor& t, double a, FanMode mode, std::string_view nonlinearity,
                              Generator* generator) {
  return kaiming(t, a, mode, nonlinearity, generator, false);
}

const Tensor& orthogonal_(const Tensor& t, double gain, Generator* generator) {
  check_floating(t, "orthogonal_");
  TG_CHECK(t.dim() >= 2, "orthogonal_: only tensors with 2 or more dimensions are supported, got shape {}", t.shape());
  if (t.numel() == 0) return t;
  const std::int64_t rows = t.size(0), cols = t.numel() / rows;
  // Orthonormalise the n columns of a Gaussian [m, n] matrix (m >= n); the result is W for
  // rows >= cols and W^T otherwise. Columns are stored contiguously: q[j * m + i] = Q[i][j].
  const std::int64_t m = std::max(rows, cols), n = std::min(rows, cols);
  const std::vector<double> a = randn({n, m}, kFloat64, generator).to_vector<double>();
  std::vector<double> q(a.begin(), a.end());
  for (std::int64_t j = 0; j < n; ++j) {
    double* v = q.data() + j * m;
    for (int pass = 0; pass < 2; ++pass) {
      for (std::int64_t i = 0; i < j; ++i) {
        const double* u = q.data() + i * m;
        double r = 0;
        for (std::int64_t k = 0; k < m; ++k) r += u[k] * v[k];
        for (std::int64_t k = 0; k < m; ++k) v[k] -= r * u[k];
      }
    }
    double norm = 0;
    for (std::int64_t k = 0; k < m; ++k) norm += v[k] * v[k];
    norm = std::sqrt(norm);
    TG_CHECK(norm > 0, "orthogonal_: the random matrix is rank deficient (column {} of {}); draw again", j, n);
    for (std::int64_t k = 0; k < m; ++k) v[k] /= norm;
  }
  // q holds Q^T as an [n, m] row-major matrix: W^T of a tall W, or W itself of a wide one.
  Tensor w = from_vector(q, {n, m});
  if (rows >= cols) w = w.t();
  return assign(t, mul(w, gain).reshape(t.shape()));
}

}  // namespace tg::nn::init

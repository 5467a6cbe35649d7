#pragma once
/// Parameter initialisation (tg::nn::init), as torch.nn.init: each function fills a tensor in
/// place without recording on the tape (it may be a leaf that requires grad) and returns it.
/// The random ones draw from `generator`, by default the seeded default one (tg::manual_seed).
#include <cstdint>
#include <optional>
#include <string_view>

#include "tapegrad/core/random.h"
#include "tapegrad/core/tensor.h"

namespace tg::nn::init {

/// Which fan kaiming_* scales by: fan_in keeps the forward pass's variance, fan_out the backward's.
enum class FanMode { FanIn, FanOut };

struct Fans {
  std::int64_t fan_in = 0;
  std::int64_t fan_out = 0;
};

/// For a weight [out, in, k1, k2, ...] (Linear [out, in], Conv2d [O, C / groups, kh, kw]):
/// fan_in = in * k1 * k2 * ..., fan_out = out * k1 * k2 * ... (PyTorch's receptive field rule).
/// Needs at least 2 dims.
Fans calculate_fan_in_and_fan_out(const Tensor& t);

/// PyTorch's recommended gain: 1 for linear, conv1d/2d/3d, conv_transpose1d/2d/3d and sigmoid;
/// 5/3 for tanh; sqrt(2) for relu; sqrt(2 / (1 + slope^2)) for leaky_relu (param is the
/// negative slope, 0.01 when absent); 3/4 for selu.
double calculate_gain(std::string_view nonlinearity, std::optional<double> param = std::nullopt);

/// Uniform in [a, b).
const Tensor& uniform_(const Tensor& t, double a = 0.0, double b = 1.0, Generator* generator = nullptr);
/// Normal with the given mean and standard deviation.
const Tensor& normal_(const Tensor& t, double mean = 0.0, double std_dev = 1.0, Generator* generator = nullptr);
const Tensor& constant_(const Tensor& t, double value);
const Tensor& zeros_(const Tensor& t);
const Tensor& ones_(const Tensor& t);

/// Glorot: uniform in [-a, a], a = gain sqrt(6 / (fan_in + fan_out)).
const Tensor& xavier_uniform_(const Tensor& t, double gain = 1.0, Generator* generator = nullptr);
/// Glorot: normal with std = gain sqrt(2 / (fan_in + fan_out)).
const Tensor& xavier_normal_(const Tensor& t, double gain = 1.0, Generator* generator = nullptr);
/// He: uniform in [-b, b], b = gain sqrt(3 / fan) with gain = calculate_gain(nonlinearity, a)
/// and fan the fan_in or fan_out of mode.
const Tensor& kaiming_uniform_(const Tensor& t, double a = 0.0, FanMode mode = FanMode::FanIn,
                               std::string_view nonlinearity = "leaky_relu", Generator* generator = nullptr);
/// He: normal with std = gain / sqrt(fan).
const Tensor& kaiming_normal_(const Tensor& t, double a = 0.0, FanMode mode = FanMode::FanIn,
                              std::string_view nonlinearity = "leaky_relu", Generator* generator = nullptr);
/// A (semi-)orthogonal matrix times gain, for t seen as [size(0), numel / size(0)]: orthonormal
/// rows when rows <= cols (W W^T = I), orthonormal columns otherwise. Needs at least 2 dims.
const Tensor& orthogonal_(const Tensor& t, double gain = 1.0, Generator* generator = nullptr);

}  // namespace tg::nn::init

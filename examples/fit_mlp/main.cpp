// fit_mlp: fits a two-layer perceptron to a noisy function of two variables, using nothing but
// tensors, autograd and SGD:
//
//   data:   y = sin(x1) + 0.5 * x2^2 + noise,  x ~ N(0, I)
//   model:  y_hat = W2 tanh(W1 x + b1) + b2    (2 -> hidden -> 1)
//   loss:   mean squared error, minimised by full-batch gradient descent
//
// Usage: fit_mlp [--epochs N] [--lr LR] [--hidden H] [--samples S] [--seed SEED]
//
// Prints the loss as it falls and a final line with the loss on the whole data set. Exits with
// status 1 if training did not lower the loss, which is what the smoke test checks.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.h>

namespace F = tg::nn::functional;

namespace {

struct Settings {
  int epochs = 1000;
  double lr = 0.1;
  std::int64_t hidden = 32;
  std::int64_t samples = 400;
  std::uint64_t seed = 42;
};

Settings parse_args(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      fmt::print("usage: {} [--epochs N] [--lr LR] [--hidden H] [--samples S] [--seed SEED]\n", argv[0]);
      std::exit(0);
    }
    if (i + 1 >= argc) throw std::runtime_error("missing value after " + arg);
    const std::string value = argv[++i];
    try {
      if (arg == "--epochs") s.epochs = std::stoi(value);
      else if (arg == "--lr") s.lr = std::stod(value);
      else if (arg == "--hidden") s.hidden = std::stoll(value);
      else if (arg == "--samples") s.samples = std::stoll(value);
      else if (arg == "--seed") s.seed = std::stoull(value);
      else throw std::runtime_error("unknown option " + arg);
    } catch (const std::logic_error&) {  // std::stoi and friends: not a number, or out of range
      throw std::runtime_error("invalid value '" + value + "' for " + arg);
    }
  }
  if (s.epochs < 1 || s.hidden < 1 || s.samples < 1)
    throw std::runtime_error("--epochs, --hidden and --samples must be >= 1");
  return s;
}

/// The data set: inputs x [S, 2] and targets y [S, 1].
struct Dataset {
  tg::Tensor x;
  tg::Tensor y;
};

Dataset make_dataset(std::int64_t samples) {
  tg::Tensor x = tg::randn({samples, 2});
  tg::Tensor noise = tg::randn({samples}) * 0.1;

  // The target is computed element by element in plain C++: data preparation needs no autograd.
  const std::vector<float> xs = x.to_vector<float>();
  const std::vector<float> eps = noise.to_vector<float>();
  std::vector<float> ys(samples);
  for (std::int64_t i = 0; i < samples; ++i) {
    const float x1 = xs[2 * i], x2 = xs[2 * i + 1];
    ys[i] = std::sin(x1) + 0.5f * x2 * x2 + eps[i];
  }
  return {x, tg::from_vector(ys, {samples, 1})};
}

/// The model's parameters: plain tensors that require grad (leaves of every graph we build).
struct Mlp {
  tg::Tensor w1, b1, w2, b2;

  Mlp(std::int64_t in, std::int64_t hidden, std::int64_t out) {
    // Weights ~ N(0, 1/fan_in) keep tanh out of saturation at the start; biases start at zero.
    w1 = (tg::randn({hidden, in}) / std::sqrt(double(in))).requires_grad_();
    b1 = tg::zeros({hidden}, tg::Options().requires_grad());
    w2 = (tg::randn({out, hidden}) / std::sqrt(double(hidden))).requires_grad_();
    b2 = tg::zeros({out}, tg::Options().requires_grad());
  }

  /// [N, in] -> [N, out]
  tg::Tensor forward(const tg::Tensor& x) const {
    tg::Tensor h = F::linear(x, w1, b1).tanh();  // [N, hidden]
    return F::linear(h, w2, b2);                 // [N, out]
  }

  std::vector<tg::Tensor> parameters() const { return {w1, b1, w2, b2}; }
};

}  // namespace

int main(int argc, char** argv) try {
  const Settings settings = parse_args(argc, argv);
  tg::manual_seed(settings.seed);  // the same data, initial weights and losses on every run

  const Dataset data = make_dataset(settings.samples);
  Mlp model(2, settings.hidden, 1);
  tg::optim::SGD optimizer(model.parameters(), settings.lr);

  const int print_every = std::max(1, settings.epochs / 10);
  double initial_loss = 0.0;
  for (int epoch = 0; epoch < settings.epochs; ++epoch) {
    // Forward: records the ops on the tape. Backward: walks the tape and fills each .grad().
    tg::Tensor loss = F::mse_loss(model.forward(data.x), data.y);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();  // p <- p - lr * p.grad(), with grad mode off

    if (epoch == 0) initial_loss = loss.item();
    if (epoch % print_every == 0) fmt::print("epoch {:5d}  loss {:.6f}\n", epoch, loss.item());
  }

  // Evaluate the trained model; NoGradGuard keeps this forward off the tape.
  double final_loss = 0.0;
  {
    tg::NoGradGuard no_grad;
    final_loss = F::mse_loss(model.forward(data.x), data.y).item();
  }
  fmt::print("final loss {:.6f} (initial {:.6f}) after {} epochs\n", final_loss, initial_loss, settings.epochs);
  return final_loss < initial_loss ? 0 : 1;
} catch (const std::exception& e) {
  fmt::print(stderr, "fit_mlp: {}\n", e.what());
  return 2;
}

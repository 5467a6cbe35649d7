// mlp_mnist: a multilayer perceptron classifies 28 x 28 images of digits.
//
//   data:   MNIST from its IDX files when --data DIR holds them (train-images-idx3-ubyte,
//           train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte); otherwise
//           a generated MNIST-shaped set: each class 0..9 is a stroke template (a digit drawn
//           as polylines) rendered with a random scale, slant, shift, stroke thickness, jittered
//           corners and pixel noise, images [1, 28, 28] in [0, 1]
//   model:  Flatten -> Linear(784, hidden) -> ReLU -> Linear(hidden, hidden) -> ReLU -> Linear(hidden, 10)
//   train:  Adam on cross-entropy, shuffled batches from a DataLoader
//
// Writes to --out: metrics.csv (one row per epoch), checkpoint.safetensors (after every epoch;
// --resume continues from it), curves.png and confusion.png (with gnuplot). Prints the test
// accuracy and the confusion matrix.
//
// The hidden flag --write-idx DIR writes the generated data as the four MNIST IDX files and exits,
// so that the --data path can be tried (and tested) without downloading MNIST.
//
// Exits with status 1 unless the training loss went down and every output was written (the smoke
// test relies on this), 2 on a bad flag or an error.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numbers>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/run.h"  // the flags, checkpoints and checks every example shares
#include <tapegrad/tapegrad.h>

namespace F = tg::nn::functional;
namespace fs = std::filesystem;

namespace {

struct Settings : example::RunFlags {  // --epochs --threads --seed --out --resume --stop-after
  Settings() : RunFlags(/*epochs=*/5, /*out=*/"mlp_mnist_out") {}
  std::string data;       // a folder with the MNIST IDX files; empty: the generated set
  std::string write_idx;  // hidden: write the generated set as IDX files there and exit
  std::int64_t train_size = 6000;
  std::int64_t test_size = 1000;
  std::int64_t batch_size = 64;
  std::int64_t hidden = 128;
  double lr = 0.001;
  std::int64_t show = 4;
};

constexpr std::int64_t kClasses = 10;
constexpr std::int64_t kSide = 28;
constexpr std::int64_t kPixels = kSide * kSide;

// ---- the generated data ---------------------------------------------------------------------

struct Point {
  double x, y;
};
using Polyline = std::vector<Point>;

/// Each digit as strokes in a unit box (x to the right, y down).
const std::array<std::vector<Polyline>, kClasses>& templates() {
  static const std::array<std::vector<Polyline>, kClasses> digits = [] {
    std::array<std::vector<Polyline>, kClasses> d;
    Polyline ring;  // 0: an ellipse as 12 segments
    for (int k = 0; k <= 12; ++k) {
      const double a = 2 * std::numbers::pi * k / 12;
      ring.push_back({0.5 + 0.34 * std::cos(a), 0.5 + 0.45 * std::sin(a)});
    }
    d[0] = {ring};
    d[1] = {{{0.3, 0.22}, {0.55, 0.05}, {0.55, 0.95}}};
    d[2] = {{{0.18, 0.25}, {0.35, 0.06}, {0.65, 0.05}, {0.8, 0.25}, {0.2, 0.95}, {0.85, 0.95}}};
    d[3] = {{{0.2, 0.05}, {0.8, 0.05}, {0.45, 0.42}, {0.78, 0.58}, {0.75, 0.88}, {0.45, 0.97}, {0.18, 0.88}}};
    d[4] = {{{0.62, 0.95}, {0.62, 0.05}, {0.15, 0.65}, {0.88, 0.65}}};
    d[5] = {{{0.8, 0.05}, {0.27, 0.05}, {0.22, 0.45}, {0.65, 0.42}, {0.82, 0.68}, {0.62, 0.95}, {0.18, 0.88}}};
    d[6] = {{{0.72, 0.05}, {0.32, 0.38}, {0.2, 0.75}, {0.45, 0.96}, {0.76, 0.8}, {0.7, 0.55}, {0.28, 0.58}}};
    d[7] = {{{0.15, 0.05}, {0.85, 0.05}, {0.4, 0.95}}};
    d[8] = {{{0.5, 0.05}, {0.76, 0.25}, {0.5, 0.47}, {0.24, 0.25}, {0.5, 0.05}},
            {{0.5, 0.47}, {0.8, 0.72}, {0.5, 0.96}, {0.2, 0.72}, {0.5, 0.47}}};
    d[9] = {{{0.75, 0.3}, {0.5, 0.05}, {0.25, 0.25}, {0.45, 0.5}, {0.75, 0.3}, {0.62, 0.95}}};
    return d;
  }();
  return digits;
}

/// Distance from p to the segment a-b.
double segment_distance(Point p, Point a, Point b) {
  const double dx = b.x - a.x, dy = b.y - a.y;
  const double len2 = dx * dx + dy * dy;
  const double t = len2 > 0 ? std::clamp(((p.x - a.x) * dx + (p.y - a.y) * dy) / len2, 0.0, 1.0) : 0.0;
  return std::hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy));
}

/// `size` images of random digits, made up front from a std::mt19937_64 seeded with the run's
/// seed and `stream` (1: train, 2: test): images float32 [N, 1, 28, 28], labels int64 [N].
std::shared_ptr<tg::data::TensorDataset> generate_digits(std::int64_t size, std::uint64_t seed, std::uint64_t stream) {
  std::mt19937_64 rng(seed * 1000003 + stream);
  const auto uniform = [&](double lo, double hi) {
    return lo + (hi - lo) * static_cast<double>(rng() >> 11) * 0x1.0p-53;
  };
  const auto normal = [&] {  // Box-Muller
    const double u = uniform(1e-12, 1.0), v = uniform(0.0, 1.0);
    return std::sqrt(-2 * std::log(u)) * std::cos(2 * std::numbers::pi * v);
  };
  std::vector<float> pixels(static_cast<std::size_t>(size * kPixels));
  std::vector<std::int64_t> labels(static_cast<std::size_t>(size));
  for (std::int64_t i = 0; i < size; ++i) {
    const std::int64_t label = static_cast<std::int64_t>(rng() % kClasses);
    labels[static_cast<std::size_t>(i)] = label;
    // The pose of this image: scale, slant, shift (in pixels) and stroke half-width.
    const double scale = uniform(0.8, 1.1), slant = uniform(-0.3, 0.3);
    const double shift_x = uniform(-3, 3), shift_y = uniform(-2.5, 2.5);
    const double radius = uniform(0.6, 1.6);
    std::vector<std::pair<Point, Point>> segments;
    for (const Polyline& line : templates()[static_cast<std::size_t>(label)]) {
      Polyline placed;
      for (const Point& p : line) {
        // Jitter each corner, then map the unit box to about 16 x 20 pixels around the centre.
        const double x = (p.x - 0.5 + uniform(-0.06, 0.06)) * 16 * scale;
        const double y = (p.y - 0.5 + uniform(-0.05, 0.05)) * 20 * scale;
        placed.push_back({13.5 + shift_x + x - slant * y, 13.5 + shift_y + y});
      }
      for (std::size_t k = 1; k < placed.size(); ++k) segments.emplace_back(placed[k - 1], placed[k]);
    }
    float* image = &pixels[static_cast<std::size_t>(i * kPixels)];
    for (std::int64_t r = 0; r < kSide; ++r)
      for (std::int64_t c = 0; c < kSide; ++c) {
        double d = 1e9;
        for (const auto& [a, b] : segments)
          d = std::min(d, segment_distance({static_cast<double>(c), static_cast<double>(r)}, a, b));
        const double ink = std::clamp(1.0 - (d - radius), 0.0, 1.0);  // a soft edge one pixel wide
        image[r * kSide + c] = static_cast<float>(std::clamp(ink + 0.08 * normal(), 0.0, 1.0));
      }
  }
  return std::make_shared<tg::data::TensorDataset>(
      std::vector<tg::Tensor>{tg::from_vector(pixels, {size, 1, kSide, kSide}), tg::from_vector(labels, {size})});
}

/// Writes one IDX file: the magic number (0, 0, type 0x08 = unsigned byte, the number of dims),
/// each dim as a big-endian int32, then the bytes.
void write_idx(const std::string& path, const std::vector<std::int64_t>& dims,
               const std::vector<unsigned char>& bytes) {
  std::ofstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error(fmt::format("--write-idx: cannot create {}", path));
  const auto put32 = [&](std::uint32_t v) {
    const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
    file.write(b, 4);
  };
  put32(0x0800u + static_cast<std::uint32_t>(dims.size()));
  for (const std::int64_t d : dims) put32(static_cast<std::uint32_t>(d));
  file.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!file) throw std::runtime_error(fmt::format("--write-idx: writing {} failed", path));
}

/// A dataset as the MNIST pair `prefix`-images-idx3-ubyte / `prefix`-labels-idx1-ubyte in folder
/// (pixels rounded to bytes 0..255).
void write_mnist(const tg::data::TensorDataset& data, const std::string& folder, const std::string& prefix) {
  const auto pixels = data.tensors()[0].contiguous().to_vector<float>();
  const auto labels = data.tensors()[1].to_vector<std::int64_t>();
  std::vector<unsigned char> image_bytes(pixels.size()), label_bytes(labels.size());
  for (std::size_t i = 0; i < pixels.size(); ++i)
    image_bytes[i] = static_cast<unsigned char>(std::lround(std::clamp(pixels[i], 0.0f, 1.0f) * 255));
  for (std::size_t i = 0; i < labels.size(); ++i) label_bytes[i] = static_cast<unsigned char>(labels[i]);
  write_idx(folder + "/" + prefix + "-images-idx3-ubyte", {data.size(), kSide, kSide}, image_bytes);
  write_idx(folder + "/" + prefix + "-labels-idx1-ubyte", {data.size()}, label_bytes);
}

// [doc:data]
/// The training and test sets: MNIST's IDX files in the --data folder, or generated digits.
std::pair<std::shared_ptr<tg::data::TensorDataset>, std::shared_ptr<tg::data::TensorDataset>> load_data(
    const Settings& s) {
  if (!s.data.empty())  // each example: {image float32 [1, 28, 28] in [0, 1], label int64 []}
    return {tg::data::load_mnist(s.data, /*train=*/true), tg::data::load_mnist(s.data, /*train=*/false)};
  return {generate_digits(s.train_size, s.seed, 1), generate_digits(s.test_size, s.seed, 2)};
}
// [/doc:data]

// ---- the model ------------------------------------------------------------------------------

// [doc:model]
/// Flatten -> Linear -> ReLU -> Linear -> ReLU -> Linear, as a Sequential: its state_dict keys
/// are 1.weight, 1.bias, 3.weight, 3.bias, 5.weight, 5.bias (PyTorch's for the same nn.Sequential).
std::shared_ptr<tg::nn::Sequential> make_mlp(std::int64_t inputs, std::int64_t hidden, std::int64_t classes) {
  using namespace tg::nn;
  return std::make_shared<Sequential>(Sequential{std::make_shared<Flatten>(),  // [B, 1, 28, 28] -> [B, 784]
                                                 std::make_shared<Linear>(inputs, hidden), std::make_shared<ReLU>(),
                                                 std::make_shared<Linear>(hidden, hidden), std::make_shared<ReLU>(),
                                                 std::make_shared<Linear>(hidden, classes)});
}
// [/doc:model]

// ---- training and evaluation ----------------------------------------------------------------

/// One pass over the training data; returns the mean loss.
double train_epoch(tg::nn::Sequential& model, tg::optim::Adam& optimizer, tg::data::DataLoader& loader, int epoch,
                   int epochs) {
  tg::ProgressBar bar(loader.size(),
                      tg::ProgressOptions().label(fmt::format("epoch {}/{}", epoch + 1, epochs)).unit("batch"));
  for (const tg::data::Batch& batch : loader) {  // batch[0]: images [B, 1, 28, 28]; batch[1]: labels [B]
    optimizer.zero_grad();
    tg::Tensor loss = F::cross_entropy(model.forward(batch[0]), batch[1]);
    loss.backward();
    optimizer.step();
    bar.step(loss.item(), batch.size());
  }
  bar.finish();
  return bar.mean_loss();
}

struct Evaluation {
  double loss = 0, accuracy = 0;
  std::vector<std::int64_t> confusion = std::vector<std::int64_t>(kClasses * kClasses);  // [true][predicted]
  std::vector<std::int64_t> predicted;                                                   // per test image
};

Evaluation evaluate(tg::nn::Sequential& model, tg::data::DataLoader& loader) {
  tg::NoGradGuard no_grad;
  model.eval();
  Evaluation e;
  double loss_sum = 0;
  std::int64_t correct = 0, n = 0;
  for (const tg::data::Batch& batch : loader) {
    const tg::Tensor logits = model.forward(batch[0]);
    loss_sum += F::cross_entropy(logits, batch[1]).item() * static_cast<double>(batch.size());
    const auto predicted = logits.argmax(1).to_vector<std::int64_t>();
    const auto labels = batch[1].to_vector<std::int64_t>();
    for (std::size_t i = 0; i < predicted.size(); ++i) {
      correct += predicted[i] == labels[i];
      if (labels[i] >= 0 && labels[i] < kClasses && predicted[i] >= 0 && predicted[i] < kClasses)
        ++e.confusion[static_cast<std::size_t>(labels[i] * kClasses + predicted[i])];
      e.predicted.push_back(predicted[i]);
    }
    n += batch.size();
  }
  model.train();
  e.loss = loss_sum / static_cast<double>(n);
  e.accuracy = static_cast<double>(correct) / static_cast<double>(n);
  return e;
}

/// Prints the first `count` test images side by side as text, with their labels and predictions.
void show_images(const tg::data::TensorDataset& test, const std::vector<std::int64_t>& predicted, std::int64_t count) {
  count = std::min({count, test.size(), static_cast<std::int64_t>(predicted.size())});
  if (count <= 0) return;
  const auto pixels = test.tensors()[0].narrow(0, 0, count).contiguous().to_vector<float>();
  const auto labels = test.tensors()[1].narrow(0, 0, count).to_vector<std::int64_t>();
  const std::string shades = " .:-=+*#%@";
  fmt::print("\nthe first {} test images (label / predicted):\n", count);
  for (std::int64_t b = 0; b < count; ++b)
    fmt::print("{:<30}",
               fmt::format("  {} / {}", labels[static_cast<std::size_t>(b)], predicted[static_cast<std::size_t>(b)]));
  fmt::print("\n");
  for (std::int64_t r = 0; r < kSide; ++r) {
    std::string line;
    for (std::int64_t b = 0; b < count; ++b) {
      line += "  ";
      for (std::int64_t c = 0; c < kSide; ++c) {
        const float v = pixels[static_cast<std::size_t>(b * kPixels + r * kSide + c)];
        line += shades[static_cast<std::size_t>(std::clamp(v, 0.0f, 1.0f) * static_cast<float>(shades.size() - 1))];
      }
    }
    fmt::print("{}\n", line);
  }
}

void print_confusion(const std::vector<std::int64_t>& confusion) {
  fmt::print("\nconfusion matrix (rows: true class, columns: predicted)\n      ");
  for (std::int64_t p = 0; p < kClasses; ++p) fmt::print("{:>6}", p);
  fmt::print("\n");
  for (std::int64_t t = 0; t < kClasses; ++t) {
    fmt::print("{:>6}", t);
    for (std::int64_t p = 0; p < kClasses; ++p)
      fmt::print("{:>6}", confusion[static_cast<std::size_t>(t * kClasses + p)]);
    fmt::print("\n");
  }
}

// ---- checkpoints ----------------------------------------------------------------------------

/// The settings a checkpoint must agree with to be resumed.
example::Identity run_identity(const Settings& s) {
  return {{"seed", std::to_string(s.seed)},
          {"data", s.data.empty() ? fmt::format("generated {} + {}", s.train_size, s.test_size) : s.data},
          {"batch_size", std::to_string(s.batch_size)},
          {"model", fmt::format("hidden {}", s.hidden)}};
}

Settings parse_args(int argc, char** argv) {
  Settings s;
  CLI::App app(
      "mlp_mnist: a multilayer perceptron classifies 28 x 28 digit images: MNIST's IDX files with --data, "
      "otherwise a generated MNIST-shaped set.");
  example::add_run_flags(app, s);
  app.add_option("--data", s.data,
                 "folder with MNIST's train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte "
                 "and t10k-labels-idx1-ubyte (uncompressed); without it, generated digits");
  app.add_option("--train-size", s.train_size, "generated training images")->capture_default_str();
  app.add_option("--test-size", s.test_size, "generated test images")->capture_default_str();
  app.add_option("--batch-size", s.batch_size, "images per batch")->capture_default_str();
  app.add_option("--hidden", s.hidden, "units of each hidden layer")->capture_default_str();
  app.add_option("--lr", s.lr, "Adam's learning rate")->capture_default_str();
  app.add_option("--show", s.show, "test images to print as text (0: none)")->capture_default_str();
  // Hidden (no description in --help): writes the generated set as MNIST IDX files and exits.
  app.add_option("--write-idx", s.write_idx)->group("");
  example::parse(app, argc, argv, s);  // --help prints and exits 0; a bad flag says why and exits non-zero
  using example::at_least;
  at_least("--train-size", s.train_size, 1);
  at_least("--test-size", s.test_size, 1);
  at_least("--batch-size", s.batch_size, 1);
  at_least("--hidden", s.hidden, 1);
  at_least("--show", s.show, 0);
  if (!(s.lr > 0)) throw std::runtime_error(fmt::format("--lr must be > 0, got {}", s.lr));
  return s;
}

}  // namespace

int main(int argc, char** argv) try {
  const Settings s = parse_args(argc, argv);
  if (s.threads > 0) tg::set_num_threads(s.threads);

  if (!s.write_idx.empty()) {
    fs::create_directories(s.write_idx);
    write_mnist(*generate_digits(s.train_size, s.seed, 1), s.write_idx, "train");
    write_mnist(*generate_digits(s.test_size, s.seed, 2), s.write_idx, "t10k");
    fmt::print("wrote {} training and {} test images as MNIST IDX files in {}\n", s.train_size, s.test_size,
               s.write_idx);
    return 0;
  }

  fs::create_directories(s.out);
  const std::string csv = s.out + "/metrics.csv", ckpt = s.out + "/checkpoint.safetensors";
  const std::string curves_png = s.out + "/curves.png", confusion_png = s.out + "/confusion.png";
  for (const auto& png : {curves_png, confusion_png}) fs::remove(png);

  // Everything random comes from the seed: the generated data (its own generators), the initial
  // weights and the shuffle (tg's default generator, and the loader's seed).
  tg::manual_seed(s.seed);
  const auto [train_data, test_data] = load_data(s);
  tg::data::DataLoader train_loader(train_data, tg::data::DataLoaderOptions(s.batch_size).shuffle(true).seed(s.seed));
  tg::data::DataLoader test_loader(test_data, tg::data::DataLoaderOptions(500));

  const auto model = make_mlp(kPixels, s.hidden, kClasses);
  tg::optim::Adam optimizer(model->parameters(), tg::optim::AdamOptions(s.lr));

  const int start_epoch = s.resume ? example::restore_run(ckpt, run_identity(s), *model, optimizer, train_loader) : 0;

  fmt::print("{} training and {} test images ({}); {} parameters\n", train_data->size(), test_data->size(),
             s.data.empty() ? "generated digits" : "MNIST from " + s.data, example::parameter_count(*model));

  tg::MetricsLog metrics(csv, {"epoch", "train_loss", "test_loss", "test_accuracy"}, s.resume);
  Evaluation last;
  const example::Stopwatch run_clock;
  for (int epoch = start_epoch; epoch < s.epochs; ++epoch) {
    const example::Stopwatch epoch_clock;
    const double train_loss = train_epoch(*model, optimizer, train_loader, epoch, s.epochs);
    last = evaluate(*model, test_loader);
    const double seconds = epoch_clock.seconds();
    fmt::print("epoch {:2d}  train loss {:.6f}  test loss {:.6f}  test accuracy {:6.2f}%  ({:.1f}s)\n", epoch + 1,
               train_loss, last.loss, 100 * last.accuracy, seconds);
    metrics.write({static_cast<double>(epoch + 1), train_loss, last.loss, last.accuracy});

    example::save_run(ckpt, run_identity(s), *model, optimizer, epoch + 1);
    if (example::stop_after(s, epoch + 1)) return 0;
  }
  if (start_epoch >= s.epochs) last = evaluate(*model, test_loader);
  const double total = run_clock.seconds();

  show_images(*test_data, last.predicted, s.show);
  print_confusion(last.confusion);
  std::vector<double> rates(static_cast<std::size_t>(kClasses * kClasses));
  for (std::int64_t t = 0; t < kClasses; ++t) {
    std::int64_t row = 0;
    for (std::int64_t p = 0; p < kClasses; ++p) row += last.confusion[static_cast<std::size_t>(t * kClasses + p)];
    for (std::int64_t p = 0; p < kClasses; ++p)
      rates[static_cast<std::size_t>(t * kClasses + p)] =
          row ? static_cast<double>(last.confusion[static_cast<std::size_t>(t * kClasses + p)]) /
                    static_cast<double>(row)
              : 0.0;
  }
  std::vector<std::string> names;
  for (std::int64_t c = 0; c < kClasses; ++c) names.push_back(std::to_string(c));
  const bool drew_confusion = tg::plot_heatmap(tg::from_vector(rates, {kClasses, kClasses}), confusion_png,
                                               tg::HeatmapOptions()
                                                   .title("confusion matrix: share of each true class")
                                                   .row_labels(names)
                                                   .col_labels(names)
                                                   .xlabel("predicted class")
                                                   .ylabel("true class"));
  const bool drew_curves = tg::plot_curves(csv, curves_png, "epoch", {"train_loss", "test_loss", "test_accuracy"},
                                           "mlp_mnist: loss and accuracy per epoch");
  fmt::print("\nfinal test accuracy {:.2f}% after {} epochs ({:.1f}s of training in this run)\n", 100 * last.accuracy,
             s.epochs, total);

  // The checks the smoke test relies on: the loss went down and every output exists.
  const int status = example::report("mlp_mnist", example::check_run(s.epochs, csv, ckpt, {curves_png, confusion_png}));
  if (drew_curves && drew_confusion) fmt::print("curves: {}  (confusion matrix: {})\n", curves_png, confusion_png);
  else example::print_no_png(csv);
  return status;
} catch (const std::exception& e) {
  return example::report_error("mlp_mnist", e);
}

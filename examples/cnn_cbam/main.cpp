// cnn_cbam: a small CNN with channel or channel + spatial attention (SE, CBAM) on a generated
// image task where the class is where a pattern sits; CIFAR-10 when --data points to its binaries.
//
//   data:   16 x 16 grey images of Gaussian noise holding one bright "+" (3 x 3) and
//           `--distractors` bright "x" shapes of the same brightness; the class is the quadrant
//           the "+" sits in (4 classes). With --data DIR: CIFAR-10's binary batches (10 classes).
//   model:  [Conv2d 3x3 -> BatchNorm2d -> ReLU -> attention -> MaxPool2d 2] x 2 -> Linear, with
//           attention none (identity), se (nn::SEBlock) or cbam (nn::CBAM)
//   train:  Adam on cross-entropy, shuffled batches from a DataLoader
//
// Writes to --out: metrics.csv (one row per epoch), checkpoint.safetensors (after every epoch;
// --resume continues from it), curves.png and, for cbam, attention.png (a test image and CBAM's
// spatial attention over it), with gnuplot. --compare trains none, se and cbam one after the
// other (each in its own folder under --out) and prints a table of test accuracy and time per
// epoch.
//
// Exits with status 1 unless the training loss went down and every output was written (the smoke
// test relies on this), 2 on a bad flag or an error.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
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
  Settings() : RunFlags(/*epochs=*/6, /*out=*/"cnn_cbam_out") {}
  std::string attention = "cbam";
  bool compare = false;
  std::string data;              // a CIFAR-10 folder; empty: the generated task
  std::int64_t train_size = -1;  // -1: 6000 generated images, or all of CIFAR-10's 50000
  std::int64_t test_size = -1;   // -1: 1000 generated images, or all of CIFAR-10's 10000
  std::int64_t batch_size = 32;
  std::int64_t image_size = 16;
  std::int64_t distractors = 2;
  double noise = 0.4;
  std::int64_t width = 16;  // channels of the first block (the second has twice as many)
  std::int64_t reduction = 4;
  bool batch_norm = true;
  double lr = 0.003;
};

// ---- the task -------------------------------------------------------------------------------

constexpr std::int64_t kQuadrants = 4;

/// Generated images {image float32 [1, S, S], label int64 []}: noise, one "+" whose quadrant is
/// the label (0 top left, 1 top right, 2 bottom left, 3 bottom right) and "x" shapes elsewhere,
/// all made up front from a std::mt19937_64 seeded with the run's seed and `stream`.
std::shared_ptr<tg::data::TensorDataset> make_quadrant_data(std::int64_t size, const Settings& s,
                                                            std::uint64_t stream) {
  std::mt19937_64 rng(s.seed * 1000003 + stream);
  std::normal_distribution<float> gauss(0.0f, static_cast<float>(s.noise));
  const auto uniform = [&](std::int64_t lo, std::int64_t hi) {  // in [lo, hi]
    return lo + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(hi - lo + 1));
  };
  const std::int64_t S = s.image_size, half = S / 2;
  std::vector<float> pixels(static_cast<std::size_t>(size * S * S));
  std::vector<std::int64_t> labels(static_cast<std::size_t>(size));
  for (std::int64_t i = 0; i < size; ++i) {
    float* image = &pixels[static_cast<std::size_t>(i * S * S)];
    for (std::int64_t p = 0; p < S * S; ++p) image[p] = gauss(rng);
    const auto draw = [&](std::int64_t r, std::int64_t c, bool plus) {  // a 3 x 3 shape centred at (r, c)
      for (std::int64_t dr = -1; dr <= 1; ++dr)
        for (std::int64_t dc = -1; dc <= 1; ++dc)
          if (plus ? (dr == 0 || dc == 0) : (dr != 0 && dc != 0) || (dr == 0 && dc == 0))
            image[(r + dr) * S + c + dc] += 1.0f;
    };
    const std::int64_t label = uniform(0, kQuadrants - 1);
    const std::int64_t r0 = (label / 2) * half, c0 = (label % 2) * half;
    const std::int64_t r = uniform(r0 + 1, r0 + half - 2), c = uniform(c0 + 1, c0 + half - 2);
    draw(r, c, true);
    for (std::int64_t d = 0; d < s.distractors;) {  // anywhere, not touching the "+"
      const std::int64_t dr = uniform(1, S - 2), dc = uniform(1, S - 2);
      if (std::max(std::abs(dr - r), std::abs(dc - c)) < 3) continue;
      draw(dr, dc, false);
      ++d;
    }
    labels[static_cast<std::size_t>(i)] = label;
  }
  return std::make_shared<tg::data::TensorDataset>(
      std::vector{tg::from_vector(pixels, {size, 1, S, S}), tg::from_vector(labels, {size})});
}

/// The first `size` examples of a dataset (all of them for -1), centred around 0.
std::shared_ptr<tg::data::TensorDataset> first(const tg::data::TensorDataset& data, std::int64_t size) {
  if (size < 0 || size > data.size()) size = data.size();
  const auto& t = data.tensors();
  return std::make_shared<tg::data::TensorDataset>(
      std::vector{t[0].narrow(0, 0, size).sub(0.5).contiguous(), t[1].narrow(0, 0, size).contiguous()});
}

struct Task {
  std::shared_ptr<tg::data::TensorDataset> train, test;
  std::int64_t channels, height, width, classes;
  std::string name;
};

Task make_task(const Settings& s) {
  if (!s.data.empty()) {
    auto train = first(*tg::data::load_cifar10(s.data, true), s.train_size);
    auto test = first(*tg::data::load_cifar10(s.data, false), s.test_size);
    return {train, test, 3, 32, 32, 10, "CIFAR-10 from " + s.data};
  }
  return {make_quadrant_data(s.train_size < 0 ? 6000 : s.train_size, s, 1),
          make_quadrant_data(s.test_size < 0 ? 1000 : s.test_size, s, 2),
          1,
          s.image_size,
          s.image_size,
          kQuadrants,
          fmt::format("{0}x{0} noise images, the class is the quadrant of the '+' ({1} 'x' distractors, noise {2})",
                      s.image_size, s.distractors, s.noise)};
}

// ---- the model ------------------------------------------------------------------------------

// [doc:block]
/// Conv2d 3x3 -> BatchNorm2d (when bn) -> ReLU -> attention (when att) -> MaxPool2d 2.
tg::Tensor block(const tg::Tensor& input, const std::shared_ptr<tg::nn::Conv2d>& conv,
                 const std::shared_ptr<tg::nn::BatchNorm2d>& bn, const std::shared_ptr<tg::nn::Module>& att) {
  tg::Tensor x = conv->forward(input);
  if (bn) x = bn->forward(x);
  x = tg::relu(x);
  if (att) x = att->forward(x);  // reweights the channels (se), then the positions too (cbam)
  return tg::max_pool2d(x, 2);
}
// [/doc:block]

/// Two blocks of Conv2d 3x3 -> BatchNorm2d -> ReLU -> attention -> MaxPool2d 2, then a Linear
/// layer on the flattened map (which keeps where things are). Keys: conv1.weight, bn1.weight,
/// att1.fc.0.weight (se) or att1.channel_attention.mlp.0.weight (cbam), ..., head.weight.
class Net : public tg::nn::Cloneable<Net> {
 public:
  Net(const Task& task, const Settings& s, std::string attention)
      : Cloneable("Net"), task_(task), s_(s), attention_(std::move(attention)) {
    reset();
  }
  void reset() override {
    const std::int64_t c1 = s_.width, c2 = 2 * s_.width;
    conv1 = register_module("conv1", std::make_shared<tg::nn::Conv2d>(
                                         tg::nn::ConvOptions(task_.channels, c1, 3).padding(1).bias(!s_.batch_norm)));
    conv2 = register_module(
        "conv2", std::make_shared<tg::nn::Conv2d>(tg::nn::ConvOptions(c1, c2, 3).padding(1).bias(!s_.batch_norm)));
    if (s_.batch_norm) {
      bn1 = register_module("bn1", std::make_shared<tg::nn::BatchNorm2d>(c1));
      bn2 = register_module("bn2", std::make_shared<tg::nn::BatchNorm2d>(c2));
    }
    if (attention_ == "se") {
      att1 = register_module("att1", std::make_shared<tg::nn::SEBlock>(c1, s_.reduction));
      att2 = register_module("att2", std::make_shared<tg::nn::SEBlock>(c2, s_.reduction));
    } else if (attention_ == "cbam") {
      att1 = register_module("att1", std::make_shared<tg::nn::CBAM>(c1, s_.reduction, 7));
      att2 = register_module("att2", std::make_shared<tg::nn::CBAM>(c2, s_.reduction, 7));
    }
    const std::int64_t features = c2 * (task_.height / 4) * (task_.width / 4);
    head = register_module("head", std::make_shared<tg::nn::Linear>(features, task_.classes));
  }

  /// images [B, C, H, W] -> logits [B, classes].
  tg::Tensor forward(const tg::Tensor& images) override {
    tg::Tensor x = block(images, conv1, bn1, att1);
    x = block(x, conv2, bn2, att2);
    return head->forward(x.flatten(1));
  }

  /// CBAM's spatial attention over the first block's map [B, 1, H, W] (cbam only).
  tg::Tensor spatial_attention(const tg::Tensor& images) {
    tg::Tensor x = conv1->forward(images);
    if (bn1) x = bn1->forward(x);
    return std::dynamic_pointer_cast<tg::nn::CBAM>(att1)->forward_with_attention(tg::relu(x)).spatial_attention;
  }

  std::shared_ptr<tg::nn::Conv2d> conv1, conv2;
  std::shared_ptr<tg::nn::BatchNorm2d> bn1, bn2;  // null without --batch-norm
  std::shared_ptr<tg::nn::Module> att1, att2;     // null for --attention none
  std::shared_ptr<tg::nn::Linear> head;

 private:
  Task task_;
  Settings s_;
  std::string attention_;
};

// ---- training and evaluation ----------------------------------------------------------------

struct Evaluation {
  double loss = 0, accuracy = 0;
};

Evaluation evaluate(Net& model, tg::data::DataLoader& loader) {
  tg::NoGradGuard no_grad;
  model.eval();
  double loss_sum = 0;
  std::int64_t correct = 0, n = 0;
  for (const tg::data::Batch& batch : loader) {
    const tg::Tensor logits = model.forward(batch[0]);
    loss_sum += F::cross_entropy(logits, batch[1]).item() * static_cast<double>(batch.size());
    const auto predicted = logits.argmax(1).to_vector<std::int64_t>();
    const auto labels = batch[1].to_vector<std::int64_t>();
    for (std::size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == labels[i];
    n += batch.size();
  }
  model.train();
  return {loss_sum / static_cast<double>(n), static_cast<double>(correct) / static_cast<double>(n)};
}

double train_epoch(Net& model, tg::optim::Adam& optimizer, tg::data::DataLoader& loader, const std::string& label) {
  tg::ProgressBar bar(loader.size(), tg::ProgressOptions().label(label).unit("batch"));
  for (const tg::data::Batch& batch : loader) {  // batch[0]: images [B, C, H, W], batch[1]: labels [B]
    optimizer.zero_grad();
    tg::Tensor loss = F::cross_entropy(model.forward(batch[0]), batch[1]);
    loss.backward();
    optimizer.step();
    bar.step(loss.item(), batch.size());
  }
  bar.finish();
  return bar.mean_loss();
}

/// Draws test image 0 (its channel mean) beside CBAM's spatial attention over it (both
/// scaled to [0, 1], one blank column between them). Returns whether the PNG was drawn.
bool draw_attention(Net& model, const Task& task, const std::string& png) {
  tg::NoGradGuard no_grad;
  model.eval();
  const tg::Tensor image = task.test->get(0)[0].unsqueeze(0);  // [1, C, H, W]
  const tg::Tensor map = model.spatial_attention(image).select(0, 0).select(0, 0);
  model.train();
  const auto unit = [](const tg::Tensor& t) {
    const tg::Tensor lo = t.min(), hi = t.max();
    return t.sub(lo).div(hi.sub(lo).add(1e-6));
  };
  const tg::Tensor grey = unit(image.select(0, 0).mean(0));  // [H, W]
  const tg::Tensor gap = tg::zeros({task.height, 1});
  const std::int64_t label = task.test->get(0)[1].item<std::int64_t>();
  const double lo = map.min().item(), hi = map.max().item();
  return tg::plot_heatmap(
      tg::cat({grey, gap, unit(map)}, 1), png,
      tg::HeatmapOptions()
          .title(fmt::format("test image 0 (class {}) | CBAM's spatial attention of block 1, {:.2f}..{:.2f}", label, lo,
                             hi))
          .xlabel("column: the image | its attention")
          .ylabel("row"));
}

// ---- checkpoints ----------------------------------------------------------------------------

/// The settings a checkpoint must agree with to be resumed.
example::Identity run_identity(const Settings& s, const std::string& attention) {
  return {
      {"seed", std::to_string(s.seed)},
      {"data", s.data.empty() ? fmt::format("generated {} {} {}", s.image_size, s.distractors, s.noise) : s.data},
      {"sizes", fmt::format("{} {}", s.train_size, s.test_size)},
      {"batch_size", std::to_string(s.batch_size)},
      {"model", fmt::format("{} width {} reduction {} batch_norm {}", attention, s.width, s.reduction, s.batch_norm)}};
}

// ---- one run --------------------------------------------------------------------------------

struct RunResult {
  std::string attention;
  std::int64_t parameters = 0;
  Evaluation final;
  int epochs_run = 0;  // in this process (0 when a resumed run was already done)
  double seconds_per_epoch = 0;
  bool stopped = false;  // --stop-after
  std::vector<std::string> problems;
};

/// Trains one variant into `dir` (metrics.csv, checkpoint.safetensors, PNGs).
RunResult run(const Settings& s, const Task& task, const std::string& attention, const std::string& dir) {
  fs::create_directories(dir);
  const std::string csv = dir + "/metrics.csv", ckpt = dir + "/checkpoint.safetensors";
  const std::string curves_png = dir + "/curves.png", attention_png = dir + "/attention.png";
  for (const auto& png : {curves_png, attention_png}) fs::remove(png);

  tg::manual_seed(s.seed);  // every variant starts from the same generator state
  tg::data::DataLoader train_loader(task.train, tg::data::DataLoaderOptions(s.batch_size).shuffle(true).seed(s.seed));
  tg::data::DataLoader test_loader(task.test, tg::data::DataLoaderOptions(256));
  Net model(task, s, attention);
  tg::optim::Adam optimizer(model.parameters(), tg::optim::AdamOptions(s.lr));
  const example::Identity identity = run_identity(s, attention);
  const int start_epoch = s.resume ? example::restore_run(ckpt, identity, model, optimizer, train_loader) : 0;

  RunResult r;
  r.attention = attention;
  r.parameters = example::parameter_count(model);
  fmt::print("--attention {}: {} parameters\n", attention, r.parameters);

  tg::MetricsLog metrics(csv, {"epoch", "train_loss", "test_loss", "test_accuracy"}, s.resume);
  double train_seconds = 0;
  for (int epoch = start_epoch; epoch < s.epochs; ++epoch) {
    const example::Stopwatch epoch_clock;
    const double train_loss =
        train_epoch(model, optimizer, train_loader, fmt::format("{} epoch {}/{}", attention, epoch + 1, s.epochs));
    const double seconds = epoch_clock.seconds();
    train_seconds += seconds;
    ++r.epochs_run;
    r.final = evaluate(model, test_loader);
    fmt::print("epoch {:2d}  train loss {:.6f}  test loss {:.6f}  test accuracy {:6.2f}%  ({:.1f}s)\n", epoch + 1,
               train_loss, r.final.loss, 100 * r.final.accuracy, seconds);
    metrics.write({static_cast<double>(epoch + 1), train_loss, r.final.loss, r.final.accuracy});
    example::save_run(ckpt, identity, model, optimizer, epoch + 1);
    if (example::stop_after(s, epoch + 1)) {
      r.stopped = true;
      return r;
    }
  }
  if (r.epochs_run == 0) r.final = evaluate(model, test_loader);
  r.seconds_per_epoch = r.epochs_run > 0 ? train_seconds / r.epochs_run : 0;

  const bool drew_curves = tg::plot_curves(csv, curves_png, "epoch", {"train_loss", "test_loss", "test_accuracy"},
                                           fmt::format("cnn_cbam --attention {}: loss and accuracy", attention));
  const bool draw_map = attention == "cbam";
  const bool drew_map = draw_map && draw_attention(model, task, attention_png);

  // The checks the smoke test relies on: the loss went down and every output exists.
  std::vector<std::string> pngs = {curves_png};
  if (draw_map) pngs.push_back(attention_png);
  r.problems = example::check_run(s.epochs, csv, ckpt, pngs, attention);
  if (drew_curves) fmt::print("curves: {}{}\n", curves_png, drew_map ? "  attention map: " + attention_png : "");
  else example::print_no_png(csv);
  return r;
}

Settings parse_args(int argc, char** argv) {
  Settings s;
  CLI::App app(
      "cnn_cbam: a small CNN with no attention, squeeze-and-excitation (se) or CBAM learns where a pattern "
      "sits in a noisy image (or CIFAR-10 with --data).");
  example::add_run_flags(app, s);
  app.add_option("--attention", s.attention, "attention after each conv block")
      ->check(CLI::IsMember({"none", "se", "cbam"}))
      ->capture_default_str();
  app.add_flag("--compare", s.compare, "train none, se and cbam (in --out/none, /se, /cbam) and print a table");
  app.add_option("--data", s.data, "a folder with CIFAR-10's binary batches (data_batch_1.bin ...)");
  app.add_option("--train-size", s.train_size, "training images (-1: 6000 generated, or all of CIFAR-10)")
      ->capture_default_str();
  app.add_option("--test-size", s.test_size, "test images (-1: 1000 generated, or all of CIFAR-10)")
      ->capture_default_str();
  app.add_option("--batch-size", s.batch_size, "images per batch")->capture_default_str();
  app.add_option("--image-size", s.image_size, "side of the generated images")->capture_default_str();
  app.add_option("--distractors", s.distractors, "'x' shapes in each generated image")->capture_default_str();
  app.add_option("--noise", s.noise, "standard deviation of the generated images' noise")->capture_default_str();
  app.add_option("--width", s.width, "channels of the first conv block (the second has twice as many)")
      ->capture_default_str();
  app.add_option("--reduction", s.reduction, "the attention MLP's reduction ratio r")->capture_default_str();
  app.add_option("--batch-norm", s.batch_norm, "BatchNorm2d after each convolution")->capture_default_str();
  app.add_option("--lr", s.lr, "Adam's learning rate")->capture_default_str();
  example::parse(app, argc, argv, s);  // --help prints and exits 0; a bad flag says why and exits non-zero
  using example::at_least;
  at_least("--train-size", s.train_size, -1);
  at_least("--test-size", s.test_size, -1);
  if (s.train_size == 0 || s.test_size == 0) throw std::runtime_error("--train-size and --test-size must not be 0");
  at_least("--batch-size", s.batch_size, 1);
  at_least("--image-size", s.image_size, 8);
  at_least("--distractors", s.distractors, 0);
  at_least("--width", s.width, 1);
  at_least("--reduction", s.reduction, 1);
  if (s.reduction > s.width) throw std::runtime_error(fmt::format("--reduction {} > --width {}", s.reduction, s.width));
  if (s.image_size % 4 != 0)
    throw std::runtime_error(fmt::format("--image-size must be a multiple of 4, got {}", s.image_size));
  if (s.distractors > (s.image_size * s.image_size) / 32)
    throw std::runtime_error(fmt::format("--distractors {} do not fit a {}x{} image (at most {})", s.distractors,
                                         s.image_size, s.image_size, (s.image_size * s.image_size) / 32));
  if (!(s.noise >= 0)) throw std::runtime_error(fmt::format("--noise must be >= 0, got {}", s.noise));
  if (!(s.lr > 0)) throw std::runtime_error(fmt::format("--lr must be > 0, got {}", s.lr));
  return s;
}

}  // namespace

int main(int argc, char** argv) try {
  const Settings s = parse_args(argc, argv);
  if (s.threads > 0) tg::set_num_threads(s.threads);
  const Task task = make_task(s);
  fmt::print("{}: {} training and {} test images of {}x{}x{}, {} classes\n", task.name, task.train->size(),
             task.test->size(), task.channels, task.height, task.width, task.classes);

  std::vector<RunResult> results;
  for (const std::string& attention :
       s.compare ? std::vector<std::string>{"none", "se", "cbam"} : std::vector<std::string>{s.attention}) {
    results.push_back(run(s, task, attention, s.compare ? s.out + "/" + attention : s.out));
    if (results.back().stopped) return 0;
  }

  std::vector<std::string> problems;
  for (const auto& r : results) problems.insert(problems.end(), r.problems.begin(), r.problems.end());
  if (s.compare) {
    fmt::print("\n{:<10} {:>10} {:>14} {:>14}\n", "attention", "parameters", "test accuracy", "s per epoch");
    for (const auto& r : results)
      fmt::print("{:<10} {:>10} {:>13.2f}% {:>14}\n", r.attention, r.parameters, 100 * r.final.accuracy,
                 r.epochs_run > 0 ? fmt::format("{:.2f}", r.seconds_per_epoch) : "-");
  } else {
    fmt::print("\nfinal test accuracy {:.2f}% after {} epochs ({:.2f}s per epoch in this run)\n",
               100 * results[0].final.accuracy, s.epochs, results[0].seconds_per_epoch);
  }
  return example::report("cnn_cbam", problems);
} catch (const std::exception& e) {
  return example::report_error("cnn_cbam", e);
}

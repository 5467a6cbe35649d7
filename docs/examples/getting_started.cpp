// A first training program of one's own, shown whole in docs/getting-started.md. It makes a
// dataset, batches it with a DataLoader, trains a network of its own with Adam, saves a
// checkpoint after every epoch and, when it finds one, continues from it. ctest runs it as the
// test doc_getting_started: it exits non-zero when a check at the end of main fails.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.h>

namespace fs = std::filesystem;
namespace F = tg::nn::functional;

/// n points of the plane; the label is 1 for a point inside the unit circle, 0 outside.
std::shared_ptr<tg::data::TensorDataset> make_points(std::int64_t n, std::uint64_t seed) {
  tg::Generator generator(seed);
  const tg::Tensor x = tg::randn({n, 2}, {}, &generator);      // float32 [n, 2]
  const tg::Tensor y = (x * x).sum(1).lt(1.0).to(tg::kInt64);  // int64 [n]
  return std::make_shared<tg::data::TensorDataset>(std::vector<tg::Tensor>{x, y});
}

/// The model: 2 inputs, two hidden layers of 32 ReLUs, 2 class scores.
class Net : public tg::nn::Cloneable<Net> {
 public:
  Net() : Cloneable("Net") { reset(); }

  /// Creates and registers the layers; their parameters are named fc1.weight, fc1.bias, ...
  void reset() override {
    fc1 = register_module("fc1", std::make_shared<tg::nn::Linear>(2, 32));
    fc2 = register_module("fc2", std::make_shared<tg::nn::Linear>(32, 32));
    out = register_module("out", std::make_shared<tg::nn::Linear>(32, 2));
  }

  /// [B, 2] points -> [B, 2] logits
  tg::Tensor forward(const tg::Tensor& x) override { return (*out)(tg::relu((*fc2)(tg::relu((*fc1)(x))))); }

  std::shared_ptr<tg::nn::Linear> fc1, fc2, out;
};

/// The fraction of the loader's examples that the model classifies right.
double accuracy(Net& model, tg::data::DataLoader& loader) {
  tg::NoGradGuard no_grad;  // evaluation records no tape
  model.eval();
  double right = 0, total = 0;
  for (const tg::data::Batch& batch : loader) {
    right += model.forward(batch[0]).argmax(1).eq(batch[1]).sum().item();
    total += static_cast<double>(batch.size());
  }
  model.train();
  return right / total;
}

struct Run {
  std::vector<double> losses;  // the mean training loss of each epoch this run trained
  double test_accuracy = 0;
};

/// Trains until `epochs` epochs are done, saving out/checkpoint.safetensors after each one.
/// When that checkpoint exists already, it continues from it instead of starting afresh.
Run train(const std::string& out, int epochs) {
  tg::manual_seed(0);  // the initial weights
  tg::data::DataLoader train_loader(make_points(2000, 1), tg::data::DataLoaderOptions(32).shuffle(true).seed(2));
  tg::data::DataLoader test_loader(make_points(500, 3), tg::data::DataLoaderOptions(250));
  Net model;
  tg::optim::Adam optimizer(model.parameters(), tg::optim::AdamOptions(0.01));

  const std::string checkpoint = out + "/checkpoint.safetensors";
  int start = 0;
  if (fs::exists(checkpoint)) {
    const tg::Checkpoint ck = tg::load_checkpoint(checkpoint);
    model.load_state_dict(ck.model);
    optimizer.load_state_dict(*ck.optimizer);
    tg::default_generator() = *ck.rng;
    start = static_cast<int>(ck.epoch);
    train_loader.set_epoch(start);  // the shuffle of epoch e depends on the seed and e alone
    std::printf("resumed from %s after epoch %d\n", checkpoint.c_str(), start);
  }

  Run run;
  for (int epoch = start; epoch < epochs; ++epoch) {
    double loss_sum = 0;
    for (const tg::data::Batch& batch : train_loader) {  // batch[0]: [32, 2] points, batch[1]: [32] labels
      optimizer.zero_grad();
      const tg::Tensor loss = F::cross_entropy(model.forward(batch[0]), batch[1]);
      loss.backward();
      optimizer.step();
      loss_sum += loss.item();
    }
    run.losses.push_back(loss_sum / static_cast<double>(train_loader.size()));

    tg::Checkpoint ck;
    ck.model = model.state_dict();
    ck.optimizer = optimizer.state_dict();
    ck.epoch = epoch + 1;  // epochs done
    ck.rng = tg::default_generator();
    tg::save_checkpoint(ck, checkpoint);  // atomic: a crash mid-save leaves the previous file whole
    std::printf("epoch %d  loss %.4f\n", epoch + 1, run.losses.back());
  }
  run.test_accuracy = accuracy(model, test_loader);
  std::printf("test accuracy %.1f%%\n", 100 * run.test_accuracy);
  return run;
}

int main(int argc, char** argv) {
  const std::string out = argc > 1 ? argv[1] : "getting_started_out";
  fs::remove_all(out);
  fs::create_directories(out);

  // A run of 6 epochs stopped after 3 and started again: the second call resumes at epoch 4.
  train(out, 3);
  const Run resumed = train(out, 6);

  // The same 6 epochs without a stop.
  fs::remove_all(out);
  fs::create_directories(out);
  const Run straight = train(out, 6);

  bool ok = straight.losses.size() == 6 && straight.losses.back() < straight.losses.front() / 2 &&
            straight.test_accuracy >= 0.95;
  // Resuming reproduces the uninterrupted run bit for bit.
  ok = ok && resumed.losses == std::vector<double>(straight.losses.begin() + 3, straight.losses.end()) &&
       resumed.test_accuracy == straight.test_accuracy;
  std::printf("%s\n", ok ? "ok" : "FAILED: the loss did not fall, the accuracy is low or the resumed run differs");
  return ok ? 0 : 1;
}

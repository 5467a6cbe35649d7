// The programs docs/serialization.md shows: each region between "// [doc:NAME]" and
// "// [/doc:NAME]" is copied word for word into the page (the doc_snippets test checks it).
#include <catch2/catch.hpp>
#include <filesystem>

#include "golden_io/io_helpers.h"
#include "tapegrad/tapegrad.h"

using namespace tg;

namespace guide {

// [doc:weights]
/// Saves a classifier's weights for PyTorch, then loads them back into a fresh copy.
void round_trip(const std::string& path) {
  nn::Sequential model(
      {std::make_shared<nn::Linear>(8, 32), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(32, 4)});
  tg::save(model, path, {{"trained_on", "toy data"}});  // keys "0.weight", "0.bias", "2.weight", ...

  nn::Sequential copy(
      {std::make_shared<nn::Linear>(8, 32), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(32, 4)});
  tg::load(copy, path);  // strict: every key present, every shape equal
}
// [/doc:weights]

// [doc:tensors]
/// Any named tensors, with string metadata, and single arrays for NumPy.
void files(const std::string& dir) {
  const Tensor w = randn({3, 4}), steps = arange(5);
  save_safetensors(dir + "/tensors.safetensors", {{"w", w}, {"steps", steps}}, {{"note", "two tensors"}});
  const SafetensorsFile f = load_safetensors(dir + "/tensors.safetensors");
  const Tensor w2 = f.find("w");  // float32 [3, 4]
  const std::string note = f.metadata.at("note");

  save_npy(dir + "/w.npy", w);  // numpy.load("w.npy") reads it
  const Tensor w3 = load_npy(dir + "/w.npy");
}
// [/doc:tensors]

// [doc:checkpoint]
/// Saves everything a training run needs to continue exactly where it stopped.
void save_run(const std::string& path, const nn::Module& model, const optim::Optimizer& opt,
              const optim::LRScheduler& sched, std::int64_t epoch) {
  Checkpoint ck;
  ck.model = model.state_dict();
  ck.optimizer = opt.state_dict();
  ck.scheduler = sched.state_dict();
  ck.epoch = epoch;
  ck.rng = default_generator();  // dropout masks and shuffles continue the same stream
  ck.metadata["git_commit"] = "abc123";
  save_checkpoint(ck, path);  // atomic: a crash mid-save leaves the previous file intact
}

/// Restores a run saved by save_run; returns the epoch to continue from.
std::int64_t resume(const std::string& path, nn::Module& model, optim::Optimizer& opt, optim::LRScheduler& sched) {
  const Checkpoint ck = load_checkpoint(path);
  model.load_state_dict(ck.model);
  opt.load_state_dict(*ck.optimizer);
  sched.load_state_dict(*ck.scheduler);
  default_generator() = *ck.rng;
  return ck.epoch + 1;
}
// [/doc:checkpoint]

}  // namespace guide

TEST_CASE("serialization guide: weights, tensors and arrays, and a checkpoint that resumes", "[io][guide]") {
  tg_io_test::TempDir dir;
  guide::round_trip((dir / "model.safetensors").string());
  CHECK(load_safetensors((dir / "model.safetensors").string()).tensors.size() == 4);
  guide::files(dir.path().string());
  CHECK(load_npy((dir / "w.npy").string()).shape() ==
        load_safetensors((dir / "tensors.safetensors").string()).find("w").shape());

  manual_seed(5);
  nn::Linear model(3, 1);
  optim::Adam opt(model.parameters(), optim::AdamOptions(0.1));
  optim::StepLR sched(opt, 2, 0.5);
  const Tensor x = randn({16, 3}), y = randn({16, 1});
  auto epoch = [&] {
    opt.zero_grad();
    (model(x) - y).pow(2.0).mean().backward();
    opt.step();
    sched.step();
  };
  for (int e = 0; e < 3; ++e) epoch();
  guide::save_run((dir / "run.ckpt").string(), model, opt, sched, 2);
  const Tensor w_saved = model.weight.clone();
  epoch();
  const Tensor w_after = model.weight.clone();

  nn::Linear fresh(3, 1);
  optim::Adam opt2(fresh.parameters(), optim::AdamOptions(0.1));
  optim::StepLR sched2(opt2, 2, 0.5);
  CHECK(guide::resume((dir / "run.ckpt").string(), fresh, opt2, sched2) == 3);
  CHECK(tg_io_test::same_bits(fresh.weight, w_saved));
  opt2.zero_grad();
  (fresh(x) - y).pow(2.0).mean().backward();
  opt2.step();
  CHECK(tg_io_test::same_bits(fresh.weight, w_after));
  CHECK(sched2.get_last_lr() == std::vector<double>{0.05});
}

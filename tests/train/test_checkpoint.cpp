// Weights and checkpoints on disk: tg::save / tg::load of a module's state dict, the training
// checkpoint (model, optimizer, scheduler, counters, generator, user metadata), resuming from it
// bit for bit, its bad inputs, and a save killed with SIGKILL at points across the file.
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <limits>
#include <thread>

#include "golden_io/io_helpers.h"
#include "tapegrad/tapegrad.h"

extern char** environ;

using namespace tg;
using tg_io_test::same_bits;
using tg_io_test::TempDir;

namespace {

std::shared_ptr<nn::Sequential> make_model() {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(4, 16), std::make_shared<nn::Tanh>(), std::make_shared<nn::Dropout>(0.25),
      std::make_shared<nn::Linear>(16, 1)});
}

bool same_state(const nn::StateDict& a, const nn::StateDict& b) {
  if (a.keys() != b.keys()) return false;
  for (const auto& [name, value] : a)
    if (!same_bits(value, b.find(name))) return false;
  return true;
}

/// One training run: a model with dropout (so the generator's state matters), AdamW with two
/// parameter groups, a step schedule. Steps run from `from` to `to`.
struct Run {
  std::shared_ptr<nn::Sequential> model = make_model();
  optim::AdamW opt{
      {optim::ParamGroup(first_layer()), optim::ParamGroup(last_layer(), optim::AdamWOptions(5e-3).amsgrad(true))},
      optim::AdamWOptions(1e-2).weight_decay(0.05)};
  optim::StepLR sched{opt, 3, 0.5};
  Generator data_gen{7};  // the same data in every run
  Tensor x = randn({32, 4}, {}, &data_gen), y = randn({32, 1}, {}, &data_gen);

  std::vector<Tensor> first_layer() { return model->children()[0]->parameters(); }
  std::vector<Tensor> last_layer() { return model->children()[3]->parameters(); }

  void train(int steps) {
    for (int i = 0; i < steps; ++i) {
      opt.zero_grad();
      Tensor loss = (model->forward(x) - y).pow(2.0).mean();
      loss.backward();
      opt.step();
      sched.step();
    }
  }
  Checkpoint capture(std::int64_t epoch) const {
    Checkpoint ck;
    ck.model = model->state_dict();
    ck.optimizer = opt.state_dict();
    ck.scheduler = sched.state_dict();
    ck.epoch = epoch;
    ck.step = epoch * 32;
    ck.rng = default_generator();
    return ck;
  }
  void restore(const Checkpoint& ck) {
    model->load_state_dict(ck.model);
    opt.load_state_dict(*ck.optimizer);
    sched.load_state_dict(*ck.scheduler);
    default_generator() = *ck.rng;
  }
};

}  // namespace

TEST_CASE("tg::save and tg::load move a module's weights by their PyTorch names", "[io][checkpoint]") {
  TempDir dir;
  const std::string path = (dir / "model.safetensors").string();
  manual_seed(1);
  auto a = make_model();
  a->eval();
  save(*a, path, {{"note", "hello"}});

  const SafetensorsFile file = load_safetensors(path);
  std::vector<std::string> names;
  for (const auto& [name, value] : file.tensors) names.push_back(name);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "3.weight", "3.bias"});
  CHECK(file.metadata.at("note") == "hello");

  manual_seed(2);
  auto b = make_model();
  b->eval();
  const Tensor x = randn({5, 4});
  CHECK_FALSE(same_bits(a->forward(x), b->forward(x)));
  load(*b, path);
  CHECK(same_bits(a->forward(x), b->forward(x)));

  // A float32 model loads a float64 file: values are converted to the parameter's dtype.
  auto c = make_model();
  c->to(kFloat64);
  load(*c, path);
  c->to(kFloat32);
  c->eval();
  CHECK(same_bits(a->forward(x), c->forward(x)));
}

TEST_CASE("tg::load names the missing, unexpected and misshapen keys", "[io][checkpoint]") {
  TempDir dir;
  const std::string path = (dir / "linear.safetensors").string();
  save_safetensors(path, {{"weight", zeros({3, 4})}, {"extra", zeros({1})}});
  nn::Linear wrong_shape(4, 2);
  CHECK_THROWS_WITH(load(wrong_shape, path),
                    Catch::Contains("bias") && Catch::Contains("extra") && Catch::Contains("weight"));
  nn::Linear no_bias(nn::LinearOptions(4, 3).bias(false));
  CHECK_THROWS_WITH(load(no_bias, path), Catch::Contains("unexpected") && Catch::Contains("extra"));
  load(no_bias, path, /*strict=*/false);
  CHECK(no_bias.weight.abs().sum().item() == 0.0);
  CHECK_THROWS_WITH(load(no_bias, (dir / "absent.safetensors").string()), Catch::Contains("absent.safetensors"));
}

TEST_CASE("a checkpoint keeps model, optimizer, scheduler, counters, generator and metadata exactly",
          "[io][checkpoint]") {
  TempDir dir;
  const std::string path = (dir / "run.ckpt").string();
  manual_seed(3);
  Run run;
  run.train(4);
  Checkpoint ck = run.capture(4);
  ck.metadata = {{"dataset", "toy"}, {"comment", "commas, = and spaces"}};
  save_checkpoint(ck, path);

  const Checkpoint back = load_checkpoint(path);
  CHECK(same_state(back.model, ck.model));
  CHECK(back.epoch == 4);
  CHECK(back.step == 128);
  REQUIRE(back.rng);
  CHECK(back.rng->seed() == ck.rng->seed());
  CHECK(back.rng->offset() == ck.rng->offset());
  CHECK(back.metadata == ck.metadata);

  REQUIRE(back.optimizer);
  CHECK(back.optimizer->optimizer == "AdamW");
  REQUIRE(back.optimizer->groups.size() == 2);
  for (std::size_t g = 0; g < 2; ++g) {
    CHECK(back.optimizer->groups[g].options == ck.optimizer->groups[g].options);
    CHECK(back.optimizer->groups[g].params == ck.optimizer->groups[g].params);
  }
  REQUIRE(back.optimizer->state.size() == ck.optimizer->state.size());
  for (std::size_t i = 0; i < ck.optimizer->state.size(); ++i) {
    const auto& want = ck.optimizer->state[i];
    const auto& got = back.optimizer->state[i];
    CHECK(got.param == want.param);
    REQUIRE(got.tensors.size() == want.tensors.size());
    for (std::size_t t = 0; t < want.tensors.size(); ++t) {
      CHECK(got.tensors[t].first == want.tensors[t].first);
      CHECK(same_bits(got.tensors[t].second, want.tensors[t].second));
    }
  }
  REQUIRE(back.scheduler);
  CHECK(back.scheduler->values == ck.scheduler->values);
}

TEST_CASE("numbers that are not finite or not short survive a checkpoint bit for bit", "[io][checkpoint]") {
  TempDir dir;
  const std::string path = (dir / "plateau.ckpt").string();
  Checkpoint ck;
  optim::SchedulerState s;
  s.values["best"] = {std::numeric_limits<double>::infinity()};
  s.values["worst"] = {-std::numeric_limits<double>::infinity()};
  s.values["third"] = {1.0 / 3.0, 0.1 + 0.2, 5e-324, -0.0, 1.7976931348623157e308};
  s.values["empty"] = {};
  s.values["nan"] = {std::nan("")};
  ck.scheduler = s;
  save_checkpoint(ck, path);
  const Checkpoint back = load_checkpoint(path);
  REQUIRE(back.scheduler);
  for (const char* name : {"best", "worst", "third", "empty"}) {
    const auto& want = s.values.at(name);
    const auto& got = back.scheduler->values.at(name);
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) CHECK(std::memcmp(&got[i], &want[i], sizeof(double)) == 0);
  }
  CHECK(std::isnan(back.scheduler->values.at("nan").at(0)));
  CHECK_FALSE(back.optimizer);
  CHECK_FALSE(back.rng);
}

TEST_CASE("train 10 steps, checkpoint, resume in fresh objects for 10 more: equal to 20 straight steps",
          "[io][checkpoint]") {
  TempDir dir;
  const std::string path = (dir / "resume.ckpt").string();

  manual_seed(11);
  Run straight;
  straight.train(20);

  manual_seed(11);
  Run first;
  first.train(10);
  save_checkpoint(first.capture(10), path);
  manual_seed(999);  // the resumed run must get its generator back from the checkpoint
  Run resumed;
  resumed.restore(load_checkpoint(path));
  resumed.train(10);

  CHECK(same_state(resumed.model->state_dict(), straight.model->state_dict()));
  CHECK(resumed.sched.get_last_lr() == straight.sched.get_last_lr());
  CHECK(default_generator().offset() > 0);
}

TEST_CASE("load_checkpoint names the file and the bad entry", "[io][checkpoint]") {
  TempDir dir;
  const std::string plain = (dir / "plain.safetensors").string();
  save_safetensors(plain, {{"w", zeros({2})}});
  CHECK_THROWS_WITH(load_checkpoint(plain),
                    Catch::Contains("plain.safetensors") && Catch::Contains("not a tapegrad checkpoint"));

  std::map<std::string, std::string> meta = {
      {"format", "tapegrad.checkpoint"}, {"format_version", "1"}, {"epoch", "x7"}, {"step", "0"}};
  const std::string bad_epoch = (dir / "bad_epoch.ckpt").string();
  save_safetensors(bad_epoch, {}, meta);
  CHECK_THROWS_WITH(load_checkpoint(bad_epoch),
                    Catch::Contains("'epoch'") && Catch::Contains("x7") && Catch::Contains("bad_epoch.ckpt"));

  meta["epoch"] = "1";
  meta["format_version"] = "9";
  const std::string future = (dir / "future.ckpt").string();
  save_safetensors(future, {}, meta);
  CHECK_THROWS_WITH(load_checkpoint(future), Catch::Contains("format version '9'"));

  meta["format_version"] = "1";
  meta["optimizer"] = "Adam";
  meta["optimizer.groups"] = "1";
  meta["optimizer.group.0.params"] = "0";
  meta["optimizer.group.0.options"] = "lr";
  meta["optimizer.group.0.option.lr"] = "0.001";
  meta["optimizer.entries"] = "0";
  meta["optimizer.entry.0"] = "step,exp_avg";
  const std::string missing = (dir / "missing.ckpt").string();
  save_safetensors(missing, {{"optimizer.state.0.step", zeros({})}}, meta);
  CHECK_THROWS_WITH(load_checkpoint(missing), Catch::Contains("optimizer.state.0.exp_avg"));

  meta["optimizer.group.0.option.lr"] = "fast";
  save_safetensors(missing, {{"optimizer.state.0.step", zeros({})}, {"optimizer.state.0.exp_avg", zeros({})}}, meta);
  CHECK_THROWS_WITH(load_checkpoint(missing),
                    Catch::Contains("optimizer.group.0.option.lr") && Catch::Contains("not a number"));

  meta.erase("optimizer.group.0.options");
  save_safetensors(missing, {{"optimizer.state.0.step", zeros({})}, {"optimizer.state.0.exp_avg", zeros({})}}, meta);
  CHECK_THROWS_WITH(load_checkpoint(missing), Catch::Contains("no entry 'optimizer.group.0.options'"));

  Checkpoint ck;
  ck.metadata[""] = "x";
  CHECK_THROWS_WITH(save_checkpoint(ck, (dir / "empty_key.ckpt").string()), Catch::Contains("metadata key is empty"));
}

namespace {

pid_t spawn_writer(const std::string& path, long long first, long long count, long long elements) {
  const std::string args[] = {TAPEGRAD_CHECKPOINT_WRITER, path, std::to_string(first), std::to_string(count),
                              std::to_string(elements)};
  char* argv[] = {const_cast<char*>(args[0].c_str()), const_cast<char*>(args[1].c_str()),
                  const_cast<char*>(args[2].c_str()), const_cast<char*>(args[3].c_str()),
                  const_cast<char*>(args[4].c_str()), nullptr};
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, argv[0], nullptr, nullptr, argv, environ) == 0);
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return status;
}

/// The size of the writer's temporary file in dir (any entry other than target), or -1.
long long temp_size(const TempDir& dir, const std::string& target) {
  for (const std::string& name : dir.entries()) {
    if (name == target) continue;
    struct stat st {};
    if (::stat((dir / name).string().c_str(), &st) == 0) return st.st_size;
  }
  return -1;
}

template <typename T>
bool all_equal(const Tensor& t, double value) {
  const Tensor c = t.contiguous();
  const T* p = c.data<T>();
  for (std::int64_t i = 0; i < c.numel(); ++i)
    if (p[i] != static_cast<T>(value)) return false;
  return true;
}

/// Removes what dead writers left behind (their temporary files); returns how many there were.
int remove_leftovers(const TempDir& dir, const std::string& target) {
  int n = 0;
  for (const std::string& name : dir.entries())
    if (name != target) n += std::filesystem::remove(dir / name) ? 1 : 0;
  return n;
}

/// The generation of a whole checkpoint, after checking that every value belongs to it.
long long generation_of(const std::string& path) {
  const Checkpoint ck = load_checkpoint(path);
  const long long g = std::stoll(ck.metadata.at("generation"));
  CHECK(ck.step == g);
  CHECK(all_equal<float>(ck.model.find("weight"), static_cast<double>(g)));
  CHECK(all_equal<double>(ck.model.find("bias"), static_cast<double>(g)));
  return g;
}

}  // namespace

TEST_CASE("a checkpoint save killed with SIGKILL at any point leaves the previous checkpoint loadable",
          "[io][checkpoint]") {
  constexpr long long kElements = 1 << 21;                       // an 8 MiB tensor: the write takes a while
  const long long file_size = 8 + 512 + kElements * 4 + 16 * 8;  // about; only fractions are used
  TempDir dir;
  const std::string target = "run.ckpt";
  const std::string path = (dir / target).string();
  REQUIRE(WEXITSTATUS(wait_for(spawn_writer(path, 1, 1, kElements))) == 0);
  REQUIRE(generation_of(path) == 1);

  // Kill points: as soon as the temporary exists, inside the 8-byte length, inside the header,
  // early, middle and late in the data, and once the file is complete (just before or after
  // the rename).
  const long long thresholds[] = {0, 4, 100, 4096, file_size / 2, file_size - 4096, file_size};
  long long generation = 1;
  for (long long threshold : thresholds) {
    INFO("killed once the temporary file reached " << threshold << " bytes");
    const pid_t pid = spawn_writer(path, generation + 1, 0, kElements);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (temp_size(dir, target) < threshold && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    ::kill(pid, SIGKILL);
    const int status = wait_for(pid);
    CHECK(WIFSIGNALED(status));
    const long long g = generation_of(path);  // whole: the old one or a newer complete one
    CHECK(g >= generation);
    generation = std::max(generation, g) + 1000;  // the next writer starts past anything seen
    // The next save succeeds in spite of the dead writer's temporary file, which stays (only
    // a live writer removes its own) until someone clears the folder.
    REQUIRE(WEXITSTATUS(wait_for(spawn_writer(path, generation, 1, 16))) == 0);
    CHECK(generation_of(path) == generation);
    CHECK(remove_leftovers(dir, target) <= 1);
  }
}

// ddp_mlp: data-parallel training of a multi-layer perceptron over MPI.
//
//   mpirun -np 2 build/release/examples/ddp_mlp --epochs 5
//
// Every process holds a replica of the model (DistributedDataParallel broadcasts rank 0's
// parameters), reads its own shard of the data (DistributedSampler, reshuffled every epoch) and
// averages the gradients with the others during backward, so the replicas take the same steps.
// The data are generated: points of --classes Gaussian clusters in --features dimensions.
//
// Each epoch every rank prints its share (examples, steps, its own mean loss) and rank 0 the loss
// averaged over the ranks. With --checkpoint PATH, rank 0 writes the final checkpoint. --steps N
// stops after N steps and prints the median step time (what docs/distributed.md measures;
// --bucket-cap-mb and --no-overlap choose the averaging). Exits with status 1 if the averaged
// loss did not go down, which is what the smoke test checks.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <tapegrad/distributed.h>
#include <tapegrad/tapegrad.h>

namespace F = tg::nn::functional;
namespace dist = tg::distributed;

namespace {

struct Settings {
  int epochs = 5;
  std::int64_t samples = 2048, features = 32, hidden = 128, layers = 2, classes = 4, batch = 64;
  double lr = 0.05, bucket_cap_mb = 25.0;
  bool overlap = true;
  std::int64_t steps = 0;  // 0: whole epochs
  std::uint64_t seed = 42;
  std::string checkpoint;
};

/// Points of `classes` Gaussian clusters (centres drawn from the seed) with their labels.
std::shared_ptr<tg::data::TensorDataset> make_data(const Settings& s) {
  tg::Generator gen(s.seed);
  tg::Tensor centres = tg::randn({s.classes, s.features}, tg::kFloat32, &gen) * 0.5;
  tg::Tensor labels = tg::randint(0, s.classes, {s.samples}, tg::kInt64, &gen);
  tg::Tensor x = tg::index_select(centres, 0, labels) + tg::randn({s.samples, s.features}, tg::kFloat32, &gen) * 2.0;
  return std::make_shared<tg::data::TensorDataset>(std::vector<tg::Tensor>{x, labels});
}

std::shared_ptr<tg::nn::Sequential> make_model(const Settings& s) {
  auto model = std::make_shared<tg::nn::Sequential>();
  std::int64_t in = s.features;
  for (std::int64_t l = 0; l < s.layers; ++l) {
    model->push_back(std::make_shared<tg::nn::Linear>(in, s.hidden));
    model->push_back(std::make_shared<tg::nn::ReLU>());
    in = s.hidden;
  }
  model->push_back(std::make_shared<tg::nn::Linear>(in, s.classes));
  return model;
}

int train(const Settings& s) {
  const int rank = dist::rank(), world = dist::world_size();
  // [doc:ddp_setup]
  // Each rank seeds its model differently on purpose: the wrapper makes them rank 0's.
  tg::manual_seed(s.seed + static_cast<std::uint64_t>(rank));
  auto model = make_model(s);
  auto ddp = std::make_shared<dist::DistributedDataParallel>(
      model, dist::DistributedDataParallelOptions().bucket_cap_mb(s.bucket_cap_mb).overlap(s.overlap));
  tg::optim::SGD opt(model->parameters(), tg::optim::SGDOptions(s.lr).momentum(0.9));

  auto shard = std::make_shared<dist::DistributedSampler>(make_data(s), s.seed);
  // The global batch is s.batch: each rank takes its share of it.
  const std::int64_t local_batch = std::max<std::int64_t>(1, s.batch / world);
  tg::data::DataLoader loader(shard, tg::data::DataLoaderOptions(local_batch));
  // [/doc:ddp_setup]
  if (rank == 0) {
    std::int64_t params = 0;
    for (const auto& p : model->parameters()) params += p.numel();
    fmt::print("{} processes, global batch {} ({} per rank), {} parameters in {} bucket(s)\n", world,
               local_batch * world, local_batch, params, ddp->bucket_parameter_names().size());
  }

  double first = -1, last = -1;
  std::vector<double> step_ms;
  std::int64_t step = 0;
  for (int epoch = 0; epoch < s.epochs && (s.steps == 0 || step < s.steps); ++epoch) {
    // [doc:ddp_loop]
    shard->set_epoch(epoch);
    double loss_sum = 0;
    std::int64_t steps = 0, examples = 0;
    for (const auto& batch : loader) {
      const auto start = std::chrono::steady_clock::now();
      tg::Tensor loss = F::cross_entropy(ddp->forward(batch[0]), batch[1]);
      loss.backward();  // the gradients are averaged over the ranks when it returns
      opt.step();
      opt.zero_grad();
      step_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
      loss_sum += loss.item<double>();
      examples += batch.size();
      ++steps;
      if (s.steps > 0 && ++step >= s.steps) break;
    }
    // [/doc:ddp_loop]
    const double mine = loss_sum / static_cast<double>(steps);
    fmt::print("epoch {} rank {}: {} examples in {} steps, loss {:.4f}\n", epoch, rank, examples, steps, mine);
    tg::Tensor avg = tg::tensor({mine}, tg::kFloat64);
    dist::all_reduce(avg, dist::ReduceOp::kMean);
    if (first < 0) first = avg.item<double>();
    last = avg.item<double>();
    if (rank == 0) fmt::print("epoch {} loss averaged over {} ranks: {:.4f}\n", epoch, world, last);
  }
  if (s.steps > 0 && rank == 0) {
    // The first steps warm up the allocator and MPI's connections: the median of the rest.
    std::vector<double> t(step_ms.begin() + std::min<std::ptrdiff_t>(5, std::ssize(step_ms) - 1), step_ms.end());
    std::nth_element(t.begin(), t.begin() + std::ssize(t) / 2, t.end());
    fmt::print("median step time {:.3f} ms over {} steps (bucket_cap_mb {}, overlap {})\n", t[t.size() / 2], t.size(),
               s.bucket_cap_mb, s.overlap ? "on" : "off");
  }
  if (!s.checkpoint.empty()) {
    tg::Checkpoint ck;
    ck.model = model->state_dict();
    ck.optimizer = opt.state_dict();
    ck.epoch = s.epochs;
    dist::save_checkpoint(ck, s.checkpoint);  // rank 0 writes, atomically
    if (rank == 0) fmt::print("checkpoint written to {}\n", s.checkpoint);
  }
  return s.steps > 0 || last < first ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app("ddp_mlp: data-parallel MLP training over MPI (run under mpirun -np P)");
  app.add_option("--epochs", s.epochs, "epochs")->check(CLI::PositiveNumber);
  app.add_option("--samples", s.samples, "examples in the data set")->check(CLI::PositiveNumber);
  app.add_option("--features", s.features, "input features")->check(CLI::PositiveNumber);
  app.add_option("--hidden", s.hidden, "hidden units per layer")->check(CLI::PositiveNumber);
  app.add_option("--layers", s.layers, "hidden layers")->check(CLI::PositiveNumber);
  app.add_option("--classes", s.classes, "classes")->check(CLI::Range(2, 1000));
  app.add_option("--batch", s.batch, "global batch size (split over the ranks)")->check(CLI::PositiveNumber);
  app.add_option("--lr", s.lr, "SGD learning rate (momentum 0.9)");
  app.add_option("--bucket-cap-mb", s.bucket_cap_mb, "largest gradient bucket in MB (0: one per parameter)");
  app.add_flag("!--no-overlap", s.overlap, "reduce the buckets after backward instead of during it");
  app.add_option("--steps", s.steps, "stop after this many steps and print the median step time");
  app.add_option("--seed", s.seed, "seed of the data and the model");
  app.add_option("--checkpoint", s.checkpoint, "rank 0 writes the final checkpoint here");
  CLI11_PARSE(app, argc, argv);
  // [doc:ddp_main]
  int status = 0;
  // run(): MPI up and down, and a rank that throws ends the whole job with its message.
  dist::run(argc, argv, [&] {
    tg::set_num_threads(1);  // one process per core: no thread pool competing with the others
    status = train(s);
  });
  return status;
  // [/doc:ddp_main]
}

// The tests of tapegrad::distributed, run under mpirun by ctest (tests/distributed/CMakeLists.txt):
// `mpirun -np P tapegrad_mpi_tests <case>`. Each case checks on every rank; a failed check
// prints "[rank R] FAILED: ..." and the program exits 1 (so mpirun exits non-zero).
//
// The equivalence cases compare DDP on P processes, each with its share of a global batch,
// with one process training on the whole global batch: every rank computes that reference
// itself, without MPI, from the same initial parameters.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tapegrad/distributed.h"
#include "tapegrad/tapegrad.h"

using namespace tg;
namespace F = tg::nn::functional;
namespace dist = tg::distributed;

namespace {

int g_checks = 0, g_failures = 0;

void check(bool ok, const std::string& what) {
  ++g_checks;
  if (!ok) {
    ++g_failures;
    std::fprintf(stderr, "[rank %d] FAILED: %s\n", dist::rank(), what.c_str());
  }
}

/// The message of the tg::Error fn throws ("" when it throws none).
std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void check_error(const std::function<void()>& fn, const std::vector<std::string>& words, const std::string& what) {
  const std::string msg = error_of(fn);
  bool ok = !msg.empty();
  for (const auto& w : words) ok = ok && msg.find(w) != std::string::npos;
  check(ok, what + ": got error '" + msg + "'");
}

double max_abs_diff(const Tensor& a, const Tensor& b) { return (a - b).abs().max().item<double>(); }

bool all_equal(const Tensor& t, double v) { return max_abs_diff(t, full_like(t, v)) == 0.0; }

bool bit_equal(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.numel() == b.numel() && a.to_vector<double>() == b.to_vector<double>();
}

/// True when t is the same on every rank, bit for bit.
bool same_on_all_ranks(const Tensor& t) {
  const Tensor all = dist::all_gather(t);
  for (std::int64_t r = 1; r < all.size(0); ++r) {
    if (!bit_equal(all.select(0, r), all.select(0, 0))) return false;
  }
  return true;
}

class LstmClassifier : public nn::Module {
 public:
  LstmClassifier() : nn::Module("LstmClassifier") {
    lstm = register_module("lstm", std::make_shared<nn::LSTM>(nn::RNNOptions(4, 5).batch_first(true)));
    fc = register_module("fc", std::make_shared<nn::Linear>(5, 3));
  }
  Tensor forward(const Tensor& x) override { return fc->forward((*lstm)(x).output.select(1, -1)); }
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Linear> fc;
};

std::shared_ptr<nn::Module> make_model(const std::string& kind, std::uint64_t seed) {
  manual_seed(seed);
  std::shared_ptr<nn::Module> m;
  if (kind == "mlp") {
    m = std::make_shared<nn::Sequential>(nn::Sequential{
        std::make_shared<nn::Linear>(6, 8), std::make_shared<nn::Tanh>(), std::make_shared<nn::Linear>(8, 3)});
  } else {
    m = std::make_shared<LstmClassifier>();
  }
  m->to(kFloat64);
  return m;
}

/// The global batch of step `step`: inputs [B, 6] (mlp) or [B, 5, 4] (lstm), classes [B].
std::pair<Tensor, Tensor> global_batch(const std::string& kind, std::int64_t batch, int step) {
  Generator gen(1000 + static_cast<std::uint64_t>(step));
  Tensor x = kind == "mlp" ? randn({batch, 6}, kFloat64, &gen) : randn({batch, 5, 4}, kFloat64, &gen);
  Tensor y = randint(0, 3, {batch}, kInt64, &gen);
  return {x, y};
}

std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& kind, const std::vector<Tensor>& params) {
  if (kind == "sgd") return std::make_unique<optim::SGD>(params, optim::SGDOptions(0.1).momentum(0.9));
  return std::make_unique<optim::Adam>(params, optim::AdamOptions(0.01));
}

/// Trains `steps` steps with DDP (this rank's rows of each global batch); returns the
/// parameters, after checking them against one process trained on the whole global batches.
std::vector<Tensor> ddp_run(const std::string& model_kind, const std::string& opt_kind, double bucket_cap_mb,
                            bool overlap, int steps) {
  const std::int64_t batch = 8, p = dist::world_size(), r = dist::rank();
  // Each rank starts from different values: the broadcast must make them rank 0's.
  auto model = make_model(model_kind, 17 + static_cast<std::uint64_t>(r));
  auto ddp = std::make_shared<dist::DistributedDataParallel>(
      model, dist::DistributedDataParallelOptions().bucket_cap_mb(bucket_cap_mb).overlap(overlap));
  auto reference = make_model(model_kind, 99);
  reference->load_state_dict(model->state_dict());
  auto opt = make_optimizer(opt_kind, model->parameters());
  auto ref_opt = make_optimizer(opt_kind, reference->parameters());
  for (int step = 0; step < steps; ++step) {
    auto [x, y] = global_batch(model_kind, batch, step);
    const std::int64_t share = batch / p;
    Tensor loss = F::cross_entropy(ddp->forward(x.narrow(0, r * share, share)), y.narrow(0, r * share, share));
    loss.backward();
    ddp->wait();  // a no-op here: every parameter got a gradient, so backward finished the averaging
    opt->step();
    opt->zero_grad();
    F::cross_entropy(reference->forward(x), y).backward();
    ref_opt->step();
    ref_opt->zero_grad();
  }
  std::vector<Tensor> out;
  const auto got = model->named_parameters(), want = reference->named_parameters();
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double diff = max_abs_diff(got[i].second, want[i].second);
    check(diff <= 1e-12, fmt::format("{} {} bucket_cap_mb={} overlap={}: '{}' differs from one process on the global "
                                     "batch by {}",
                                     model_kind, opt_kind, bucket_cap_mb, overlap, got[i].first, diff));
    check(same_on_all_ranks(got[i].second),
          fmt::format("{} {}: '{}' differs between ranks", model_kind, opt_kind, got[i].first));
    out.push_back(got[i].second.detach().clone());
  }
  return out;
}

// ---- the cases --------------------------------------------------------------------------------

void case_collectives() {
  const int p = dist::world_size(), r = dist::rank();
  for (DType dt : {kFloat32, kFloat64}) {
    Tensor t = full({2, 3}, static_cast<double>(r + 1), dt);
    dist::all_reduce(t);
    check(all_equal(t, p * (p + 1) / 2.0), "all_reduce sum");
    Tensor m = full({2, 3}, static_cast<double>(r + 1), dt);
    dist::all_reduce(m, dist::ReduceOp::kMean);
    check(max_abs_diff(m, full({2, 3}, (p + 1) / 2.0, dt)) == 0.0, "all_reduce mean");
    // Non-contiguous: reduced through a copy, written back into the view.
    Tensor base = arange(0.0, 6.0, 1.0, dt).reshape({2, 3});
    Tensor view = base.t();
    dist::all_reduce(view);
    check(max_abs_diff(base, arange(0.0, 6.0, 1.0, dt).reshape({2, 3}) * p) == 0.0, "all_reduce of a transposed view");
    Tensor b = full({3}, static_cast<double>(r), dt);
    const int root = p - 1;
    dist::broadcast(b, root);
    check(all_equal(b, static_cast<double>(root)), "broadcast from the last rank");
    Tensor g = dist::all_gather(full({2}, static_cast<double>(r), dt));
    check(g.dim() == 2 && g.size(0) == p && g.size(1) == 2, "all_gather shape");
    for (int k = 0; k < p; ++k) check(all_equal(g.select(0, k), static_cast<double>(k)), "all_gather rows");
  }
  check_error([] { dist::all_reduce(arange(4)); }, {"all_reduce", "float32 or float64", "int64", "[4]"},
              "all_reduce of int64");
  check_error([] { dist::all_reduce(Tensor()); }, {"all_reduce", "undefined"}, "all_reduce of an undefined tensor");
  check_error([] { dist::broadcast(zeros({2}), 99); }, {"broadcast", "root 99"}, "broadcast from a bad root");
  if (p > 1) {
    // Rank 1 passes another shape: every rank gets the same error, none hangs.
    check_error(
        [r] {
      dist::all_reduce(zeros({r == 1 ? 3 : 2, 2}));
        },
        {"all_reduce", "rank 1 holds a float32 [3, 2] tensor but rank 0 holds float32 [2, 2]"},
        "all_reduce with a shape mismatch");
    check_error([r] { dist::all_gather(zeros({2}, r == 1 ? kFloat64 : kFloat32)); },
                {"all_gather", "rank 1 holds a float64 [2]", "rank 0 holds float32 [2]"},
                "all_gather with a dtype mismatch");
  }
  dist::barrier();
}

void case_broadcast() {
  auto model = make_model("lstm", 5 + static_cast<std::uint64_t>(dist::rank()));
  dist::DistributedDataParallel ddp(model);
  for (const auto& [name, t] : ddp.named_parameters()) {
    check(name.rfind("module.", 0) == 0, "state-dict key '" + name + "' starts with 'module.'");
    check(same_on_all_ranks(t), "after the broadcast, '" + name + "' is rank 0's on every rank");
  }
  auto rank0 = make_model("lstm", 5);
  for (const auto& [name, t] : model->named_parameters())
    check(bit_equal(t, rank0->named_parameters()[0].second) || name != rank0->named_parameters()[0].first,
          "'" + name + "' equals rank 0's initial value");
  // Buckets: reverse registration order, one parameter each at cap 0, all in one at the default.
  const auto one_each = dist::DistributedDataParallel(model, dist::DistributedDataParallelOptions().bucket_cap_mb(0))
                            .bucket_parameter_names();
  check(one_each.size() == 6 && one_each.front() == std::vector<std::string>{"fc.bias"} &&
            one_each.back() == std::vector<std::string>{"lstm.weight_ih_l0"},
        "bucket_cap_mb(0): one parameter per bucket, last parameter first");
  const auto all_in_one = ddp.bucket_parameter_names();
  check(all_in_one.size() == 1 && all_in_one[0].size() == 6 && all_in_one[0].front() == "fc.bias",
        "default cap: one bucket, reverse order");
  check_error([&] { dist::DistributedDataParallel(model, dist::DistributedDataParallelOptions().bucket_cap_mb(-1)); },
              {"DistributedDataParallel", "bucket_cap_mb must be >= 0, got -1"}, "a negative bucket cap");
}

void case_equivalence(const std::string& model_kind) {
  for (const std::string opt : {"sgd", "adam"}) {
    const auto big = ddp_run(model_kind, opt, 25.0, true, 3);
    // From one parameter per bucket to all in one, with and without overlap: identical bits.
    for (double cap : {0.0, 0.0005}) {
      for (bool overlap : {true, false}) {
        const auto other = ddp_run(model_kind, opt, cap, overlap, 3);
        bool same = true;
        for (std::size_t i = 0; i < big.size(); ++i) same = same && bit_equal(big[i], other[i]);
        check(same, fmt::format("{} {}: bucket_cap_mb {} overlap {} gives other bits than one bucket", model_kind, opt,
                                cap, overlap));
      }
    }
  }
}

void case_determinism() {
  const auto a = ddp_run("mlp", "adam", 25.0, true, 4);
  const auto b = ddp_run("mlp", "adam", 25.0, true, 4);
  bool same = true;
  for (std::size_t i = 0; i < a.size(); ++i) same = same && bit_equal(a[i], b[i]);
  check(same, "two runs with the same seed give bit-identical parameters");
  // Printed for the ctest that compares two separate jobs (see CMakeLists.txt).
  double sum = 0;
  for (const auto& t : a) sum += t.sum().item<double>();
  if (dist::rank() == 0) std::printf("parameter checksum %.17g\n", sum);
}

void case_no_sync() {
  const std::int64_t p = dist::world_size(), r = dist::rank();
  auto model = make_model("mlp", 3);
  dist::DistributedDataParallel ddp(model);
  auto reference = make_model("mlp", 3);
  reference->load_state_dict(model->state_dict());
  // Three micro-batches per rank; the first two under no_sync, the third averages the sums.
  for (int k = 0; k < 3; ++k) {
    auto [x, y] = global_batch("mlp", 4 * p, k);
    auto loss = [&](nn::Module& m, std::int64_t rank) {
      return F::cross_entropy(m.forward(x.narrow(0, rank * 4, 4)), y.narrow(0, rank * 4, 4));
    };
    if (k < 2) {
      auto guard = ddp.no_sync();
      loss(ddp, r).backward();
    } else {
      loss(ddp, r).backward();
    }
    for (std::int64_t q = 0; q < p; ++q) loss(*reference, q).backward();
  }
  const auto got = model->named_parameters(), want = reference->named_parameters();
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double diff = max_abs_diff(got[i].second.grad(), want[i].second.grad() / static_cast<double>(p));
    check(diff <= 1e-12,
          fmt::format("no_sync: '{}' grad differs from the mean of the accumulated sums by {}", got[i].first, diff));
  }
}

/// A model whose second layer only rank 0 uses: rank 1 gives it no gradient.
class Branchy : public nn::Module {
 public:
  Branchy() : nn::Module("Branchy") {
    a = register_module("a", std::make_shared<nn::Linear>(3, 2));
    b = register_module("b", std::make_shared<nn::Linear>(3, 2));
  }
  Tensor forward(const Tensor& x) override { return use_b ? a->forward(x) + b->forward(x) : a->forward(x); }
  std::shared_ptr<nn::Linear> a, b;
  bool use_b = true;
};

void case_unused() {
  const int p = dist::world_size(), r = dist::rank();
  manual_seed(1);
  auto model = std::make_shared<Branchy>();
  model->to(kFloat64);
  model->use_b = r == 0;
  dist::DistributedDataParallel ddp(model);
  Tensor x = ones({2, 3}, kFloat64);
  ddp.forward(x).sum().backward();
  if (r != 0) {
    // b got no gradient here: the averaging waits for wait(), and forward says so.
    check_error([&] { ddp.forward(x); }, {"DistributedDataParallel: forward while", "'b.bias' did not", "call wait()"},
                "forward before wait() with an unused parameter");
  }
  ddp.wait();
  ddp.wait();  // a second wait does nothing
  // b's gradient: rank 0's (2 per row-sum of ones) averaged with zeros from the other ranks.
  check(max_abs_diff(model->b->weight.grad(), full({2, 3}, 2.0 / p, kFloat64)) <= 1e-15,
        "unused parameter: the mean counts the missing gradients as zeros");
  check(max_abs_diff(model->a->weight.grad(), full({2, 3}, 2.0, kFloat64)) <= 1e-15, "used parameter averaged");
  check(same_on_all_ranks(model->b->weight.grad()), "unused parameter's gradient is the same on every rank");
}

void case_shape_mismatch() {
  const int r = dist::rank();
  manual_seed(1);
  auto model = std::make_shared<nn::Sequential>(nn::Sequential{std::make_shared<nn::Linear>(r == 1 ? 4 : 5, 3)});
  check_error(
      [&] { dist::DistributedDataParallel ddp(model); },
      {"DistributedDataParallel: rank 1's parameter '0.weight' is float32 [3, 4] but rank 0's is float32 [3, 5]"},
      "a parameter shape that differs on rank 1");
  auto other = std::make_shared<nn::Sequential>(
      r == 1 ? nn::Sequential{std::make_shared<nn::Linear>(5, 3), std::make_shared<nn::Linear>(3, 3)}
             : nn::Sequential{std::make_shared<nn::Linear>(5, 3)});
  check_error([&] { dist::DistributedDataParallel ddp(other); },
              {"rank 1 has 4 parameters and buffers but rank 0 has 2"}, "a parameter more on rank 1");
  dist::barrier();  // still in step after the errors
}

void case_sampler() {
  const int p = dist::world_size();
  auto data = std::make_shared<data::TensorDataset>(std::vector<Tensor>{arange(0.0, 10.0, 1.0, kFloat64)});
  auto shard = std::make_shared<dist::DistributedSampler>(data, 7);
  const std::int64_t per_rank = (10 + p - 1) / p;
  check(shard->size() == per_rank, "every rank's shard holds ceil(n / p) examples");
  auto gather = [&](const dist::DistributedSampler& s) {
    std::vector<double> mine;
    for (std::int64_t i = 0; i < s.size(); ++i) mine.push_back(s.get(i)[0].item<double>());
    return dist::all_gather(from_vector(mine, {static_cast<std::int64_t>(mine.size())})).to_vector<double>();
  };
  const auto e0 = gather(*shard);
  check(std::set<double>(e0.begin(), e0.end()).size() == 10, "the shards cover the dataset");
  check(static_cast<std::int64_t>(e0.size()) == per_rank * p, "the shards are padded to equal sizes");
  shard->set_epoch(1);
  const auto e1 = gather(*shard);
  check(e0 != e1, "set_epoch reshuffles");
  auto again = dist::DistributedSampler(data, 7);
  again.set_epoch(1);
  check(gather(again) == e1, "the order is a function of (seed, epoch)");
  auto cut = dist::DistributedSampler(data, 7, true, true);
  check(cut.size() == 10 / p, "drop_last: floor(n / p) per rank");
  const auto c = gather(cut);
  check(std::set<double>(c.begin(), c.end()).size() == c.size(), "drop_last: the shards are disjoint");
  // The DataLoader over a shard: every rank the same number of steps.
  data::DataLoader loader(shard, data::DataLoaderOptions(2));
  check(loader.size() == (per_rank + 1) / 2, "the loader's steps per epoch");
  check_error([&] { dist::DistributedSampler(data, 0, true, false, 2, 2); },
              {"DistributedSampler", "rank 2 is not in [0, 2)"}, "a rank past num_replicas");
}

void case_checkpoint() {
  auto model = make_model("mlp", 1 + static_cast<std::uint64_t>(dist::rank()));
  dist::DistributedDataParallel ddp(model);
  Checkpoint ck;
  ck.model = model->state_dict();
  ck.epoch = 3;
  // Every rank's own value: only rank 0's may reach the file.
  ck.metadata["writer"] = std::to_string(dist::rank());
  const std::string path = "mpi_checkpoint_test.ckpt";
  dist::save_checkpoint(ck, path);
  const Checkpoint back = dist::load_checkpoint(path);
  check(back.metadata.at("writer") == "0" && back.epoch == 3, "rank 0 wrote the checkpoint; every rank read it");
  auto fresh = make_model("mlp", 42);
  fresh->load_state_dict(back.model);
  for (const auto& [name, t] : fresh->named_parameters())
    check(same_on_all_ranks(t), "loaded '" + name + "' equal on all ranks");
  check_error([&] { dist::save_checkpoint(ck, "no_such_folder/x.ckpt"); },
              {"distributed::save_checkpoint: rank 0 could not write 'no_such_folder/x.ckpt'"},
              "a failed save is an error on every rank");
  dist::barrier();
  if (dist::rank() == 0) std::filesystem::remove(path);
}

/// Rank 1 throws inside run(); the others wait in a barrier that never completes: the job must
/// end with rank 1's message (MPI_Abort), not hang.
void case_failure() {
  if (dist::rank() == 1) fail("rank 1 failed on purpose (value {})", 42);
  dist::barrier();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string which = argc > 1 ? argv[1] : "";
  if (which == "terminate") {
    // Without run(): an exception escaping main reaches the terminate handler init installed.
    auto guard = dist::init(&argc, &argv);
    if (dist::rank() == 1) throw Error("rank 1 threw past main on purpose");
    dist::barrier();
    return 0;
  }
  const std::map<std::string, std::function<void()>> cases = {
      {"collectives", case_collectives},
      {"broadcast", case_broadcast},
      {"equivalence_mlp", [] { case_equivalence("mlp"); }},
      {"equivalence_lstm", [] { case_equivalence("lstm"); }},
      {"determinism", case_determinism},
      {"no_sync", case_no_sync},
      {"unused", case_unused},
      {"shape_mismatch", case_shape_mismatch},
      {"sampler", case_sampler},
      {"checkpoint", case_checkpoint},
      {"failure", case_failure},
  };
  const auto it = cases.find(which);
  if (it == cases.end()) {
    std::fprintf(stderr, "usage: mpirun -np P tapegrad_mpi_tests <case>; cases:");
    for (const auto& [name, fn] : cases) std::fprintf(stderr, " %s", name.c_str());
    std::fprintf(stderr, " terminate\n");
    return 2;
  }
  int status = 0;
  dist::run(argc, argv, [&] {
    it->second();
    // Every rank's counts, so that a failure on any rank fails the job.
    Tensor counts = tensor({static_cast<double>(g_checks), static_cast<double>(g_failures)}, kFloat64);
    dist::all_reduce(counts);
    if (dist::rank() == 0)
      std::printf("%s on %d processes: %.0f checks, %.0f failed\n", which.c_str(), dist::world_size(),
                  counts[0].item<double>(), counts[1].item<double>());
    status = counts[1].item<double>() == 0 ? 0 : 1;
  });
  return status;
}

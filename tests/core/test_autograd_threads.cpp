// A model shared by threads (docs/autograd.md, "Threads"): forward from many threads on one
// model, backward of separate graphs that share leaves, Hogwild-style training and the storage
// version counter under concurrency. The tsan preset runs every [threads] case under
// ThreadSanitizer, which reports the unguarded accesses these tests provoke even in the runs
// where the race happens to give the right numbers. Thread starts are synchronised with
// std::barrier / std::latch (a spinning barrier hung under TSan).
#include <barrier>
#include <cmath>
#include <latch>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "helpers.h"
#include "tapegrad/tapegrad.h"

using namespace tg;

namespace {

constexpr int kThreads = 4;

/// Runs body(i) on kThreads threads and joins them.
template <typename F>
void on_threads(F body) {
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) threads.emplace_back([&body, i] { body(i); });
  for (std::thread& t : threads) t.join();
}

/// A float64 tensor of small integers in [lo, hi], reproducible from seed: sums and products of
/// these are exact in float64, so gradients added in any order are bit-identical.
Tensor small_ints(IntArrayRef shape, int lo, int hi, std::uint64_t seed) {
  Generator gen(seed);
  return randint(lo, hi + 1, shape, kFloat64, &gen);
}

}  // namespace

TEST_CASE("forward on one shared model from several threads gives each leaf one AccumulateGrad",
          "[autograd][threads]") {
  // Each round uses fresh leaves, so every thread races to make their accumulators.
  constexpr int kRounds = 200;
  std::vector<Tensor> w(kRounds), b(kRounds);
  for (int r = 0; r < kRounds; ++r) {
    w[r] = ones({4, 3}).requires_grad_();
    b[r] = zeros({4}).requires_grad_();
  }
  // seen[r][i]: the nodes thread i's graph of round r sends w's and b's gradients to.
  std::vector<std::vector<const autograd::Node*>> seen_w(kRounds, std::vector<const autograd::Node*>(kThreads));
  std::vector<std::vector<const autograd::Node*>> seen_b = seen_w;
  std::vector<std::vector<Tensor>> outs(kRounds, std::vector<Tensor>(kThreads));  // keep the graphs alive
  std::barrier round_start(kThreads);
  on_threads([&](int i) {
    const Tensor x = full({2, 3}, static_cast<double>(i + 1));
    for (int r = 0; r < kRounds; ++r) {
      round_start.arrive_and_wait();
      Tensor y = nn::functional::linear(x, w[r], b[r]);
      seen_w[r][i] = y.grad_fn()->next_edges()[1].node.get();
      seen_b[r][i] = y.grad_fn()->next_edges()[2].node.get();
      outs[r][i] = y;
    }
  });
  int split = 0;
  for (int r = 0; r < kRounds; ++r) {
    for (int i = 1; i < kThreads; ++i) split += (seen_w[r][i] != seen_w[r][0]) + (seen_b[r][i] != seen_b[r][0]);
  }
  CHECK(split == 0);
  CHECK(std::string(seen_w[0][0]->name()) == "accumulate_grad");
  // And every thread's gradient arrives in the one .grad: x = i + 1 over 2 rows sums to
  // 2 * (1 + 2 + 3 + 4) = 20 per weight element.
  for (int i = 0; i < kThreads; ++i) outs[7][i].sum().backward();
  CHECK(w[7].grad().to_vector<float>() == std::vector<float>(12, 20.0f));
  CHECK(b[7].grad().to_vector<float>() == std::vector<float>(4, 2.0f * kThreads));
}

TEST_CASE("concurrent backward of separate graphs sharing leaves accumulates exactly the serial sum",
          "[autograd][threads]") {
  // Two layers and an elementwise term, float64 with small integer values: every partial sum is
  // exact, so the concurrent result must equal the serial one bit for bit.
  const Tensor w1 = small_ints({6, 5}, -2, 2, 1).requires_grad_();
  const Tensor w2 = small_ints({5, 3}, -2, 2, 2).requires_grad_();
  const Tensor s = small_ints({3}, -1, 1, 3).requires_grad_();
  std::vector<Tensor> xs;
  for (int i = 0; i < kThreads; ++i) xs.push_back(small_ints({4, 6}, -3, 3, 10 + i));
  auto loss_of = [&](const Tensor& x) {
    const Tensor h = relu(matmul(x, w1));
    return (matmul(h, w2) * s + s * s).sum();
  };
  constexpr int kIters = 60;

  // Serial reference: every graph's backward one after the other.
  for (int it = 0; it < kIters; ++it) {
    for (int i = 0; i < kThreads; ++i) loss_of(xs[i]).backward();
  }
  const std::vector<double> want1 = w1.grad().to_vector<double>(), want2 = w2.grad().to_vector<double>(),
                            want_s = s.grad().to_vector<double>();
  for (const Tensor& p : {w1, w2, s}) p.zero_grad(/*set_to_none=*/true);
  REQUIRE(std::abs(want1[0]) + std::abs(want2[0]) + std::abs(want_s[0]) > 0);

  // Concurrent: each thread builds its own graph over the shared leaves and backwards it, all
  // threads released at once each iteration.
  std::barrier step(kThreads);
  on_threads([&](int i) {
    for (int it = 0; it < kIters; ++it) {
      Tensor loss = loss_of(xs[i]);
      step.arrive_and_wait();
      loss.backward();
    }
  });
  CHECK(w1.grad().to_vector<double>() == want1);
  CHECK(w2.grad().to_vector<double>() == want2);
  CHECK(s.grad().to_vector<double>() == want_s);
}

TEST_CASE("Hogwild-style training: threads each run forward, backward and step on one model", "[autograd][threads]") {
  manual_seed(5);
  auto model = std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(8, 16), std::make_shared<nn::Tanh>(), std::make_shared<nn::Linear>(16, 1)});
  optim::SGD opt(model->parameters(), 0.02);
  const Tensor x = randn({256, 8});
  const Tensor y = (x.sum({1}, /*keepdim=*/true) * 0.25).tanh();
  auto full_loss = [&] {
    NoGradGuard no_grad;
    return nn::functional::mse_loss(model->forward(x), y).item();
  };
  const double before = full_loss();

  // Forward and backward run concurrently (shared lock); the step writes the parameters in
  // place, so it holds the lock alone: an in-place write to a tensor another thread reads is a
  // data race (docs/autograd.md, "Threads").
  std::shared_mutex params_lock;
  constexpr int kIters = 250;
  std::vector<double> last(kThreads, 0.0);
  std::latch start(kThreads);
  on_threads([&](int i) {
    start.arrive_and_wait();
    for (int it = 0; it < kIters; ++it) {
      const Tensor xb = x.slice(0, (it * kThreads + i) % 16 * 16, (it * kThreads + i) % 16 * 16 + 16);
      const Tensor yb = y.slice(0, (it * kThreads + i) % 16 * 16, (it * kThreads + i) % 16 * 16 + 16);
      {
        std::shared_lock<std::shared_mutex> reading(params_lock);
        Tensor loss = nn::functional::mse_loss(model->forward(xb), yb);
        loss.backward();
        last[i] = loss.item();
      }
      std::unique_lock<std::shared_mutex> writing(params_lock);
      opt.step();
      opt.zero_grad();
    }
  });
  for (double l : last) CHECK(std::isfinite(l));
  const double after = full_loss();
  CHECK(std::isfinite(after));
  CHECK(after < 0.5 * before);  // it trained
}

TEST_CASE("the version counter counts every in-place write made from several threads", "[autograd][threads]") {
  constexpr int kWrites = 500;
  const Tensor t = zeros({kThreads, 8}, kFloat64);
  const Tensor x = ones({kThreads, 8}, kFloat64).requires_grad_();
  const Tensor loss = (x * t).sum();  // saves t at version 0
  const std::uint64_t v0 = t.version();
  std::latch start(kThreads);
  on_threads([&](int i) {
    const Tensor row = t.select(0, i);  // disjoint rows of one storage
    start.arrive_and_wait();
    for (int k = 0; k < kWrites; ++k) row.add_(1.0);
  });
  CHECK(t.version() == v0 + kThreads * kWrites);
  CHECK(t.to_vector<double>() == std::vector<double>(kThreads * 8, kWrites));
  const std::string msg = tg_test::error_of([&] { loss.backward(); });
  CHECK_THAT(msg, Catch::Contains("modified by the in-place op 'add_'"));
  CHECK_THAT(msg, Catch::Contains("(version " + std::to_string(v0 + kThreads * kWrites) + ", expected " +
                                  std::to_string(v0) + ")"));
}

// The tape's structural promises: no recursion, memory that follows the tensors, results
// that do not depend on the thread count, and one tape per thread.
// Also gradcheck itself, and the errors of backward, requires_grad_ and in-place writes
// into saved tensors, each naming the node and the bad input.
#include <fstream>
#include <thread>
#if defined(__SANITIZE_ADDRESS__)
// Exported by the sanitizer runtime (GCC ships no header declaring it).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

#include "support/prelude.h"
#include "tapegrad/tapegrad.h"

using namespace tg;

namespace {

/// Resident set size of this process in bytes.
/// Memory the process holds. Under AddressSanitizer freed blocks sit in its quarantine and RSS
/// grows regardless, so there the sanitizer's own count of live heap bytes is read instead.
std::int64_t held_bytes() {
#if defined(__SANITIZE_ADDRESS__)
  return static_cast<std::int64_t>(__sanitizer_get_current_allocated_bytes());
#else
  std::ifstream statm("/proc/self/statm");
  std::int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * 4096;
#endif
}

/// A 2-layer tanh MLP with its parameters as plain leaf tensors.
struct Mlp {
  Tensor w1, b1, w2, b2;
  explicit Mlp(std::uint64_t seed, std::int64_t in = 8, std::int64_t hidden = 16) {
    Generator g(seed);
    w1 = mul(randn({hidden, in}, kFloat32, &g), 0.3).requires_grad_();
    b1 = zeros({hidden}).requires_grad_();
    w2 = mul(randn({1, hidden}, kFloat32, &g), 0.3).requires_grad_();
    b2 = zeros({1}).requires_grad_();
  }
  Tensor forward(const Tensor& x) const {
    return nn::functional::linear(nn::functional::linear(x, w1, b1).tanh(), w2, b2);
  }
  std::vector<Tensor> params() const { return {w1, b1, w2, b2}; }
};

/// Trains m for `steps` SGD steps on (x, y) and returns the final loss.
Tensor train(Mlp& m, const Tensor& x, const Tensor& y, int steps) {
  optim::SGD opt(m.params(), 0.05);
  Tensor loss;
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    loss = nn::functional::mse_loss(m.forward(x), y);
    loss.backward();
    opt.step();
  }
  return loss;
}

}  // namespace

TEST_CASE("gradcheck rejects a wrong gradient: x * x.detach() has gradient x, not 2x", "[grad][gradcheck]") {
  const Tensor x = positive64({3}, 1);
  REQUIRE_THROWS_WITH(tg::gradcheck([](const Inputs& in) { return in[0] * in[0].detach(); }, {x}),
                      Catch::Matchers::Contains("gradcheck: Jacobian mismatch for input 0"));
}

TEST_CASE("gradcheck accepts a correct gradient and leaves the inputs' grads empty", "[grad][gradcheck]") {
  const Tensor x = positive64({3}, 2);
  CHECK(tg::gradcheck([](const Inputs& in) { return in[0] * in[0]; }, {x}));
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("requires_grad_ on an integer or bool tensor names the dtype and shape", "[bad_input][autograd]") {
  CHECK_TG_ERROR(
      tg::arange(3).requires_grad_(),
      Contains("requires_grad_: only floating-point tensors can require grad") && Contains("int64") && Contains("[3]"));
  CHECK_TG_ERROR(tg::ones({2}, tg::kBool).requires_grad_(), Contains("requires_grad_") && Contains("bool"));
  CHECK_TG_ERROR(tg::zeros({2}, tg::Options().dtype(tg::kInt64).requires_grad()), Contains("requires_grad_"));
  CHECK_NOTHROW(tg::arange(3).requires_grad_(false));
}

TEST_CASE("requires_grad_(false) on a non-leaf points to detach", "[bad_input][autograd]") {
  const Tensor y = leaf({2}) * 2.0;
  CHECK_TG_ERROR(y.requires_grad_(false),
                 Contains("requires_grad_") && Contains("MulBackward") && Contains("detach()"));
}

TEST_CASE("backward on a non-scalar without a gradient names the shape", "[bad_input][autograd]") {
  const Tensor y = leaf({2, 3}) * 2.0;
  CHECK_TG_ERROR(y.backward(),
                 StartsWith("backward: grad can be implicitly created only for scalar outputs, got shape [2, 3]"));
}

TEST_CASE("backward with a gradient of the wrong shape names both shapes", "[bad_input][autograd]") {
  const Tensor y = leaf({2, 3}) * 2.0;
  CHECK_TG_ERROR(y.backward(tg::ones({3})),
                 Equals("backward: the gradient's shape [3] does not match the tensor's shape [2, 3]"));
  CHECK_TG_ERROR(y.backward(tg::ones({3, 2})), Contains("[3, 2]") && Contains("[2, 3]"));
}

TEST_CASE("backward on a tensor that does not require grad says so", "[bad_input][autograd]") {
  CHECK_TG_ERROR(tg::ones({3}).sum().backward(),
                 StartsWith("backward: the tensor (shape []) does not require grad and has no grad_fn"));
  const Tensor x = leaf({3});
  Tensor y;
  {
    tg::NoGradGuard guard;
    y = (x * 2.0).sum();
  }
  CHECK_TG_ERROR(y.backward(), Contains("does not require grad"));
}

TEST_CASE("a second backward without retain_graph names the node and retain_graph", "[bad_input][autograd]") {
  const Tensor x = leaf({3});
  const Tensor z = (x * x).sum();
  z.backward();
  CHECK_THAT(error_of([&] { z.backward(); }),
             StartsWith("backward: trying to backward through the graph a second time") && Contains("Backward") &&
                 Contains("retain_graph=true"));
  // A new graph over the same leaf still works.
  (x * x).sum().backward();
  CHECK(tg_test::values(x.grad()) == std::vector<double>{4, 4, 4});
}

TEST_CASE("a saved output modified in place is detected at backward, naming the node and the in-place op",
          "[bad_input][autograd][inplace]") {
  const Tensor x = tg::tensor({1, 2, 3}).requires_grad_();
  const Tensor y = x.exp();
  CHECK_NOTHROW(y.add_(1.0));  // allowed on a non-leaf: the error comes at backward
  CHECK_THAT(error_of([&] { y.sum().backward(); }),
             StartsWith("backward of ExpBackward: a tensor it saved (shape [3]) was modified by the in-place op "
                        "'add_' after it was saved (version 1, expected 0)"));
}

TEST_CASE("a saved input modified in place is detected at backward, naming the node and the in-place op",
          "[bad_input][autograd][inplace]") {
  const Tensor x = tg::tensor({1, 2}).requires_grad_(), w = tg::tensor({3, 4}).requires_grad_();
  SECTION("mul_ on an intermediate that mul saved") {
    const Tensor a = x * 1.0;
    const Tensor b = a * w;
    a.mul_(2.0);
    CHECK_THAT(error_of([&] { b.sum().backward(); }), Contains("backward of MulBackward") && Contains("'mul_'"));
  }
  SECTION("copy_ into an intermediate that matmul saved") {
    const Tensor a = x * 1.0;
    const Tensor b = tg::matmul(a, w);
    a.copy_(tg::tensor({5, 6}));
    CHECK_THAT(error_of([&] { b.backward(); }), Contains("backward of MatmulBackward") && Contains("'copy_'"));
  }
  SECTION("fill_ on an intermediate that div saved") {
    const Tensor a = x * 1.0;
    const Tensor b = w / a;
    a.fill_(3.0);
    CHECK_THAT(error_of([&] { b.sum().backward(); }), Contains("backward of DivBackward") && Contains("'fill_'"));
  }
  SECTION("a leaf updated under NoGradGuard before backward") {
    const Tensor b = x * w;
    {
      tg::NoGradGuard guard;
      x.add_(1.0);
    }
    CHECK_THAT(error_of([&] { b.sum().backward(); }), Contains("backward of MulBackward") && Contains("'add_'"));
  }
}

TEST_CASE("in-place ops on a leaf that requires grad are errors while grad mode is on",
          "[bad_input][autograd][inplace]") {
  const Tensor x = leaf({3});
  const std::string leaf_msg = "a leaf tensor that requires grad (shape [3]) cannot be modified in place";
  CHECK_TG_ERROR(x.add_(1.0), StartsWith("add_: ") && Contains(leaf_msg) && Contains("NoGradGuard"));
  CHECK_TG_ERROR(x.add_(tg::ones({3})), StartsWith("add_: ") && Contains(leaf_msg));
  CHECK_TG_ERROR(x.mul_(2.0), StartsWith("mul_: ") && Contains(leaf_msg));
  CHECK_TG_ERROR(x.fill_(0.0), StartsWith("fill_: ") && Contains(leaf_msg));
  CHECK_TG_ERROR(x.zero_(), Contains(leaf_msg));
  CHECK_TG_ERROR(x.copy_(tg::zeros({3})), StartsWith("copy_: ") && Contains(leaf_msg));
  CHECK(tg_test::values(x) == std::vector<double>{1, 1, 1});  // nothing was written
}

TEST_CASE("in-place ops on a view autograd does not track are errors while it records them",
          "[bad_input][autograd][inplace]") {
  // Views made by view ops with grad mode on take in-place ops (tests/core/test_inplace_views.cpp);
  // a detach()ed alias or a view made under NoGradGuard has no base whose history could change.
  const Tensor y = leaf({2, 3}) * 1.0;
  CHECK_TG_ERROR(
      y.detach().mul_(leaf({3})),
      StartsWith("mul_: in-place modification of a view that autograd does not track") && Contains("[2, 3]"));
  Tensor v;
  {
    tg::NoGradGuard no_grad;
    v = tg::zeros({2, 3}).select(0, 1);
  }
  CHECK_TG_ERROR(v.copy_(leaf({3})), Contains("copy_") && Contains("view"));
}

TEST_CASE("set_grad with a gradient of another shape or dtype names both", "[bad_input][autograd]") {
  const Tensor x = leaf({3});
  CHECK_TG_ERROR(x.set_grad(tg::ones({2})), Contains("set_grad") && Contains("[2]") && Contains("[3]"));
  CHECK_TG_ERROR(x.set_grad(tg::ones({3}, tg::kFloat64)),
                 Contains("set_grad") && Contains("float64") && Contains("float32"));
}

TEST_CASE("gradcheck with float32 inputs, non-leaf inputs or an output without grad says which",
          "[bad_input][gradcheck]") {
  auto square = [](const std::vector<Tensor>& in) { return in[0] * in[0]; };
  CHECK_TG_ERROR(tg::gradcheck(square, {tg::ones({2}).requires_grad_()}),
                 Equals("gradcheck: input 0 is float32; gradient checks need float64 inputs"));
  const Tensor nonleaf = tg::ones({2}, tg::kFloat64).requires_grad_() * 2.0;
  CHECK_TG_ERROR(tg::gradcheck(square, {nonleaf}), Equals("gradcheck: input 0 must be a leaf tensor"));
  CHECK_TG_ERROR(tg::gradcheck(square, {tg::ones({2}, tg::kFloat64)}),
                 Contains("gradcheck: the function's output does not require grad"));
}

TEST_CASE("a chain of 100,000 ops runs backward and is destroyed without deep recursion", "[autograd]") {
  const Tensor x = scalar_tensor(1.0, kFloat64).requires_grad_();
  {
    Tensor y = x;
    for (int i = 0; i < 100000; ++i) y = mul(y, 1.00001);
    y.backward();
    // d/dx of x * 1.00001^100000 = 1.00001^100000 = e^(100000 ln 1.00001).
    CHECK(x.grad().item() == Approx(std::exp(100000 * std::log1p(1e-5))).epsilon(1e-9));
  }
  {
    // Built and dropped without a backward: the destructor walks the chain iteratively.
    Tensor y = x;
    for (int i = 0; i < 100000; ++i) y = tanh(y);
    CHECK(autograd::live_node_count() >= 100000);
  }
  CHECK(autograd::live_node_count() <= 1);  // at most the leaf's accumulator, if still referenced
}

TEST_CASE("10,000 forward passes with grad on and no backward keep memory flat", "[autograd]") {
  Mlp m(1, 64, 128);
  const Tensor x = randn({32, 64});
  auto forward_and_drop = [&] {
    const Tensor loss = m.forward(x).pow(2.0).mean();
    REQUIRE(loss.requires_grad());
  };
  for (int i = 0; i < 200; ++i) forward_and_drop();  // warm the allocator's caches
  const std::int64_t nodes_before = autograd::live_node_count();
  const std::int64_t held_before = held_bytes();
  for (int i = 0; i < 10000; ++i) forward_and_drop();
  const std::int64_t growth = held_bytes() - held_before;
  INFO("memory growth over 10,000 passes: " << growth << " bytes");
  CHECK(autograd::live_node_count() == nodes_before);
  CHECK(growth < 4 * 1024 * 1024);
}

TEST_CASE("memory of a graph is released after backward without retain_graph", "[autograd]") {
  Mlp m(2);
  const std::int64_t nodes_before = autograd::live_node_count();
  {
    const Tensor loss = m.forward(randn({4, 8})).sum();
    CHECK(autograd::live_node_count() > nodes_before);
    loss.backward();
  }
  CHECK(autograd::live_node_count() == nodes_before);
}

TEST_CASE("results are bit-identical with 1 and 2 threads", "[autograd][determinism][threads]") {
  check_same_bits_on_1_and_2_threads([] {
    manual_seed(42);
    std::vector<Tensor> out;
    const Tensor big = randn({1 << 22});  // the random draws themselves
    const Tensor sq = big.view({2048, 2048});
    out.push_back(big);
    out.push_back(big.sum());                              // one long reduction, blocks in parallel
    out.push_back(sq.sum({0}));                            // column reduction
    out.push_back(sq.mean({1}));                           // row reduction
    out.push_back(big.view({64, 256, 256}).amax({0, 2}));  // mixed dims (the copying path)
    out.push_back(softmax(big.view({4096, 1024}), -1));
    out.push_back(log_softmax(big.view({1024, 4096}), 0));
    out.push_back(matmul(sq, sq.t()));                                            // multithreaded BLAS
    out.push_back(matmul(big.view({256, 128, 128}), big.view({256, 128, 128})));  // TBB over the batch
    out.push_back(tanh(big) * sigmoid(big) + exp(big) / (abs(big) + 1));
    // A few training steps: forward, backward (gradient accumulation), update.
    Mlp m(7, 64, 256);
    const Tensor x = randn({512, 64}), y = randn({512, 1});
    out.push_back(train(m, x, y, 5));
    for (const Tensor& p : m.params()) out.push_back(p.detach());
    return out;
  });
}

TEST_CASE("two threads training two models at once get exactly the sequential results", "[autograd][threads]") {
  const Tensor x = randn({64, 8}), y = randn({64, 1});
  // One after the other.
  Mlp a(11), b(12);
  const Tensor loss_a = train(a, x, y, 50);
  const Tensor loss_b = train(b, x, y, 50);
  // At the same time, from the same initial weights, each thread with its own tape.
  Mlp a2(11), b2(12);
  Tensor loss_a2, loss_b2;
  std::thread ta([&] { loss_a2 = train(a2, x, y, 50); });
  std::thread tb([&] { loss_b2 = train(b2, x, y, 50); });
  ta.join();
  tb.join();
  CHECK(same_bits(loss_a, loss_a2));
  CHECK(same_bits(loss_b, loss_b2));
  for (std::size_t i = 0; i < a.params().size(); ++i) {
    CHECK(same_bits(a.params()[i], a2.params()[i]));
    CHECK(same_bits(b.params()[i], b2.params()[i]));
  }
  CHECK(loss_a.item() < nn::functional::mse_loss(Mlp(11).forward(x), y).item());  // it did train
}

TEST_CASE("grad mode is per thread", "[autograd][threads]") {
  const Tensor w = ones({2}).requires_grad_();
  NoGradGuard off;  // this thread records nothing...
  CHECK_FALSE(mul(w, 2.0).requires_grad());
  bool recorded_elsewhere = false;
  std::thread t([&] { recorded_elsewhere = mul(w, 2.0).requires_grad(); });  // ...another still does
  t.join();
  CHECK(recorded_elsewhere);
}

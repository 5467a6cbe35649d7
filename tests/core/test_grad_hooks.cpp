// The post-accumulate-grad hook (tapegrad/core/grad_hooks.h): when it fires, what it sees, its
// order across leaves (the last layer's first, while earlier layers are still to run backward),
// removal, and its bad inputs.
#include "support/prelude.h"
#include "tapegrad/core/grad_hooks.h"

using namespace tg;

TEST_CASE("post-accumulate hook runs once per backward with the final gradient", "[autograd][grad_hooks]") {
  // [doc:hook]
  Tensor w = tensor({1.0, 2.0, 3.0}).requires_grad_();
  std::vector<std::vector<double>> seen;
  auto handle = autograd::register_post_accumulate_grad_hook(
      w, [&](const Tensor& leaf) { seen.push_back(leaf.grad().to_vector<double>()); });
  // w is used twice: one call, after both contributions are summed (2w + 1).
  (w * w + w).sum().backward();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0] == std::vector<double>{3.0, 5.0, 7.0});
  // [/doc:hook]
  // A second backward accumulates; the hook sees the running sum.
  (w * 2.0).sum().backward();
  REQUIRE(seen.size() == 2);
  CHECK(seen[1] == std::vector<double>{5.0, 7.0, 9.0});
  CHECK(handle.active());
  handle.remove();
  CHECK_FALSE(handle.active());
  handle.remove();  // idempotent
  w.sum().backward();
  CHECK(seen.size() == 2);
}

TEST_CASE("post-accumulate hooks fire as each leaf is ready, before earlier layers run backward",
          "[autograd][grad_hooks]") {
  // x -> h1 = tanh(x w1) -> h2 = tanh(h1 w2) -> loss. w2's gradient is final before w1's
  // backward runs, so its hook must fire while w1 still has no gradient.
  Tensor x = tensor({{0.5, -1.0}});
  Tensor w1 = tensor({{0.1, 0.2}, {0.3, 0.4}}).requires_grad_();
  Tensor w2 = tensor({{0.5, -0.6}, {0.7, 0.8}}).requires_grad_();
  std::vector<std::string> order;
  bool w1_had_grad_when_w2_fired = true;
  auto h1 = autograd::register_post_accumulate_grad_hook(w1, [&](const Tensor&) { order.push_back("w1"); });
  auto h2 = autograd::register_post_accumulate_grad_hook(w2, [&](const Tensor&) {
    order.push_back("w2");
    w1_had_grad_when_w2_fired = w1.grad().defined();
  });
  tanh(matmul(tanh(matmul(x, w1)), w2)).sum().backward();
  CHECK(order == std::vector<std::string>{"w2", "w1"});
  CHECK_FALSE(w1_had_grad_when_w2_fired);
  // The gradients are the ones without hooks.
  Tensor v1 = w1.detach().clone().requires_grad_(), v2 = w2.detach().clone().requires_grad_();
  tanh(matmul(tanh(matmul(x, v1)), v2)).sum().backward();
  CHECK(w1.grad().to_vector<double>() == v1.grad().to_vector<double>());
  CHECK(w2.grad().to_vector<double>() == v2.grad().to_vector<double>());
  h1.remove();
  h2.remove();
}

TEST_CASE("post-accumulate hooks: several per leaf in order, none for leaves backward does not reach",
          "[autograd][grad_hooks]") {
  Tensor a = tensor({1.0}).requires_grad_(), b = tensor({2.0}).requires_grad_();
  std::string calls;
  auto h1 = autograd::register_post_accumulate_grad_hook(a, [&](const Tensor&) { calls += "1"; });
  auto h2 = autograd::register_post_accumulate_grad_hook(a, [&](const Tensor&) { calls += "2"; });
  auto hb = autograd::register_post_accumulate_grad_hook(b, [&](const Tensor&) { calls += "b"; });
  (a * 3.0).sum().backward();
  CHECK(calls == "12");
  // Backward from a leaf itself runs its accumulator, and so its hooks.
  a.backward(tensor({1.0}));
  CHECK(calls == "1212");
  h1.remove();
  h2.remove();
  hb.remove();
  // A hook dies with its leaf; a new tensor never inherits it.
  int fired = 0;
  {
    Tensor c = tensor({1.0}).requires_grad_();
    autograd::register_post_accumulate_grad_hook(c, [&](const Tensor&) { ++fired; });
    c.sum().backward();
  }
  Tensor d = tensor({1.0}).requires_grad_();
  d.sum().backward();
  CHECK(fired == 1);
}

TEST_CASE("post-accumulate hook: bad inputs", "[autograd][grad_hooks]") {
  Tensor plain = tensor({1.0});
  CHECK_TG_ERROR(autograd::register_post_accumulate_grad_hook(plain, [](const Tensor&) {}),
                 Contains("register_post_accumulate_grad_hook: expects a leaf that requires grad") &&
                     Contains("shape [1]") && Contains("requires_grad=false"));
  Tensor w = tensor({1.0}).requires_grad_();
  Tensor y = w * 2.0;
  CHECK_TG_ERROR(autograd::register_post_accumulate_grad_hook(y, [](const Tensor&) {}), Contains("is_leaf=false"));
  CHECK_TG_ERROR(autograd::register_post_accumulate_grad_hook(w, nullptr), Contains("the hook is empty"));
}

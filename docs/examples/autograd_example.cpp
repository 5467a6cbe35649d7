// The program behind docs/autograd.md. Every value, gradient, node name and message that page
// states is checked here; ctest runs it as the test doc_autograd. The regions between
// "// [doc:NAME]" and "// [/doc:NAME]" are quoted in the page word for word.
//
// Usage: doc_autograd_example [DOT_FILE]        checks to_dot's output against DOT_FILE
//        doc_autograd_example --write-dot FILE  writes it (then: dot -Tsvg FILE -o ....svg)
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "tapegrad/tapegrad.h"

using doc::check;
using doc::error_of;
using doc::near;
using tg::Tensor;

// [doc:worked]
std::string worked_example() {
  const Tensor a = tg::tensor({{0.5, -1.0}, {2.0, 0.0}}).requires_grad_();  // [2, 2] leaf
  const Tensor b = tg::tensor({3.0, -0.5}).requires_grad_();                // [2] leaf
  const Tensor y = (a * b + a.tanh()).sum();                                // b is broadcast over the rows of a

  // y = 3(0.5) - 0.5(-1) + 3(2) - 0.5(0) + tanh(0.5) + tanh(-1) + tanh(2) + tanh(0)
  const double t0 = std::tanh(0.5), t1 = std::tanh(-1.0), t2 = std::tanh(2.0);
  check(near(y.item(), 1.5 + 0.5 + 6.0 + 0.0 + t0 + t1 + t2 + 0.0));  // 8.6645506

  // The graph: one node per op, each numbered above the nodes it depends on.
  const auto& sum = y.grad_fn();
  const auto& add = sum->next_edges()[0].node;
  const auto& mul = add->next_edges()[0].node;
  const auto& tanh = add->next_edges()[1].node;
  check(sum->display_name() == "SumBackward" && add->display_name() == "AddBackward");
  check(mul->display_name() == "MulBackward" && tanh->display_name() == "TanhBackward");
  check(sum->sequence_nr() > add->sequence_nr());
  check(add->sequence_nr() > mul->sequence_nr() && add->sequence_nr() > tanh->sequence_nr());
  // (Which of a * b and a.tanh() runs first, and so is numbered first, is the compiler's
  // choice: C++ leaves the order of the operands of + open. Either order is topological.)
  // Both uses of a lead to one AccumulateGrad node, numbered 0: it runs after both.
  const auto& acc_a = mul->next_edges()[0].node;
  check(acc_a == tanh->next_edges()[0].node && acc_a->sequence_nr() == 0);
  check(mul->next_edges()[1].shape == tg::DimVec{2});  // b's edge remembers b's shape

  const std::string dot = tg::autograd::to_dot(y);

  y.backward();
  // dy/da = b + (1 - tanh(a)^2): b broadcast over the rows, plus tanh's derivative.
  check(near(a.grad(), {3.0 + 1 - t0 * t0, -0.5 + 1 - t1 * t1, 3.0 + 1 - t2 * t2, -0.5 + 1 - 0.0}));
  // dy/db = a summed over the rows that b was broadcast along.
  check(near(b.grad(), {0.5 + 2.0, -1.0 + 0.0}));
  return dot;
}
// [/doc:worked]

// [doc:custom_op]
namespace my_ops {  // a program's own ops, apart from tg's (called qualified: no clash)

/// softplus(x) = log(1 + e^x); its derivative is e^x / (1 + e^x) = sigmoid(x).
Tensor softplus(const Tensor& x) {
  Tensor out;
  {
    tg::NoGradGuard no_grad;  // the pieces of the forward are not recorded...
    out = tg::log(tg::exp(x) + 1.0);
  }
  if (tg::autograd::needs_grad(x)) {  // ...one node is, with the derivative written beside it
    tg::autograd::record("softplus", out, {&x},
                         [sx = tg::autograd::SavedTensor::input(x)](tg::autograd::BackwardContext& c) {
      c.set(0, c.grad() * tg::sigmoid(c.unpack(sx)));
    });
  }
  return out;
}

}  // namespace my_ops

void custom_op() {
  const Tensor x = tg::tensor({-2.0, -0.5, 0.0, 1.5}, tg::kFloat64).requires_grad_();
  check(my_ops::softplus(x).grad_fn_name() == "SoftplusBackward");
  check(tg::gradcheck([](const std::vector<Tensor>& in) { return my_ops::softplus(in[0]); }, {x}));
}
// [/doc:custom_op]

// [doc:gradcheck_fails]
namespace my_ops {

/// The same op with a wrong derivative: e^x, the division forgotten.
Tensor softplus_wrong(const Tensor& x) {
  Tensor out;
  {
    tg::NoGradGuard no_grad;
    out = tg::log(tg::exp(x) + 1.0);
  }
  if (tg::autograd::needs_grad(x)) {
    tg::autograd::record("softplus", out, {&x},
                         [sx = tg::autograd::SavedTensor::input(x)](tg::autograd::BackwardContext& c) {
      c.set(0, c.grad() * tg::exp(c.unpack(sx)));
    });
  }
  return out;
}

}  // namespace my_ops

void gradcheck_catches_a_wrong_backward() {
  const Tensor x = tg::tensor({-2.0, -0.5, 0.0, 1.5}, tg::kFloat64).requires_grad_();
  const std::string message = error_of(
      [&] { tg::gradcheck([](const std::vector<Tensor>& in) { return my_ops::softplus_wrong(in[0]); }, {x}); });
  // sigmoid(-2) = 0.1192029220 is right; e^-2 = 0.1353352832 is not.
  check(
      message.starts_with("gradcheck: Jacobian mismatch for input 0 (shape [4]), output element 0, "
                          "input element 0: numerical 0.119202922"));
  check(message.ends_with("analytical 0.1353352832"));
}
// [/doc:gradcheck_fails]

// [doc:inplace]
void in_place_after_save() {
  const Tensor x = tg::tensor({0.5, -1.0}).requires_grad_();
  const Tensor y = x.tanh();  // TanhBackward saves y, at its storage's version 0
  const Tensor loss = y.sum();
  y.mul_(2.0);  // overwrites y: version 1
  check(y.version() == 1);
  check(error_of([&] { loss.backward(); }) ==
        "backward of TanhBackward: a tensor it saved (shape [2]) was modified by the in-place op 'mul_' after "
        "it was saved (version 1, expected 0); clone() it before modifying it in place");
}
// [/doc:inplace]

// [doc:retain]
void backward_twice() {
  const Tensor x = tg::tensor({1.0, 2.0}).requires_grad_();
  const Tensor loss = (x * x).sum();
  loss.backward({}, /*retain_graph=*/true);  // keeps what the nodes saved
  loss.backward();                           // frees it; gradients add up: 2x + 2x
  check(near(x.grad(), {4.0, 8.0}));
  check(error_of([&] { loss.backward(); }) ==
        "backward: trying to backward through the graph a second time (the saved tensors of SumBackward were "
        "freed after the first backward); pass retain_graph=true to the first backward");
}
// [/doc:retain]

// [doc:nograd]
void no_grad() {
  const Tensor w = tg::ones({3}).requires_grad_();
  const std::int64_t nodes = tg::autograd::live_node_count();
  {
    tg::NoGradGuard no_grad;  // recording is off on this thread until the guard dies
    const Tensor y = (w * 2.0).sum();
    check(!y.requires_grad() && y.grad_fn() == nullptr);
    check(tg::autograd::live_node_count() == nodes);  // nothing was recorded

    bool other_thread_records = false;  // grad mode is per thread
    std::thread([&] { other_thread_records = (w * 2.0).requires_grad(); }).join();
    check(other_thread_records);
  }
  check(tg::is_grad_enabled() && (w * 2.0).requires_grad());
}
// [/doc:nograd]

// [doc:memory]
void memory_follows_tensors() {
  const Tensor w = tg::randn({8, 8}).requires_grad_();
  const std::int64_t before = tg::autograd::live_node_count();
  for (int step = 0; step < 1000; ++step) {  // an evaluation loop that forgot NoGradGuard
    const Tensor loss = tg::matmul(w, w).tanh().sum();
    // MatmulBackward, TanhBackward, SumBackward and w's AccumulateGrad, owned through loss.
    check(tg::autograd::live_node_count() == before + 4);
  }  // each loss dies at the end of its step, and its nodes with it
  check(tg::autograd::live_node_count() == before);
}

void long_chain() {
  const Tensor x = tg::scalar_tensor(1.0, tg::kFloat64).requires_grad_();
  {
    Tensor h = x;
    for (int i = 0; i < 100000; ++i) h = h * 1.00001;  // a chain of 100,000 MulBackward nodes
    h.backward();                                      // a loop over them, no recursion
  }                                                    // and the chain is destroyed by a loop as well
  check(near(x.grad().item(), std::pow(1.00001, 100000), 1e-9));
}
// [/doc:memory]

// [doc:inplace_views]
void in_place_on_views() {
  const Tensor x = tg::tensor({{1.0, -2.0, 3.0}, {-4.0, 5.0, -6.0}}).requires_grad_();
  const Tensor y = x * 1.0;   // an intermediate: in-place ops on it are recorded
  const Tensor row = y[0];    // a view of y: y is its base
  y.transpose(0, 1).mul_(2);  // through another view: y's history is rewritten
  check(y.grad_fn_name() == "CopySlicesBackward");
  row.relu_();  // row saw the write: its grad_fn is made again from y's new history
  check(row.grad_fn_name() == "AsStridedBackward");
  check(near(y, {2.0, 0.0, 6.0, -8.0, 10.0, -12.0}));
  check(y.version() == 2 && row.version() == 2);  // one counter for a view and its base
  y.sum().backward();
  check(near(x.grad(), {2.0, 0.0, 2.0, 2.0, 2.0, 2.0}));
  // A leaf that requires grad has no history to rewrite: an in-place op on its view is refused.
  const std::string refused = error_of([&] { x[0].mul_(2); });
  check(
      refused.starts_with("mul_: a view of a leaf Variable that requires grad is being used in an in-place "
                          "operation"));
}
// [/doc:inplace_views]

int main(int argc, char** argv) {
  const std::string dot = worked_example();
  std::cout << dot;
  if (argc == 3 && std::string(argv[1]) == "--write-dot") {
    std::ofstream(argv[2]) << dot;
  } else if (argc == 2) {
    std::ifstream in(argv[1]);
    std::stringstream committed;
    committed << in.rdbuf();
    if (committed.str() != dot) {
      std::cerr << "to_dot's output differs from " << argv[1] << "; regenerate it and the SVG (see docs/autograd.md)\n";
      check(false);
    }
  }
  custom_op();
  gradcheck_catches_a_wrong_backward();
  in_place_after_save();
  in_place_on_views();
  backward_twice();
  no_grad();
  memory_follows_tensors();
  long_chain();
  return doc::exit_code();
}

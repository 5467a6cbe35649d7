// Pictures of the tape (core/src/autograd/dot.cpp): to_dot and graph_to_text name parameters,
// show every node's output shape, and collapse the repeated steps of an RNN so that an LSTM
// with attention pooling over 30 steps is a picture of a few dozen boxes.
#include <catch2/catch.hpp>
#include <regex>

#include "helpers.h"
#include "tapegrad/tapegrad.h"

using Catch::Matchers::Contains;
using tg::Tensor;
namespace nn = tg::nn;
namespace ag = tg::autograd;

namespace {

std::size_t count_boxes(const std::string& dot) {
  static const std::regex box(R"(\n  n\d+ \[label)");
  return static_cast<std::size_t>(
      std::distance(std::sregex_iterator(dot.begin(), dot.end(), box), std::sregex_iterator()));
}

/// An LSTM classifier with attention pooling over its T outputs: scores = v^T tanh(W h_t),
/// weights = softmax over t, pooled = sum_t weights_t h_t, logits = Linear(pooled). The LSTM
/// runs as a loop of LSTMCell steps, so the tape repeats one step's nodes T times (nn::LSTM
/// records its whole recurrence as one node instead).
struct AttentionClassifier : nn::Module {
  AttentionClassifier() : nn::Module("AttentionClassifier") {
    cell = register_module("cell", std::make_shared<nn::LSTMCell>(8, 16));
    proj = register_module("proj", std::make_shared<nn::Linear>(16, 16));
    score = register_module("score", std::make_shared<nn::Linear>(nn::LinearOptions(16, 1).bias(false)));
    head = register_module("head", std::make_shared<nn::Linear>(16, 3));
  }
  Tensor forward(const Tensor& x) override {  // x [T, B, 8]
    std::optional<nn::RNNState> state;
    std::vector<Tensor> hs;
    for (std::int64_t t = 0; t < x.size(0); ++t) {
      state = cell->forward(x.select(0, t), state);
      hs.push_back(state->h);
    }
    const Tensor h = tg::stack(hs, 0);                                      // [T, B, 16]
    const Tensor weights = tg::softmax((*score)(tg::tanh((*proj)(h))), 0);  // [T, B, 1]
    return (*head)((weights * h).sum({0}));                                 // [B, 3]
  }
  std::shared_ptr<nn::LSTMCell> cell;
  std::shared_ptr<nn::Linear> proj, score, head;
};

}  // namespace

TEST_CASE("to_dot shows output shapes on every node and names leaves", "[autograd][graph]") {
  const Tensor a = tg::ones({2, 2}).requires_grad_(), b = tg::ones({2}).requires_grad_();
  const Tensor y = (a * b + tg::tanh(a)).sum();
  const std::string plain = ag::to_dot(y);
  CHECK_THAT(plain, Contains("SumBackward\\n[]") && Contains("MulBackward\\n[2, 2]") &&
                        Contains("AccumulateGrad\\n[2]") && Contains("fillcolor=lightblue"));
  const std::string named = ag::to_dot(y, {.names = {{"a", a}, {"b", b}}});
  CHECK_THAT(named, Contains("label=\"a\\n[2, 2]\"") && Contains("label=\"b\\n[2]\"") && !Contains("AccumulateGrad"));
  CHECK(count_boxes(named) == 6);  // sum, add, mul, tanh, a, b: a is one box though two ops read it
  const std::string text = ag::graph_to_text(y, {.names = {{"a", a}, {"b", b}}});
  CHECK(text ==
        "SumBackward []\n"
        "`- AddBackward [2, 2]\n"
        "   |- MulBackward [2, 2]\n"
        "   |  |- a [2, 2]\n"
        "   |  `- b [2]\n"
        "   `- TanhBackward [2, 2]\n"
        "      `- a [2, 2] (see above)\n");
  CHECK_THAT(ag::graph_to_text(a), Contains("no graph") && Contains("leaf"));
}

TEST_CASE("to_dot of a 30-step LSTM cell loop with attention: a few dozen boxes, parameters named",
          "[autograd][graph][nn]") {
  tg::manual_seed(5);
  AttentionClassifier model;
  const Tensor x = tg::randn({30, 4, 8});
  const Tensor loss = nn::functional::cross_entropy(model(x), tg::zeros({4}, tg::kInt64));
  const auto names = model.named_parameters();
  const std::string full = ag::to_dot(loss, {.names = names, .collapse = false, .max_nodes = 100000});
  const std::string collapsed = ag::to_dot(loss, {.names = names});
  INFO(collapsed);
  CHECK(count_boxes(full) > 150);
  CHECK(count_boxes(collapsed) <= 40);
  for (const auto& [name, p] : names) CHECK_THAT(collapsed, Contains("label=\"" + name));
  CHECK_THAT(collapsed, Contains(" x30"));  // the repeated step, shown once with its count
  // The limit: beyond max_nodes boxes, one box says how many nodes are left out.
  const std::string limited = ag::to_dot(loss, {.names = names, .collapse = false, .max_nodes = 10});
  CHECK(count_boxes(limited) == 10);
  CHECK_THAT(limited, Contains("more nodes"));
  const std::string text = ag::graph_to_text(loss, {.names = names});
  CHECK_THAT(text, Contains("cell.weight_ih [64, 8]") && Contains("x30"));
}

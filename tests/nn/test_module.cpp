// The Module system: PyTorch's state-dict names, state round trips, clone, modes, errors.
#include <catch2/catch.hpp>

#include "tapegrad/tapegrad.h"

using namespace tg;
using Catch::Matchers::Contains;

namespace {

/// A small model with nesting, a buffer-carrying layer and a container, built in reset().
class Net : public nn::Cloneable<Net> {
 public:
  Net() : Cloneable("Net") { reset(); }
  void reset() override {
    emb = register_module("emb", std::make_shared<nn::Embedding>(10, 4));
    body = register_module("body", std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
                                       std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::ReLU>(),
                                       std::make_shared<nn::BatchNorm1d>(8), std::make_shared<nn::Linear>(8, 3)}));
  }
  Tensor forward(const Tensor& tokens) override { return (*body)(emb->forward(tokens).mean({1})); }
  std::shared_ptr<nn::Embedding> emb;
  std::shared_ptr<nn::Sequential> body;
};

std::vector<std::string> names(const std::vector<std::pair<std::string, Tensor>>& v) {
  std::vector<std::string> out;
  for (const auto& [k, t] : v) out.push_back(k);
  return out;
}

bool same(const Tensor& a, const Tensor& b) { return (a - b).abs().amax().item() == 0.0; }

}  // namespace

TEST_CASE("named_parameters and state_dict use PyTorch's dotted keys in PyTorch's order", "[nn][module]") {
  Net net;
  CHECK(names(net.named_parameters()) == std::vector<std::string>{"emb.weight", "body.0.weight", "body.0.bias",
                                                                  "body.2.weight", "body.2.bias", "body.3.weight",
                                                                  "body.3.bias"});
  CHECK(names(net.named_buffers()) ==
        std::vector<std::string>{"body.2.running_mean", "body.2.running_var", "body.2.num_batches_tracked"});
  // state_dict: each module's parameters, then its buffers, then its children's.
  CHECK(net.state_dict().keys() == std::vector<std::string>{"emb.weight", "body.0.weight", "body.0.bias",
                                                            "body.2.weight", "body.2.bias", "body.2.running_mean",
                                                            "body.2.running_var", "body.2.num_batches_tracked",
                                                            "body.3.weight", "body.3.bias"});
  CHECK(net.parameters().size() == 7);
  CHECK(net.children().size() == 2);
  CHECK(net.modules().size() == 7);  // Net, emb, body and body's 4 layers
}

TEST_CASE("a state dict loaded into a fresh model gives identical outputs", "[nn][module]") {
  manual_seed(1);
  Net a;
  const Tensor tokens = randint(0, 10, {5, 6});
  a.train();
  a.forward(tokens);  // moves the batch norm's running statistics
  a.eval();
  manual_seed(2);
  Net b;
  b.eval();
  CHECK_FALSE(same(a.forward(tokens), b.forward(tokens)));
  b.load_state_dict(a.state_dict());
  CHECK(same(a.forward(tokens), b.forward(tokens)));
  CHECK(b.body->at<nn::BatchNorm1d>(2)->num_batches_tracked.item<std::int64_t>() == 1);
}

TEST_CASE("load_state_dict names missing, unexpected and misshapen keys", "[nn][module]") {
  Net net;
  nn::StateDict state = net.state_dict();
  nn::StateDict missing;
  for (const auto& [k, v] : state)
    if (k != "body.0.bias") missing.insert(k, v);
  REQUIRE_THROWS_WITH(net.load_state_dict(missing), Contains("missing keys: body.0.bias"));
  net.load_state_dict(missing, /*strict=*/false);  // a partial load is allowed when not strict

  nn::StateDict extra = state;
  extra.insert("head.weight", zeros({2}));
  REQUIRE_THROWS_WITH(net.load_state_dict(extra), Contains("unexpected keys: head.weight"));

  nn::StateDict wrong = state;
  wrong.insert("body.3.weight", zeros({3, 9}));
  REQUIRE_THROWS_WITH(net.load_state_dict(wrong, false),
                      Contains("body.3.weight (expected [3, 8], got [3, 9])") && Contains("shape mismatches"));
}

TEST_CASE("clone is a deep copy with its own parameters, buffers and submodules", "[nn][module]") {
  Net net;
  net.eval();
  auto copy = std::dynamic_pointer_cast<Net>(net.clone());
  REQUIRE(copy != nullptr);
  const Tensor tokens = randint(0, 10, {3, 4});
  CHECK(same(net.forward(tokens), copy->forward(tokens)));
  CHECK_FALSE(copy->is_training());
  CHECK(copy->body->at<nn::Linear>(0) != net.body->at<nn::Linear>(0));
  CHECK(names(copy->named_parameters()) == names(net.named_parameters()));
  {
    NoGradGuard guard;
    copy->emb->weight.fill_(0.5);
    copy->body->at<nn::BatchNorm1d>(2)->running_mean.fill_(3.0);
  }
  CHECK(net.emb->weight.amax().item() != 0.5);
  CHECK(net.body->at<nn::BatchNorm1d>(2)->running_mean.amax().item() == 0.0);
  // The copy's member handles are the registered ones (not the original's).
  CHECK(copy->named_parameters()[0].second.shares_storage_with(copy->emb->weight));
}

TEST_CASE("train and eval reach every submodule, dropout follows them", "[nn][module]") {
  nn::Sequential seq{std::make_shared<nn::Dropout>(0.5), std::make_shared<nn::Linear>(4, 4)};
  seq.eval();
  for (nn::Module* m : seq.modules()) CHECK_FALSE(m->is_training());
  const Tensor x = ones({2, 4});
  CHECK(same((*seq[0])(x), x));  // evaluation: the identity
  seq.train();
  for (nn::Module* m : seq.modules()) CHECK(m->is_training());
  manual_seed(3);
  const Tensor y = (*seq[0])(ones({1000}));
  CHECK(y.eq(0.0).sum().item() > 400);
  CHECK(y.eq(2.0).sum().item() > 400);
}

TEST_CASE("to(kFloat64) converts parameters and buffers in place, handles stay valid", "[nn][module]") {
  Net net;
  const Tensor w = net.body->at<nn::Linear>(0)->weight;
  net.to(kFloat64);
  CHECK(w.dtype() == kFloat64);
  CHECK(net.body->at<nn::BatchNorm1d>(2)->running_var.dtype() == kFloat64);
  CHECK(net.body->at<nn::BatchNorm1d>(2)->num_batches_tracked.dtype() == kInt64);
  CHECK(w.requires_grad());
  net.forward(randint(0, 10, {2, 3})).sum().backward();
  CHECK(w.grad().dtype() == kFloat64);
  net.zero_grad();
  CHECK_FALSE(w.grad().defined());
}

TEST_CASE("apply visits every module, children first", "[nn][module]") {
  Net net;
  std::vector<std::string> seen;
  net.apply([&](nn::Module& m) { seen.push_back(m.type_name()); });
  CHECK(seen == std::vector<std::string>{"Embedding", "Linear", "ReLU", "BatchNorm1d", "Linear", "Sequential", "Net"});
}

TEST_CASE("summary lists each layer's output shape and parameter count", "[nn][module]") {
  nn::Sequential seq{std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::Tanh>(),
                     std::make_shared<nn::Linear>(8, 2)};
  const std::string table = nn::summary(seq, {5, 4});
  INFO(table);
  CHECK_THAT(table, Contains("0") && Contains("Linear") && Contains("[5, 8]") && Contains("40"));
  CHECK_THAT(table, Contains("Tanh") && Contains("[5, 2]") && Contains("18"));
  CHECK_THAT(table, Contains("Total parameters: 58"));
}

TEST_CASE("modules reject bad options and bad inputs with the module's name and the values", "[nn][module][errors]") {
  REQUIRE_THROWS_WITH(nn::Linear(0, 3), Contains("Linear") && Contains("in_features must be positive, got 0"));
  REQUIRE_THROWS_WITH(nn::Dropout(-0.1), Contains("Dropout") && Contains("-0.1"));
  REQUIRE_THROWS_WITH(nn::Embedding(nn::EmbeddingOptions(5, 3).padding_idx(7)), Contains("padding_idx 7"));
  REQUIRE_THROWS_WITH(nn::Conv2d(nn::ConvOptions(3, 4, 3).groups(2)),
                      Contains("groups (2) must divide in_channels (3)"));
  REQUIRE_THROWS_WITH(nn::BatchNorm2d(nn::BatchNormOptions(4).momentum(1.5)), Contains("momentum") && Contains("1.5"));
  nn::Linear fc(784, 10);
  REQUIRE_THROWS_WITH(fc(zeros({32, 100})),
                      Contains("Linear: expected input with 784 features") && Contains("got 100"));
  nn::BatchNorm2d bn(4);
  REQUIRE_THROWS_WITH(bn(zeros({2, 3, 5, 5})), Contains("BatchNorm2d: expected 4 channels") && Contains("got 3"));
  REQUIRE_THROWS_WITH(bn(zeros({2, 4})), Contains("BatchNorm2d: expected an input of 4 dims"));
  nn::ReLU relu;
  REQUIRE_THROWS_WITH(relu.clone()->register_parameter("a.b", zeros({1})), Contains("invalid name \"a.b\""));
}

TEST_CASE("the inplace option of ReLU writes into its input and keeps gradients right", "[nn][module]") {
  const Tensor x = tensor({-1.0, 2.0, -3.0, 4.0}, kFloat64).requires_grad_();
  nn::ReLU relu(/*inplace=*/true);
  Tensor h = x * 2.0;
  const Tensor y = relu(h);
  CHECK(y.shares_storage_with(h));
  y.sum().backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 2, 0, 2});
}

TEST_CASE("a name is registered once across parameters, buffers and submodules", "[nn][module][bad_input]") {
  struct Clash : tg::nn::Module {
    Clash() : Module("Clash") {}
  };
  Clash m;
  m.register_parameter("x", tg::zeros({2}));
  CHECK_THROWS_WITH(m.register_buffer("x", tg::zeros({3})),
                    Catch::Contains("Clash") && Catch::Contains("\"x\" is already registered as a parameter"));
  m.register_buffer("y", tg::zeros({3}));
  CHECK_THROWS_WITH(m.register_parameter("y", tg::zeros({3})), Catch::Contains("already registered as a buffer"));
  m.register_module("z", std::make_shared<tg::nn::Identity>());
  CHECK_THROWS_WITH(m.register_parameter("z", tg::zeros({1})), Catch::Contains("already registered as a submodule"));
  CHECK_THROWS_WITH(m.register_module("x", std::make_shared<tg::nn::Identity>()),
                    Catch::Contains("already registered as a parameter"));
  CHECK(m.state_dict().keys() == std::vector<std::string>{"x", "y"});
}

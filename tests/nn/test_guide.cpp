// The programs docs/nn.md shows: each region between "// [doc:NAME]" and "// [/doc:NAME]" is
// quoted word for word by the page (checked by the doc_snippets test), and runs here as a test.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tapegrad/tapegrad.h"

using namespace tg;
using Catch::Matchers::Contains;

namespace guide {

// [doc:define]
/// A two-layer perceptron with a learned output scale, and a buffer counting its forward calls.
class MLP : public nn::Cloneable<MLP> {
 public:
  MLP(std::int64_t in, std::int64_t hidden, std::int64_t out) : Cloneable("MLP"), in_(in), hidden_(hidden), out_(out) {
    reset();
  }

  /// Creates and registers everything the module owns. clone() calls it again on the copy.
  void reset() override {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(in_, hidden_));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(hidden_, out_));
    scale = register_parameter("scale", ones({out_}));
    calls = register_buffer("calls", zeros({}, kInt64));
  }

  /// [..., in] -> [..., out]
  Tensor forward(const Tensor& x) override {
    calls.add_(1.0);  // a buffer: saved and loaded with the weights, never trained
    return (*fc2)(relu((*fc1)(x))) * scale;
  }

  std::shared_ptr<nn::Linear> fc1, fc2;
  Tensor scale, calls;

 private:
  std::int64_t in_, hidden_, out_;  // plain members: the copy constructor copies them
};
// [/doc:define]

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<std::string> out;
  for (const auto& [name, t] : named) out.push_back(name);
  return out;
}

// [doc:names]
void names_and_order() {
  MLP net(4, 8, 3);
  // A module's own parameters first, then each child's under its name: PyTorch's keys and order.
  CHECK(names_of(net.named_parameters()) ==
        std::vector<std::string>{"scale", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"});
  CHECK(names_of(net.named_buffers()) == std::vector<std::string>{"calls"});
  CHECK(net.state_dict().keys() ==
        std::vector<std::string>{"scale", "calls", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"});
  CHECK(net.named_parameters(/*recurse=*/false).size() == 1);  // scale only
  // The member handles are the registered tensors themselves.
  CHECK(net.named_parameters()[1].second.shares_storage_with(net.fc1->weight));
  std::vector<std::string> modules;
  for (const auto& [name, m] : net.named_modules()) modules.push_back(name + ":" + m->type_name());
  CHECK(modules == std::vector<std::string>{":MLP", "fc1:Linear", "fc2:Linear"});
}
// [/doc:names]

// [doc:clone]
void deep_copy() {
  MLP net(4, 8, 3);
  auto copy = std::dynamic_pointer_cast<MLP>(net.clone());
  // The same values, in tensors and submodules of its own.
  CHECK((copy->fc1->weight - net.fc1->weight).abs().amax().item() == 0.0);
  CHECK_FALSE(copy->fc1->weight.shares_storage_with(net.fc1->weight));
  CHECK(copy->fc1 != net.fc1);
  {
    NoGradGuard no_grad;
    copy->fc1->weight.zero_();
  }
  CHECK(net.fc1->weight.abs().amax().item() > 0.0);
}
// [/doc:clone]

// [doc:modes]
void modes_dtypes_and_gradients() {
  nn::Sequential model{std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::Dropout>(0.5),
                       std::make_shared<nn::Linear>(8, 2)};
  model.eval();  // recursive: dropout is now the identity
  for (nn::Module* m : model.modules()) CHECK_FALSE(m->is_training());
  model.train();

  const Tensor w = model.at<nn::Linear>(0)->weight;
  model.to(kFloat64);  // in place: handles taken before stay valid
  CHECK(w.dtype() == kFloat64);

  model(randn({5, 4}, kFloat64)).sum().backward();
  CHECK(w.grad().defined());
  model.zero_grad();  // set_to_none = true by default, as in PyTorch 2
  CHECK_FALSE(w.grad().defined());

  // apply: every descendant first, then the module itself.
  std::vector<std::string> visited;
  model.apply([&](nn::Module& m) { visited.push_back(m.type_name()); });
  CHECK(visited == std::vector<std::string>{"Linear", "Dropout", "Linear", "Sequential"});
}
// [/doc:modes]

// [doc:checkpoint]
void save_and_load() {
  MLP trained(4, 8, 3), fresh(4, 8, 3);
  trained(ones({2, 4}));                        // calls = 1
  fresh.load_state_dict(trained.state_dict());  // copies values by name, in place
  CHECK((fresh.fc2->weight - trained.fc2->weight).abs().amax().item() == 0.0);
  CHECK(fresh.calls.item<std::int64_t>() == 1);

  // Strict by default: the error lists every missing, unexpected and misshapen key.
  MLP wider(4, 16, 3);
  nn::StateDict state = wider.state_dict();
  state.insert("head.weight", zeros({3, 3}));
  CHECK_THROWS_WITH(fresh.load_state_dict(state),
                    "load_state_dict: error(s) loading the state of MLP: unexpected keys: head.weight; "
                    "shape mismatches: fc1.weight (expected [8, 4], got [16, 4]); fc1.bias (expected [8], got "
                    "[16]); fc2.weight (expected [3, 8], got [3, 16])");

  // strict = false tolerates missing and unexpected keys, never a shape mismatch.
  nn::StateDict partial;
  partial.insert("scale", full({3}, 2.0));
  partial.insert("optimizer_step", zeros({}));
  fresh.load_state_dict(partial, /*strict=*/false);
  CHECK(fresh.scale.sum().item() == 6.0);
}
// [/doc:checkpoint]

// [doc:summary]
std::string conv_net_summary() {
  nn::Sequential net{std::make_shared<nn::Conv2d>(nn::ConvOptions(1, 8, 3).padding(1)), std::make_shared<nn::ReLU>(),
                     std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Flatten>(),
                     std::make_shared<nn::Linear>(8 * 14 * 14, 10)};
  return nn::summary(net, {32, 1, 28, 28});  // one forward pass on zeros, not recorded
}
// [/doc:summary]

// [doc:summary_table]
const char* const kConvNetSummary = R"(Layer    Type        Output shape         Params
------------------------------------------------
0        Conv2d      [32, 8, 28, 28]          80
1        ReLU        [32, 8, 28, 28]           0
2        MaxPool2d   [32, 8, 14, 14]           0
3        Flatten     [32, 1568]                0
4        Linear      [32, 10]              15690
(model)  Sequential  [32, 10]                  0
------------------------------------------------
Total parameters: 15770
Trainable parameters: 15770
)";
// [/doc:summary_table]

// [doc:containers]
void containers() {
  // Sequential: runs its modules in order; named "0", "1", ...
  nn::Sequential mlp{std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::Tanh>()};
  mlp.push_back(std::make_shared<nn::Linear>(8, 2));
  CHECK(mlp(zeros({3, 4})).shape() == DimVec{3, 2});
  CHECK(mlp.at<nn::Linear>(2)->options().in_features() == 8);

  // ModuleList: holds modules under "0", "1", ...; its owner decides how to call them.
  auto blocks = std::make_shared<nn::ModuleList>();
  for (int i = 0; i < 3; ++i) blocks->push_back(std::make_shared<nn::Linear>(8, 8));
  CHECK(blocks->at<nn::Linear>(2)->weight.shape() == DimVec{8, 8});

  // ModuleDict: holds modules under keys, in the order they were inserted.
  auto heads = std::make_shared<nn::ModuleDict>();
  heads->insert("sentiment", std::make_shared<nn::Linear>(8, 2));
  heads->insert("topic", std::make_shared<nn::Linear>(8, 5));
  CHECK(heads->keys() == std::vector<std::string>{"sentiment", "topic"});

  nn::ModuleDict model;
  model.insert("blocks", blocks);
  model.insert("heads", heads);
  CHECK(model.state_dict().contains("blocks.2.weight"));
  CHECK(model.state_dict().contains("heads.topic.bias"));
}
// [/doc:containers]

// [doc:options]
void options_structs() {
  nn::Linear fc(nn::LinearOptions(784, 10).bias(false));
  nn::Conv2d conv(nn::ConvOptions(3, 64, 7).stride(2).padding(3).bias(false));
  nn::LSTM lstm(nn::RNNOptions(32, 64).num_layers(2).dropout(0.1).batch_first(true));
  nn::LayerNorm norm(nn::LayerNormOptions({64}).eps(1e-6));
  nn::Embedding emb(nn::EmbeddingOptions(1000, 32).padding_idx(0));
  CHECK_FALSE(fc.bias.defined());
  CHECK(conv.weight.shape() == DimVec{64, 3, 7, 7});

  // Options are checked when the module is built; the message names the module and the value.
  CHECK_THROWS_WITH(nn::Conv2d(nn::ConvOptions(3, 64, 3).groups(2)), "Conv2d: groups (2) must divide in_channels (3)");
  CHECK_THROWS_WITH(nn::LSTM(nn::RNNOptions(32, 64).dropout(1.5)), "LSTM: dropout must be in [0, 1], got 1.5");
  // A wrong input names the module, what it expects and what it got.
  CHECK_THROWS_WITH(fc(zeros({8, 100})),
                    "Linear: expected input with 784 features in its last dim, got 100 (input shape [8, 100])");
}
// [/doc:options]

// [doc:rnn_shapes]
void rnn_shapes() {
  const std::int64_t T = 7, B = 3, I = 5, H = 16, L = 2, D = 2;
  nn::LSTM lstm(nn::RNNOptions(I, H).num_layers(L).bidirectional(true).batch_first(true));
  auto [out, state] = lstm(randn({B, T, I}));  // out, (h_n, c_n) = lstm(x): zero initial state
  CHECK(out.shape() == DimVec{B, T, D * H});   // top layer, both directions side by side
  auto [h_n, c_n] = state;                     // RNNState destructures too
  CHECK(h_n.shape() == DimVec{L * D, B, H});   // batch_first does not apply to it
  CHECK(c_n.shape() == DimVec{L * D, B, H});   // a GRU leaves c undefined

  // Continue from a state: the h_n and c_n of the last call (forward(x, state) is the same).
  const nn::RNNOutput next = lstm(randn({B, T, I}), state);
  CHECK(next.output.shape() == DimVec{B, T, D * H});

  // PyTorch's names; the gate blocks of each weight are stacked in the order i, f, g, o.
  CHECK(names_of(lstm.named_parameters()).size() == 16);
  CHECK(lstm.state_dict().contains("weight_ih_l1_reverse"));
  CHECK(lstm.layer_parameters(1, 1)[0].shape() == DimVec{4 * H, D * H});  // weight_ih_l1_reverse
  CHECK(lstm.layer_parameters(0, 0)[1].shape() == DimVec{4 * H, H});      // weight_hh_l0
}
// [/doc:rnn_shapes]

// [doc:lengths]
void padded_batch() {
  nn::GRU gru(nn::RNNOptions(2, 4).batch_first(true));
  const Tensor x = randn({2, 5, 2});              // two sequences padded to T = 5
  const Tensor lengths = tensor({5, 3}, kInt64);  // the second one is 3 steps long
  const nn::RNNOutput out = gru.forward(x, std::nullopt, lengths);

  // Outputs at padded steps are zeros; h_n holds each sequence's state at its last real step.
  CHECK(out.output.select(0, 1).slice(0, 3, 5).abs().amax().item() == 0.0);
  const Tensor last_real = out.output.select(0, 1).select(0, 2);  // sequence 1, step 3 - 1
  CHECK((out.state.h.select(0, 0).select(0, 1) - last_real).abs().amax().item() == 0.0);

  // The same as running that sequence alone, cut to its length.
  const nn::RNNOutput alone = gru.forward(x.slice(0, 1, 2).slice(1, 0, 3), std::nullopt);
  CHECK((alone.state.h.select(1, 0) - out.state.h.select(1, 1)).abs().amax().item() < 1e-6);
}
// [/doc:lengths]

// [doc:tape]
/// How many nodes named `name` the tape behind t holds.
int count_nodes(const Tensor& t, std::string_view name) {
  std::set<const autograd::Node*> seen;
  std::vector<const autograd::Node*> todo{t.grad_fn().get()};
  int count = 0;
  while (!todo.empty()) {
    const autograd::Node* node = todo.back();
    todo.pop_back();
    if (node == nullptr || !seen.insert(node).second) continue;
    if (name == node->name()) ++count;
    for (const autograd::Edge& e : node->next_edges()) todo.push_back(e.node.get());
  }
  return count;
}

void one_recurrence_per_layer() {
  const std::int64_t T = 50, L = 2;
  nn::LSTM lstm(nn::RNNOptions(8, 16).num_layers(L));
  const Tensor y = lstm.forward(randn({T, 4, 8}), std::nullopt).output;
  CHECK(count_nodes(y, "linear") == L);           // one input projection per layer
  CHECK(count_nodes(y, "lstm_recurrence") == L);  // all T steps of a layer: one node
  CHECK(count_nodes(y, "lstm_cell") + count_nodes(y, "matmul") == 0);
  // With lengths, padded steps keep the state: the steps are recorded one by one.
  const Tensor lengths = tensor({T, T - 1, 3, 1}, kInt64);
  const Tensor z = lstm.forward(randn({T, 4, 8}), std::nullopt, lengths).output;
  CHECK(count_nodes(z, "lstm_cell") == L * T);  // one fused cell per layer and step
  CHECK(count_nodes(z, "matmul") == L * T);     // one recurrent GEMM per step
}
// [/doc:tape]

// [doc:losses]
void losses() {
  namespace F = nn::functional;
  const Tensor logits = tensor({{2.0, 0.5, -1.0}, {0.1, 0.2, 3.0}, {1e4, 0.0, 0.0}}, kFloat64).requires_grad_();
  const Tensor labels = tensor({0, 2, 1}, kInt64);

  const Tensor per_row = F::cross_entropy(logits, labels, F::CrossEntropyOptions().reduction(F::Reduction::None));
  CHECK(per_row.shape() == DimVec{3});
  CHECK(per_row.to_vector<double>()[2] == 1e4);  // logsumexp(1e4, 0, 0) - 0, no overflow

  // Mean divides by the number of non-ignored targets (by their summed weights with class weights).
  const Tensor ignored = tensor({0, 2, -100}, kInt64);
  const Tensor mean = F::cross_entropy(logits, ignored);
  CHECK(mean.item() == Approx((per_row.to_vector<double>()[0] + per_row.to_vector<double>()[1]) / 2));

  // One backward for the whole loss: (softmax - one_hot) / 2 on the rows that count, 0 on the ignored row.
  mean.backward();
  const Tensor expected = (softmax(logits.detach(), 1) - one_hot(labels, 3).to(kFloat64)) / 2.0;
  CHECK((logits.grad().slice(0, 0, 2) - expected.slice(0, 0, 2)).abs().amax().item() < 1e-15);
  CHECK(logits.grad().select(0, 2).abs().amax().item() == 0.0);

  // Options are checked by their setters.
  CHECK_THROWS_WITH(F::CrossEntropyOptions().label_smoothing(1.5),
                    "cross_entropy: label_smoothing must be in [0, 1], got 1.5");
  const Tensor bce =
      F::binary_cross_entropy_with_logits(tensor({{50.0, -50.0}}), tensor({{1.0, 0.0}}),
                                          F::BinaryCrossEntropyWithLogitsOptions().pos_weight(tensor({3.0, 3.0})));
  CHECK(bce.item() < 1e-20);  // stable for large logits
}
// [/doc:losses]

// [doc:init]
/// Glorot-uniform weights scaled for tanh and zero biases for every Linear in model.
void init_for_tanh(nn::Module& model) {
  const double gain = nn::init::calculate_gain("tanh");  // 5/3
  model.apply([&](nn::Module& m) {
    if (auto* linear = dynamic_cast<nn::Linear*>(&m)) {
      nn::init::xavier_uniform_(linear->weight, gain);
      if (linear->bias.defined()) nn::init::zeros_(linear->bias);
    }
  });
}
// [/doc:init]

// [doc:classifier]
/// Classifies sequences [B, T, features], padded to T, from the LSTM's last real state.
class SequenceClassifier : public nn::Cloneable<SequenceClassifier> {
 public:
  SequenceClassifier(std::int64_t features, std::int64_t hidden, std::int64_t classes)
      : Cloneable("SequenceClassifier"), features_(features), hidden_(hidden), classes_(classes) {
    reset();
  }
  void reset() override {
    lstm = register_module("lstm", std::make_shared<nn::LSTM>(nn::RNNOptions(features_, hidden_).batch_first(true)));
    head = register_module("head", std::make_shared<nn::Linear>(hidden_, classes_));
  }
  /// x [B, T, features], lengths int64 [B] -> logits [B, classes].
  Tensor forward(const Tensor& x, const Tensor& lengths) {
    const nn::RNNOutput out = lstm->forward(x, std::nullopt, lengths);
    return (*head)(out.state.h.select(0, 0));  // h_n of the only layer: [B, hidden]
  }
  Tensor forward(const Tensor& x) override { return forward(x, Tensor()); }  // every sequence full length

  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Linear> head;

 private:
  std::int64_t features_, hidden_, classes_;
};

struct Batch {
  Tensor x, lengths, labels;
};

/// B sequences of 3 features, 4 to T steps long; the label is the feature with the largest sum
/// over the real steps. Padded steps hold noise, which the LSTM must not read.
Batch make_batch(std::int64_t B, std::int64_t T, Generator& gen) {
  const Tensor x = randn({B, T, 3}, kFloat32, &gen);
  const Tensor lengths = randint(4, T + 1, {B}, kInt64, &gen);
  const Tensor real = lt(arange(T).view({1, T, 1}), lengths.view({B, 1, 1}));  // [B, T, 1]
  const Tensor labels = where(real, x, 0.0).sum({1}).argmax(1);
  return {x, lengths, labels};
}
// [/doc:classifier]

// [doc:train]
/// Adam on fresh batches; returns the loss of every step.
std::vector<double> train_classifier(SequenceClassifier& model, int steps, Generator& gen) {
  optim::Adam opt(model.parameters(), optim::AdamOptions(1e-2));
  model.train();
  std::vector<double> losses;
  for (int step = 0; step < steps; ++step) {
    const Batch batch = make_batch(32, 12, gen);
    opt.zero_grad();
    const Tensor loss = nn::functional::cross_entropy(model.forward(batch.x, batch.lengths), batch.labels);
    loss.backward();
    optim::clip_grad_norm_(model.parameters(), 1.0);
    opt.step();
    losses.push_back(loss.item());
  }
  return losses;
}

/// The fraction of a new batch classified right, without recording.
double accuracy(SequenceClassifier& model, Generator& gen) {
  NoGradGuard no_grad;
  model.eval();
  const Batch batch = make_batch(256, 12, gen);
  const Tensor predicted = model.forward(batch.x, batch.lengths).argmax(1);
  return eq(predicted, batch.labels).to(kFloat64).mean().item();
}
// [/doc:train]

}  // namespace guide

TEST_CASE("nn guide: a module registers its parameters, buffers and submodules in reset", "[nn_guide]") {
  guide::MLP net(4, 8, 3);
  const Tensor y = net(zeros({2, 5, 4}));
  CHECK(y.shape() == DimVec{2, 5, 3});
  CHECK(net.calls.item<std::int64_t>() == 1);
  CHECK(net.parameters().size() == 5);
}

TEST_CASE("nn guide: named_parameters and state_dict use PyTorch's dotted keys and order", "[nn_guide]") {
  guide::names_and_order();
}

TEST_CASE("nn guide: clone is a deep copy built by reset", "[nn_guide]") { guide::deep_copy(); }

TEST_CASE("nn guide: train and eval, to(dtype), zero_grad and apply reach every submodule", "[nn_guide]") {
  guide::modes_dtypes_and_gradients();
}

TEST_CASE("nn guide: load_state_dict copies by name and lists every bad key", "[nn_guide]") { guide::save_and_load(); }

TEST_CASE("nn guide: summary prints each layer's output shape and parameter count", "[nn_guide]") {
  const std::string table = guide::conv_net_summary();
  INFO(table);
  CHECK(table == guide::kConvNetSummary);
}

TEST_CASE("nn guide: Sequential, ModuleList and ModuleDict name their modules", "[nn_guide]") { guide::containers(); }

TEST_CASE("nn guide: options structs have chained setters and are checked when the module is built", "[nn_guide]") {
  guide::options_structs();
}

TEST_CASE("nn guide: LSTM shapes, state and parameter names", "[nn_guide]") { guide::rnn_shapes(); }

TEST_CASE("nn guide: with lengths, h_n is the state at each sequence's last real step", "[nn_guide]") {
  guide::padded_batch();
}

TEST_CASE("nn guide: an LSTM records one fused cell and one recurrent GEMM per step", "[nn_guide]") {
  guide::one_recurrence_per_layer();
}

TEST_CASE("nn guide: cross_entropy is fused, stable, and divides the mean by the counted targets", "[nn_guide]") {
  guide::losses();
}

TEST_CASE("nn guide: default initialisations have PyTorch's ranges, init functions replace them", "[nn_guide]") {
  // The defaults: Linear and Conv weights and biases U(+-1/sqrt(fan_in)), RNN U(+-1/sqrt(H)), Embedding N(0, 1).
  manual_seed(7);
  nn::Linear fc(100, 50);
  CHECK(fc.weight.abs().amax().item() <= 0.1);
  CHECK(fc.weight.abs().amax().item() > 0.09);
  CHECK(fc.bias.abs().amax().item() <= 0.1);
  nn::Conv2d conv(nn::ConvOptions(4, 8, 5));  // fan_in = 4 * 5 * 5 = 100
  CHECK(conv.weight.abs().amax().item() <= 0.1);
  nn::LSTM lstm(16, 25);
  for (const Tensor& p : lstm.parameters()) CHECK(p.abs().amax().item() <= 0.2);
  nn::Embedding emb(1000, 10);
  CHECK(tg::std(emb.weight).item() == Approx(1.0).epsilon(0.05));
  nn::BatchNorm1d bn(6);
  CHECK(bn.weight.sum().item() == 6.0);
  CHECK(bn.running_var.sum().item() == 6.0);

  nn::Sequential model{std::make_shared<nn::Linear>(30, 20), std::make_shared<nn::Tanh>(),
                       std::make_shared<nn::Linear>(20, 10)};
  guide::init_for_tanh(model);
  const double bound = 5.0 / 3.0 * std::sqrt(6.0 / (30 + 20));
  const Tensor w = model.at<nn::Linear>(0)->weight;
  CHECK(w.abs().amax().item() <= bound + 1e-6);
  CHECK(w.abs().amax().item() > 0.9 * bound);
  CHECK(model.at<nn::Linear>(2)->bias.abs().amax().item() == 0.0);
}

TEST_CASE("nn guide: an LSTM classifier on padded sequences learns, its loss goes down", "[nn_guide]") {
  Generator gen(11);
  manual_seed(11);
  guide::SequenceClassifier model(3, 32, 3);
  const double before = guide::accuracy(model, gen);
  const std::vector<double> losses = guide::train_classifier(model, 200, gen);
  const double after = guide::accuracy(model, gen);
  INFO("first loss " << losses.front() << ", last loss " << losses.back() << ", accuracy " << before << " -> "
                     << after);
  CHECK(losses.front() > 1.0);  // about log 3 = 1.1 at the start
  double last10 = 0;
  for (std::size_t i = losses.size() - 10; i < losses.size(); ++i) last10 += losses[i] / 10;
  CHECK(last10 < 0.5 * losses.front());
  CHECK(after > 0.8);
  CHECK(after > before + 0.3);
}

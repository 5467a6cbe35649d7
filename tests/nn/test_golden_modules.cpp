// Golden tests of the nn modules against PyTorch modules holding the same weights: for every case
// that tests/golden_modules/make_module_fixtures.py computed with PyTorch in float64, the module
// is built from the case's options, converted to float64, given PyTorch's state_dict through
// load_state_dict (strict, so PyTorch's key names must all match), and run on the same inputs.
// Checked within 1e-10 (absolute, or relative for values above 1): the outputs (and h_n, c_n), the
// gradients of (output*gout).sum() [+ (h_n*gh).sum() + (c_n*gc).sum()] with respect to every input
// and every parameter, the state after the forward (batch norm's running statistics), and the
// names and order of named_parameters() and state_dict().
// TAPEGRAD_GOLDEN_REPORT=1 prints each family's largest error to stderr.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <utility>

#include "support/nn_prelude.h"

namespace {

using Inputs = std::map<std::string, Tensor>;
using Outputs = std::vector<std::pair<std::string, Tensor>>;  // (key, tensor): output, h_n, c_n
using Forward = std::function<Outputs(nn::Module&, const Inputs&)>;

/// The largest error seen per family, for the report.
std::map<std::string, std::pair<double, std::string>>& largest_errors() {
  static std::map<std::string, std::pair<double, std::string>> m;
  return m;
}

/// Cases with lengths are reported apart from the others of their family.
std::string report_key(const Case& c) { return c.op + (c.has_tensor("lengths") ? " with lengths" : ""); }

void report(const std::string& key) {
  const char* env = std::getenv("TAPEGRAD_GOLDEN_REPORT");
  if (env == nullptr || *env == '\0' || std::string(env) == "0") return;
  const auto& [err, where] = largest_errors()[key];
  std::cerr << "golden " << key << ": largest error " << err << " (" << where << ")\n";
}

/// tg_golden::check_close, recording the worst error of the case's family for the report.
void check_close(const Case& c, const std::string& key, const Tensor& got) {
  const double worst = tg_golden::check_close(c, key, got);
  auto& [largest, where] = largest_errors()[report_key(c)];
  if (worst > largest) largest = worst, where = c.name + " / " + key;
}

/// Runs one case: loads PyTorch's state, checks names, runs forward and backward and compares.
void run_case(const Case& c, nn::Module& m, const Forward& forward) {
  INFO("case '" << c.name << "' (" << c.where << ")");
  m.to(tg::kFloat64);
  tg_golden::load_case_state(c, m);

  Inputs inputs;
  for (const char* k : {"input", "input1", "input2", "h0", "c0", "lengths"}) {
    if (!c.has_tensor(k)) continue;
    Tensor t = c.tensor(k);
    if (tg::is_floating(t.dtype())) t.requires_grad_();
    inputs[k] = t;
  }
  const Outputs outputs = forward(m, inputs);

  const std::map<std::string, std::string> upstream{{"output", "gout"}, {"h_n", "gh"}, {"c_n", "gc"}};
  Tensor loss;
  for (const auto& [key, out] : outputs) {
    check_close(c, key, out);
    const Tensor term = (out * c.tensor(upstream.at(key))).sum();
    loss = loss.defined() ? loss + term : term;
  }
  loss.backward();

  for (const auto& [k, t] : inputs)
    if (t.requires_grad()) check_close(c, "grad." + k, tg_golden::grad_or_zeros(t));
  for (const auto& [k, p] : m.named_parameters()) check_close(c, "grad." + k, tg_golden::grad_or_zeros(p));
  const nn::StateDict after = m.state_dict();
  for (const std::string& k : c.keys_with_prefix("after.")) check_close(c, "after." + k, after.find(k));
}

Outputs single(nn::Module& m, const Inputs& in) { return {{"output", m(in.at("input"))}}; }

void run_family(const std::string& family, const std::function<std::shared_ptr<nn::Module>(const Case&)>& build,
                const Forward& forward = single, const std::function<bool(const Case&)>& select = {}) {
  int ran = 0;
  std::string key;
  for (const Case& c : tg_fixtures::load("golden_modules", family)) {
    if (select && !select(c)) continue;
    tg::manual_seed(7);
    auto m = build(c);
    run_case(c, *m, forward);
    ++ran;
    key = report_key(c);
  }
  CHECK(ran > 0);
  report(key);
}

// ---- builders ------------------------------------------------------------------------------------

std::shared_ptr<nn::Module> build_linear(const Case& c) {
  return std::make_shared<nn::Linear>(
      nn::LinearOptions(c.param1("in_features"), c.param1("out_features")).bias(c.flag("bias")));
}

std::shared_ptr<nn::Module> build_bilinear(const Case& c) {
  return std::make_shared<nn::Bilinear>(
      nn::BilinearOptions(c.param1("in1_features"), c.param1("in2_features"), c.param1("out_features"))
          .bias(c.flag("bias")));
}

std::shared_ptr<nn::Module> build_embedding(const Case& c) {
  nn::EmbeddingOptions o(c.param1("num_embeddings"), c.param1("embedding_dim"));
  if (c.has_param("padding_idx")) o.padding_idx(c.param1("padding_idx"));
  if (c.has_param("max_norm")) o.max_norm(c.num("max_norm"));
  return std::make_shared<nn::Embedding>(o);
}

std::shared_ptr<nn::Module> build_layer_norm(const Case& c) {
  return std::make_shared<nn::LayerNorm>(nn::LayerNormOptions(c.param("normalized_shape"))
                                             .eps(c.num("eps"))
                                             .elementwise_affine(c.flag("elementwise_affine")));
}

std::shared_ptr<nn::Module> build_batch_norm(const Case& c) {
  const auto o = nn::BatchNormOptions(c.param1("num_features"))
                     .eps(c.num("eps"))
                     .momentum(c.num("momentum"))
                     .affine(c.flag("affine"))
                     .track_running_stats(c.flag("track_running_stats"));
  std::shared_ptr<nn::Module> m;
  if (c.param1("dims") == 1) m = std::make_shared<nn::BatchNorm1d>(o);
  else m = std::make_shared<nn::BatchNorm2d>(o);
  m->train(c.flag("training"));
  return m;
}

std::shared_ptr<nn::Module> build_conv2d(const Case& c) {
  auto i2 = [&](const char* k) {
    const auto v = c.param(k);
    return tg::Int2(v.at(0), v.at(1));
  };
  return std::make_shared<nn::Conv2d>(
      nn::ConvOptions(c.param1("in_channels"), c.param1("out_channels"), i2("kernel_size"))
          .stride(i2("stride"))
          .padding(i2("padding"))
          .dilation(i2("dilation"))
          .groups(c.param1("groups"))
          .bias(c.flag("bias")));
}

nn::RNNOptions rnn_options(const Case& c) {
  return nn::RNNOptions(c.param1("input_size"), c.param1("hidden_size"))
      .num_layers(c.param1("num_layers"))
      .bidirectional(c.flag("bidirectional"))
      .batch_first(c.flag("batch_first"))
      .bias(c.flag("bias"))
      .dropout(0.0);
}

/// An LSTM or GRU built from the case's options.
template <typename Rnn>
std::shared_ptr<nn::Module> build_rnn(const Case& c) {
  return std::make_shared<Rnn>(rnn_options(c));
}

/// An LSTMCell or GRUCell built from the case's sizes and bias flag.
template <typename Cell>
std::shared_ptr<nn::Module> build_cell(const Case& c) {
  return std::make_shared<Cell>(c.param1("input_size"), c.param1("hidden_size"), c.flag("bias"));
}

Outputs rnn_forward(nn::Module& m, const Inputs& in) {
  auto& rnn = dynamic_cast<nn::RNNBase&>(m);
  std::optional<nn::RNNState> state;
  if (in.count("h0")) state = nn::RNNState{in.at("h0"), in.count("c0") ? in.at("c0") : Tensor()};
  const nn::RNNOutput out = rnn.forward(in.at("input"), state, in.count("lengths") ? in.at("lengths") : Tensor());
  Outputs o{{"output", out.output}, {"h_n", out.state.h}};
  if (out.state.c.defined()) o.emplace_back("c_n", out.state.c);
  return o;
}

bool has_lengths(const Case& c) { return c.has_tensor("lengths"); }
bool no_lengths(const Case& c) { return !c.has_tensor("lengths"); }

}  // namespace

// ---- feed-forward modules ------------------------------------------------------------------------

TEST_CASE("Linear matches PyTorch with and without bias on 1-D, 2-D and 3-D inputs", "[nn-golden]") {
  run_family("linear", build_linear);
}

TEST_CASE("Bilinear matches PyTorch with and without bias", "[nn-golden]") {
  run_family("bilinear", build_bilinear, [](nn::Module& m, const Inputs& in) -> Outputs {
    return {{"output", dynamic_cast<nn::Bilinear&>(m).forward(in.at("input1"), in.at("input2"))}};
  });
}

TEST_CASE("Embedding matches PyTorch: repeated indices, padding_idx gets no gradient, max_norm", "[nn-golden]") {
  run_family("embedding", build_embedding);
}

TEST_CASE("LayerNorm matches PyTorch over 1 and 2 normalized dims, with and without affine", "[nn-golden]") {
  run_family("layer_norm", build_layer_norm);
}

TEST_CASE("BatchNorm1d and BatchNorm2d match PyTorch in train mode, running statistics included, and in eval mode",
          "[nn-golden]") {
  run_family("batch_norm", build_batch_norm);
}

TEST_CASE("Conv2d matches PyTorch with stride, padding, dilation and groups", "[nn-golden]") {
  run_family("conv2d", build_conv2d);
}

TEST_CASE("Sequential of Linear-ReLU-Linear matches PyTorch under the keys 0.weight to 2.bias", "[nn-golden]") {
  run_family("sequential", [](const Case&) -> std::shared_ptr<nn::Module> {
    return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Linear>(4, 5), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(5, 3)});
  });
}

// ---- recurrent modules ---------------------------------------------------------------------------

TEST_CASE("LSTM matches PyTorch: 1 and 2 layers, both directions, batch_first, initial state, no bias, unbatched",
          "[nn-golden][rnn]") {
  run_family("lstm", build_rnn<nn::LSTM>, rnn_forward, no_lengths);
}

TEST_CASE("LSTM with lengths matches PyTorch's packed sequences", "[nn-golden][rnn]") {
  run_family("lstm", build_rnn<nn::LSTM>, rnn_forward, has_lengths);
}

TEST_CASE("GRU matches PyTorch: 1 and 2 layers, both directions, batch_first, initial state, no bias, unbatched",
          "[nn-golden][rnn]") {
  run_family("gru", build_rnn<nn::GRU>, rnn_forward, no_lengths);
}

TEST_CASE("GRU with lengths matches PyTorch's packed sequences", "[nn-golden][rnn]") {
  run_family("gru", build_rnn<nn::GRU>, rnn_forward, has_lengths);
}

TEST_CASE("LSTMCell matches PyTorch with and without state, bias and batch dim", "[nn-golden][rnn]") {
  run_family("lstm_cell", build_cell<nn::LSTMCell>, [](nn::Module& m, const Inputs& in) -> Outputs {
    std::optional<nn::RNNState> state;
    if (in.count("h0")) state = nn::RNNState{in.at("h0"), in.at("c0")};
    const nn::RNNState s = dynamic_cast<nn::LSTMCell&>(m).forward(in.at("input"), state);
    return {{"h_n", s.h}, {"c_n", s.c}};
  });
}

TEST_CASE("GRUCell matches PyTorch with and without state, bias and batch dim", "[nn-golden][rnn]") {
  run_family("gru_cell", build_cell<nn::GRUCell>, [](nn::Module& m, const Inputs& in) -> Outputs {
    const Tensor h0 = in.count("h0") ? in.at("h0") : Tensor();
    return {{"h_n", dynamic_cast<nn::GRUCell&>(m).forward(in.at("input"), h0)}};
  });
}

TEST_CASE("every module fixture file parses and every case has its outputs and parameter gradients", "[nn-golden]") {
  for (const char* family : {"linear", "bilinear", "embedding", "layer_norm", "batch_norm", "conv2d", "sequential",
                             "lstm", "gru", "lstm_cell", "gru_cell"}) {
    for (const Case& c : tg_fixtures::load("golden_modules", family)) {
      INFO(family << ": " << c.name);
      CHECK((c.has_tensor("output") || c.has_tensor("h_n")));
      for (const std::string& p : c.words("params")) CHECK(c.has_tensor("grad." + p));
      for (const std::string& k : c.words("state")) CHECK(c.has_tensor("state." + k));
    }
  }
}

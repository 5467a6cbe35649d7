// Bad inputs to nn modules and RNNs: each raises tg::Error whose message names the module and
// the expected and actual values. (tests/nn/test_module.cpp covers the module system's basics:
// Linear's 2-D feature check, Dropout(-0.1), padding_idx, groups, momentum and load_state_dict
// on a small model.)
#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>

#include "support/helpers.h"
#include "tapegrad/tapegrad.h"

using tg_test::error_of;

using namespace tg;
using Catch::Matchers::Contains;

// ---- wrong input sizes ---------------------------------------------------------------------------

TEST_CASE("feed-forward modules name themselves and the expected and actual sizes of a wrong input", "[nn-errors]") {
  nn::Linear fc(8, 3);
  CHECK_THROWS_AS(fc(zeros({2, 5, 7})), Error);
  CHECK_THAT(
      error_of([&] {
        fc(zeros({2, 5, 7}));
      }),
      Contains("Linear") && Contains("expected input with 8 features") && Contains("got 7") && Contains("[2, 5, 7]"));

  nn::Bilinear bil(nn::BilinearOptions(3, 4, 2));
  CHECK_THAT(error_of([&] {
               bil.forward(zeros({5, 3}), zeros({5, 5}));
             }),
             Contains("Bilinear") && Contains("input2 with 4 features") && Contains("[5, 5]"));
  CHECK_THAT(error_of([&] {
               bil.forward(zeros({5, 2}), zeros({5, 4}));
             }),
             Contains("Bilinear") && Contains("input1 with 3 features") && Contains("[5, 2]"));
  CHECK_THAT(error_of([&] {
               bil.forward(zeros({5, 3}), zeros({4, 4}));
             }),  // batch dims 5 and 4
             Contains("Bilinear") && Contains("[5, 3]") && Contains("[4, 4]"));

  nn::Conv2d conv(nn::ConvOptions(3, 4, 3));
  CHECK_THAT(error_of([&] {
               conv(zeros({2, 5, 8, 8}));
             }),
             Contains("Conv2d") && Contains("expected input [N, 3, H, W]") && Contains("[2, 5, 8, 8]"));
  CHECK_THAT(error_of([&] { conv(zeros({8, 8})); }), Contains("Conv2d") && Contains("[8, 8]"));

  nn::BatchNorm1d bn(4);
  CHECK_THAT(error_of([&] {
               bn(zeros({6, 5}));
             }),
             Contains("BatchNorm1d") && Contains("expected 4 channels") && Contains("got 5"));
  CHECK_THAT(error_of([&] {
               bn(zeros({6, 4, 2, 2}));
             }),
             Contains("BatchNorm1d") && Contains("2 or 3 dims") && Contains("[6, 4, 2, 2]"));

  // The inner module of a Sequential reports itself.
  nn::Sequential seq{std::make_shared<nn::Linear>(4, 5), std::make_shared<nn::ReLU>(),
                     std::make_shared<nn::Linear>(6, 3)};
  CHECK_THAT(error_of([&] {
               seq(zeros({2, 4}));
             }),
             Contains("Linear") && Contains("expected input with 6 features") && Contains("got 5"));
}

TEST_CASE("LayerNorm names itself, the normalized_shape it expects and the input's shape", "[nn-errors]") {
  nn::LayerNorm ln(nn::LayerNormOptions({4, 5}));
  CHECK_THROWS_AS(ln(zeros({2, 4, 6})), Error);
  CHECK_THAT(error_of([&] {
               ln(zeros({2, 4, 6}));
             }),
             Contains("LayerNorm") && Contains("[4, 5]") && Contains("[2, 4, 6]"));
  CHECK_THAT(error_of([&] { ln(zeros({5})); }), Contains("LayerNorm") && Contains("[5]") && Contains("[4, 5]"));
}

TEST_CASE("Embedding rejects an index out of range and non-integer indices", "[nn-errors]") {
  nn::Embedding emb(5, 3);
  CHECK_THAT(error_of([&] {
               emb(tensor({{1, 5}}, kInt64));
             }),
             Contains("embedding", Catch::CaseSensitive::No) && Contains("index 5") && Contains("5 rows"));
  CHECK_THAT(error_of([&] { emb(tensor({{1, -1}}, kInt64)); }), Contains("index -1"));
  CHECK_THAT(error_of([&] {
               emb(zeros({2, 2}));
             }),
             Contains("embedding", Catch::CaseSensitive::No) && Contains("int64") && Contains("float32"));
}

TEST_CASE("BatchNorm in training refuses a batch with one value per channel", "[nn-errors]") {
  nn::BatchNorm1d bn(3);
  CHECK_THAT(error_of([&] { bn(zeros({1, 3})); }), Contains("more than 1 value per channel") && Contains("[1, 3]"));
  bn.eval();
  CHECK_NOTHROW(bn(zeros({1, 3})));  // the running statistics need no batch
}

// ---- RNNs ----------------------------------------------------------------------------------------

TEST_CASE("LSTM and GRU reject an input of the wrong rank or feature size, naming both", "[nn-errors]") {
  nn::LSTM lstm(nn::RNNOptions(4, 3).num_layers(2));
  nn::GRU gru(nn::RNNOptions(4, 3).batch_first(true));
  for (nn::RNNBase* m : {static_cast<nn::RNNBase*>(&lstm), static_cast<nn::RNNBase*>(&gru)}) {
    const std::string name = m->type_name();
    INFO(name);
    CHECK_THROWS_AS(m->forward(zeros({5, 2, 3, 4}), std::nullopt), Error);
    CHECK_THAT(error_of([&] {
                 m->forward(zeros({5, 2, 3, 4}), std::nullopt);
               }),
               Contains(name + ":") && Contains("2-D (unbatched) or 3-D") && Contains("[5, 2, 3, 4]"));
    CHECK_THAT(error_of([&] { m->forward(zeros({4}), std::nullopt); }), Contains(name + ":") && Contains("[4]"));
    CHECK_THAT(error_of([&] {
                 m->forward(zeros({5, 2, 6}), std::nullopt);
               }),
               Contains(name + ":") && Contains("input_size 4") && Contains("got 6") && Contains("[5, 2, 6]"));
    CHECK_THAT(error_of([&] { m->forward(zeros({5, 6})); }), Contains(name + ":") && Contains("got 6"));
  }
}

TEST_CASE("LSTM and GRU reject an initial state of the wrong shape, naming h0 or c0 and both shapes", "[nn-errors]") {
  // 2 layers, bidirectional: the state is [4, B, 3] whatever batch_first says.
  nn::LSTM lstm(nn::RNNOptions(2, 3).num_layers(2).bidirectional(true).batch_first(true));
  const Tensor x = zeros({5, 7, 2});  // B = 5, T = 7
  CHECK_THAT(error_of([&] {
               lstm.forward(x, nn::RNNState{zeros({4, 7, 3}), zeros({4, 5, 3})});
             }),
             Contains("LSTM") && Contains("h0") && Contains("[4, 5, 3]") && Contains("[4, 7, 3]"));
  CHECK_THAT(error_of([&] {
               lstm.forward(x, nn::RNNState{zeros({4, 5, 3}), zeros({2, 5, 3})});
             }),
             Contains("LSTM") && Contains("c0") && Contains("[4, 5, 3]") && Contains("[2, 5, 3]"));
  CHECK_THAT(error_of([&] {
               lstm.forward(x, nn::RNNState{zeros({5, 4, 3}), Tensor()});
             }),
             Contains("h0") && Contains("[5, 4, 3]"));
  // Unbatched input: the state is [L*D, H].
  CHECK_THAT(error_of([&] {
               lstm.forward(zeros({7, 2}), nn::RNNState{zeros({4, 1, 3}), Tensor()});
             }),
             Contains("h0") && Contains("[4, 3]") && Contains("[4, 1, 3]"));

  nn::GRU gru(nn::RNNOptions(2, 3));
  CHECK_THAT(error_of([&] {
               gru.forward(zeros({7, 5, 2}), nn::RNNState{zeros({1, 5, 4}), Tensor()});
             }),
             Contains("GRU") && Contains("h0") && Contains("[1, 5, 3]") && Contains("[1, 5, 4]"));
}

TEST_CASE("LSTM and GRU reject lengths of the wrong dtype, shape or range", "[nn-errors]") {
  for (bool lstm : {true, false}) {
    std::shared_ptr<nn::RNNBase> m;
    if (lstm) m = std::make_shared<nn::LSTM>(2, 3);
    else m = std::make_shared<nn::GRU>(2, 3);
    const std::string name = m->type_name();
    INFO(name);
    const Tensor x = zeros({4, 3, 2});  // T = 4, B = 3
    CHECK_THAT(error_of([&] {
                 m->forward(x, std::nullopt, tensor({1.0, 2.0, 3.0}));
               }),
               Contains(name + ":") && Contains("lengths must be int64") && Contains("float32"));
    CHECK_THAT(error_of([&] {
                 m->forward(x, std::nullopt, tensor({1, 2}, kInt64));
               }),
               Contains(name + ":") && Contains("lengths must have shape [3]") && Contains("[2]"));
    CHECK_THAT(error_of([&] {
                 m->forward(x, std::nullopt, tensor({1, 0, 3}, kInt64));
               }),
               Contains("each length must be in [1, 4]") && Contains("got 0"));
    CHECK_THAT(error_of([&] {
                 m->forward(x, std::nullopt, tensor({1, 5, 3}, kInt64));
               }),
               Contains("each length must be in [1, 4]") && Contains("got 5"));
  }
}

TEST_CASE("LSTMCell and GRUCell reject a wrong input or state shape, naming both", "[nn-errors]") {
  nn::LSTMCell lc(4, 3);
  CHECK_THAT(error_of([&] {
               lc.forward(zeros({2, 5}), std::nullopt);
             }),
             Contains("LSTMCell") && Contains("[B, 4]") && Contains("[2, 5]"));
  CHECK_THAT(error_of([&] {
               lc.forward(zeros({2, 3, 4}), std::nullopt);
             }),
             Contains("LSTMCell") && Contains("[2, 3, 4]"));
  CHECK_THAT(error_of([&] {
               lc.forward(zeros({2, 4}), nn::RNNState{zeros({2, 4}), zeros({2, 3})});
             }),
             Contains("LSTMCell") && Contains("h") && Contains("[2, 3]") && Contains("[2, 4]"));
  CHECK_THAT(error_of([&] {
               lc.forward(zeros({2, 4}), nn::RNNState{zeros({2, 3}), zeros({1, 3})});
             }),
             Contains("LSTMCell") && Contains("c of shape [2, 3]") && Contains("[1, 3]"));

  nn::GRUCell gc(4, 3);
  CHECK_THAT(error_of([&] { gc.forward(zeros({2, 6}), Tensor()); }), Contains("GRUCell") && Contains("[2, 6]"));
  CHECK_THAT(error_of([&] {
               gc.forward(zeros({2, 4}), zeros({3, 3}));
             }),
             Contains("GRUCell") && Contains("h of shape [2, 3]") && Contains("[3, 3]"));
}

// ---- load_state_dict -----------------------------------------------------------------------------

TEST_CASE("an LSTM's load_state_dict names a missing, an extra and a misshapen key by PyTorch's name", "[nn-errors]") {
  nn::LSTM lstm(nn::RNNOptions(4, 3).num_layers(2).bidirectional(true));
  const nn::StateDict full = lstm.state_dict();
  REQUIRE(full.contains("bias_hh_l1_reverse"));

  nn::StateDict missing;
  for (const auto& [k, v] : full)
    if (k != "bias_hh_l1_reverse") missing.insert(k, v);
  CHECK_THROWS_AS(lstm.load_state_dict(missing), Error);
  CHECK_THAT(error_of([&] { lstm.load_state_dict(missing); }),
             Contains("LSTM") && Contains("missing keys: bias_hh_l1_reverse"));

  nn::StateDict extra = full;
  extra.insert("weight_ih_l2", zeros({12, 6}));
  CHECK_THAT(error_of([&] { lstm.load_state_dict(extra); }), Contains("unexpected keys: weight_ih_l2"));

  nn::StateDict wrong;
  for (const auto& [k, v] : full) wrong.insert(k, k == "weight_ih_l1" ? zeros({12, 3}) : v);  // layer 1 reads 2*H = 6
  CHECK_THAT(error_of([&] { lstm.load_state_dict(wrong); }),
             Contains("shape mismatches") && Contains("weight_ih_l1 (expected [12, 6], got [12, 3])"));
  CHECK_THAT(error_of([&] { lstm.load_state_dict(wrong, /*strict=*/false); }), Contains("weight_ih_l1"));

  // A GRU's weights ([3H, ...]) do not fit an LSTM ([4H, ...]).
  nn::GRU gru(nn::RNNOptions(4, 3).num_layers(2).bidirectional(true));
  CHECK_THAT(error_of([&] { lstm.load_state_dict(gru.state_dict()); }),
             Contains("weight_ih_l0 (expected [12, 4], got [9, 4])"));
}

TEST_CASE("a failed load_state_dict leaves the module's values unchanged", "[nn-errors]") {
  nn::GRU gru(nn::RNNOptions(2, 3));
  const Tensor before = gru.layer_parameters(0, 0)[0].clone();
  nn::StateDict bad;
  for (const auto& [k, v] : gru.state_dict()) bad.insert(k, k == "bias_hh_l0" ? zeros({8}) : zeros_like(v));
  CHECK_THROWS_AS(gru.load_state_dict(bad), Error);
  CHECK((gru.layer_parameters(0, 0)[0] - before).abs().amax().item() == 0.0);
}

// ---- invalid options -----------------------------------------------------------------------------

TEST_CASE("RNN options are checked when the module is built, naming the option and the value", "[nn-errors]") {
  CHECK_THROWS_AS(nn::LSTM(nn::RNNOptions(4, 3).dropout(-0.5)), Error);
  CHECK_THAT(error_of([] { nn::LSTM(nn::RNNOptions(4, 3).dropout(-0.5)); }),
             Contains("LSTM") && Contains("dropout must be in [0, 1]") && Contains("-0.5"));
  CHECK_THAT(error_of([] { nn::GRU(nn::RNNOptions(4, 3).dropout(1.5)); }), Contains("GRU") && Contains("1.5"));
  CHECK_THAT(error_of([] { nn::LSTM(nn::RNNOptions(4, 0)); }),
             Contains("LSTM") && Contains("hidden_size must be positive, got 0"));
  CHECK_THAT(error_of([] { nn::GRU(nn::RNNOptions(4, -2)); }),
             Contains("GRU") && Contains("hidden_size") && Contains("-2"));
  CHECK_THAT(error_of([] { nn::GRU(nn::RNNOptions(0, 3)); }),
             Contains("GRU") && Contains("input_size must be positive, got 0"));
  CHECK_THAT(error_of([] { nn::LSTM(nn::RNNOptions(4, 3).num_layers(0)); }),
             Contains("LSTM") && Contains("num_layers must be positive, got 0"));
  CHECK_THAT(error_of([] { nn::LSTMCell(4, 0); }),
             Contains("LSTMCell") && Contains("hidden_size must be positive, got 0"));
  CHECK_THAT(error_of([] { nn::GRUCell(0, 3); }),
             Contains("GRUCell") && Contains("input_size must be positive, got 0"));
}

TEST_CASE("feed-forward module options are checked when the module is built, naming the value", "[nn-errors]") {
  CHECK_THAT(error_of([] { nn::Linear(4, -1); }),
             Contains("Linear") && Contains("out_features must be positive, got -1"));
  CHECK_THAT(error_of([] { nn::Bilinear(nn::BilinearOptions(3, 0, 2)); }), Contains("Bilinear") && Contains("in2=0"));
  CHECK_THAT(error_of([] { nn::Embedding(0, 3); }),
             Contains("Embedding") && Contains("num_embeddings must be positive, got 0"));
  CHECK_THAT(error_of([] { nn::Embedding(5, 0); }),
             Contains("Embedding") && Contains("embedding_dim must be positive, got 0"));
  CHECK_THAT(error_of([] { nn::Embedding(nn::EmbeddingOptions(5, 3).max_norm(-1.0)); }),
             Contains("Embedding") && Contains("max_norm") && Contains("-1"));
  CHECK_THAT(error_of([] { nn::Embedding(nn::EmbeddingOptions(5, 3).padding_idx(-6)); }),
             Contains("Embedding") && Contains("padding_idx -6"));
  CHECK_THAT(error_of([] { nn::Dropout(1.5); }), Contains("Dropout") && Contains("1.5"));
  CHECK_THAT(error_of([] { nn::LayerNorm(nn::LayerNormOptions(std::vector<std::int64_t>{})); }),
             Contains("LayerNorm") && Contains("normalized_shape must not be empty"));
  CHECK_THAT(error_of([] {
               nn::LayerNorm(nn::LayerNormOptions({4, 0}));
             }),
             Contains("LayerNorm") && Contains("[4, 0]"));
  CHECK_THAT(error_of([] { nn::LayerNorm(nn::LayerNormOptions({4}).eps(-1e-5)); }),
             Contains("LayerNorm") && Contains("eps"));
  CHECK_THAT(error_of([] { nn::BatchNorm1d(0); }),
             Contains("BatchNorm1d") && Contains("num_features must be positive, got 0"));
  CHECK_THAT(error_of([] { nn::BatchNorm2d(nn::BatchNormOptions(3).eps(0)); }),
             Contains("BatchNorm2d") && Contains("eps must be positive, got 0"));
  CHECK_THAT(error_of([] { nn::BatchNorm1d(nn::BatchNormOptions(3).momentum(-0.1)); }),
             Contains("BatchNorm1d") && Contains("momentum") && Contains("-0.1"));
  CHECK_THAT(error_of([] { nn::Conv2d(nn::ConvOptions(0, 4, 3)); }), Contains("Conv2d") && Contains("in=0"));
  CHECK_THAT(error_of([] { nn::Conv2d(nn::ConvOptions(4, 4, 3).groups(0)); }),
             Contains("Conv2d") && Contains("groups must be positive, got 0"));
  CHECK_THAT(error_of([] { nn::Conv2d(nn::ConvOptions(4, 6, 3).groups(4)); }),
             Contains("groups (4) must divide out_channels (6)"));
  CHECK_THAT(error_of([] { nn::Conv2d(nn::ConvOptions(4, 6, tg::Int2(3, 0))); }),
             Contains("Conv2d") && Contains("kernel size must be positive") && Contains("(3, 0)"));
  CHECK_THAT(error_of([] { nn::GELU("fast"); }), Contains("GELU") && Contains("fast"));
}

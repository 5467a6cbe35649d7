// LSTM and GRU at their edges, against PyTorch 1.13: an empty batch (B = 0) gives empty outputs
// and states of the right shapes; a sequence of 0 steps is an error naming the module (PyTorch:
// "Expected sequence length to be larger than 0 in RNN"); a state with h but no c, h and c of
// different shapes, or a GRU given a c, are errors naming the module and the shapes.
#include <optional>

#include "support/prelude.h"
#include "tapegrad/tapegrad.h"

using tg::DimVec;
namespace nn = tg::nn;

TEST_CASE("an LSTM and a GRU over an empty batch return empty outputs of PyTorch's shapes", "[rnn][rnn_edge]") {
  // torch 1.13, LSTM(3, 4, num_layers=2) on zeros(5, 0, 3): output [5, 0, 4], h_n and c_n [2, 0, 4];
  // bidirectional: [5, 0, 8] and [4, 0, 4]; batch_first on zeros(0, 5, 3): output [0, 5, 4].
  for (const bool bidirectional : {false, true}) {
    for (const bool batch_first : {false, true}) {
      CAPTURE(bidirectional, batch_first);
      const std::int64_t D = bidirectional ? 2 : 1;
      const auto options = nn::RNNOptions(3, 4).num_layers(2).bidirectional(bidirectional).batch_first(batch_first);
      const Tensor x = batch_first ? tg::zeros({0, 5, 3}) : tg::zeros({5, 0, 3});
      nn::LSTM lstm(options);
      const nn::RNNOutput a = lstm.forward(x, std::nullopt);
      CHECK(a.output.shape() == (batch_first ? DimVec{0, 5, 4 * D} : DimVec{5, 0, 4 * D}));
      CHECK(a.state.h.shape() == DimVec{2 * D, 0, 4});
      CHECK(a.state.c.shape() == DimVec{2 * D, 0, 4});
      nn::GRU gru(options);
      const nn::RNNOutput g = gru.forward(x, std::nullopt);
      CHECK(g.output.shape() == (batch_first ? DimVec{0, 5, 4 * D} : DimVec{5, 0, 4 * D}));
      CHECK(g.state.h.shape() == DimVec{2 * D, 0, 4});
      CHECK_FALSE(g.state.c.defined());
    }
  }
}

// The page's examples (docs/nn.md, Recurrent layers), word for word.
// [doc:rnn_empty_batch]
void rnn_empty_batch() {
  nn::LSTM lstm(nn::RNNOptions(3, 4));
  const Tensor x = tg::zeros({6, 0, 3}).requires_grad_();  // T = 6 steps, B = 0 sequences
  const nn::RNNState state{tg::zeros({1, 0, 4}), tg::zeros({1, 0, 4})};
  const nn::RNNOutput out = lstm.forward(x, state, tg::zeros({0}, tg::kInt64));
  CHECK(out.output.shape() == DimVec{6, 0, 4});
  CHECK(out.state.h.shape() == DimVec{1, 0, 4});
  (out.output.sum() + out.state.h.sum() + out.state.c.sum()).backward();
  CHECK(lstm.layer_parameters(0, 0)[0].grad().abs().sum().item() == 0.0);  // as PyTorch: zeros
  CHECK(x.grad().shape() == DimVec{6, 0, 3});

  // No time steps is an error, as in PyTorch ("Expected sequence length to be larger than 0").
  CHECK_THROWS_WITH(lstm.forward(tg::zeros({0, 2, 3})),
                    "LSTM: input has 0 time steps (input shape [0, 2, 3]); a sequence needs at least one step");
}
// [/doc:rnn_empty_batch]

TEST_CASE("an empty batch takes an empty state and lengths, and backward gives zero gradients", "[rnn][rnn_edge]") {
  rnn_empty_batch();
}

TEST_CASE("a sequence of 0 steps is an error naming the module, not a message from view", "[rnn][rnn_edge]") {
  nn::LSTM lstm(nn::RNNOptions(3, 4));
  CHECK_THAT(error_of([&] {
               lstm.forward(tg::zeros({0, 2, 3}));
             }),
             Contains("LSTM: input has 0 time steps (input shape [0, 2, 3])"));
  nn::GRU gru(nn::RNNOptions(3, 4).batch_first(true));
  CHECK_THAT(error_of([&] {
               gru.forward(tg::zeros({2, 0, 3}));
             }),
             Contains("GRU: input has 0 time steps (input shape [2, 0, 3], batch_first [B, T, I])"));
  CHECK_THAT(error_of([&] {
               lstm.forward(tg::zeros({0, 3}));
             }),
             Contains("LSTM: input has 0 time steps (input shape [0, 3], unbatched [T, I])"));
  // Both empty: the time steps are what is missing.
  CHECK_THAT(error_of([&] { lstm.forward(tg::zeros({0, 0, 3})); }), Contains("LSTM: input has 0 time steps"));
}

TEST_CASE("an LSTM state needs both h and c, of one shape", "[rnn][rnn_edge]") {
  nn::LSTM lstm(nn::RNNOptions(3, 4));
  const Tensor x = tg::zeros({5, 2, 3});
  CHECK_THAT(error_of([&] {
               lstm.forward(x, nn::RNNState{tg::zeros({1, 2, 4}), Tensor()});
             }),
             Contains("LSTM: the state has h (shape [1, 2, 4]) but no c; pass both h and c, or neither"));
  CHECK_THAT(error_of([&] {
               lstm.forward(x, nn::RNNState{Tensor(), tg::zeros({1, 2, 4})});
             }),
             Contains("LSTM: the state has c (shape [1, 2, 4]) but no h"));
  // torch 1.13: "Expected hidden[1] size (1, 2, 4), got [1, 3, 4]". Each of h and c is checked
  // against the shape the input asks for, so a mismatch names the one that is off.
  CHECK_THAT(error_of([&] {
               lstm.forward(x, nn::RNNState{tg::zeros({1, 2, 4}), tg::zeros({1, 3, 4})});
             }),
             Contains("LSTM: expected c0 of shape [1, 2, 4], got [1, 3, 4]"));
  // A wrong h without a c: the shape is what is reported first.
  CHECK_THAT(error_of([&] {
               lstm.forward(x, nn::RNNState{tg::zeros({1, 3, 4}), Tensor()});
             }),
             Contains("LSTM: expected h0 of shape [1, 2, 4], got [1, 3, 4]"));
  // Both present and right: runs, and an empty state is the zero state.
  const nn::RNNOutput given = lstm.forward(x, nn::RNNState{tg::zeros({1, 2, 4}), tg::zeros({1, 2, 4})});
  const nn::RNNOutput absent = lstm.forward(x, nn::RNNState{});
  CHECK((given.output - absent.output).abs().amax().item() == 0.0);

  nn::LSTMCell cell(3, 4);
  CHECK_THAT(error_of([&] {
               cell.forward(tg::zeros({2, 3}), nn::RNNState{tg::zeros({2, 4}), Tensor()});
             }),
             Contains("LSTMCell: the state has h (shape [2, 4]) but no c"));
}

TEST_CASE("a GRU given an (h, c) pair is an error", "[rnn][rnn_edge]") {
  nn::GRU gru(nn::RNNOptions(3, 4));
  const Tensor x = tg::zeros({5, 2, 3});
  CHECK_THAT(error_of([&] {
               gru.forward(x, nn::RNNState{tg::zeros({1, 2, 4}), tg::zeros({1, 2, 4})});
             }),
             Contains("GRU: the state has a c (shape [1, 2, 4]), but a GRU keeps only h"));
  CHECK(gru.forward(x, nn::RNNState{tg::zeros({1, 2, 4}), Tensor()}).output.shape() == DimVec{5, 2, 4});
}

// LSTM, GRU and their cells beyond the PyTorch goldens (tests/nn/test_golden_modules.cpp): shapes for
// every layout, unbatched input, the default initialisation, gradient checks, what lengths mean
// (a padded step's input changes nothing; each sequence behaves as if run alone), state round
// trips and clones.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/helpers.h"
#include "tapegrad/tapegrad.h"

using namespace tg;
using tg_test::all_finite;

namespace {

/// The largest |a - b| (0 when both are undefined).
double max_diff(const Tensor& a, const Tensor& b) {
  if (!a.defined() && !b.defined()) return 0.0;
  REQUIRE(a.defined());
  REQUIRE(b.defined());
  REQUIRE(a.shape().vec() == b.shape().vec());
  return (a - b).abs().amax().item();
}

std::vector<std::int64_t> shape_of(const Tensor& t) { return t.shape().vec(); }

/// A fresh LSTM or GRU (by name) in float64.
std::shared_ptr<nn::RNNBase> make_rnn(bool lstm, const nn::RNNOptions& o) {
  std::shared_ptr<nn::RNNBase> m;
  if (lstm) m = std::make_shared<nn::LSTM>(o);
  else m = std::make_shared<nn::GRU>(o);
  m->to(kFloat64);
  return m;
}

/// Everything an RNN forward produces, flattened into one vector (for gradcheck and comparisons).
Tensor flat(const nn::RNNOutput& out) {
  std::vector<Tensor> parts{out.output.reshape({-1}), out.state.h.reshape({-1})};
  if (out.state.c.defined()) parts.push_back(out.state.c.reshape({-1}));
  return cat(parts, 0);
}

/// A float64 leaf that requires grad, standard normal, reproducible from seed.
Tensor randn64(IntArrayRef shape, std::uint64_t seed) {
  Generator gen(seed);
  return randn(shape, kFloat64, &gen).requires_grad_();
}

}  // namespace

TEST_CASE("RNN output is (T, B, D*H), or (B, T, D*H) with batch_first, h_n and c_n are (L*D, B, H) either way",
          "[rnn]") {
  const std::int64_t T = 4, B = 3, I = 5, H = 6;
  for (bool lstm : {true, false})
    for (std::int64_t L : {1, 2})
      for (bool bidirectional : {false, true})
        for (bool batch_first : {false, true}) {
          const std::int64_t D = bidirectional ? 2 : 1;
          INFO((lstm ? "LSTM" : "GRU") << " layers " << L << " bidirectional " << bidirectional << " batch_first "
                                       << batch_first);
          auto m =
              make_rnn(lstm, nn::RNNOptions(I, H).num_layers(L).bidirectional(bidirectional).batch_first(batch_first));
          const Tensor x = batch_first ? zeros({B, T, I}, kFloat64) : zeros({T, B, I}, kFloat64);
          const nn::RNNOutput out = m->forward(x, std::nullopt);
          CHECK(shape_of(out.output) ==
                (batch_first ? std::vector<std::int64_t>{B, T, D * H} : std::vector<std::int64_t>{T, B, D * H}));
          CHECK(shape_of(out.state.h) == std::vector<std::int64_t>{L * D, B, H});
          CHECK(out.state.c.defined() == lstm);
          if (lstm) CHECK(shape_of(out.state.c) == std::vector<std::int64_t>{L * D, B, H});
          // Through a Module (as Sequential calls it), the output sequence.
          CHECK(max_diff(static_cast<nn::Module&>(*m)(x), out.output) == 0.0);
        }
}

TEST_CASE("an unbatched (T, I) input gives (T, D*H) and (L*D, H), equal to a batch of one, whatever batch_first says",
          "[rnn]") {
  const std::int64_t T = 5, I = 3, H = 4, L = 2, D = 2;
  for (bool lstm : {true, false})
    for (bool batch_first : {false, true}) {
      INFO((lstm ? "LSTM" : "GRU") << " batch_first " << batch_first);
      manual_seed(11);
      auto m = make_rnn(lstm, nn::RNNOptions(I, H).num_layers(L).bidirectional(true).batch_first(batch_first));
      const Tensor x = randn64({T, I}, 1).detach();
      const Tensor h0 = randn64({L * D, H}, 2).detach(), c0 = randn64({L * D, H}, 3).detach();
      const nn::RNNOutput out = m->forward(x, nn::RNNState{h0, lstm ? c0 : Tensor()});
      CHECK(shape_of(out.output) == std::vector<std::int64_t>{T, D * H});
      CHECK(shape_of(out.state.h) == std::vector<std::int64_t>{L * D, H});
      if (lstm) CHECK(shape_of(out.state.c) == std::vector<std::int64_t>{L * D, H});

      const Tensor xb = batch_first ? x.unsqueeze(0) : x.unsqueeze(1);
      const nn::RNNOutput ref = m->forward(xb, nn::RNNState{h0.unsqueeze(1), lstm ? c0.unsqueeze(1) : Tensor()});
      CHECK(max_diff(out.output, batch_first ? ref.output.squeeze(0) : ref.output.squeeze(1)) <= 1e-14);
      CHECK(max_diff(out.state.h, ref.state.h.squeeze(1)) <= 1e-14);
      if (lstm) CHECK(max_diff(out.state.c, ref.state.c.squeeze(1)) <= 1e-14);
    }
}

TEST_CASE("every RNN and cell parameter starts uniform in plus or minus 1/sqrt(hidden_size), as in PyTorch", "[rnn]") {
  manual_seed(5);
  const std::int64_t I = 7, H = 16;
  const double bound = 1.0 / std::sqrt(static_cast<double>(H));
  std::vector<std::shared_ptr<nn::Module>> modules{
      std::make_shared<nn::LSTM>(nn::RNNOptions(I, H).num_layers(2).bidirectional(true)),
      std::make_shared<nn::GRU>(nn::RNNOptions(I, H).num_layers(2).bidirectional(true)),
      std::make_shared<nn::LSTMCell>(I, H), std::make_shared<nn::GRUCell>(I, H)};
  for (const auto& m : modules) {
    double lo = 1, hi = -1, total = 0;
    std::int64_t n = 0;
    for (const auto& [name, p] : m->named_parameters()) {
      INFO(m->type_name() << "." << name);
      const double pmin = p.amin().item(), pmax = p.amax().item();
      CHECK(pmin >= -bound);
      CHECK(pmax <= bound);
      CHECK(pmax - pmin > bound);  // spread over the range, not a constant
      lo = std::min(lo, pmin), hi = std::max(hi, pmax);
      total += p.sum().item();
      n += p.numel();
    }
    INFO(m->type_name());
    CHECK(lo < -0.98 * bound);
    CHECK(hi > 0.98 * bound);
    CHECK(std::abs(total / static_cast<double>(n)) < 0.05 * bound);  // centred
  }
}

TEST_CASE("gradcheck of a tiny LSTM and GRU with respect to the input and the initial state", "[rnn]") {
  const std::int64_t T = 3, B = 2, I = 2, H = 2, L = 2, D = 2;
  for (bool lstm : {true, false})
    for (bool with_lengths : {false, true}) {
      INFO((lstm ? "LSTM" : "GRU") << (with_lengths ? " with lengths" : ""));
      manual_seed(3);
      auto m = make_rnn(lstm, nn::RNNOptions(I, H).num_layers(L).bidirectional(true));
      const Tensor lengths = with_lengths ? tensor({2, 3}, kInt64) : Tensor();
      std::vector<Tensor> inputs{randn64({T, B, I}, 1), randn64({L * D, B, H}, 2)};
      if (lstm) inputs.push_back(randn64({L * D, B, H}, 3));
      auto fn = [&](const std::vector<Tensor>& in) {
        return flat(m->forward(in[0], nn::RNNState{in[1], lstm ? in[2] : Tensor()}, lengths));
      };
      CHECK(gradcheck(fn, inputs, 1e-6, 1e-7, 1e-5));
    }
}

TEST_CASE("gradcheck of LSTMCell and GRUCell with respect to the input and the state", "[rnn]") {
  manual_seed(4);
  nn::LSTMCell lstm(3, 2);
  nn::GRUCell gru(3, 2);
  lstm.to(kFloat64);
  gru.to(kFloat64);
  const std::vector<Tensor> in{randn64({2, 3}, 1), randn64({2, 2}, 2), randn64({2, 2}, 3)};
  CHECK(gradcheck(
      [&](const std::vector<Tensor>& v) {
    const nn::RNNState s = lstm.forward(v[0], nn::RNNState{v[1], v[2]});
    return cat({s.h.reshape({-1}), s.c.reshape({-1})}, 0);
      },
      in, 1e-6, 1e-7, 1e-5));
  CHECK(gradcheck([&](const std::vector<Tensor>& v) { return gru.forward(v[0], v[1]); }, {in[0], in[1]}, 1e-6, 1e-7,
                  1e-5));
}

TEST_CASE("with lengths, a padded step's input changes nothing and gets an exactly zero gradient", "[rnn]") {
  const std::int64_t T = 5, B = 3, I = 4, H = 3, L = 2;
  const std::vector<std::int64_t> lens{3, 5, 1};
  const Tensor lengths = from_vector(lens, {B});
  for (bool lstm : {true, false})
    for (bool batch_first : {false, true}) {
      INFO((lstm ? "LSTM" : "GRU") << " batch_first " << batch_first);
      manual_seed(9);
      auto m = make_rnn(lstm, nn::RNNOptions(I, H).num_layers(L).bidirectional(true).batch_first(batch_first));
      // x [T, B, I]; a second copy with different values at every padded step.
      std::vector<double> a = randn64({T, B, I}, 1).detach().to_vector<double>();
      std::vector<double> b = a;
      std::vector<bool> padded(a.size());
      for (std::int64_t t = 0; t < T; ++t)
        for (std::int64_t j = 0; j < B; ++j)
          for (std::int64_t i = 0; i < I; ++i) {
            const auto k = static_cast<std::size_t>((t * B + j) * I + i);
            padded[k] = t >= lens[static_cast<std::size_t>(j)];
            if (padded[k]) b[k] = 100.0 + static_cast<double>(k);
          }
      const Tensor h0 = randn64({2 * L, B, H}, 2).detach(), c0 = randn64({2 * L, B, H}, 3).detach();
      const Tensor g = randn64({T, B, 2 * H}, 4).detach();
      const Tensor gh = randn64({2 * L, B, H}, 5).detach();

      struct Run {
        nn::RNNOutput out;
        Tensor grad_x;
        std::vector<Tensor> grads;
      };
      auto run = [&](const std::vector<double>& values) {
        const Tensor x_tbi = from_vector(values, {T, B, I}).requires_grad_();
        const Tensor x = batch_first ? x_tbi.transpose(0, 1) : x_tbi;
        m->zero_grad();
        Run r;
        r.out = m->forward(x, nn::RNNState{h0, lstm ? c0 : Tensor()}, lengths);
        const Tensor out_tbh = batch_first ? r.out.output.transpose(0, 1) : r.out.output;
        Tensor loss = (out_tbh * g).sum() + (r.out.state.h * gh).sum();
        if (lstm) loss = loss + (r.out.state.c * gh).sum();
        loss.backward();
        r.grad_x = x_tbi.grad();
        for (const Tensor& p : m->parameters()) r.grads.push_back(p.grad());
        return r;
      };
      const Run ra = run(a), rb = run(b);
      CHECK(max_diff(ra.out.output, rb.out.output) == 0.0);
      CHECK(max_diff(ra.out.state.h, rb.out.state.h) == 0.0);
      CHECK(max_diff(ra.out.state.c, rb.out.state.c) == 0.0);
      for (std::size_t i = 0; i < ra.grads.size(); ++i) CHECK(max_diff(ra.grads[i], rb.grads[i]) == 0.0);
      CHECK(max_diff(ra.grad_x, rb.grad_x) == 0.0);
      const std::vector<double> gx = ra.grad_x.to_vector<double>();
      const Tensor out_tbh = batch_first ? ra.out.output.transpose(0, 1) : ra.out.output;
      int zero_grads = 0, nonzero_real = 0;
      for (std::size_t k = 0; k < gx.size(); ++k) {
        if (padded[k]) zero_grads += gx[k] == 0.0;
        else nonzero_real += gx[k] != 0.0;
      }
      CHECK(zero_grads == static_cast<int>(std::count(padded.begin(), padded.end(), true)));
      CHECK(nonzero_real == static_cast<int>(std::count(padded.begin(), padded.end(), false)));
      // Padded steps output exactly zero.
      for (std::int64_t j = 0; j < B; ++j)
        for (std::int64_t t = lens[static_cast<std::size_t>(j)]; t < T; ++t)
          CHECK(out_tbh.select(0, t).select(0, j).abs().amax().item() == 0.0);
    }
}

TEST_CASE("with lengths, NaN or infinite values at padded steps do not reach the outputs or the gradients", "[rnn]") {
  // PyTorch's packed sequences never read the padding; garbage there (NaN, inf) must stay out.
  const std::int64_t T = 4, B = 2, I = 3, H = 2;
  for (bool lstm : {true, false})
    for (double garbage : {std::nan(""), std::numeric_limits<double>::infinity()}) {
      INFO((lstm ? "LSTM" : "GRU") << " with " << garbage << " at the padded steps");
      manual_seed(19);
      auto m = make_rnn(lstm, nn::RNNOptions(I, H).bidirectional(true));
      std::vector<double> v = randn64({T, B, I}, 1).detach().to_vector<double>();
      for (std::int64_t t = 2; t < T; ++t)  // sequence 1 has length 2
        for (std::int64_t i = 0; i < I; ++i) v[static_cast<std::size_t>((t * B + 1) * I + i)] = garbage;
      const Tensor x = from_vector(v, {T, B, I}).requires_grad_();
      const nn::RNNOutput out = m->forward(x, std::nullopt, tensor({4, 2}, kInt64));
      const Tensor y = flat(out);
      CHECK(all_finite(y));
      y.sum().backward();
      for (const auto& [name, p] : m->named_parameters()) {
        INFO(name);
        CHECK(all_finite(p.grad()));
      }
      CHECK(all_finite(x.grad()));
      CHECK(x.grad().select(1, 1).slice(0, 2, T).abs().amax().item() == 0.0);
    }
}

TEST_CASE("with lengths, each sequence gives what it gives when run alone, truncated to its length", "[rnn]") {
  const std::int64_t T = 6, B = 4, I = 3, H = 4, L = 2;
  const std::vector<std::int64_t> lens{4, 6, 1, 2};
  for (bool lstm : {true, false}) {
    INFO((lstm ? "LSTM" : "GRU"));
    manual_seed(13);
    auto m = make_rnn(lstm, nn::RNNOptions(I, H).num_layers(L).bidirectional(true));
    const Tensor x = randn64({T, B, I}, 1).detach();
    const Tensor h0 = randn64({2 * L, B, H}, 2).detach(), c0 = randn64({2 * L, B, H}, 3).detach();
    const nn::RNNOutput all = m->forward(x, nn::RNNState{h0, lstm ? c0 : Tensor()}, from_vector(lens, {B}));
    for (std::int64_t j = 0; j < B; ++j) {
      const std::int64_t n = lens[static_cast<std::size_t>(j)];
      INFO("sequence " << j << " of length " << n);
      auto col = [&](const Tensor& s) { return s.slice(1, j, j + 1); };
      const nn::RNNOutput one =
          m->forward(x.slice(0, 0, n).slice(1, j, j + 1), nn::RNNState{col(h0), lstm ? col(c0) : Tensor()});
      CHECK(max_diff(all.output.slice(0, 0, n).slice(1, j, j + 1), one.output) <= 1e-13);
      CHECK(max_diff(col(all.state.h), one.state.h) <= 1e-13);
      if (lstm) CHECK(max_diff(col(all.state.c), one.state.c) <= 1e-13);
    }
  }
}

TEST_CASE("lengths that are all T give the same result as no lengths", "[rnn]") {
  for (bool lstm : {true, false}) {
    manual_seed(17);
    auto m = make_rnn(lstm, nn::RNNOptions(3, 4).num_layers(2).bidirectional(true).batch_first(true));
    const Tensor x = randn64({2, 5, 3}, 1).detach();
    const nn::RNNOutput a = m->forward(x, std::nullopt), b = m->forward(x, std::nullopt, tensor({5, 5}, kInt64));
    CHECK(max_diff(a.output, b.output) == 0.0);
    CHECK(max_diff(a.state.h, b.state.h) == 0.0);
    CHECK(max_diff(a.state.c, b.state.c) == 0.0);
  }
}

TEST_CASE("an LSTM's state dict loaded into a fresh LSTM gives identical outputs, and so does a GRU's", "[rnn]") {
  for (bool lstm : {true, false}) {
    INFO((lstm ? "LSTM" : "GRU"));
    const auto o = nn::RNNOptions(3, 5).num_layers(2).bidirectional(true).batch_first(true);
    manual_seed(1);
    auto a = make_rnn(lstm, o);
    manual_seed(2);
    auto b = make_rnn(lstm, o);
    const Tensor x = randn64({2, 4, 3}, 7).detach();
    CHECK(max_diff(flat(a->forward(x, std::nullopt)), flat(b->forward(x, std::nullopt))) > 1e-3);
    b->load_state_dict(a->state_dict());
    CHECK(max_diff(flat(a->forward(x, std::nullopt)), flat(b->forward(x, std::nullopt))) == 0.0);
    CHECK(b->state_dict().keys() == a->state_dict().keys());
  }
}

TEST_CASE("a cloned LSTM or GRU computes the same and owns its parameters", "[rnn]") {
  for (bool lstm : {true, false}) {
    INFO((lstm ? "LSTM" : "GRU"));
    manual_seed(21);
    auto a = make_rnn(lstm, nn::RNNOptions(3, 4).num_layers(2).bidirectional(true));
    auto b = std::dynamic_pointer_cast<nn::RNNBase>(a->clone());
    REQUIRE(b != nullptr);
    CHECK(b->type_name() == a->type_name());
    const Tensor x = randn64({4, 2, 3}, 1).detach();
    CHECK(max_diff(flat(a->forward(x, std::nullopt)), flat(b->forward(x, std::nullopt))) == 0.0);
    {
      NoGradGuard guard;
      b->parameters()[0].add_(1.0);
    }
    CHECK(max_diff(flat(a->forward(x, std::nullopt)), flat(b->forward(x, std::nullopt))) > 1e-3);
  }
}

TEST_CASE("RNN dropout acts between layers in training only, eval mode and dropout 0 agree", "[rnn]") {
  for (bool lstm : {true, false}) {
    INFO((lstm ? "LSTM" : "GRU"));
    manual_seed(23);
    auto with = make_rnn(lstm, nn::RNNOptions(3, 8).num_layers(2).dropout(0.5));
    auto without = make_rnn(lstm, nn::RNNOptions(3, 8).num_layers(2));
    without->load_state_dict(with->state_dict());
    const Tensor x = randn64({5, 2, 3}, 1).detach();
    CHECK(max_diff(flat(with->forward(x, std::nullopt)), flat(without->forward(x, std::nullopt))) > 1e-6);
    with->eval();
    CHECK(max_diff(flat(with->forward(x, std::nullopt)), flat(without->forward(x, std::nullopt))) == 0.0);
    // One layer: nothing to drop between, even in training.
    manual_seed(23);
    auto one = make_rnn(lstm, nn::RNNOptions(3, 8).dropout(0.5));
    auto one_plain = make_rnn(lstm, nn::RNNOptions(3, 8));
    one_plain->load_state_dict(one->state_dict());
    CHECK(max_diff(flat(one->forward(x, std::nullopt)), flat(one_plain->forward(x, std::nullopt))) == 0.0);
  }
}

// The whole-sequence recurrences of the rnn family (lstm_recurrence, gru_recurrence) against
// their oracle, the per-step path (one matmul and one fused cell step per time step, recorded
// step by step): forward and every gradient, both directions; a gradient check of each; the same
// bits on 1 and 2 threads; the errors of bad shapes. Also the column-split products that the
// recurrences rely on ([32, 256] x [256, 1024]).
#include "support/prelude.h"
#include "tapegrad/core/ops/rnn.h"

namespace {

using tg::matmul;

/// The per-step LSTM path: [2, T, B, H] stacked h_t and c_t, steps from T - 1 down when reverse.
Tensor stepwise_lstm(const Tensor& xproj, const Tensor& w_hh, Tensor h, Tensor c, bool reverse) {
  const std::int64_t T = xproj.size(0);
  std::vector<Tensor> hs(static_cast<std::size_t>(T)), cs(static_cast<std::size_t>(T));
  for (std::int64_t s = 0; s < T; ++s) {
    const std::int64_t t = reverse ? T - 1 - s : s;
    const Tensor hc = tg::lstm_cell_fused(xproj.select(0, t), matmul(h, w_hh.t()), c);
    h = hs[static_cast<std::size_t>(t)] = hc.select(0, 0);
    c = cs[static_cast<std::size_t>(t)] = hc.select(0, 1);
  }
  return tg::stack({tg::stack(hs, 0), tg::stack(cs, 0)}, 0);
}

/// The per-step GRU path: [T, B, H].
Tensor stepwise_gru(const Tensor& xproj, const Tensor& w_hh, const Tensor& b_hh, Tensor h, bool reverse) {
  const std::int64_t T = xproj.size(0);
  std::vector<Tensor> hs(static_cast<std::size_t>(T));
  for (std::int64_t s = 0; s < T; ++s) {
    const std::int64_t t = reverse ? T - 1 - s : s;
    Tensor gh = matmul(h, w_hh.t());
    if (b_hh.defined()) gh = gh + b_hh;
    h = hs[static_cast<std::size_t>(t)] = tg::gru_cell_fused(xproj.select(0, t), gh, h);
  }
  return tg::stack(hs, 0);
}

/// The gradients of sum(out * weights) with respect to each leaf (weights vary per element).
std::vector<std::vector<double>> grads_of(const Tensor& out, const std::vector<Tensor>& leaves) {
  for (const Tensor& l : leaves) l.zero_grad(true);
  const Tensor w = tg::arange(0, static_cast<double>(out.numel()), 1, out.dtype()).reshape(out.shape().vec());
  (out * (w * 0.01 - 0.3)).sum().backward();
  std::vector<std::vector<double>> g;
  for (const Tensor& l : leaves) g.push_back(values(l.grad()));
  return g;
}

/// LSTM inputs: xproj [T, B, 4H] in (-2, 2), w_hh [4H, H] in (-0.5, 0.5), h0, c0 [B, H] in (-1, 1).
Inputs lstm_inputs(std::int64_t T, std::int64_t B, std::int64_t H, std::uint64_t seed) {
  return {uniform64({T, B, 4 * H}, -2, 2, seed), uniform64({4 * H, H}, -0.5, 0.5, seed + 1),
          uniform64({B, H}, -1, 1, seed + 2), uniform64({B, H}, -1, 1, seed + 3)};
}

/// GRU inputs: xproj [T, B, 3H], w_hh [3H, H], b_hh [3H], h0 [B, H].
Inputs gru_inputs(std::int64_t T, std::int64_t B, std::int64_t H, std::uint64_t seed) {
  return {uniform64({T, B, 3 * H}, -2, 2, seed), uniform64({3 * H, H}, -0.5, 0.5, seed + 1),
          uniform64({3 * H}, -0.5, 0.5, seed + 2), uniform64({B, H}, -1, 1, seed + 3)};
}

}  // namespace

TEST_CASE("lstm_recurrence equals the per-step path, forward and every gradient, both directions", "[rnn][fused]") {
  for (const bool reverse : {false, true}) {
    INFO("reverse " << reverse);
    const Inputs in = lstm_inputs(5, 3, 4, 100);
    const Tensor fused = tg::lstm_recurrence(in[0], in[1], in[2], in[3], reverse);
    const Tensor steps = stepwise_lstm(in[0], in[1], in[2], in[3], reverse);
    REQUIRE(shape_of(fused) == Shape{2, 5, 3, 4});
    CHECK(all_close(values(fused), values(steps), 1e-12, 1e-12));
    const auto gf = grads_of(fused, in), gs = grads_of(steps, in);
    for (std::size_t i = 0; i < in.size(); ++i) {
      INFO("input " << i);
      CHECK(all_close(gf[i], gs[i], 1e-10, 1e-12));
    }
  }
}

TEST_CASE("lstm_recurrence in float32 gives the per-step path's forward bits", "[rnn][fused]") {
  tg::manual_seed(3);
  const Tensor x = tg::randn({6, 32, 4 * 256}), w = tg::randn({4 * 256, 256}) * 0.05;
  const Tensor h = tg::randn({32, 256}), c = tg::randn({32, 256});
  CHECK(same_bits(tg::lstm_recurrence(x, w, h, c), stepwise_lstm(x, w, h, c, false)));
}

TEST_CASE("lstm_recurrence: gradient check, both directions", "[rnn][fused][grad]") {
  for (const bool reverse : {false, true}) {
    INFO("reverse " << reverse);
    CHECK(tg::gradcheck([reverse](const Inputs& x) { return tg::lstm_recurrence(x[0], x[1], x[2], x[3], reverse); },
                        lstm_inputs(3, 2, 2, 7)));
  }
}

TEST_CASE("gru_recurrence equals the per-step path, forward and every gradient, with and without b_hh",
          "[rnn][fused]") {
  for (const bool reverse : {false, true}) {
    for (const bool bias : {true, false}) {
      INFO("reverse " << reverse << ", bias " << bias);
      const Inputs in = gru_inputs(5, 3, 4, 200);
      const Tensor b = bias ? in[2] : Tensor();
      const Tensor fused = tg::gru_recurrence(in[0], in[1], b, in[3], reverse);
      const Tensor steps = stepwise_gru(in[0], in[1], b, in[3], reverse);
      REQUIRE(shape_of(fused) == Shape{5, 3, 4});
      CHECK(all_close(values(fused), values(steps), 1e-12, 1e-12));
      const std::vector<Tensor> leaves = bias ? in : Inputs{in[0], in[1], in[3]};
      const auto gf = grads_of(fused, leaves), gs = grads_of(steps, leaves);
      for (std::size_t i = 0; i < leaves.size(); ++i) {
        INFO("leaf " << i);
        CHECK(all_close(gf[i], gs[i], 1e-10, 1e-12));
      }
    }
  }
}

TEST_CASE("gru_recurrence: gradient check, both directions", "[rnn][fused][grad]") {
  for (const bool reverse : {false, true}) {
    INFO("reverse " << reverse);
    CHECK(tg::gradcheck([reverse](const Inputs& x) { return tg::gru_recurrence(x[0], x[1], x[2], x[3], reverse); },
                        gru_inputs(3, 2, 2, 9)));
  }
}

TEST_CASE("the recurrences and thin wide products give the same bits on 1 and 2 threads",
          "[rnn][fused][determinism][threads]") {
  check_same_bits_on_1_and_2_threads([] {
    tg::manual_seed(11);
    std::vector<Tensor> out;
    const Tensor a = tg::randn({32, 256}), b = tg::randn({256, 1024});
    out.push_back(matmul(a, b));          // cut into column blocks
    out.push_back(matmul(b.t(), a.t()));  // [1024, 256] x [256, 32]: the transposed shape
    const Tensor x = tg::randn({8, 32, 1024}).requires_grad_(), w = (tg::randn({1024, 256}) * 0.05).requires_grad_();
    const Tensor h = tg::randn({32, 256}).requires_grad_(), c = tg::randn({32, 256}).requires_grad_();
    const Tensor hc = tg::lstm_recurrence(x, w, h, c);
    (hc * hc).sum().backward();
    out.push_back(hc.detach());
    for (const Tensor& t : {x, w, h, c}) out.push_back(t.grad());
    const Tensor xg = tg::randn({8, 32, 768}).requires_grad_(), wg = (tg::randn({768, 256}) * 0.05).requires_grad_();
    const Tensor bg = tg::randn({768}).requires_grad_();
    const Tensor hg = tg::gru_recurrence(xg, wg, bg, h.detach(), true);
    (hg * hg).sum().backward();
    out.push_back(hg.detach());
    for (const Tensor& t : {xg, wg, bg}) out.push_back(t.grad());
    return out;
  });
}

TEST_CASE("a thin wide product cut into column blocks equals the float64 product", "[linalg][rnn]") {
  tg::manual_seed(5);
  const Tensor a = tg::randn({32, 256}), b = tg::randn({256, 1024});
  const Tensor want = matmul(a.to(tg::kFloat64), b.to(tg::kFloat64));
  CHECK(all_close(values(matmul(a, b)), values(want), 1e-4, 1e-4));
}

TEST_CASE("lstm_recurrence and gru_recurrence: bad shapes and dtypes name the op and the values", "[rnn][bad_input]") {
  const Tensor x = tg::zeros({3, 2, 8}), w = tg::zeros({8, 2}), h = tg::zeros({2, 2});
  CHECK_TG_ERROR(tg::lstm_recurrence(tg::zeros({3, 2, 6}), w, h, h),
                 Contains("lstm_recurrence: xproj must have shape [T, 2, 8]") && Contains("[3, 2, 6]"));
  CHECK_TG_ERROR(tg::lstm_recurrence(x, tg::zeros({8, 3}), h, h),
                 Contains("lstm_recurrence: w_hh must have shape [8, 2]") && Contains("[8, 3]"));
  CHECK_TG_ERROR(tg::lstm_recurrence(x, w, tg::zeros({2}), h), Contains("lstm_recurrence: h0 must be 2-D"));
  CHECK_TG_ERROR(tg::lstm_recurrence(x, w, h, tg::zeros({2, 3})),
                 Contains("lstm_recurrence: c0 must match h0") && Contains("[2, 3]"));
  CHECK_TG_ERROR(tg::lstm_recurrence(x.to(tg::kFloat64), w, h, h), Contains("lstm_recurrence: dtypes differ"));
  CHECK_TG_ERROR(tg::gru_recurrence(tg::zeros({3, 2, 8}), tg::zeros({6, 2}), Tensor(), h),
                 Contains("gru_recurrence: xproj must have shape [T, 2, 6]"));
  CHECK_TG_ERROR(tg::gru_recurrence(tg::zeros({3, 2, 6}), tg::zeros({6, 2}), tg::zeros({5}), h),
                 Contains("gru_recurrence: b_hh must have shape [6]") && Contains("[5]"));
}

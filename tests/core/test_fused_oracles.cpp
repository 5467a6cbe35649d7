// The fused kernels of the core against their composed versions (the oracles that DESIGN.md
// asks every fused kernel to keep), and a gradient check of each fused kernel on its own:
// layer_norm (norm family), the LSTM and GRU cell steps (rnn family).
#include "support/prelude.h"

namespace {

/// layer_norm written with the elementwise and reduction ops (biased variance).
Tensor composed_layer_norm(const Tensor& x, std::int64_t dims, const Tensor& w, const Tensor& b, double eps) {
  std::vector<std::int64_t> axes;
  for (std::int64_t d = x.dim() - dims; d < x.dim(); ++d) axes.push_back(d);
  const Tensor mu = x.mean(axes, true);
  const Tensor centred = x - mu;
  const Tensor var = (centred * centred).mean(axes, true);
  Tensor y = centred / (var + eps).sqrt();
  if (w.defined()) y = y * w;
  if (b.defined()) y = y + b;
  return y;
}

/// One LSTM step as PyTorch's LSTMCell writes it: gates i, f, g, o; returns [h', c'] stacked.
Tensor composed_lstm_cell(const Tensor& gx, const Tensor& gh, const Tensor& c) {
  const std::vector<Tensor> g = tg::chunk(gx + gh, 4, 1);
  const Tensor i = g[0].sigmoid(), f = g[1].sigmoid(), gg = g[2].tanh(), o = g[3].sigmoid();
  const Tensor c2 = f * c + i * gg;
  return tg::stack({o * c2.tanh(), c2}, 0);
}

/// One GRU step: r, z, n with the reset gate applied to the hidden projection (PyTorch's form).
Tensor composed_gru_cell(const Tensor& gx, const Tensor& gh, const Tensor& h) {
  const std::vector<Tensor> x = tg::chunk(gx, 3, 1), hh = tg::chunk(gh, 3, 1);
  const Tensor r = (x[0] + hh[0]).sigmoid(), z = (x[1] + hh[1]).sigmoid();
  const Tensor n = (x[2] + r * hh[2]).tanh();
  return (1.0 - z) * n + z * h;
}

/// The gradients of sum(out * weights) with respect to each leaf.
std::vector<std::vector<double>> grads(const Tensor& out, const std::vector<Tensor>& leaves) {
  for (const Tensor& l : leaves) l.zero_grad(true);
  const Tensor weights = tg::arange(0, static_cast<double>(out.numel()), 1, tg::kFloat64).reshape(out.shape().vec());
  (out * (weights * 0.01 - 0.3)).sum().backward();
  std::vector<std::vector<double>> g;
  for (const Tensor& l : leaves) g.push_back(values(l.grad()));
  return g;
}

void check_same(const Tensor& fused, const Tensor& composed, const std::vector<Tensor>& leaves) {
  REQUIRE(fused.shape() == composed.shape());
  CHECK(all_close(values(fused), values(composed), 1e-12, 1e-12));
  const auto gf = grads(fused, leaves), gc = grads(composed, leaves);
  for (std::size_t i = 0; i < leaves.size(); ++i) CHECK(all_close(gf[i], gc[i], 1e-10, 1e-12));
}

/// A cell step (gates_x, gates_h, state) -> next state, fused or composed.
using CellStep = Tensor (*)(const Tensor&, const Tensor&, const Tensor&);

/// The inputs of a cell step with `gates` gates of `hidden` features: the input and hidden
/// projections [batch, gates * hidden], uniform in (-2, 2), and the state [batch, hidden], in
/// (-1, 1); seeds seed, seed + 1, seed + 2.
Inputs cell_inputs(std::int64_t batch, std::int64_t gates, std::int64_t hidden, std::uint64_t seed) {
  return {uniform64({batch, gates * hidden}, -2, 2, seed), uniform64({batch, gates * hidden}, -2, 2, seed + 1),
          uniform64({batch, hidden}, -1, 1, seed + 2)};
}

/// The fused step equals the composed one on `in`, forward and every gradient.
void check_cell_oracle(CellStep fused, CellStep composed, const Inputs& in) {
  check_same(fused(in[0], in[1], in[2]), composed(in[0], in[1], in[2]), in);
}

/// A gradient check of the fused step on its own.
bool cell_gradcheck(CellStep fused, const Inputs& in) {
  return tg::gradcheck([fused](const Inputs& x) { return fused(x[0], x[1], x[2]); }, in);
}

}  // namespace

TEST_CASE("fused layer_norm equals its composition, forward and every gradient", "[norm][fused]") {
  const Tensor x = uniform64({3, 4, 5}, -2, 2, 1), w = uniform64({4, 5}, 0.5, 1.5, 2), b = uniform64({4, 5}, -1, 1, 3);
  check_same(tg::layer_norm(x, {4, 5}, w, b, 1e-5), composed_layer_norm(x, 2, w, b, 1e-5), {x, w, b});
  const Tensor w1 = uniform64({5}, 0.5, 1.5, 4);
  check_same(tg::layer_norm(x, {5}, w1, Tensor(), 1e-3), composed_layer_norm(x, 1, w1, Tensor(), 1e-3), {x, w1});
  check_same(tg::layer_norm(x, {5}), composed_layer_norm(x, 1, Tensor(), Tensor(), 1e-5), {x});
}

TEST_CASE("fused layer_norm: gradient check of the kernel itself", "[norm][fused][grad]") {
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::layer_norm(in[0], {4}, in[1], in[2], 1e-5); },
                      {uniform64({3, 4}, -2, 2, 5), uniform64({4}, 0.5, 1.5, 6), uniform64({4}, -1, 1, 7)}));
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    return tg::layer_norm(in[0], {2, 3});
      },
      {uniform64({2, 2, 3}, -2, 2, 8)}));
}

TEST_CASE("fused layer_norm: the one-pass statistics are exact for rows far from zero", "[norm][fused]") {
  // Rows of 1e8 + uniform(-1, 1), and one whose first element is 1e3 further: the kernel sums
  // x - x[0] and its square, so the offset costs no precision (a plain sum of squares would lose
  // all of var = 1/3 in the 1e16 of the squares).
  std::vector<double> v = values(uniform64({3, 1003}, -1, 1, 9));
  for (double& e : v) e += 1e8;
  v[1003] += 1e3;
  const Tensor x = tg::from_vector(v, {3, 1003}).requires_grad_();
  const Tensor w = uniform64({1003}, 0.5, 1.5, 10), b = uniform64({1003}, -1, 1, 11);
  const Tensor fused = tg::layer_norm(x, {1003}, w, b, 1e-5);
  const Tensor centred = x - tg::from_vector(std::vector<double>(3, 1e8), {3, 1});  // exact: |x - 1e8| <= 1001
  const Tensor composed = composed_layer_norm(centred, 1, w, b, 1e-5);
  // The mean is kept as a double near 1e8 (spacing 1.5e-8), hence the tolerances.
  CHECK(all_close(values(fused), values(composed), 1e-7, 1e-7));
  const auto gf = grads(fused, {x, w, b}), gc = grads(composed, {x, w, b});
  for (std::size_t i = 0; i < 3; ++i) CHECK(all_close(gf[i], gc[i], 1e-6, 1e-6));
}

TEST_CASE("fused layer_norm: an upstream gradient broadcast over the rows gives the gradients of a copied one",
          "[norm][fused]") {
  // sum over dim 0 hands back an expand with stride 0 over the rows, which the kernel reads as
  // one row; multiplying by the same values made contiguous hands back a full gradient.
  const Tensor x = uniform64({3, 4, 5}, -2, 2, 12), w = uniform64({4, 5}, 0.5, 1.5, 13),
               b = uniform64({4, 5}, -1, 1, 14);
  const Tensor up = uniform64({4, 5}, -1, 1, 15).detach();
  auto y = [&] { return tg::layer_norm(x, {4, 5}, w, b, 1e-5); };  // a new graph for each backward
  const auto g_broadcast = grads((y().sum({0}) * up).sum(), {x, w, b});
  const auto g_full = grads((y() * up.expand({3, 4, 5}).contiguous()).sum(), {x, w, b});
  for (std::size_t i = 0; i < 3; ++i) CHECK(g_broadcast[i] == g_full[i]);
  const auto g_sum = grads(y().sum(), {x, w, b});  // an expand of a scalar
  const auto g_ones = grads((y() * tg::ones({3, 4, 5}, tg::kFloat64)).sum(), {x, w, b});
  for (std::size_t i = 0; i < 3; ++i) CHECK(g_sum[i] == g_ones[i]);
}

TEST_CASE("fused layer_norm: forward and every gradient are bit-identical with 1 and 2 threads",
          "[norm][fused][determinism][threads]") {
  const int default_threads = tg::get_num_threads();
  // 300 rows: five blocks of 64 rows for the weight and bias gradients, the last one partial;
  // 1003 columns: the lanes of 8 and a tail of 3.
  auto run = [](int threads) {
    tg::set_num_threads(threads);
    tg::Generator gen(17);
    const Tensor x = tg::randn({300, 1003}, {}, &gen).requires_grad_();
    const Tensor w = (tg::rand({1003}, {}, &gen) + 0.5).detach().requires_grad_();
    const Tensor b = tg::randn({1003}, {}, &gen).requires_grad_();
    const Tensor y = tg::layer_norm(x, {1003}, w, b, 1e-5);
    (y * tg::randn({300, 1003}, {}, &gen)).sum().backward();
    return std::vector<std::vector<double>>{values(y), values(x.grad()), values(w.grad()), values(b.grad())};
  };
  const auto one = run(1), two = run(2);
  tg::set_num_threads(default_threads);
  for (std::size_t i = 0; i < one.size(); ++i) {
    INFO("result " << i);
    CHECK(one[i] == two[i]);
  }
}

TEST_CASE("fused LSTM cell step equals its composition, forward and every gradient", "[rnn][fused]") {
  check_cell_oracle(tg::lstm_cell_fused, composed_lstm_cell, cell_inputs(3, 4, 2, 11));
}

TEST_CASE("fused LSTM cell step: gradient check of the kernel itself", "[rnn][fused][grad]") {
  CHECK(cell_gradcheck(tg::lstm_cell_fused, cell_inputs(2, 4, 3, 14)));
}

TEST_CASE("fused GRU cell step equals its composition, forward and every gradient", "[rnn][fused]") {
  check_cell_oracle(tg::gru_cell_fused, composed_gru_cell, cell_inputs(3, 3, 2, 21));
}

TEST_CASE("fused GRU cell step: gradient check of the kernel itself", "[rnn][fused][grad]") {
  CHECK(cell_gradcheck(tg::gru_cell_fused, cell_inputs(2, 3, 3, 24)));
}

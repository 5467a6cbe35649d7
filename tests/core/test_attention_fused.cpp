// The fused scaled-dot-product attention (core/src/ops/attention.cpp) against its oracle, the
// composed nn::functional::scaled_dot_product_attention_with_weights: forward and every gradient
// across masks, causal, dropout (the same generator state both ways draws the same mask), lengths
// that are not a multiple of the tiles (64 queries, 128 keys), L != S and fully masked rows; a
// gradient check of its own, bad inputs, and the same bits on 1 and 2 threads.
#include "support/prelude.h"
#include "tapegrad/core/ops/attention.h"
#include "tapegrad/nn/attention/multihead.h"
#include "tapegrad/nn/attention/scaled_dot_product.h"

namespace {

namespace F = tg::nn::functional;
using tg::DType;

/// A case: q [B, H, L, E], k [B, H, S, E], v [B, H, S, Ev], a mask and options.
struct Case {
  std::int64_t B = 2, H = 3, L = 70, S = 150, E = 8, Ev = 5;
  Tensor mask;
  double dropout = 0;
  bool causal = false;
  std::optional<double> scale;
};

/// Leaves of dtype, reproducible from seed.
Tensor leaf(const Shape& shape, DType dtype, std::uint64_t seed) {
  return uniform64(shape, -1.5, 1.5, seed).detach().to(dtype).requires_grad_();
}

/// The gradients of sum(out * w) for a fixed w, for each leaf.
std::vector<std::vector<double>> grads(const Tensor& out, const std::vector<Tensor>& leaves) {
  for (const Tensor& l : leaves) l.zero_grad(true);
  tg::Generator gen(17);
  const Tensor w = tg::randn(out.shape(), out.dtype(), &gen);
  (out * w).sum().backward();
  std::vector<std::vector<double>> g;
  for (const Tensor& l : leaves) g.push_back(values(l.grad()));
  return g;
}

/// Fused and composed agree on c in dtype: forward and the gradients of q, k and v.
void check_against_oracle(const Case& c, DType dtype) {
  const Tensor q = leaf({c.B, c.H, c.L, c.E}, dtype, 1), k = leaf({c.B, c.H, c.S, c.E}, dtype, 2),
               v = leaf({c.B, c.H, c.S, c.Ev}, dtype, 3);
  const Tensor mask = c.mask.defined() && tg::is_floating(c.mask.dtype()) ? c.mask.to(dtype) : c.mask;
  tg::Generator g1(11), g2(11);
  const Tensor fused = tg::fused_scaled_dot_product_attention(q, k, v, mask, c.dropout, c.causal, c.scale, &g1);
  // The composed form divides q by sqrt(E): another scale s is q * s * sqrt(E) there.
  const Tensor qc = c.scale ? q * (*c.scale * std::sqrt(static_cast<double>(c.E))) : q;
  const Tensor composed =
      F::scaled_dot_product_attention_with_weights(qc, k, v, mask, c.dropout, c.causal, std::nullopt, &g2).output;
  CHECK(g1.offset() == g2.offset());
  REQUIRE(fused.shape() == composed.shape());
  const double tol = dtype == tg::kFloat32 ? 1e-5 : 1e-12;
  CHECK(all_close(values(fused), values(composed), tol, tol));
  const auto gf = grads(fused, {q, k, v}), gc = grads(composed, {q, k, v});
  for (std::size_t i = 0; i < 3; ++i) {
    INFO("gradient of input " << i);
    CHECK(all_close(gf[i], gc[i], tol, tol));
  }
}

void check_both_dtypes(const Case& c) {
  SECTION("float32") { check_against_oracle(c, tg::kFloat32); }
  SECTION("float64") { check_against_oracle(c, tg::kFloat64); }
}

/// A bool mask [L, S] with a pseudo-random third of the keys masked and no row fully masked.
Tensor bool_mask(std::int64_t L, std::int64_t S, std::int64_t dead_row = -1) {
  std::vector<std::int64_t> m(static_cast<std::size_t>(L * S));
  for (std::int64_t i = 0; i < L; ++i)
    for (std::int64_t j = 0; j < S; ++j)
      m[static_cast<std::size_t>(i * S + j)] = (i == dead_row) || (j != i % S && (i * 7 + j * 13) % 3 == 0);
  return tg::ne(tg::from_vector(m, {L, S}), 0.0);
}

}  // namespace

TEST_CASE("fused attention equals the composed one without a mask", "[fused_attention]") { check_both_dtypes(Case{}); }

TEST_CASE("fused attention equals the composed one with a bool mask", "[fused_attention]") {
  Case c;
  c.mask = bool_mask(c.L, c.S);
  check_both_dtypes(c);
}

TEST_CASE("fused attention equals the composed one with a float mask broadcast over heads", "[fused_attention]") {
  Case c;
  // [B, 1, L, S]: finite values and -inf (where the bool mask is true).
  Tensor m = uniform64({c.B, 1, c.L, c.S}, -2, 1, 5).detach();
  m = tg::masked_fill(m, bool_mask(c.L, c.S), -std::numeric_limits<double>::infinity());
  c.mask = m;
  check_both_dtypes(c);
}

TEST_CASE("fused attention equals the composed one with a key-padding mask of shape B, 1, 1, S", "[fused_attention]") {
  Case c;
  std::vector<std::int64_t> pad(static_cast<std::size_t>(c.B * c.S));
  for (std::int64_t b = 0; b < c.B; ++b)
    for (std::int64_t j = 0; j < c.S; ++j) pad[static_cast<std::size_t>(b * c.S + j)] = j >= c.S - 20 * (b + 1);
  c.mask = tg::ne(tg::from_vector(pad, {c.B, 1, 1, c.S}), 0.0);
  check_both_dtypes(c);
}

TEST_CASE("fused attention equals the composed one when causal, alone and with a mask", "[fused_attention]") {
  Case c;
  c.S = c.L = 150;
  c.causal = true;
  SECTION("causal") { check_both_dtypes(c); }
  SECTION("causal and a bool mask") {
    c.mask = bool_mask(c.L, c.S);
    check_both_dtypes(c);
  }
  SECTION("causal with L > S and L < S (top-left aligned)") {
    c.L = 200;
    c.S = 70;
    check_both_dtypes(c);
    c.L = 30;
    c.S = 140;
    check_both_dtypes(c);
  }
}

TEST_CASE("fused attention equals the composed one with dropout from the same generator state", "[fused_attention]") {
  Case c;
  c.dropout = 0.3;
  SECTION("no mask") { check_both_dtypes(c); }
  SECTION("causal and a bool mask") {
    c.causal = true;
    c.mask = bool_mask(c.L, c.S);
    check_both_dtypes(c);
  }
}

TEST_CASE("fused attention equals the composed one for lengths below, at and above a tile", "[fused_attention]") {
  for (const auto& [L, S] :
       std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 1}, {64, 128}, {65, 129}, {3, 300}, {130, 5}}) {
    INFO("L " << L << ", S " << S);
    Case c;
    c.B = 1;
    c.H = 2;
    c.L = L;
    c.S = S;
    check_against_oracle(c, tg::kFloat64);
    check_against_oracle(c, tg::kFloat32);
  }
}

TEST_CASE("fused attention: fully masked rows give zero output and zero gradients", "[fused_attention]") {
  Case c;
  c.mask = bool_mask(c.L, c.S, 66);  // row 66 (in the second query block) sees no key
  check_both_dtypes(c);
  const Tensor q = leaf({1, 1, c.L, c.E}, tg::kFloat64, 1), k = leaf({1, 1, c.S, c.E}, tg::kFloat64, 2),
               v = leaf({1, 1, c.S, c.Ev}, tg::kFloat64, 3);
  const Tensor out = tg::fused_scaled_dot_product_attention(q, k, v, c.mask);
  CHECK(values(out.select(2, 66)) == std::vector<double>(5, 0.0));
  out.sum().backward();
  CHECK(values(q.grad().select(2, 66)) == std::vector<double>(8, 0.0));
  for (double x : values(k.grad())) CHECK(std::isfinite(x));
  SECTION("a float mask of -inf on a whole row, float32") {
    Case f;
    f.mask = tg::masked_fill(tg::zeros({f.L, f.S}), bool_mask(f.L, f.S, 3), -std::numeric_limits<double>::infinity());
    check_against_oracle(f, tg::kFloat32);
  }
}

TEST_CASE("fused attention with a scale argument equals the composed one with q rescaled", "[fused_attention]") {
  Case c;
  c.scale = 0.7;
  check_both_dtypes(c);
}

TEST_CASE("fused attention passes gradcheck in float64", "[fused_attention]") {
  const Tensor q = uniform64({2, 3, 4}, -1, 1, 1), k = uniform64({2, 5, 4}, -1, 1, 2),
               v = uniform64({2, 5, 3}, -1, 1, 3);
  const Tensor mask = bool_mask(3, 5, 1);
  CHECK(tg::gradcheck([](const Inputs& x) { return tg::fused_scaled_dot_product_attention(x[0], x[1], x[2]); },
                      {q, k, v}));
  CHECK(tg::gradcheck(
      [&](const Inputs& x) { return tg::fused_scaled_dot_product_attention(x[0], x[1], x[2], mask, 0, true); },
      {q, k, v}));
  const Tensor fm = uniform64({3, 5}, -1, 1, 4).detach();
  CHECK(tg::gradcheck(
      [&](const Inputs& x) { return tg::fused_scaled_dot_product_attention(x[0], x[1], x[2], fm, 0, false, 0.6); },
      {q, k, v}));
  CHECK(tg::gradcheck(
      [](const Inputs& x) {
    tg::Generator gen(5);
    return tg::fused_scaled_dot_product_attention(x[0], x[1], x[2], {}, 0.4, false, std::nullopt, &gen);
      },
      {q, k, v}));
}

TEST_CASE("fused attention dropout is reproducible from the seed and differs across draws", "[fused_attention]") {
  const Tensor q = uniform64({2, 20, 8}, -1, 1, 1), k = uniform64({2, 30, 8}, -1, 1, 2),
               v = uniform64({2, 30, 8}, -1, 1, 3);
  tg::Generator a(3), b(3);
  const Tensor x1 = tg::fused_scaled_dot_product_attention(q, k, v, {}, 0.5, false, std::nullopt, &a);
  const Tensor x2 = tg::fused_scaled_dot_product_attention(q, k, v, {}, 0.5, false, std::nullopt, &b);
  const Tensor x3 = tg::fused_scaled_dot_product_attention(q, k, v, {}, 0.5, false, std::nullopt, &a);
  CHECK(values(x1) == values(x2));
  CHECK(values(x1) != values(x3));
  CHECK(a.offset() == 2 * 2 * 20 * 30);
}

TEST_CASE("fused attention: bad inputs are tg::Errors that name the op and the values", "[fused_attention]") {
  const Tensor q = tg::zeros({2, 4, 8}), k = tg::zeros({2, 6, 8}), v = tg::zeros({2, 6, 3});
  using tg::fused_scaled_dot_product_attention;
  CHECK_TG_ERROR(
      fused_scaled_dot_product_attention(q, tg::zeros({2, 6, 7}), v),
      Contains("fused_scaled_dot_product_attention") && Contains("same embedding size") && Contains("[2, 6, 7]"));
  CHECK_TG_ERROR(fused_scaled_dot_product_attention(q, k, tg::zeros({2, 5, 3})), Contains("same sequence length S"));
  CHECK_TG_ERROR(fused_scaled_dot_product_attention(q, tg::zeros({3, 6, 8}), tg::zeros({3, 6, 3})),
                 Contains("same leading (batch) dims") && Contains("[3, 6, 8]"));
  CHECK_TG_ERROR(fused_scaled_dot_product_attention(tg::zeros({8}), k, v), Contains("at least 2 dims"));
  CHECK_TG_ERROR(fused_scaled_dot_product_attention(q.to(tg::kFloat64), k, v),
                 Contains("one floating dtype") && Contains("float64") && Contains("float32"));
  CHECK_TG_ERROR(fused_scaled_dot_product_attention(q.to(tg::kInt64), k.to(tg::kInt64), v.to(tg::kInt64)),
                 Contains("one floating dtype") && Contains("int64"));
  CHECK_TG_ERROR(fused_scaled_dot_product_attention(q, k, v, tg::zeros({4, 5}, tg::kBool)),
                 Contains("attn_mask of shape [4, 5] does not broadcast") && Contains("[2, 4, 6]"));
  CHECK_TG_ERROR(fused_scaled_dot_product_attention(q, k, v, tg::zeros({4, 6}, tg::kInt64)),
                 Contains("attn_mask must be bool") && Contains("int64"));
  CHECK_TG_ERROR(fused_scaled_dot_product_attention(q, k, v, tg::zeros({4, 6}).requires_grad_()),
                 Contains("requires grad is not supported"));
  CHECK_TG_ERROR(fused_scaled_dot_product_attention(q, k, v, {}, 1.0), Contains("dropout_p must be in [0, 1), got 1"));
  CHECK_TG_ERROR(fused_scaled_dot_product_attention(q, k, v, {}, -0.1), Contains("dropout_p"));
  CHECK_TG_ERROR(fused_scaled_dot_product_attention(q, tg::zeros({2, 0, 8}), tg::zeros({2, 0, 3})), Contains("S >= 1"));
}

TEST_CASE("fused attention gives the same bits on 1 and 2 threads", "[fused_attention][threads]") {
  // Six entries: one backward task per entry on both counts. One entry: on 2 threads the
  // backward splits into key-tile tasks (dK, dV) and query-block tasks (dQ) instead.
  const std::int64_t BH = GENERATE(std::int64_t{6}, std::int64_t{1});
  INFO("batch x heads = " << BH);
  const int threads = tg::get_num_threads();
  auto run = [BH](int n) {
    tg::set_num_threads(n);
    tg::Generator gen(9);
    const Tensor q = tg::randn({BH, 1, 200, 16}, tg::kFloat32, &gen).reshape({BH, 200, 16}).requires_grad_();
    const Tensor k = tg::randn({BH, 260, 16}, tg::kFloat32, &gen).requires_grad_();
    const Tensor v = tg::randn({BH, 260, 16}, tg::kFloat32, &gen).requires_grad_();
    const Tensor out =
        tg::fused_scaled_dot_product_attention(q, k, v, bool_mask(200, 260, 7), 0.2, true, std::nullopt, &gen);
    (out * out).sum().backward();
    return std::vector<std::vector<float>>{out.to_vector<float>(), q.grad().to_vector<float>(),
                                           k.grad().to_vector<float>(), v.grad().to_vector<float>()};
  };
  const auto one = run(1);
  const auto two = run(2);
  const auto three = run(3);
  tg::set_num_threads(threads);
  for (std::size_t i = 0; i < one.size(); ++i) {
    INFO("output 0, gradients of q, k, v 1 to 3: " << i);
    CHECK(one[i] == two[i]);
    CHECK(one[i] == three[i]);
  }
}

TEST_CASE("fused attention of one long sequence on 2 threads equals the composed one", "[fused_attention][threads]") {
  // One entry, so the backward takes the split schedule on 2 threads: checked against the oracle
  // with a mask, causal and dropout, and lengths that end mid-tile.
  struct RestoreThreads {
    int n = tg::get_num_threads();
    ~RestoreThreads() { tg::set_num_threads(n); }
  } restore;
  tg::set_num_threads(2);
  Case c;
  c.B = 1, c.H = 1, c.L = 333, c.S = 301, c.E = 12, c.Ev = 7;
  c.mask = bool_mask(c.L, c.S, 40);
  c.dropout = 0.25;
  c.causal = GENERATE(false, true);
  INFO("causal " << c.causal);
  check_both_dtypes(c);
}

TEST_CASE("scaled_dot_product_attention and MultiheadAttention without weights take the fused path",
          "[fused_attention]") {
  const Tensor q = leaf({2, 2, 70, 8}, tg::kFloat32, 1), k = leaf({2, 2, 90, 8}, tg::kFloat32, 2),
               v = leaf({2, 2, 90, 8}, tg::kFloat32, 3);
  const Tensor mask = bool_mask(70, 90);
  const Tensor fused = F::scaled_dot_product_attention(q, k, v, mask, 0, true);
  CHECK(fused.grad_fn_name().find("FusedScaledDotProductAttention") != std::string::npos);
  const Tensor composed = F::scaled_dot_product_attention_with_weights(q, k, v, mask, 0, true).output;
  CHECK(all_close(values(fused), values(composed), 1e-5, 1e-5));
  // Batch dims broadcast as in the composed form.
  const Tensor k1 = leaf({1, 2, 90, 8}, tg::kFloat32, 4), v1 = leaf({2, 1, 90, 8}, tg::kFloat32, 5);
  CHECK(all_close(values(F::scaled_dot_product_attention(q, k1, v1)),
                  values(F::scaled_dot_product_attention_with_weights(q, k1, v1).output), 1e-5, 1e-5));
  // A float mask that requires grad keeps the composed path (its gradient is [..., L, S]).
  const Tensor fm = tg::zeros({70, 90}).requires_grad_();
  CHECK(F::scaled_dot_product_attention(q, k, v, fm).grad_fn_name().find("Fused") == std::string::npos);

  tg::manual_seed(1);
  tg::nn::MultiheadAttention mha(tg::nn::MultiheadAttentionOptions(16, 4).batch_first(true));
  const Tensor x = leaf({3, 40, 16}, tg::kFloat32, 6);
  const Tensor kpm = tg::ne(tg::from_vector(std::vector<std::int64_t>(120, 0), {3, 40}), 0.0);
  const auto with = mha.forward(x, x, x, kpm, true, bool_mask(40, 40));
  const auto without = mha.forward(x, x, x, kpm, false, bool_mask(40, 40));
  CHECK(all_close(values(without.output), values(with.output), 1e-5, 1e-5));
  const auto gw = grads(with.output, mha.parameters()), gn = grads(without.output, mha.parameters());
  for (std::size_t i = 0; i < gw.size(); ++i) CHECK(all_close(gn[i], gw[i], 1e-4, 1e-5));
}

// Positional encodings: SinusoidalPositionalEncoding, LearnedPositionalEncoding, rotary (RoPE).
//
// Golden tests against the references of tests/golden_attention/make_vision_attention_fixtures.py
// (the tutorial's sinusoidal table, a learned table, RoPE computed as a complex rotation), then
// gradient checks, RoPE's defining property (q_m . k_n depends only on m - n), the state_dict
// keys, and one test per bad input. The regions between "// [doc:NAME]" lines are quoted by
// docs/attention.md.
#include <cmath>

#include "support/nn_prelude.h"
#include "tapegrad/nn/attention/positional.h"

namespace F = tg::nn::functional;

namespace {

Tensor uniform(tg::IntArrayRef shape, std::uint64_t seed) { return tg_test::uniform64(shape, -1.0, 1.0, seed); }

/// The cases of positional_encoding.txt for one module ("sinusoidal" or "learned").
std::vector<Case> positional_cases(const std::string& module) {
  std::vector<Case> cases;
  for (const Case& c : tg_fixtures::load("golden_attention", "positional_encoding"))
    if (c.text("module") == module) cases.push_back(c);
  return cases;
}

}  // namespace

// ---- golden tests ------------------------------------------------------------------------------------

TEST_CASE("SinusoidalPositionalEncoding matches the reference table and output, batch_first both ways and odd d_model",
          "[attention][positional]") {
  const std::vector<Case> cases = positional_cases("sinusoidal");
  CHECK(cases.size() == 4);
  for (const Case& c : cases) {
    const std::int64_t d = c.param1("d_model"), max_len = c.param1("max_len"), start = c.param1("start");
    // The table itself, in float64, before PyTorch's copy is loaded over the buffer.
    tg_golden::check_close(c, "state.pe", nn::sinusoidal_table(max_len, d));
    nn::SinusoidalPositionalEncoding m(
        nn::SinusoidalPositionalEncodingOptions(d, max_len).batch_first(c.flag("batch_first")));
    CHECK(m.pe.dtype() == tg::kFloat32);
    CHECK(tg_test::all_close(tg_test::values(m.pe), tg_test::values(nn::sinusoidal_table(max_len, d)), 1e-7, 1e-7));
    tg_golden::run_case(c, m, [&](const Tensor& x) { return tg_golden::Outputs{{"output", m.forward(x, start)}}; });
  }
}

TEST_CASE("LearnedPositionalEncoding matches the reference: output and the gradients of the input and the table",
          "[attention][positional]") {
  const std::vector<Case> cases = positional_cases("learned");
  CHECK(cases.size() == 2);
  for (const Case& c : cases) {
    nn::LearnedPositionalEncoding m(nn::LearnedPositionalEncodingOptions(c.param1("max_len"), c.param1("d_model"))
                                        .batch_first(c.flag("batch_first")));
    tg_golden::run_case(c, m, [&](const Tensor& x) {
      return tg_golden::Outputs{{"output", m.forward(x, c.param1("start"))}};
    });
  }
}

TEST_CASE("RoPE matches the complex-rotation reference: tables, module output with offsets, input gradient",
          "[attention][positional][rope]") {
  for (const Case& c : tg_fixtures::load("golden_attention", "rotary_embedding")) {
    const std::int64_t dim = c.param1("dim"), offset = c.param1("offset"), max_len = c.param1("max_len");
    const double base = c.num("base");
    const std::int64_t T = c.stored("x").shape.end()[-2];
    const nn::RotaryTables tables = nn::rotary_tables(T, dim, base, offset);
    tg_golden::check_close(c, "cos", tables.cos);
    tg_golden::check_close(c, "sin", tables.sin);
    nn::RotaryEmbedding rope(dim, base, max_len);
    tg_golden::check_close(c, "cos", rope.cos_cached().narrow(0, offset, T));
    tg_golden::check_close(c, "sin", rope.sin_cached().narrow(0, offset, T));
    tg_golden::run_case(c, rope, [&](const Tensor& x) {
      return tg_golden::Outputs{{"output", rope.forward(x, offset)}};
    });
    // The functional form with the fixture's tables gives the same output.
    tg_golden::check_close(c, "output", F::apply_rotary_embedding(c.tensor("x"), c.tensor("cos"), c.tensor("sin")));
  }
}

// ---- gradient checks ---------------------------------------------------------------------------------

TEST_CASE("positional encodings pass the gradient check: sinusoidal, learned (input and table), RoPE (x, cos, sin)",
          "[attention][positional][rope]") {
  nn::SinusoidalPositionalEncoding sinusoidal(nn::SinusoidalPositionalEncodingOptions(6, 10).batch_first(false));
  sinusoidal.to(tg::kFloat64);
  sinusoidal.eval();
  CHECK(tg::gradcheck([&](const std::vector<Tensor>& in) { return sinusoidal.forward(in[0], 2); },
                      {uniform({4, 2, 6}, 1)}));

  nn::LearnedPositionalEncoding learned(7, 5);
  learned.to(tg::kFloat64);
  // The module's own parameter as an input: gradcheck perturbs it in place.
  CHECK(tg::gradcheck([&](const std::vector<Tensor>& in) { return learned.forward(in[0], 1); },
                      {uniform({2, 3, 5}, 2), learned.weight}));
  CHECK(tg::gradcheck([&](const std::vector<Tensor>& in) { return learned.forward(in[0]); }, {uniform({3, 5}, 3)}));

  const nn::RotaryTables t = nn::rotary_tables(4, 6, 100.0, 3);
  CHECK(tg::gradcheck(
      [](const std::vector<Tensor>& in) { return F::apply_rotary_embedding(in[0], in[1], in[2]); },
      {uniform({2, 4, 6}, 4), t.cos.detach().clone().requires_grad_(), t.sin.detach().clone().requires_grad_()}));
  nn::RotaryEmbedding rope(8, 10000.0, 32);
  CHECK(
      tg::gradcheck([&](const std::vector<Tensor>& in) { return rope.forward(in[0], 9); }, {uniform({2, 2, 3, 8}, 5)}));
}

// ---- properties and module contracts ---------------------------------------------------------------

// [doc:sinusoidal]
TEST_CASE("a sinusoidal encoding tells the same token at two positions apart", "[attention][positional]") {
  nn::Embedding embed(100, 16);                            // token ids [B, T] -> [B, T, 16]
  nn::SinusoidalPositionalEncoding positions(16);          // max_len 5000, dropout 0.1, batch_first
  positions.eval();                                        // dropout off, to compare values
  const Tensor ids = tg::tensor({{5, 7, 5}}, tg::kInt64);  // token 5 at positions 0 and 2
  const Tensor tokens = embed(ids);                        // [1, 3, 16]: rows 0 and 2 are equal
  const Tensor x = positions(tokens);                      // [1, 3, 16]: now they differ
  CHECK(tg_test::values(tokens.select(1, 0)) == tg_test::values(tokens.select(1, 2)));
  CHECK(tg_test::values(x.select(1, 0)) != tg_test::values(x.select(1, 2)));
  // By the table's rows: pe[0] = (sin 0, cos 0, sin 0, cos 0, ...) = (0, 1, 0, 1, ...).
  const Tensor added = (x - tokens).select(0, 0).select(0, 0);  // batch 0, position 0
  CHECK(tg_test::all_close(tg_test::values(added.narrow(0, 0, 4)), {0, 1, 0, 1}, 1e-6, 1e-6));
  CHECK(positions.state_dict().keys() == std::vector<std::string>{"pe"});  // a buffer: saved, never trained
  CHECK(positions.named_parameters().empty());
}
// [/doc:sinusoidal]

// [doc:rope]
TEST_CASE("RoPE: the score of a query at m and a key at n depends only on m - n", "[attention][positional][rope]") {
  const std::int64_t T = 6, d = 8;
  nn::RotaryEmbedding rope(d);  // base 10000, max_len 2048; no parameters, nothing in state_dict
  // The same query vector q at every position 0..T-1, and the same key vector k.
  const Tensor q = tg::randn({1, d}, tg::kFloat64).expand({T, d});
  const Tensor k = tg::randn({1, d}, tg::kFloat64).expand({T, d});
  const Tensor scores = tg::matmul(rope(q), rope(k).t());  // [T, T]: scores[m][n] = R_m q . R_n k
  for (std::int64_t m = 0; m + 1 < T; ++m)
    for (std::int64_t n = 0; n + 1 < T; ++n)  // one offset m - n, one score, wherever the pair sits
      CHECK(scores.at<double>({m, n}) == Approx(scores.at<double>({m + 1, n + 1})).margin(1e-12));
  // A rotation keeps lengths; positions far beyond T only need the right offset.
  CHECK(rope(q).norm(2.0, {1}).to_vector<double>()[3] == Approx(q.norm(2.0, {1}).to_vector<double>()[0]));
  const Tensor far = tg::matmul(rope.forward(q.narrow(0, 0, 1), 1000), rope.forward(k.narrow(0, 0, 1), 998).t());
  CHECK(far.at<double>({0, 0}) == Approx(scores.at<double>({2, 0})).margin(1e-9));
}
// [/doc:rope]

TEST_CASE("RoPE in attention: shifting every query and key by one offset leaves the attention weights unchanged",
          "[attention][positional][rope]") {
  const std::int64_t B = 2, H = 2, T = 5, d = 6;
  nn::RotaryEmbedding rope(d, 10000.0, 64);
  const Tensor q = tg::randn({B, H, T, d}, tg::kFloat64), k = tg::randn({B, H, T, d}, tg::kFloat64);
  const Tensor v = tg::randn({B, H, T, d}, tg::kFloat64);
  const auto weights_at = [&](std::int64_t offset) {
    return F::scaled_dot_product_attention_with_weights(rope.forward(q, offset), rope.forward(k, offset), v).weights;
  };
  const Tensor at0 = weights_at(0);
  CHECK(tg_test::all_close(tg_test::values(weights_at(17)), tg_test::values(at0), 1e-12, 1e-13));
  CHECK(tg_test::all_close(tg_test::values(weights_at(50)), tg_test::values(at0), 1e-12, 1e-13));
  // Without the rotation the weights differ: the positions do reach the scores.
  CHECK_FALSE(tg_test::all_close(tg_test::values(F::scaled_dot_product_attention_with_weights(q, k, v).weights),
                                 tg_test::values(at0), 1e-6, 1e-6));
}

TEST_CASE("RoPE rotates feature i with feature i + d/2 (the half layout), by pos * base^(-2i/d)",
          "[attention][positional][rope]") {
  // x = e_1 (feature 1) of d = 6 at position 2: its pair is feature 4, its frequency base^(-2/6).
  const double angle = 2.0 * std::pow(10000.0, -2.0 / 6.0);
  Tensor x = tg::zeros({3, 6}, tg::kFloat64);
  x.index_put_({2, 1}, 1.0);
  const std::vector<double> out = tg_test::values(nn::RotaryEmbedding(6)(x).select(0, 2));
  CHECK(tg_test::all_close(out, {0, std::cos(angle), 0, 0, std::sin(angle), 0}, 1e-15, 1e-15));
  CHECK(tg_test::values(F::rotate_half(tg::tensor({1.0, 2.0, 3.0, 4.0}))) == std::vector<double>{-3, -4, 1, 2});
}

TEST_CASE("positional encodings: state_dict keys, persistence of pe, non-persistent RoPE caches, clone, dtypes",
          "[attention][positional]") {
  nn::SinusoidalPositionalEncoding s(16, 50);
  CHECK(s.state_dict().keys() == std::vector<std::string>{"pe"});
  CHECK(s.named_parameters().empty());
  CHECK(tg_test::shape_of(s.pe) == std::vector<std::int64_t>{50, 16});
  CHECK_FALSE(s.pe.requires_grad());
  CHECK(s.options().dropout() == 0.1);
  CHECK(s.options().batch_first());
  // Row 0 is sin(0), cos(0), ...; row 1's first pair is sin(1), cos(1).
  CHECK(tg_test::values(s.pe.select(0, 0).narrow(0, 0, 4)) == std::vector<double>{0, 1, 0, 1});
  CHECK(s.pe.at<float>({1, 0}) == static_cast<float>(std::sin(1.0)));
  CHECK(s.pe.at<float>({1, 1}) == static_cast<float>(std::cos(1.0)));

  nn::LearnedPositionalEncoding l(20, 4);
  CHECK(l.state_dict().keys() == std::vector<std::string>{"weight"});
  CHECK(tg_test::shape_of(l.weight) == std::vector<std::int64_t>{20, 4});
  CHECK(l.weight.requires_grad());
  auto copy = std::dynamic_pointer_cast<nn::LearnedPositionalEncoding>(l.clone());
  REQUIRE(copy != nullptr);
  CHECK(tg_test::values(copy->weight) == tg_test::values(l.weight));
  CHECK(copy->weight.data_ptr() != l.weight.data_ptr());

  nn::RotaryEmbedding r(8, 10000.0, 64);
  CHECK(r.state_dict().size() == 0);
  CHECK(r.named_parameters().empty());
  CHECK(tg_test::shape_of(r.cos_cached()) == std::vector<std::int64_t>{64, 8});
  const Tensor x32 = tg::randn({2, 5, 8});
  const Tensor y32 = r(x32);
  CHECK(y32.dtype() == tg::kFloat32);  // the float64 caches are cast to the input's dtype
  CHECK(tg_test::all_close(tg_test::values(y32), tg_test::values(r(x32.to(tg::kFloat64))), 1e-5, 1e-6));
  auto rc = std::dynamic_pointer_cast<nn::RotaryEmbedding>(r.clone());
  REQUIRE(rc != nullptr);
  CHECK(tg_test::values(rc->forward(x32, 3)) == tg_test::values(r.forward(x32, 3)));
}

TEST_CASE("positional encodings: dropout in training only, positions from start", "[attention][positional]") {
  nn::SinusoidalPositionalEncoding s(nn::SinusoidalPositionalEncodingOptions(8, 20).dropout(0.5));
  const Tensor x = tg::zeros({4, 10, 8});
  s.eval();
  CHECK(tg_test::values(s(x)) == tg_test::values(s.pe.narrow(0, 0, 10).expand({4, 10, 8}).contiguous()));
  CHECK(tg_test::values(s.forward(x, 7).select(0, 0)) == tg_test::values(s.pe.narrow(0, 7, 10)));
  s.train();
  const std::vector<double> dropped = tg_test::values(s(x));
  const auto zeros = std::count(dropped.begin(), dropped.end(), 0.0);
  CHECK(zeros > 40);  // about half of the 320 values (column 2i+1 of row 0 is cos(0) = 1, never 0 by itself)
  CHECK(zeros < 280);
}

// ---- bad input ---------------------------------------------------------------------------------------

TEST_CASE("SinusoidalPositionalEncoding rejects bad options and inputs, naming the values",
          "[attention][positional][bad_input]") {
  CHECK_THAT(error_of([] { nn::SinusoidalPositionalEncoding(0); }), Contains("d_model must be positive, got 0"));
  CHECK_THAT(error_of([] { nn::SinusoidalPositionalEncoding(8, -1); }), Contains("max_len must be positive, got -1"));
  CHECK_THAT(error_of([] { nn::SinusoidalPositionalEncoding(8, 10, 1.5); }),
             Contains("dropout must be in [0, 1], got 1.5"));
  nn::SinusoidalPositionalEncoding s(8, 10);
  CHECK_THAT(error_of([&] {
               s(tg::zeros({2, 11, 8}));
             }),
             Contains("SinusoidalPositionalEncoding: positions 0..10 of a sequence of length 11 exceed max_len 10"));
  CHECK_THAT(error_of([&] {
               s.forward(tg::zeros({2, 4, 8}), 7);
             }),
             Contains("positions 7..10") && Contains("max_len 10"));
  CHECK_THAT(error_of([&] { s.forward(tg::zeros({2, 4, 8}), -1); }), Contains("must be non-negative, got -1"));
  CHECK_THAT(error_of([&] {
               s(tg::zeros({2, 4, 6}));
             }),
             Contains("the input's last dim is 6 but d_model is 8 (shape [2, 4, 6])"));
  CHECK_THAT(error_of([&] {
               s(tg::zeros({1, 2, 4, 8}));
             }),
             Contains("expected input [B, T, d] or unbatched [T, d], got shape [1, 2, 4, 8]"));
  CHECK_THAT(error_of([&] { s(tg::zeros({2, 4, 8}, tg::kInt64)); }), Contains("expected float input, got int64"));
  CHECK_THAT(error_of([&] { s(tg::zeros({2, 4, 8}, tg::kFloat64)); }), Contains("the input is float64"));
}

TEST_CASE("LearnedPositionalEncoding rejects bad options and inputs, naming the values",
          "[attention][positional][bad_input]") {
  CHECK_THAT(error_of([] { nn::LearnedPositionalEncoding(0, 4); }), Contains("max_len must be positive, got 0"));
  CHECK_THAT(error_of([] { nn::LearnedPositionalEncoding(4, -2); }), Contains("d_model must be positive, got -2"));
  nn::LearnedPositionalEncoding l(nn::LearnedPositionalEncodingOptions(5, 4).batch_first(false));
  CHECK_THAT(error_of([&] {
               l(tg::zeros({6, 2, 4}));
             }),
             Contains("LearnedPositionalEncoding: positions 0..5 of a sequence of length 6 exceed max_len 5"));
  CHECK_THAT(error_of([&] { l(tg::zeros({3, 2, 5})); }), Contains("the input's last dim is 5 but d_model is 4"));
  CHECK_THAT(error_of([&] { l(tg::zeros({4})); }), Contains("expected input [T, B, d] or unbatched [T, d]"));
}

TEST_CASE("RoPE rejects odd sizes, positions beyond max_len and tables that do not fit x",
          "[attention][positional][rope][bad_input]") {
  CHECK_THAT(error_of([] { nn::RotaryEmbedding(7); }),
             Contains("RotaryEmbedding: dim must be even and positive (features rotate in pairs), got 7"));
  CHECK_THAT(error_of([] { nn::RotaryEmbedding(8, 10000.0, 0); }), Contains("max_len must be positive, got 0"));
  CHECK_THAT(error_of([] { nn::RotaryEmbedding(8, -1.0); }), Contains("base must be positive, got -1"));
  nn::RotaryEmbedding rope(8, 10000.0, 16);
  CHECK_THAT(error_of([&] { rope(tg::zeros({2, 3, 6})); }), Contains("x's last dim is 6 but dim is 8"));
  CHECK_THAT(error_of([&] { rope(tg::zeros({8})); }), Contains("expected x [..., T, 8], got shape [8]"));
  CHECK_THAT(error_of([&] {
               rope.forward(tg::zeros({2, 4, 8}), 13);
             }),
             Contains("positions 13..16 of a sequence of length 4 exceed max_len 16"));
  CHECK_THAT(error_of([&] {
               rope.forward(tg::zeros({2, 4, 8}), -2);
             }),
             Contains("offset must be non-negative, got -2"));
  CHECK_THAT(error_of([&] { rope(tg::zeros({2, 4, 8}, tg::kInt64)); }), Contains("expected float input, got int64"));

  const nn::RotaryTables t = nn::rotary_tables(4, 6);
  CHECK_THAT(error_of([&] {
               F::apply_rotary_embedding(tg::zeros({4, 5}), t.cos, t.sin);
             }),
             Contains("x's last dim must be even") && Contains("[4, 5]"));
  CHECK_THAT(error_of([&] {
               F::apply_rotary_embedding(tg::zeros({4, 6}), t.cos, t.sin.narrow(0, 0, 2));
             }),
             Contains("cos and sin must have one shape, got [4, 6] and [2, 6]"));
  CHECK_THAT(error_of([&] {
               F::apply_rotary_embedding(tg::zeros({2, 3, 6}), t.cos, t.sin);
             }),
             Contains("cos and sin [4, 6] must broadcast to x [2, 3, 6]"));
  CHECK_THAT(error_of([&] {
               F::apply_rotary_embedding(tg::zeros({4, 6}, tg::kInt64), t.cos, t.sin);
             }),
             Contains("must be floating, got int64"));
  CHECK_THAT(error_of([] { nn::rotary_tables(4, 5); }), Contains("dim must be even and positive") && Contains("got 5"));
}

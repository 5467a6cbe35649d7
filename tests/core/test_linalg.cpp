// Linear algebra (tapegrad/core/ops/linalg.h): matmul in every torch.matmul case against a
// naive loop, its gradients and bad inputs; the fused linear against its composition.
#include "support/prelude.h"

namespace {

/// torch.matmul computed naively in double: 1-D operands get a dim prepended/appended,
/// batch dims broadcast, then a triple loop per batch.
struct Ref {
  Shape shape;
  std::vector<double> data;
};

Ref ref_matmul(const Tensor& a0, const Tensor& b0) {
  Shape sa = shape_of(a0), sb = shape_of(b0);
  const std::vector<double> va = values(a0), vb = values(b0);
  const bool a1 = sa.size() == 1, b1 = sb.size() == 1;
  if (a1) sa = {1, sa[0]};
  if (b1) sb = {sb[0], 1};
  const std::int64_t M = sa[sa.size() - 2], K = sa.back(), N = sb.back();
  REQUIRE(sb[sb.size() - 2] == K);
  Shape ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
  const std::size_t nb = std::max(ba.size(), bb.size());
  ba.insert(ba.begin(), nb - ba.size(), 1);
  bb.insert(bb.begin(), nb - bb.size(), 1);
  Shape batch(nb);
  std::int64_t nbatch = 1;
  for (std::size_t d = 0; d < nb; ++d) {
    REQUIRE((ba[d] == bb[d] || ba[d] == 1 || bb[d] == 1));
    batch[d] = std::max(ba[d], bb[d]);
    nbatch *= batch[d];
  }
  Ref r;
  r.data.assign(static_cast<std::size_t>(nbatch * M * N), 0.0);
  for (std::int64_t flat = 0; flat < nbatch; ++flat) {
    // Batch index -> offsets into a and b (row-major, broadcasting size-1 dims).
    std::int64_t rem = flat, oa = 0, ob = 0, sa_acc = 1, sb_acc = 1;
    for (std::size_t d = nb; d-- > 0;) {
      const std::int64_t i = rem % batch[d];
      rem /= batch[d];
      oa += (ba[d] == 1 ? 0 : i) * sa_acc;
      ob += (bb[d] == 1 ? 0 : i) * sb_acc;
      sa_acc *= ba[d];
      sb_acc *= bb[d];
    }
    for (std::int64_t m = 0; m < M; ++m)
      for (std::int64_t n = 0; n < N; ++n) {
        double s = 0;
        for (std::int64_t k = 0; k < K; ++k) s += va[(oa * M + m) * K + k] * vb[(ob * K + k) * N + n];
        r.data[(flat * M + m) * N + n] = s;
      }
  }
  r.shape = batch;
  if (!a1) r.shape.push_back(M);
  if (!b1) r.shape.push_back(N);
  return r;
}

Tensor composed_linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  Tensor y = tg::matmul(x, w.t());
  return b.defined() ? y + b : y;
}

/// Forward and every gradient of linear(view(x), w, b) equal the composition's; view turns the
/// leaf x into the input actually passed (a transpose, say).
void check_against_composition(
    const Tensor& x, const Tensor& w, const Tensor& b,
    const std::function<Tensor(const Tensor&)>& view = [](const Tensor& t) { return t; }) {
  const Tensor y = tg::linear(view(x), w, b), want = composed_linear(view(x), w, b);
  REQUIRE(y.shape() == want.shape());
  CHECK(y.grad_fn_name() == "LinearBackward");
  CHECK(all_close(values(y), values(want), 1e-12, 1e-12));
  // A weighting that is not symmetric, so that a transposed gradient would show.
  const Tensor weights = tg::arange(0, static_cast<double>(y.numel()), 1, tg::kFloat64).reshape(y.shape().vec()) * 0.1;
  std::vector<Tensor> leaves{x, w};
  if (b.defined()) leaves.push_back(b);
  auto grads_of = [&](const Tensor& out) {
    for (const Tensor& l : leaves) l.zero_grad(true);
    (out * weights).sum().backward();
    std::vector<std::vector<double>> g;
    for (const Tensor& l : leaves) g.push_back(values(l.grad()));
    return g;
  };
  const auto got = grads_of(tg::linear(view(x), w, b));
  const auto expected = grads_of(composed_linear(view(x), w, b));
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(all_close(got[i], expected[i], 1e-12, 1e-12));
}

}  // namespace

TEST_CASE("matmul of (2,3) by (3,2): hand-computed", "[values][matmul]") {
  const Tensor c = tg::matmul(tg::tensor({{1, 2, 3}, {4, 5, 6}}), tg::tensor({{7, 8}, {9, 10}, {11, 12}}));
  CHECK(shape_of(c) == Shape{2, 2});
  CHECK(values(c) == std::vector<double>{58, 64, 139, 154});
  const Tensor dot = tg::matmul(tg::tensor({1, 2, 3}), tg::tensor({4, 5, 6}));
  CHECK(dot.dim() == 0);
  CHECK(dot.item() == 32);
}

TEST_CASE("matmul matches a naive triple loop in double for every torch.matmul case", "[values][matmul]") {
  struct Case {
    Shape a, b;
    Shape out;
  };
  const std::vector<Case> cases = {
      {{5}, {5}, {}},
      {{3}, {3, 4}, {4}},
      {{3, 4}, {4}, {3}},
      {{3, 4}, {4, 5}, {3, 5}},
      {{1, 7}, {7, 1}, {1, 1}},
      {{2, 3, 4}, {2, 4, 5}, {2, 3, 5}},
      {{2, 1, 3, 4}, {5, 4, 2}, {2, 5, 3, 2}},
      {{2, 3, 4}, {4, 5}, {2, 3, 5}},
      {{3, 4}, {2, 4, 5}, {2, 3, 5}},
      {{4}, {2, 4, 3}, {2, 3}},
      {{2, 3, 4}, {4}, {2, 3}},
      {{1, 3, 2}, {4, 2, 3}, {4, 3, 3}},
      {{65, 33}, {33, 17}, {65, 17}},
      {{6, 9, 12}, {12, 8}, {6, 9, 8}},
  };
  std::uint64_t seed = 10;
  for (const Case& c : cases) {
    const Tensor a = randn64(c.a, seed++), b = randn64(c.b, seed++);
    INFO("shapes " << tg::shape_str(c.a) << " x " << tg::shape_str(c.b));
    const Tensor got = tg::matmul(a, b);
    const Ref want = ref_matmul(a, b);
    CHECK(shape_of(got) == c.out);
    CHECK(want.shape == c.out);
    CHECK(all_close(values(got), want.data, 1e-12, 1e-12));
    // float32: the same product to float32 precision.
    const Tensor gotf = tg::matmul(a.to(tg::kFloat32), b.to(tg::kFloat32));
    CHECK(gotf.dtype() == tg::kFloat32);
    CHECK(all_close(values(gotf), want.data, 1e-4, 1e-5));
  }
}

TEST_CASE("matmul with transposed, sliced and expanded operands matches the naive loop", "[values][matmul]") {
  const Tensor a = randn64({5, 3}, 40), b = randn64({4, 5}, 41);
  auto check = [](const Tensor& x, const Tensor& y) {
    const Ref want = ref_matmul(x.contiguous(), y.contiguous());
    const Tensor got = tg::matmul(x, y);
    CHECK(shape_of(got) == want.shape);
    CHECK(all_close(values(got), want.data, 1e-12, 1e-12));
    const Tensor gotf = tg::matmul(x.to(tg::kFloat32), y.to(tg::kFloat32));
    CHECK(all_close(values(gotf), want.data, 1e-4, 1e-5));
  };
  SECTION("a^T b^T") { check(a.t(), b.t()); }
  SECTION("a^T x contiguous") { check(a.t(), randn64({5, 2}, 42)); }
  SECTION("contiguous x b^T") { check(randn64({2, 5}, 43), b.t()); }
  SECTION("batched with swapped last dims") {
    check(randn64({3, 4, 2}, 44).transpose(-2, -1), randn64({3, 5, 4}, 45).transpose(1, 2));
  }
  SECTION("permuted batch dims") { check(randn64({4, 3, 2}, 46).permute({1, 0, 2}), randn64({2, 5}, 47)); }
  SECTION("every other column (strides no BLAS layout takes)") {
    check(randn64({3, 8}, 48).slice(1, 0, 8, 2), randn64({4, 6}, 49));
  }
  SECTION("every other row") { check(randn64({6, 4}, 50).slice(0, 1, 6, 2), randn64({4, 2}, 51)); }
  SECTION("expanded (stride-0) operands") {
    check(randn64({1, 4}, 52).expand({3, 4}), randn64({4, 1}, 53).expand({4, 5}));
    check(randn64({2, 4}, 54), randn64({4, 3}, 55).unsqueeze(0).expand({6, 4, 3}));
  }
  SECTION("a 3-D input with a non-contiguous batch and a matrix b") {
    check(randn64({3, 2, 4}, 56).transpose(0, 1), randn64({4, 2}, 57));
  }
}

TEST_CASE("matmul with a zero inner dim gives zeros, with a zero outer dim an empty result", "[values][matmul]") {
  const Tensor z = tg::matmul(tg::ones({2, 0}), tg::ones({0, 3}));
  CHECK(shape_of(z) == Shape{2, 3});
  CHECK(values(z) == std::vector<double>(6, 0.0));
  CHECK(shape_of(tg::matmul(tg::ones({0, 4}), tg::ones({4, 3}))) == Shape{0, 3});
  CHECK(shape_of(tg::matmul(tg::ones({2, 0, 4}), tg::ones({4, 3}))) == Shape{2, 0, 3});
}

TEST_CASE("matmul: gradients in every torch.matmul case", "[grad][matmul]") {
  auto mm = [](const Inputs& in) { return tg::matmul(in[0], in[1]); };
  SECTION("1-D . 1-D (dot product)") { CHECK(tg::gradcheck(mm, {any64({4}, 120), any64({4}, 121)})); }
  SECTION("1-D . 2-D") { CHECK(tg::gradcheck(mm, {any64({3}, 122), any64({3, 4}, 123)})); }
  SECTION("2-D . 1-D") { CHECK(tg::gradcheck(mm, {any64({3, 4}, 124), any64({4}, 125)})); }
  SECTION("2-D . 2-D") { CHECK(tg::gradcheck(mm, {any64({3, 4}, 126), any64({4, 2}, 127)})); }
  SECTION("batched 3-D . 3-D") { CHECK(tg::gradcheck(mm, {any64({2, 3, 4}, 128), any64({2, 4, 2}, 129)})); }
  SECTION("broadcast batch [2,1,3,4] . [5,4,2]") {
    CHECK(tg::gradcheck(mm, {any64({2, 1, 3, 4}, 130), any64({5, 4, 2}, 131)}));
  }
  SECTION("broadcast batch [1,3,2] . [4,2,3]") {
    CHECK(tg::gradcheck(mm, {any64({1, 3, 2}, 132), any64({4, 2, 3}, 133)}));
  }
  SECTION("3-D . 2-D") { CHECK(tg::gradcheck(mm, {any64({2, 3, 4}, 134), any64({4, 5}, 135)})); }
  SECTION("2-D . 3-D") { CHECK(tg::gradcheck(mm, {any64({3, 4}, 136), any64({2, 4, 5}, 137)})); }
  SECTION("1-D . 3-D") { CHECK(tg::gradcheck(mm, {any64({4}, 138), any64({2, 4, 3}, 139)})); }
  SECTION("3-D . 1-D") { CHECK(tg::gradcheck(mm, {any64({2, 3, 4}, 140), any64({4}, 141)})); }
  SECTION("only one operand requires grad") {
    const Tensor fixed = tg::tensor({{1, -2}, {0.5, 3}, {2, 1}}, tg::kFloat64);
    CHECK(tg::gradcheck(mm, {any64({2, 3}, 142), fixed}));
    CHECK(tg::gradcheck([fixed](const Inputs& in) { return tg::matmul(fixed.t(), in[0]); }, {any64({3, 2}, 143)}));
  }
}

TEST_CASE("matmul: gradients with transposed and otherwise non-contiguous operands", "[grad][matmul]") {
  const Tensor a = any64({4, 3}, 150), b = any64({2, 4}, 151), w = any64({3, 4}, 152);
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::matmul(in[0].t(), in[1].t()); }, {a, b}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::matmul(in[0].t(), in[1]); }, {a, any64({4, 5}, 153)}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::matmul(in[0], in[1].t()); }, {w, any64({5, 4}, 154)}));
  // Batched, with the operand's last two dims swapped.
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::matmul(in[0].transpose(-2, -1), in[1]); },
                      {any64({2, 4, 3}, 155), any64({2, 4, 2}, 156)}));
  // Every other column: strides no BLAS layout can take (copied first).
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::matmul(in[0].slice(1, 0, 8, 2), in[1]); },
                      {any64({3, 8}, 157), any64({4, 2}, 158)}));
  // An expanded (stride-0) operand.
  CHECK(tg::gradcheck(
      [](const Inputs& in) {
    return tg::matmul(in[0], in[1].expand({4, 3}));
      },
      {any64({2, 4}, 159), any64({4, 1}, 160)}));
}

TEST_CASE("matmul with mismatched inner dims names both shapes and both sizes", "[bad_input][matmul]") {
  CHECK_TG_ERROR(tg::matmul(tg::ones({2, 3}), tg::ones({4, 5})),
                 Equals("matmul: cannot multiply [2, 3] by [4, 5] (3 != 4)"));
  CHECK_TG_ERROR(tg::matmul(tg::ones({3}), tg::ones({4})), Equals("matmul: cannot multiply [3] by [4] (3 != 4)"));
  CHECK_TG_ERROR(tg::matmul(tg::ones({2, 3}), tg::ones({2})), Equals("matmul: cannot multiply [2, 3] by [2] (3 != 2)"));
  CHECK_TG_ERROR(tg::matmul(tg::ones({5, 2, 3}), tg::ones({4, 2})),
                 Equals("matmul: cannot multiply [5, 2, 3] by [4, 2] (3 != 4)"));
}

TEST_CASE("matmul with batch dims that do not broadcast names them", "[bad_input][matmul]") {
  CHECK_TG_ERROR(tg::matmul(tg::ones({2, 3, 4}), tg::ones({3, 4, 5})),
                 Contains("matmul") && Contains("[2]") && Contains("[3]") && Contains("cannot be broadcast"));
}

TEST_CASE("matmul of a 0-d tensor is an error naming the shapes", "[bad_input][matmul]") {
  CHECK_TG_ERROR(tg::matmul(tg::scalar_tensor(2.0), tg::ones({3})),
                 Equals("matmul: both arguments need at least 1 dimension, got shapes [] and [3]"));
  CHECK_TG_ERROR(tg::matmul(tg::ones({3}), tg::scalar_tensor(2.0)), Contains("matmul") && Contains("[3] and []"));
}

TEST_CASE("matmul of different dtypes, or of integers, names the dtypes", "[bad_input][matmul]") {
  CHECK_TG_ERROR(tg::matmul(tg::ones({2, 3}), tg::ones({3, 2}, tg::kFloat64)),
                 Equals("matmul: expected both tensors to have the same dtype, got float32 and float64"));
  CHECK_TG_ERROR(tg::matmul(tg::ones({2, 3}, tg::kInt64), tg::ones({3, 2}, tg::kInt64)),
                 Equals("matmul: expected floating-point tensors, got int64"));
}

TEST_CASE("linear equals matmul(x, weight.t()) + bias, forward and every gradient", "[linalg][linear]") {
  const Tensor w = uniform64({4, 3}, -1, 1, 1), b = uniform64({4}, -1, 1, 2);
  SECTION("1-D input") { check_against_composition(uniform64({3}, -1, 1, 3), w, b); }
  SECTION("2-D input") { check_against_composition(uniform64({5, 3}, -1, 1, 4), w, b); }
  SECTION("3-D input, no bias") { check_against_composition(uniform64({2, 5, 3}, -1, 1, 5), w, Tensor()); }
  SECTION("a transposed (non-contiguous) input") {
    check_against_composition(uniform64({3, 5}, -1, 1, 6), w, b, [](const Tensor& t) { return t.t(); });
  }
  SECTION("a weight that is a row slice of a larger one (as MultiheadAttention's in_proj)") {
    const Tensor big = uniform64({12, 3}, -1, 1, 7);
    const Tensor x = uniform64({2, 3}, -1, 1, 8);
    const Tensor ws = big.slice(0, 4, 8);
    CHECK(all_close(values(tg::linear(x, ws, b)), values(composed_linear(x, ws, b)), 1e-12, 1e-12));
    tg::linear(x, ws, b).sum().backward();
    const std::vector<double> g = values(big.grad());
    for (std::size_t i = 0; i < g.size(); ++i) {
      const bool inside = i >= 12 && i < 24;  // rows 4..7 of 3 columns
      if (!inside) CHECK(g[i] == 0.0);
    }
  }
  SECTION("no rows at all") {
    const Tensor y = tg::linear(tg::zeros({0, 3}, tg::kFloat64), w, b);
    CHECK(y.shape().vec() == std::vector<std::int64_t>{0, 4});
  }
  SECTION("no input features: the output is the bias") {
    const Tensor w0 = tg::zeros({4, 0}, tg::kFloat64);
    CHECK(values(tg::linear(tg::zeros({2, 0}, tg::kFloat64), w0, b)) ==
          values(b.detach().unsqueeze(0).expand({2, 4}).contiguous()));
    CHECK(values(tg::linear(tg::zeros({2, 0}, tg::kFloat64), w0)) == std::vector<double>(8, 0.0));
  }
}

TEST_CASE("linear in float32 agrees with the composition", "[linalg][linear]") {
  tg::Generator gen(11);
  const Tensor x = tg::randn({7, 33, 65}, tg::kFloat32, &gen), w = tg::randn({40, 65}, tg::kFloat32, &gen);
  const Tensor b = tg::randn({40}, tg::kFloat32, &gen);
  CHECK(all_close(values(tg::linear(x, w, b)), values(composed_linear(x, w, b)), 1e-5, 1e-5));
}

TEST_CASE("linear: the weight's gradient comes in the weight's own layout", "[linalg][linear]") {
  const Tensor w = uniform64({4, 3}, -1, 1, 21), x = uniform64({6, 3}, -1, 1, 22);
  tg::linear(x, w).sum().backward();
  CHECK(w.grad().shape().vec() == std::vector<std::int64_t>{4, 3});
  CHECK(w.grad().is_contiguous());
}

TEST_CASE("linear: gradient checks with and without bias, batched and transposed inputs", "[linalg][linear][grad]") {
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::linear(in[0], in[1], in[2]); },
                      {uniform64({2, 3, 4}, -1, 1, 31), uniform64({5, 4}, -1, 1, 32), uniform64({5}, -1, 1, 33)}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::linear(in[0].t(), in[1]); },
                      {uniform64({4, 3}, -1, 1, 34), uniform64({2, 4}, -1, 1, 35)}));
  CHECK(tg::gradcheck([](const Inputs& in) { return tg::linear(in[0], in[1], in[2]); },
                      {uniform64({4}, -1, 1, 36), uniform64({3, 4}, -1, 1, 37), uniform64({3}, -1, 1, 38)}));
}

TEST_CASE("linear: bad input names the op and the values", "[linalg][linear][bad-input]") {
  const Tensor w = tg::zeros({4, 3}), b = tg::zeros({4});
  CHECK_THROWS_AS(tg::linear(tg::zeros({2, 5}), w, b), tg::Error);
  CHECK_THROWS_WITH(tg::linear(tg::zeros({2, 5}), w, b),
                    Contains("linear: input has 5 features (shape [2, 5]) but the weight expects 3"));
  CHECK_THROWS_WITH(tg::linear(tg::zeros({2, 3}), tg::zeros({4, 3, 1}), b),
                    Contains("linear: weight must be 2-D [out_features, in_features], got shape [4, 3, 1]"));
  CHECK_THROWS_WITH(tg::linear(tg::zeros({2, 3}), w, tg::zeros({3})),
                    Contains("linear: bias must have shape [4], got [3]"));
  CHECK_THROWS_WITH(tg::linear(tg::zeros({2, 3}, tg::kInt64), w, b),
                    Contains("linear: expected a floating input of the weight's dtype float32, got int64"));
  CHECK_THROWS_WITH(tg::linear(tg::zeros({2, 3}), w, tg::zeros({4}, tg::kFloat64)),
                    Contains("linear: bias has dtype float64, the weight float32"));
  CHECK_THROWS_WITH(tg::linear(tg::zeros({}), w, b), Contains("linear: input has 0 features"));
}

// The one mask convention (attention/mask.h): padding masks from lengths, the causal mask, the
// checked broadcast, and the masked softmax with its fully masked rows (zeros forward and
// backward, never NaN: the one place tapegrad differs from PyTorch 1.13 on purpose).
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "support/helpers.h"
#include "tapegrad/nn/attention/mask.h"
#include "tapegrad/nn/attention/scaled_dot_product.h"
#include "tapegrad/tapegrad.h"

using Catch::Matchers::Contains;
using tg::Tensor;
using tg_test::error_of;
namespace nn = tg::nn;
namespace F = tg::nn::functional;
using tg_test::all_finite;
using tg_test::values64;

TEST_CASE("lengths_to_padding_mask marks the steps at and after each length as padding", "[attention]") {
  const Tensor m = nn::lengths_to_padding_mask(std::vector<std::int64_t>{3, 1, 4}, 4);
  CHECK(m.dtype() == tg::kBool);
  CHECK(m.shape().vec() == std::vector<std::int64_t>{3, 4});
  CHECK(values64(m) == std::vector<double>{0, 0, 0, 1, 0, 1, 1, 1, 0, 0, 0, 0});
  CHECK(values64(nn::lengths_to_padding_mask(tg::tensor({2}, tg::kInt64), 2)) == std::vector<double>{0, 0});
}

TEST_CASE("lengths_to_padding_mask rejects lengths above T or below 1, naming the value", "[attention]") {
  CHECK_TG_ERROR(nn::lengths_to_padding_mask(std::vector<std::int64_t>{3, 5}, 4),
                 Contains("lengths_to_padding_mask") && Contains("[1, T = 4]") && Contains("lengths[1] = 5"));
  CHECK_TG_ERROR(nn::lengths_to_padding_mask(std::vector<std::int64_t>{0, 2}, 4), Contains("lengths[0] = 0"));
  CHECK_TG_ERROR(nn::lengths_to_padding_mask(tg::tensor({1.0, 2.0}), 4), Contains("1-D int64") && Contains("float32"));
}

TEST_CASE("generate_square_subsequent_mask is 0 on and below the diagonal and -inf above, as PyTorch's",
          "[attention]") {
  const Tensor m = nn::generate_square_subsequent_mask(3);
  CHECK(m.dtype() == tg::kFloat32);
  const double inf = INFINITY;
  CHECK(values64(m) == std::vector<double>{0, -inf, -inf, 0, 0, -inf, 0, 0, 0});
  CHECK(nn::generate_square_subsequent_mask(2, tg::kFloat64).dtype() == tg::kFloat64);
  CHECK_TG_ERROR(nn::generate_square_subsequent_mask(0), Contains("sz must be at least 1, got 0"));
  CHECK_TG_ERROR(nn::generate_square_subsequent_mask(2, tg::kInt64), Contains("dtype must be floating, got int64"));
}

TEST_CASE("check_attention_mask names the caller, the shapes and the dtype", "[attention]") {
  const tg::DimVec scores{2, 3, 5};
  nn::check_attention_mask(tg::zeros({3, 5}, tg::kBool), scores, "X");
  nn::check_attention_mask(tg::zeros({2, 1, 5}), scores, "X");
  CHECK_TG_ERROR(nn::check_attention_mask(tg::zeros({3, 4}), scores, "Attention"),
                 Contains("Attention: mask of shape [3, 4] does not broadcast") && Contains("[2, 3, 5]") &&
                     Contains("[B, Tq, Tk]"));
  CHECK_TG_ERROR(nn::check_attention_mask(tg::zeros({4, 2, 3, 5}), scores, "Attention"),
                 Contains("does not broadcast"));
  CHECK_TG_ERROR(nn::check_attention_mask(tg::zeros({3, 5}, tg::kInt64), scores, "Attention", "attn_mask"),
                 Contains("attn_mask must be bool") && Contains("floating") && Contains("int64"));
}

TEST_CASE("masked_softmax: masked keys get exactly zero weight and zero gradient, fully masked rows are zero",
          "[attention]") {
  const Tensor s = tg_test::uniform64({2, 3, 4}, -2, 2, 1);
  const Tensor mask = tg::tensor({{0, 1, 0, 0}, {1, 1, 1, 1}, {0, 0, 0, 1}}, tg::kInt64).ne(0.0);  // [3, 4]
  const Tensor as_float = tg::masked_fill(tg::zeros({3, 4}, tg::kFloat64), mask, -INFINITY);
  for (const Tensor& m : {mask, as_float}) {
    s.zero_grad();
    const Tensor w = F::masked_softmax(s, m);
    CHECK(all_finite(w));
    for (std::int64_t b = 0; b < 2; ++b) {
      CHECK(w.at<double>({b, 0, 1}) == 0.0);
      CHECK(w.at<double>({b, 2, 3}) == 0.0);
      CHECK(values64(w.select(0, b).select(0, 1)) == std::vector<double>{0, 0, 0, 0});
      CHECK(tg::sum(w.select(0, b).select(0, 0)).item() == Approx(1.0));
    }
    (w * tg_test::uniform64({2, 3, 4}, -1, 1, 2).detach()).sum().backward();
    const Tensor g = s.grad();
    CHECK(all_finite(g));
    for (std::int64_t b = 0; b < 2; ++b) {
      CHECK(g.at<double>({b, 0, 1}) == 0.0);
      CHECK(values64(g.select(0, b).select(0, 1)) == std::vector<double>{0, 0, 0, 0});
    }
  }
  // Without a fully masked row, the result is softmax(masked_fill(s, mask, -inf)) bit for bit.
  const Tensor alive = tg::tensor({{0, 1, 0, 0}}, tg::kInt64).ne(0.0);
  CHECK(values64(F::masked_softmax(s, alive)) == values64(tg::softmax(tg::masked_fill(s, alive, -INFINITY), -1)));
}

TEST_CASE("masked_softmax passes the gradient check with bool and float masks and a fully masked row", "[attention]") {
  const Tensor s = tg_test::uniform64({2, 3, 4}, -2, 2, 3);
  const Tensor mask = tg::tensor({{0, 1, 0, 0}, {1, 1, 1, 1}, {0, 0, 0, 1}}, tg::kInt64).ne(0.0);
  CHECK(tg::gradcheck([&](const std::vector<Tensor>& x) { return F::masked_softmax(x[0], mask); }, {s}));
  const Tensor fm = tg::masked_fill(tg_test::uniform64({2, 1, 4}, -1, 1, 4).detach(),
                                    tg::tensor({{{1, 1, 1, 1}}, {{0, 0, 1, 0}}}, tg::kInt64).ne(0.0), -INFINITY);
  CHECK(tg::gradcheck([&](const std::vector<Tensor>& x) { return F::masked_softmax(x[0], fm); }, {s}));
}

TEST_CASE(
    "scaled_dot_product_attention: a row emptied by attn_mask and is_causal together is zero, with zero "
    "gradients",
    "[attention]") {
  const Tensor q = tg_test::uniform64({1, 3, 2}, -1, 1, 5), k = tg_test::uniform64({1, 3, 2}, -1, 1, 6);
  const Tensor v = tg_test::uniform64({1, 3, 2}, -1, 1, 7);
  const Tensor mask = tg::tensor({{1, 0, 0}, {0, 0, 0}, {0, 0, 0}}, tg::kInt64).ne(0.0);  // query 0 loses key 0
  const auto r = F::scaled_dot_product_attention_with_weights(q, k, v, mask, 0.0, true);
  CHECK(values64(r.output.select(1, 0)) == std::vector<double>{0, 0});
  CHECK(values64(r.weights.select(1, 0)) == std::vector<double>{0, 0, 0});
  r.output.sum().backward();
  CHECK(values64(q.grad().select(1, 0)) == std::vector<double>{0, 0});
  CHECK(all_finite(k.grad()));
  CHECK(all_finite(v.grad()));
  CHECK(tg::gradcheck(
      [&](const std::vector<Tensor>& x) { return F::scaled_dot_product_attention(x[0], x[1], x[2], mask, 0.0, true); },
      {q, k, v}));
}

TEST_CASE("merge_masks: bool with bool is their or, anything else is an added float mask", "[attention]") {
  const Tensor a = tg::tensor({1, 0, 0}, tg::kInt64).ne(0.0), b = tg::tensor({0, 0, 1}, tg::kInt64).ne(0.0);
  const Tensor both = nn::merge_masks(a, b, tg::kFloat64);
  CHECK(both.dtype() == tg::kBool);
  CHECK(values64(both) == std::vector<double>{1, 0, 1});
  const Tensor f = nn::merge_masks(a, tg::tensor({0.5, 0.25, 0.0}, tg::kFloat64), tg::kFloat64);
  CHECK(values64(f) == std::vector<double>{-INFINITY, 0.25, 0.0});
  CHECK(nn::mask_for_heads(tg::zeros({2, 3, 4})).shape().vec() == std::vector<std::int64_t>{2, 1, 3, 4});
}

// The score functions (attention/scores.h): shapes, gradient checks, keys, names and bad inputs.
#include <catch2/catch.hpp>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "support/helpers.h"
#include "tapegrad/nn/attention/scores.h"
#include "tapegrad/tapegrad.h"

using Catch::Matchers::Contains;
using tg::Tensor;
namespace nn = tg::nn;

namespace {

std::vector<std::string> keys(const nn::Module& m) { return m.state_dict().keys(); }

/// Every score for q [2, 3, 4] and k [2, 5, dk], in float64.
std::vector<std::shared_ptr<nn::Score>> all_scores(std::int64_t dq, std::int64_t dk) {
  std::vector<std::shared_ptr<nn::Score>> out;
  for (const char* n : {"dot", "scaled_dot", "general", "additive", "cosine"}) {
    const bool learned = std::string(n) == "general" || std::string(n) == "additive";
    out.push_back(nn::make_score(n, dq, learned ? dk : dq));
    out.back()->to(tg::kFloat64);
  }
  return out;
}

}  // namespace

TEST_CASE("every score maps q B by Tq by dq and k B by Tk by dk to B by Tq by Tk and passes the gradient check",
          "[attention]") {
  tg::manual_seed(1);
  for (const auto& s : all_scores(4, 3)) {
    INFO(s->name());
    const std::int64_t dk = s->name() == "general" || s->name() == "additive" ? 3 : 4;
    const Tensor q = tg_test::uniform64({2, 3, 4}, -1, 1, 2), k = tg_test::uniform64({2, 5, dk}, -1, 1, 3);
    CHECK(s->score(q, k).shape().vec() == std::vector<std::int64_t>{2, 3, 5});
    std::vector<Tensor> inputs{q, k};
    for (const Tensor& p : s->parameters()) inputs.push_back(p);
    CHECK(tg::gradcheck([&](const std::vector<Tensor>&) { return s->score(q, k); }, inputs));
    // Leading batch dims [B, H] work too (the multi-head modules score every head at once).
    const Tensor q4 = tg_test::uniform64({2, 2, 3, 4}, -1, 1, 4), k4 = tg_test::uniform64({2, 2, 5, dk}, -1, 1, 5);
    CHECK(s->score(q4, k4).shape().vec() == std::vector<std::int64_t>{2, 2, 3, 5});
  }
}

TEST_CASE("scores: dot, scaled_dot and cosine give the textbook numbers", "[attention]") {
  const Tensor q = tg::tensor({{{1.0, 2.0}}}, tg::kFloat64), k = tg::tensor({{{3.0, 4.0}, {0.0, 0.0}}}, tg::kFloat64);
  CHECK(nn::DotScore().score(q, k).to_vector<double>() == std::vector<double>{11.0, 0.0});
  CHECK(nn::ScaledDotScore().score(q, k).at<double>({0, 0, 0}) == Approx(11.0 / std::sqrt(2.0)));
  const Tensor cos = nn::CosineScore(nn::CosineScoreOptions().temperature(0.5)).score(q, k);
  CHECK(cos.at<double>({0, 0, 0}) == Approx(11.0 / (std::sqrt(5.0) * 5.0) / 0.5));
  CHECK(cos.at<double>({0, 0, 1}) == 0.0);  // a zero key: 0 / max(0, eps), as F.cosine_similarity
  // The gradient at a zero vector is finite (the norm is clamped on its square).
  const Tensor z = tg::zeros({1, 2, 2}, tg::kFloat64).requires_grad_();
  nn::CosineScore().score(q, z).sum().backward();
  for (double g : z.grad().to_vector<double>()) CHECK(std::isfinite(g));
}

TEST_CASE("learned scores register PyTorch-like keys with the shapes of their sizes", "[attention]") {
  nn::GeneralScore g(4, 3);
  CHECK(keys(g) == std::vector<std::string>{"weight"});
  CHECK(g.weight.shape().vec() == std::vector<std::int64_t>{4, 3});
  CHECK(tg::amax(tg::abs(g.weight)).item() <= 1.0 / std::sqrt(3.0));
  nn::AdditiveScore a(nn::AdditiveScoreOptions(4, 3).hidden(7));
  CHECK(keys(a) == std::vector<std::string>{"W_q.weight", "W_q.bias", "W_k.weight", "v.weight"});
  CHECK(a.W_q->weight.shape().vec() == std::vector<std::int64_t>{7, 4});
  CHECK(a.v->weight.shape().vec() == std::vector<std::int64_t>{1, 7});
  CHECK(keys(nn::AdditiveScore(nn::AdditiveScoreOptions(4, 3).bias(false))) ==
        std::vector<std::string>{"W_q.weight", "W_k.weight", "v.weight"});
  CHECK(keys(nn::DotScore()).empty());
  auto copy = std::dynamic_pointer_cast<nn::GeneralScore>(g.clone());
  REQUIRE(copy);
  CHECK(copy->weight.to_vector<float>() == g.weight.to_vector<float>());
  CHECK_FALSE(copy->weight.shares_storage_with(g.weight));
}

TEST_CASE("scores by name: the five names, and an unknown name lists them", "[attention]") {
  for (const char* n : {"dot", "scaled_dot", "general", "additive", "cosine"})
    CHECK(nn::make_score(n, 4, 4)->name() == n);
  CHECK_TG_ERROR(nn::make_score("bilinear", 4, 4), Contains("unknown score function \"bilinear\"") &&
                                                       Contains("dot, scaled_dot, general, additive, cosine"));
  CHECK(nn::ScoreSpec(std::make_shared<nn::CosineScore>()).name() == "cosine");
}

TEST_CASE("scores reject q and k sizes that do not fit, naming dq and dk", "[attention]") {
  const Tensor q = tg::zeros({2, 3, 4}), k = tg::zeros({2, 5, 3});
  CHECK_TG_ERROR(nn::DotScore().score(q, k), Contains("DotScore") && Contains("dq = 4") && Contains("dk = 3"));
  CHECK_TG_ERROR(nn::ScaledDotScore().score(q, k),
                 Contains("\"scaled_dot\"") && Contains("dq = 4") && Contains("dk = 3"));
  CHECK_TG_ERROR(nn::CosineScore().score(q, k), Contains("CosineScore") && Contains("dq = 4") && Contains("dk = 3"));
  CHECK_TG_ERROR(nn::GeneralScore(4, 4).score(q, k), Contains("GeneralScore") &&
                                                         Contains("expected query dim dq = 4 "
                                                                  "and key dim dk = 4") &&
                                                         Contains("got dq = 4 and dk = 3"));
  CHECK_TG_ERROR(nn::AdditiveScore(5, 3).score(q, k), Contains("AdditiveScore") && Contains("got dq = 4 and dk = 3"));
  CHECK_TG_ERROR(nn::DotScore().score(q, tg::zeros({5, 4})), Contains("same rank") && Contains("[5, 4]"));
  CHECK_TG_ERROR(nn::DotScore().score(q, tg::zeros({3, 5, 4})), Contains("different batch dims"));
  CHECK_TG_ERROR(nn::DotScore().score(q, tg::zeros({2, 5, 4}, tg::kInt64)), Contains("floating") && Contains("int64"));
  CHECK_TG_ERROR(nn::CosineScore(nn::CosineScoreOptions().temperature(0)),
                 Contains("temperature must be positive, got 0"));
  CHECK_TG_ERROR(nn::GeneralScore(0, 3), Contains("must be positive, got 0 and 3"));
}

// Golden tests of the score functions, Attention, AttentionPooling and SelfAttention against the
// PyTorch references of tests/golden_attention/make_score_fixtures.py (float64): each module is
// built from the case's params, given the reference's state_dict through a strict
// load_state_dict, run in eval mode, and its outputs and the gradients of
// sum(output * gout) + sum(weights * gweights) for every float input and every parameter are
// compared within 1e-10 (absolute, or relative above 1).
#include <cmath>
#include <functional>

#include "support/nn_prelude.h"
#include "tapegrad/nn/attention/attention.h"
#include "tapegrad/nn/attention/scores.h"

using namespace tg_golden;  // NOLINT(google-build-using-namespace): the golden runner, test files only

namespace {

std::shared_ptr<nn::Score> score_of(const Case& c, std::int64_t dq, std::int64_t dk) {
  const std::string name = c.text("score");
  if (name == "additive" && c.has_param("hidden") && c.param1("hidden") > 0)
    return std::make_shared<nn::AdditiveScore>(nn::AdditiveScoreOptions(dq, dk).hidden(c.param1("hidden")));
  if (name == "cosine" && c.has_param("temperature"))
    return std::make_shared<nn::CosineScore>(nn::CosineScoreOptions().temperature(c.num("temperature")));
  return nn::make_score(name, dq, dk);
}

}  // namespace

TEST_CASE("the five score functions match their PyTorch references, forward and every gradient", "[attention]") {
  int ran = 0;
  for (const Case& c : tg_fixtures::load("golden_attention", "attention_scores")) {
    auto score = score_of(c, c.param1("dq"), c.param1("dk"));
    CHECK(score->name() == c.text("score"));
    run_case(c, *score, {"q", "k"}, [&](const Inputs& in) {
      return Outputs{{"output", (*score)(in.at("q"), in.at("k"))}};
    });
    ++ran;
  }
  CHECK(ran == 5);
}

TEST_CASE(
    "Attention, AttentionPooling and SelfAttention match their PyTorch references, with masks, lengths and "
    "fully masked rows",
    "[attention]") {
  int ran = 0;
  for (const Case& c : tg_fixtures::load("golden_attention", "attention_modules")) {
    const std::string kind = c.text("kind");
    if (kind == "attention") {
      nn::Attention m(nn::AttentionOptions(c.text("score"), c.param1("dq"), c.param1("dk")));
      const Tensor mask = mask_of(c, "mask");
      run_case(c, m, {"query", "keys", "values"}, [&](const Inputs& in) {
        const auto r = m.forward(in.at("query"), in.at("keys"), in.at("values"), mask);
        return Outputs{{"output", r.output}, {"weights", r.weights}};
      });
    } else if (kind == "pooling") {
      const std::string q = c.text("query");
      const auto query = q == "learned" ? nn::PoolingQuery::kLearned
                                        : (q == "mean" ? nn::PoolingQuery::kMean : nn::PoolingQuery::kLast);
      nn::AttentionPooling m(
          nn::AttentionPoolingOptions(c.param1("hidden")).query(query).mlp_hidden(c.param1("mlp_hidden")));
      const bool with_lengths = c.flag("with_lengths");
      const Tensor mask = mask_of(c, "mask");
      run_case(c, m, {"h"}, [&](const Inputs& in) {
        const auto r =
            with_lengths ? m.forward_with_lengths(in.at("h"), c.tensor("lengths")) : m.forward(in.at("h"), mask);
        return Outputs{{"context", r.context}, {"alpha", r.alpha}};
      });
    } else {
      REQUIRE(kind == "self");
      nn::SelfAttention m(nn::SelfAttentionOptions(c.param1("embed_dim"), c.param1("num_heads"))
                              .project(c.flag("project"))
                              .score(c.text("score")));
      const Tensor attn_mask = mask_of(c, "attn_mask"), kpm = mask_of(c, "key_padding_mask");
      const bool average = c.flag("average");
      run_case(c, m, {"x"}, [&](const Inputs& in) {
        const auto r = m.forward(in.at("x"), attn_mask, kpm, average);
        return Outputs{{"output", r.output}, {"weights", r.weights}};
      });
    }
    ++ran;
  }
  CHECK(ran == 15);
}

// Attention, AttentionPooling and SelfAttention (attention/attention.h): gradient checks through
// every score and query option, masked keys (exactly zero weight and gradient), fully masked rows
// (zeros forward and backward), keys and cloning, and every bad input.
#include <catch2/catch.hpp>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "support/helpers.h"
#include "tapegrad/nn/attention/attention.h"
#include "tapegrad/nn/attention/mask.h"
#include "tapegrad/tapegrad.h"

using Catch::Matchers::Contains;
using tg::Tensor;
namespace nn = tg::nn;
using tg_test::all_finite;
using tg_test::values64;

namespace {

std::vector<Tensor> with_params(std::vector<Tensor> inputs, const nn::Module& m) {
  for (const Tensor& p : m.parameters()) inputs.push_back(p);
  return inputs;
}

const char* const kScores[] = {"dot", "scaled_dot", "general", "additive", "cosine"};

}  // namespace

TEST_CASE("Attention passes the gradient check with every score, with a mask holding a fully masked row",
          "[attention]") {
  tg::manual_seed(2);
  const Tensor mask =
      tg::tensor({{{0, 1, 0, 0, 1}, {1, 1, 1, 1, 1}, {0, 0, 0, 0, 0}}}, tg::kInt64).ne(0.0);  // [1, 3, 5]
  for (const char* name : kScores) {
    INFO(name);
    const std::string n = name;
    const bool learned = n == "general" || n == "additive";
    nn::Attention m(nn::AttentionOptions(name, 4, learned ? 3 : 4));
    m.to(tg::kFloat64);
    const Tensor q = tg_test::uniform64({2, 3, 4}, -1, 1, 3), k = tg_test::uniform64({2, 5, learned ? 3 : 4}, -1, 1, 4);
    const Tensor v = tg_test::uniform64({2, 5, 2}, -1, 1, 5);
    CHECK(tg::gradcheck([&](const std::vector<Tensor>&) { return m.forward(q, k, v, mask).output; },
                        with_params({q, k, v}, m)));
    const auto r = m.forward(q, k, v, mask);
    CHECK(r.output.shape().vec() == std::vector<std::int64_t>{2, 3, 2});
    CHECK(r.weights.shape().vec() == std::vector<std::int64_t>{2, 3, 5});
    CHECK(values64(r.output.select(1, 1)) == std::vector<double>{0, 0, 0, 0});
    CHECK(r.weights.at<double>({0, 0, 1}) == 0.0);
  }
}

TEST_CASE("Attention: masked keys get exactly zero weight and their keys and values exactly zero gradient",
          "[attention]") {
  nn::Attention m("general", 3, 3);
  m.to(tg::kFloat64);
  const Tensor q = tg_test::uniform64({2, 4, 3}, -1, 1, 6), k = tg_test::uniform64({2, 5, 3}, -1, 1, 7);
  const Tensor v = tg_test::uniform64({2, 5, 3}, -1, 1, 8);
  const Tensor padding = nn::lengths_to_padding_mask(std::vector<std::int64_t>{5, 3}, 5).unsqueeze(1);  // [B, 1, Tk]
  const auto r = m.forward(q, k, v, padding);
  (r.output * tg_test::uniform64({2, 4, 3}, -1, 1, 9).detach()).sum().backward();
  for (std::int64_t t = 3; t < 5; ++t) {
    CHECK(values64(r.weights.select(0, 1).select(1, t)) == std::vector<double>{0, 0, 0, 0});
    CHECK(values64(k.grad().select(0, 1).select(0, t)) == std::vector<double>{0, 0, 0});
    CHECK(values64(v.grad().select(0, 1).select(0, t)) == std::vector<double>{0, 0, 0});
  }
  CHECK(all_finite(q.grad()));
}

TEST_CASE("AttentionPooling passes the gradient check with each query, with lengths and padding masks", "[attention]") {
  tg::manual_seed(3);
  for (auto query : {nn::PoolingQuery::kLearned, nn::PoolingQuery::kMean, nn::PoolingQuery::kLast}) {
    nn::AttentionPooling m(nn::AttentionPoolingOptions(4).query(query).mlp_hidden(3));
    m.to(tg::kFloat64);
    const Tensor h = tg_test::uniform64({3, 5, 4}, -1, 1, 10);
    const Tensor lengths = tg::tensor({5, 2, 1}, tg::kInt64);
    CHECK(tg::gradcheck([&](const std::vector<Tensor>&) { return m.forward_with_lengths(h, lengths).context; },
                        with_params({h}, m)));
    const Tensor empty_row = tg::tensor({{0, 0, 0, 0, 0}, {0, 0, 1, 1, 1}, {1, 1, 1, 1, 1}}, tg::kInt64).ne(0.0);
    CHECK(tg::gradcheck([&](const std::vector<Tensor>&) { return m.forward(h, empty_row).context; },
                        with_params({h}, m)));
    const auto r = m.forward_with_lengths(h, lengths);
    CHECK(r.context.shape().vec() == std::vector<std::int64_t>{3, 4});
    CHECK(r.alpha.shape().vec() == std::vector<std::int64_t>{3, 5});
    CHECK(values64(r.alpha.select(0, 1)) ==
          std::vector<double>{r.alpha.at<double>({1, 0}), r.alpha.at<double>({1, 1}), 0, 0, 0});
    CHECK(r.alpha.at<double>({2, 0}) == 1.0);
    // A sequence of padding only: zero context, zero alpha, finite gradients.
    const auto e = m.forward(h, empty_row);
    CHECK(values64(e.context.select(0, 2)) == std::vector<double>{0, 0, 0, 0});
    CHECK(values64(e.alpha.select(0, 2)) == std::vector<double>{0, 0, 0, 0, 0});
  }
}

TEST_CASE("AttentionPooling: keys, forward of one tensor in Sequential, the query options' children", "[attention]") {
  nn::AttentionPooling a(6);
  CHECK(a.state_dict().keys() == std::vector<std::string>{"query"});
  nn::AttentionPooling b(nn::AttentionPoolingOptions(6).query(nn::PoolingQuery::kLast));
  CHECK(b.state_dict().keys() ==
        std::vector<std::string>{"query_mlp.0.weight", "query_mlp.0.bias", "query_mlp.2.weight", "query_mlp.2.bias"});
  nn::Sequential seq{std::make_shared<nn::AttentionPooling>(6), std::make_shared<nn::Linear>(6, 2)};
  CHECK(seq.forward(tg::randn({3, 7, 6})).shape().vec() == std::vector<std::int64_t>{3, 2});
}

TEST_CASE("SelfAttention passes the gradient check with and without projections, 1 and 2 heads, every score",
          "[attention]") {
  tg::manual_seed(4);
  const Tensor causal = tg::gt(tg::triu(tg::ones({3, 3}), 1), 0.0);
  const Tensor kpm = tg::tensor({{0, 0, 0}, {0, 0, 1}}, tg::kInt64).ne(0.0);
  for (const bool project : {true, false}) {
    for (const std::int64_t heads : {1, 2}) {
      for (const char* name : kScores) {
        INFO(name << " project " << project << " heads " << heads);
        nn::SelfAttention m(nn::SelfAttentionOptions(4, heads).project(project).score(name));
        m.to(tg::kFloat64);
        const Tensor x = tg_test::uniform64({2, 3, 4}, -1, 1, 11);
        CHECK(tg::gradcheck([&](const std::vector<Tensor>&) { return m.forward(x, causal, kpm).output; },
                            with_params({x}, m)));
        const auto r = m.forward(x, causal, kpm, false);
        CHECK(r.output.shape().vec() == std::vector<std::int64_t>{2, 3, 4});
        CHECK(r.weights.shape().vec() == std::vector<std::int64_t>{2, heads, 3, 3});
        CHECK(m.forward(x, causal).weights.shape().vec() == std::vector<std::int64_t>{2, 3, 3});
      }
    }
  }
}

TEST_CASE("SelfAttention: keys with and without projections, a fully masked row is zero, clone is independent",
          "[attention]") {
  nn::SelfAttention p(nn::SelfAttentionOptions(8, 2).score("general"));
  CHECK(p.state_dict().keys() == std::vector<std::string>{"q_proj.weight", "q_proj.bias", "k_proj.weight",
                                                          "k_proj.bias", "v_proj.weight", "v_proj.bias",
                                                          "out_proj.weight", "out_proj.bias", "score.weight"});
  CHECK(p.score->parameters()[0].shape().vec() == std::vector<std::int64_t>{4, 4});  // one head's size
  nn::SelfAttention raw(nn::SelfAttentionOptions(8, 2).project(false));
  CHECK(raw.state_dict().keys().empty());
  const Tensor x = tg_test::uniform64({1, 3, 8}, -1, 1, 12);
  raw.to(tg::kFloat64);
  const Tensor mask = tg::tensor({{0, 0, 0}, {1, 1, 1}, {0, 1, 0}}, tg::kInt64).ne(0.0);
  const auto r = raw.forward(x, mask);
  CHECK(values64(r.output.select(1, 1)) == std::vector<double>(8, 0.0));
  r.output.sum().backward();
  CHECK(all_finite(x.grad()));
  auto copy = std::dynamic_pointer_cast<nn::SelfAttention>(p.clone());
  REQUIRE(copy);
  CHECK(copy->score.get() != p.score.get());
  CHECK(copy->score->parameters()[0].to_vector<float>() == p.score->parameters()[0].to_vector<float>());
  CHECK_FALSE(copy->q_proj->weight.shares_storage_with(p.q_proj->weight));
}

TEST_CASE("a score given as an object is cloned into the module, with its options", "[attention]") {
  auto additive = std::make_shared<nn::AdditiveScore>(nn::AdditiveScoreOptions(4, 3).hidden(9));
  nn::Attention m{nn::AttentionOptions(additive)};
  CHECK(m.score->name() == "additive");
  CHECK(m.state_dict().keys() ==
        std::vector<std::string>{"score.W_q.weight", "score.W_q.bias", "score.W_k.weight", "score.v.weight"});
  CHECK(m.state_dict().find("score.v.weight").shape().vec() == std::vector<std::int64_t>{1, 9});
  CHECK(m.score.get() != additive.get());
  auto copy = std::dynamic_pointer_cast<nn::Attention>(m.clone());
  REQUIRE(copy);
  CHECK(copy->score.get() != m.score.get());
  CHECK(copy->state_dict().keys() == m.state_dict().keys());
}

TEST_CASE("the attention modules reject bad inputs, naming the module and the values", "[attention]") {
  CHECK_TG_ERROR(nn::SelfAttention(10, 3),
                 Contains("SelfAttention") && Contains("embed_dim 10 is not divisible by num_heads 3"));
  CHECK_TG_ERROR(nn::Attention("luong"), Contains("unknown score function \"luong\"") && Contains("general"));
  CHECK_TG_ERROR(nn::SelfAttention(nn::SelfAttentionOptions(8, 2).score("nope")), Contains("unknown score function"));
  CHECK_TG_ERROR(nn::Attention("general"), Contains("Attention") && Contains("\"general\" has weights"));
  CHECK_TG_ERROR(nn::Attention(nn::AttentionOptions().dropout(1.5)), Contains("dropout must be in [0, 1), got 1.5"));
  CHECK_TG_ERROR(nn::AttentionPooling(0), Contains("hidden must be positive, got 0"));

  nn::Attention att("scaled_dot");
  const Tensor q = tg::zeros({2, 3, 4}), k = tg::zeros({2, 5, 4}), v = tg::zeros({2, 5, 6});
  CHECK_TG_ERROR(att.forward(q, tg::zeros({2, 5, 3}), v), Contains("dq = 4") && Contains("dk = 3"));
  CHECK_TG_ERROR(att.forward(q, k, v, tg::zeros({3, 4}, tg::kBool)),
                 Contains("Attention: mask of shape [3, 4] does not broadcast") && Contains("[2, 3, 5]"));
  CHECK_TG_ERROR(att.forward(q, k, v, tg::zeros({3, 5}, tg::kInt64)),
                 Contains("mask must be bool") && Contains("int64"));
  CHECK_TG_ERROR(att.forward(q, k, tg::zeros({2, 4, 6})), Contains("one length Tk") && Contains("[2, 4, 6]"));
  CHECK_TG_ERROR(att.forward(tg::zeros({3, 4}), k, v), Contains("expected query [B, Tq, dq]") && Contains("[3, 4]"));

  nn::AttentionPooling pool(4);
  const Tensor h = tg::zeros({2, 5, 4});
  CHECK_TG_ERROR(pool.forward_with_lengths(h, tg::tensor({6, 2}, tg::kInt64)),
                 Contains("lengths[0] = 6") && Contains("T = 5"));
  CHECK_TG_ERROR(pool.forward_with_lengths(h, tg::tensor({3, 0}, tg::kInt64)), Contains("lengths[1] = 0"));
  CHECK_TG_ERROR(pool.forward_with_lengths(h, tg::tensor({3}, tg::kInt64)), Contains("lengths must be [B] = [2]"));
  CHECK_TG_ERROR(pool.forward(h, tg::zeros({2, 4}, tg::kBool)),
                 Contains("padding_mask of shape [2, 4] does not broadcast"));
  CHECK_TG_ERROR(pool.forward(h, tg::zeros({2, 5}, tg::kInt64)),
                 Contains("padding_mask must be bool") && Contains("int64"));
  CHECK_TG_ERROR(pool.forward(tg::zeros({2, 5, 3}), Tensor()), Contains("H = 4") && Contains("[2, 5, 3]"));

  nn::SelfAttention sa(8, 2);
  const Tensor x = tg::zeros({2, 3, 8});
  CHECK_TG_ERROR(sa.forward(tg::zeros({2, 3, 6})), Contains("E = embed_dim = 8") && Contains("[2, 3, 6]"));
  CHECK_TG_ERROR(sa.forward(x, tg::zeros({4, 4}, tg::kBool)),
                 Contains("attn_mask of shape [4, 4] does not broadcast") && Contains("[2, 3, 3]"));
  CHECK_TG_ERROR(sa.forward(x, Tensor(), tg::zeros({2, 4}, tg::kBool)), Contains("key_padding_mask of shape [2, 4]"));
  CHECK_TG_ERROR(sa.forward(x, tg::zeros({3, 3}, tg::kInt64)), Contains("attn_mask must be bool") && Contains("int64"));
}

// The programs docs/attention.md shows: each region between "// [doc:NAME]" and "// [/doc:NAME]"
// is quoted word for word by the page (checked by the doc_snippets test), and runs here.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "tapegrad/nn/attention/attention.h"
#include "tapegrad/nn/attention/mask.h"
#include "tapegrad/nn/attention/scores.h"
#include "tapegrad/tapegrad.h"

using namespace tg;

namespace attention_guide {

// [doc:scores]
void scores_by_name() {
  const Tensor q = randn({2, 3, 8});  // [B, Tq, dq]
  const Tensor k = randn({2, 5, 8});  // [B, Tk, dk]
  for (const char* name : {"dot", "scaled_dot", "general", "additive", "cosine"}) {
    auto score = nn::make_score(name, 8, 8);               // the sizes are used by general and additive only
    CHECK(score->score(q, k).shape() == DimVec{2, 3, 5});  // [B, Tq, Tk]
  }
  // Learned scores own their weights, under PyTorch-like keys.
  nn::AdditiveScore additive(nn::AdditiveScoreOptions(8, 6).hidden(16));
  CHECK(additive.state_dict().keys() == std::vector<std::string>{"W_q.weight", "W_q.bias", "W_k.weight", "v.weight"});
  CHECK(additive.score(q, randn({2, 5, 6})).shape() == DimVec{2, 3, 5});  // dq = 8, dk = 6
}
// [/doc:scores]

// [doc:attention]
void encoder_decoder_attention() {
  // A decoder's 4 states query an encoder's 7 outputs; sequence 1 has only 5 real steps.
  nn::Attention attention(nn::AttentionOptions("general", /*query_dim=*/16, /*key_dim=*/32));
  const Tensor decoder = randn({2, 4, 16}), encoder = randn({2, 7, 32});
  const Tensor padding = nn::lengths_to_padding_mask(std::vector<std::int64_t>{7, 5}, 7);  // [B, Tk]
  const auto [context, weights] = attention.forward(decoder, encoder, encoder, padding.unsqueeze(1));
  CHECK(context.shape() == DimVec{2, 4, 32});   // [B, Tq, dv]
  CHECK(weights.shape() == DimVec{2, 4, 7});    // [B, Tq, Tk], each row sums to 1
  CHECK(weights.at<float>({1, 0, 5}) == 0.0f);  // padding gets exactly zero weight
  CHECK(attention.state_dict().keys() == std::vector<std::string>{"score.weight"});
}
// [/doc:attention]

// [doc:heads]
void heads_need_the_transpose() {
  // x[b, t, e] = 10 t + e: position t's embedding is 10t, 10t + 1, 10t + 2, 10t + 3.
  const std::int64_t B = 1, T = 3, H = 2, d = 2;
  const Tensor x = arange(0.0, 40.0, 1.0).view({1, 4, 10}).slice(1, 0, 3).slice(2, 0, 4).contiguous();
  CHECK(x.to_vector<float>() == std::vector<float>{0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23});
  // Right: [B, T, E] -> [B, T, H, d] -> [B, H, T, d]. Head 0 holds the first half of every position.
  const Tensor heads = x.view({B, T, H, d}).transpose(1, 2);
  CHECK(heads.select(1, 0).contiguous().to_vector<float>() == std::vector<float>{0, 1, 10, 11, 20, 21});
  // Wrong: a bare view(B * H, T, d) cuts the buffer in order, so "head 0" is positions 0 and 1
  // whole and half of position 2: one head's "rows" are no longer one position each.
  const Tensor mixed = x.view({B * H, T, d});
  CHECK(mixed.select(0, 0).to_vector<float>() == std::vector<float>{0, 1, 2, 3, 10, 11});
  // And attention over those rows computes something else.
  auto attend = [](const Tensor& h) { return nn::functional::scaled_dot_product_attention(h, h, h); };
  const Tensor right = attend(heads).transpose(1, 2).reshape({B, T, H * d});
  const Tensor wrong = attend(mixed).reshape({B, T, H * d});
  CHECK(amax(abs(right - wrong)).item() > 1.0);
}
// [/doc:heads]

// [doc:scale]
/// The variance of q . k over random q, k with unit-variance entries, for vectors of size d.
double score_variance(std::int64_t d, Generator& gen) {
  const Tensor q = randn({4096, d}, kFloat64, &gen), k = randn({4096, d}, kFloat64, &gen);
  return (q * k).sum({1}).var().item();
}
// [/doc:scale]

// [doc:masked_row]
void fully_masked_row() {
  const Tensor x = randn({1, 3, 4}).requires_grad_();
  // Query 1 may attend to no key at all.
  const Tensor mask = tensor({{0, 1, 0}, {1, 1, 1}, {0, 0, 0}}, kInt64).ne(0.0);
  const auto [out, weights] = nn::functional::scaled_dot_product_attention_with_weights(x, x, x, mask);
  CHECK(weights.select(1, 1).to_vector<float>() == std::vector<float>{0, 0, 0});  // PyTorch 1.13: NaN
  CHECK(out.select(1, 1).to_vector<float>() == std::vector<float>{0, 0, 0, 0});   // PyTorch 1.13: NaN
  out.sum().backward();
  for (float g : x.grad().to_vector<float>()) CHECK(std::isfinite(g));  // PyTorch 1.13: NaN in q, k
}
// [/doc:masked_row]

// [doc:pooling]
/// An LSTM reads the sequence; AttentionPooling weighs its outputs; a Linear classifies.
class PooledLSTM : public nn::Cloneable<PooledLSTM> {
 public:
  PooledLSTM(std::int64_t features, std::int64_t hidden, std::int64_t classes)
      : Cloneable("PooledLSTM"), features_(features), hidden_(hidden), classes_(classes) {
    reset();
  }
  void reset() override {
    lstm = register_module("lstm", std::make_shared<nn::LSTM>(nn::RNNOptions(features_, hidden_).batch_first(true)));
    pool = register_module("pool", std::make_shared<nn::AttentionPooling>(hidden_));
    head = register_module("head", std::make_shared<nn::Linear>(hidden_, classes_));
  }
  /// x [B, T, features], lengths int64 [B] -> logits [B, classes] and the attention alpha [B, T].
  std::pair<Tensor, Tensor> forward(const Tensor& x, const Tensor& lengths) {
    const Tensor h = lstm->forward(x, std::nullopt, lengths).output;  // [B, T, hidden]
    const auto [context, alpha] = pool->forward_with_lengths(h, lengths);
    return {(*head)(context), alpha};
  }

  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::AttentionPooling> pool;
  std::shared_ptr<nn::Linear> head;

 private:
  std::int64_t features_, hidden_, classes_;
};
// [/doc:pooling]

// [doc:experiment]
/// Sequences of T tokens: T - 1 ordinary tokens (0..7) and one key token 8 + c at a random
/// place. The label of EVERY position is c: each token must find the key token and read it.
struct KeyBatch {
  Tensor tokens, labels, key_at;  // [B, T], [B * T], [B]
};

KeyBatch make_key_batch(std::int64_t B, std::int64_t T, Generator& gen) {
  std::vector<std::int64_t> tokens = randint(0, 8, {B, T}, kInt64, &gen).to_vector<std::int64_t>();
  const std::vector<std::int64_t> where = randint(0, T, {B}, kInt64, &gen).to_vector<std::int64_t>();
  const std::vector<std::int64_t> cls = randint(0, 8, {B}, kInt64, &gen).to_vector<std::int64_t>();
  std::vector<std::int64_t> labels;
  for (std::int64_t b = 0; b < B; ++b) {
    tokens[b * T + where[b]] = 8 + cls[b];
    for (std::int64_t t = 0; t < T; ++t) labels.push_back(cls[b]);
  }
  return {from_vector(tokens, {B, T}), from_vector(labels, {B * T}), from_vector(where, {B})};
}

struct Measured {
  double accuracy, self_weight, key_weight;  // on ordinary tokens, after training
};

/// Embedding -> SelfAttention (with or without Q/K/V projections) -> Linear per position.
Measured train_key_finder(bool project, int steps) {
  manual_seed(1);
  Generator gen(2);
  const std::int64_t E = 16, T = 6;
  nn::Embedding embed(16, E);
  nn::SelfAttention attention(nn::SelfAttentionOptions(E, 1).project(project));
  nn::Linear head(E, 8);
  std::vector<Tensor> params = embed.parameters();
  for (const auto* m : std::vector<nn::Module*>{&attention, &head})
    for (const Tensor& p : m->parameters()) params.push_back(p);
  optim::Adam opt(params, optim::AdamOptions(1e-2));
  auto run = [&](const KeyBatch& batch) {
    const auto [out, weights] = attention.forward(embed(batch.tokens), Tensor());
    return std::make_pair(head(out).reshape({-1, 8}), weights);  // [B * T, 8], [B, T, T]
  };
  for (int step = 0; step < steps; ++step) {
    const KeyBatch batch = make_key_batch(64, T, gen);
    opt.zero_grad();
    const Tensor loss = nn::functional::cross_entropy(run(batch).first, batch.labels);
    loss.backward();
    opt.step();
  }
  NoGradGuard no_grad;
  const KeyBatch test = make_key_batch(512, T, gen);
  const auto [logits, weights] = run(test);
  // Averages over the ordinary tokens only (the key token trivially reads itself).
  const Tensor ordinary = lt(test.tokens, 8.0).to(kFloat64);  // [B, T]
  const Tensor right = eq(logits.argmax(1), test.labels).to(kFloat64).reshape({-1, T});
  const Tensor self = weights.to(kFloat64) * eye(T, T, kFloat64);
  const Tensor key = weights.to(kFloat64) * one_hot(test.key_at, T).to(kFloat64).unsqueeze(1);  // [B, T, T]
  const double n = ordinary.sum().item();
  return {(right * ordinary).sum().item() / n, (self.sum({2}) * ordinary).sum().item() / n,
          (key.sum({2}) * ordinary).sum().item() / n};
}
// [/doc:experiment]

}  // namespace attention_guide

TEST_CASE("attention guide: the five scores by name map B by Tq and B by Tk to B by Tq by Tk",
          "[attention][attention_guide]") {
  attention_guide::scores_by_name();
}

TEST_CASE("attention guide: a decoder attends over padded encoder outputs", "[attention][attention_guide]") {
  attention_guide::encoder_decoder_attention();
}

TEST_CASE("attention guide: heads are split with a transpose, a bare view mixes positions",
          "[attention][attention_guide]") {
  attention_guide::heads_need_the_transpose();
}

TEST_CASE("attention guide: the variance of q.k grows as d, so scores are divided by sqrt of one head's d",
          "[attention][attention_guide]") {
  Generator gen(3);
  for (std::int64_t d : {4, 16, 64}) {
    const double v = attention_guide::score_variance(d, gen);
    CHECK(v == Approx(static_cast<double>(d)).epsilon(0.1));
  }
}

TEST_CASE("attention guide: a fully masked row is zero forward and backward", "[attention][attention_guide]") {
  attention_guide::fully_masked_row();
}

TEST_CASE("attention guide: AttentionPooling over an LSTM", "[attention][attention_guide]") {
  attention_guide::PooledLSTM model(3, 8, 4);
  const Tensor lengths = tensor({6, 2}, kInt64);
  const auto [logits, alpha] = model.forward(randn({2, 6, 3}), lengths);
  CHECK(logits.shape() == DimVec{2, 4});
  CHECK(alpha.shape() == DimVec{2, 6});
  CHECK(alpha.select(0, 1).slice(0, 2, 6).to_vector<float>() == std::vector<float>{0, 0, 0, 0});
  CHECK(sum(alpha.select(0, 1)).item() == Approx(1.0));
}

TEST_CASE(
    "attention guide: self-attention with projections learns to read the key token, raw embeddings attend "
    "to themselves",
    "[attention][attention_guide]") {
  for (int steps : {0, 50, 300}) {
    for (bool project : {false, true}) {
      const auto m = attention_guide::train_key_finder(project, steps);
      INFO((project ? "projections" : "raw embeddings")
           << ", " << steps << " steps: accuracy " << m.accuracy << ", weight on itself " << m.self_weight
           << ", on the key " << m.key_weight);
      if (steps == 0 && !project) CHECK(m.self_weight > 0.5);  // untrained: each token mostly finds itself
      if (steps == 300 && project) {
        CHECK(m.accuracy > 0.95);
        CHECK(m.key_weight > 0.9);
      }
      if (steps == 300 && !project) CHECK(m.key_weight < 0.9);
    }
  }
}

// MultiheadAttention's options: kdim and vdim (separate q/k/v projection weights), add_bias_kv,
// add_zero_attn. Golden tests against PyTorch 1.13 (tests/golden_attention/fixtures/
// multihead_options.txt, from make_transformer_fixtures.py), gradient checks through every
// option with respect to the inputs and every parameter, PyTorch's keys and initialisation, the
// padding of the masks, and bad input. The regions between "// [doc:NAME]" and "// [/doc:NAME]"
// are quoted word for word by docs/attention.md.
#include <cmath>

#include "support/nn_prelude.h"
#include "tapegrad/nn/attention/multihead.h"

namespace {

nn::MultiheadAttentionOptions options_of(const Case& c) {
  return nn::MultiheadAttentionOptions(c.param1("embed_dim"), c.param1("num_heads"))
      .kdim(c.param1("kdim"))
      .vdim(c.param1("vdim"))
      .bias(c.flag("bias"))
      .add_bias_kv(c.flag("add_bias_kv"))
      .add_zero_attn(c.flag("add_zero_attn"))
      .batch_first(c.flag("batch_first"));
}

Tensor uniform64(tg::IntArrayRef shape, std::uint64_t seed) { return tg_test::uniform64(shape, -1.0, 1.0, seed); }

/// A float64 module in eval mode whose parameters are all random (biases too), for gradient checks.
std::shared_ptr<nn::MultiheadAttention> random_mha(const nn::MultiheadAttentionOptions& o, std::uint64_t seed) {
  tg::manual_seed(seed);
  auto m = std::make_shared<nn::MultiheadAttention>(o);
  m->to(tg::kFloat64);
  m->eval();
  tg::NoGradGuard guard;
  std::uint64_t s = seed;
  for (const Tensor& p : m->parameters()) p.copy_(uniform64(p.shape(), ++s).detach() * 0.8);
  return m;
}

Tensor bools(const tg::NestedList& values) { return tg::tensor(values, tg::kInt64).ne(0.0); }

}  // namespace

namespace guide {

// [doc:mha_options]
/// Cross-attention from queries of 8 features to keys of 5 and values of 6, with both appended keys.
void key_value_sizes_and_appended_keys() {
  // Keys of 5 features and values of 6 attended by queries of 8: separate projections.
  // add_bias_kv appends a learned key/value, add_zero_attn a zero one: S = 4 keys -> 6 weights.
  nn::MultiheadAttention mha(
      nn::MultiheadAttentionOptions(8, 2).kdim(5).vdim(6).add_bias_kv(true).add_zero_attn(true).batch_first(true));
  const Tensor query = tg::randn({2, 3, 8}), key = tg::randn({2, 4, 5}), value = tg::randn({2, 4, 6});
  // Masks describe the 4 keys given; the appended ones are always open.
  const Tensor padding = tg::tensor({{0, 0, 0, 0}, {0, 0, 1, 1}}, tg::kInt64).ne(0.0);  // [B, S]
  const auto [output, weights] = mha.forward(query, key, value, padding);
  CHECK(output.shape().vec() == std::vector<std::int64_t>{2, 3, 8});
  CHECK(weights.shape().vec() == std::vector<std::int64_t>{2, 3, 6});  // [B, L, S + 2]
  CHECK(weights.at<float>({1, 0, 2}) == 0.0f);                         // a padded key
  CHECK(weights.at<float>({1, 0, 4}) > 0.0f);                          // bias_k
  CHECK(weights.at<float>({1, 0, 5}) > 0.0f);                          // the zero key
}
// [/doc:mha_options]

}  // namespace guide

// ---- golden tests against PyTorch 1.13 -------------------------------------------------------------

TEST_CASE("MultiheadAttention options match PyTorch: kdim and vdim, add_bias_kv, add_zero_attn, with masks",
          "[attention]") {
  const int ran = tg_golden::for_each_case("golden_attention", "multihead_options", [&](const Case& c) {
    nn::MultiheadAttention m(options_of(c));
    tg_golden::run_multihead_case(c, m);
  });
  CHECK(ran == 16);
}

// ---- keys, shapes, initialisation --------------------------------------------------------------------

TEST_CASE("MultiheadAttention with kdim or vdim has q_proj_weight, k_proj_weight, v_proj_weight in PyTorch's order",
          "[attention]") {
  // The fixture's key lists are PyTorch's; run_case compares them too, this states them.
  const Case& c = tg_fixtures::load_case("golden_attention", "multihead_options",
                                         "add_bias_kv and add_zero_attn with kdim 5 and vdim 6, batch_first, float "
                                         "3-D attn_mask");
  nn::MultiheadAttention m(options_of(c));
  CHECK(m.state_dict().keys() == c.words("state"));
  CHECK(m.state_dict().keys() == std::vector<std::string>{"q_proj_weight", "k_proj_weight", "v_proj_weight",
                                                          "in_proj_bias", "bias_k", "bias_v", "out_proj.weight",
                                                          "out_proj.bias"});
  CHECK_FALSE(m.qkv_same_embed_dim());
  CHECK_FALSE(m.in_proj_weight.defined());
  CHECK(m.q_proj_weight.shape().vec() == Shape{8, 8});
  CHECK(m.k_proj_weight.shape().vec() == Shape{8, 5});
  CHECK(m.v_proj_weight.shape().vec() == Shape{8, 6});
  CHECK(m.in_proj_bias.shape().vec() == Shape{24});
  CHECK(m.bias_k.shape().vec() == Shape{1, 1, 8});

  nn::MultiheadAttention same(nn::MultiheadAttentionOptions(8, 2).kdim(8).vdim(8).add_bias_kv(true).bias(false));
  CHECK(same.qkv_same_embed_dim());
  CHECK(same.state_dict().keys() == std::vector<std::string>{"in_proj_weight", "bias_k", "bias_v", "out_proj.weight"});
  CHECK_FALSE(same.q_proj_weight.defined());
}

TEST_CASE("MultiheadAttention initialises as PyTorch: xavier_uniform_ projections, xavier_normal_ bias_k and bias_v",
          "[attention]") {
  tg::manual_seed(11);
  const std::int64_t E = 256;
  nn::MultiheadAttention m(nn::MultiheadAttentionOptions(E, 4).kdim(64).vdim(32).add_bias_kv(true));
  auto bound = [](double fan_in, double fan_out) { return std::sqrt(6.0 / (fan_in + fan_out)); };
  auto max_abs = [](const Tensor& t) { return tg::amax(tg::abs(t)).item(); };
  CHECK(max_abs(m.q_proj_weight) <= bound(E, E));
  CHECK(max_abs(m.q_proj_weight) > 0.95 * bound(E, E));
  CHECK(max_abs(m.k_proj_weight) <= bound(64, E));  // [E, kdim]: fan_in kdim, fan_out E
  CHECK(max_abs(m.k_proj_weight) > 0.95 * bound(64, E));
  CHECK(max_abs(m.v_proj_weight) <= bound(32, E));
  CHECK(max_abs(m.v_proj_weight) > 0.95 * bound(32, E));
  CHECK(max_abs(m.in_proj_bias) == 0.0);
  CHECK(max_abs(m.out_proj->bias) == 0.0);
  // xavier_normal_ of [1, 1, E]: fan_in = fan_out = E, std = sqrt(2 / (2E)) = 1/16.
  for (const Tensor& b : {m.bias_k, m.bias_v}) {
    const double sd = tg::std(b.reshape({-1})).item();
    CHECK(sd == Approx(1.0 / 16).epsilon(0.15));
  }
}

// ---- the appended keys and the masks -----------------------------------------------------------------

TEST_CASE("add_bias_kv and add_zero_attn append one source position each, never masked", "[attention]") {
  guide::key_value_sizes_and_appended_keys();
}

TEST_CASE("add_zero_attn: a query whose keys are all masked attends only the zero key and outputs out_proj.bias",
          "[attention]") {
  auto m = random_mha(nn::MultiheadAttentionOptions(4, 2).add_zero_attn(true).batch_first(true), 3);
  const Tensor q = uniform64({1, 2, 4}, 1), kv = uniform64({1, 3, 4}, 2);
  const Tensor mask = bools({{1, 1, 1}, {0, 1, 0}});  // query 0 sees none of the 3 keys
  const auto r = m->forward(q, kv, kv, {}, true, mask, false);
  CHECK(r.weights.shape().vec() == Shape{1, 2, 2, 4});
  for (std::int64_t h = 0; h < 2; ++h) {
    CHECK(r.weights.at<double>({0, h, 0, 3}) == 1.0);
    CHECK(r.weights.at<double>({0, h, 0, 0}) == 0.0);
    CHECK(r.weights.at<double>({0, h, 1, 1}) == 0.0);
  }
  // The zero value: the attention output is 0 and out_proj leaves its bias.
  CHECK(tg_test::all_close(r.output.select(1, 0).reshape({-1}).to_vector<double>(),
                           m->out_proj->bias.to_vector<double>(), 1e-12, 1e-12));
  // Gradients stay finite and the masked keys get none.
  tg::sum(r.output * r.output).backward();
  CHECK(tg::amax(tg::abs(kv.grad())).item() < 1e6);
  CHECK(std::isfinite(tg::sum(q.grad()).item()));
}

TEST_CASE("a 2-D bool attn_mask and a 3-D float one give the same result after padding for the appended keys",
          "[attention]") {
  auto m = random_mha(nn::MultiheadAttentionOptions(4, 2).add_bias_kv(true).add_zero_attn(true), 5);
  const Tensor q = uniform64({3, 2, 4}, 1).detach(), kv = uniform64({2, 2, 4}, 2).detach();
  const Tensor mask = bools({{0, 1}, {1, 0}, {0, 0}});
  const Tensor as_float =
      tg::masked_fill(tg::zeros({3, 2}, tg::kFloat64), mask, -INFINITY).unsqueeze(0).expand({4, 3, 2});
  const auto a = m->forward(q, kv, kv, {}, true, mask);
  const auto b = m->forward(q, kv, kv, {}, true, as_float.contiguous());
  CHECK(tg_test::all_close(a.output.to_vector<double>(), b.output.to_vector<double>(), 1e-14, 1e-14));
  CHECK(tg_test::all_close(a.weights.to_vector<double>(), b.weights.to_vector<double>(), 1e-14, 1e-14));
  CHECK(a.weights.shape().vec() == Shape{2, 3, 4});
}

// ---- gradient checks ---------------------------------------------------------------------------------

TEST_CASE("gradcheck through MultiheadAttention with each option, over the inputs and every parameter", "[attention]") {
  struct Variant {
    const char* name;
    nn::MultiheadAttentionOptions options;
  };
  const std::vector<Variant> variants{
      {"kdim 3 and vdim 5", nn::MultiheadAttentionOptions(4, 2).kdim(3).vdim(5)},
      {"kdim 3, no bias, batch_first", nn::MultiheadAttentionOptions(4, 2).kdim(3).bias(false).batch_first(true)},
      {"add_bias_kv", nn::MultiheadAttentionOptions(4, 2).add_bias_kv(true)},
      {"add_zero_attn", nn::MultiheadAttentionOptions(4, 2).add_zero_attn(true)},
      {"every option", nn::MultiheadAttentionOptions(4, 2).kdim(3).vdim(2).add_bias_kv(true).add_zero_attn(true)},
  };
  const Tensor kpm = bools({{0, 0, 1}, {0, 0, 0}});
  const Tensor mask = bools({{0, 1, 0}, {1, 0, 0}});
  for (const auto& v : variants) {
    INFO(v.name);
    auto m = random_mha(v.options, 17);
    // L = 2 queries, S = 3 keys, B = 2.
    auto seq = [&](std::int64_t n, std::int64_t d, std::uint64_t seed) {
      return v.options.batch_first() ? uniform64({2, n, d}, seed) : uniform64({n, 2, d}, seed);
    };
    std::vector<Tensor> inputs{seq(2, 4, 1), seq(3, v.options.kdim(), 2), seq(3, v.options.vdim(), 3)};
    for (const Tensor& p : m->parameters()) inputs.push_back(p);
    for (const bool masked : {false, true}) {
      INFO("masks " << masked);
      CHECK(tg::gradcheck(
          [&](const std::vector<Tensor>& x) {
        const auto r = m->forward(x[0], x[1], x[2], masked ? kpm : Tensor(), true, masked ? mask : Tensor(), false);
        return tg::cat({r.output.reshape({-1}), r.weights.reshape({-1})});
          },
          inputs, 1e-6, 1e-7, 1e-5));
    }
  }
}

// ---- load, clone ------------------------------------------------------------------------------------

TEST_CASE("MultiheadAttention with kdim loads only the separate keys and clones its bias_k", "[attention]") {
  nn::MultiheadAttention packed(8, 2);
  nn::MultiheadAttention separate(nn::MultiheadAttentionOptions(8, 2).kdim(4).add_bias_kv(true));
  CHECK_THAT(error_of([&] { separate.load_state_dict(packed.state_dict()); }),
             Contains("MultiheadAttention") && Contains("missing keys: q_proj_weight, k_proj_weight, v_proj_weight") &&
                 Contains("unexpected keys: in_proj_weight"));
  CHECK_THAT(error_of([&] { packed.load_state_dict(separate.state_dict()); }),
             Contains("unexpected keys: q_proj_weight, k_proj_weight, v_proj_weight, bias_k, bias_v"));

  auto copy = std::dynamic_pointer_cast<nn::MultiheadAttention>(separate.clone());
  REQUIRE(copy);
  CHECK(copy->state_dict().keys() == separate.state_dict().keys());
  CHECK(copy->bias_k.to_vector<float>() == separate.bias_k.to_vector<float>());
  CHECK(copy->k_proj_weight.to_vector<float>() == separate.k_proj_weight.to_vector<float>());
  CHECK_FALSE(copy->bias_k.shares_storage_with(separate.bias_k));
}

// ---- bad input ---------------------------------------------------------------------------------------

TEST_CASE("MultiheadAttention options and inputs are checked, naming kdim, vdim and the shapes", "[attention]") {
  CHECK_THAT(error_of([] { nn::MultiheadAttention(nn::MultiheadAttentionOptions(10, 4).kdim(3)); }),
             Contains("MultiheadAttention") && Contains("embed_dim 10 is not divisible by num_heads 4"));
  CHECK_THAT(error_of([] { nn::MultiheadAttention(nn::MultiheadAttentionOptions(8, 2).kdim(0)); }),
             Contains("MultiheadAttention") && Contains("kdim and vdim must be positive, got kdim 0 and vdim 8"));
  CHECK_THAT(error_of([] { nn::MultiheadAttention(nn::MultiheadAttentionOptions(8, 2).vdim(-3)); }),
             Contains("got kdim 8 and vdim -3"));

  nn::MultiheadAttention m(nn::MultiheadAttentionOptions(8, 2).kdim(5).vdim(6));
  const Tensor q = tg::zeros({3, 2, 8}), k = tg::zeros({4, 2, 5}), v = tg::zeros({4, 2, 6});
  CHECK_THAT(error_of([&] {
               m.forward(q, tg::zeros({4, 2, 8}), v);
             }),
             Contains("MultiheadAttention") && Contains("expected key with kdim 5 in its last dim, got 8") &&
                 Contains("[4, 2, 8]"));
  CHECK_THAT(error_of([&] {
               m.forward(q, k, tg::zeros({4, 2, 5}));
             }),
             Contains("expected value with vdim 6 in its last dim, got 5"));
  CHECK_THAT(error_of([&] {
               m.forward(q, k, tg::zeros({3, 2, 6}));
             }),
             Contains("key shape [4, 2, 5] does not match value shape [3, 2, 6] in its sequence and batch dims"));
  CHECK_THAT(error_of([&] {
               m.forward(q, k, tg::zeros({4, 3, 6}));
             }),
             Contains("does not match value shape [4, 3, 6]"));
  CHECK_THAT(error_of([&] { m(q); }), Contains("expected key with kdim 5"));  // self-attention needs kdim == E
  CHECK_THAT(error_of([&] { m.forward(q, k.to(tg::kFloat64), v); }),
             Contains("MultiheadAttention") && Contains("the input is float64 but the parameters are float32"));
}

TEST_CASE("MultiheadAttention with appended keys checks the masks against the keys given", "[attention]") {
  nn::MultiheadAttention m(nn::MultiheadAttentionOptions(8, 2).add_bias_kv(true).add_zero_attn(true));
  const Tensor q = tg::zeros({3, 2, 8}), kv = tg::zeros({4, 2, 8});
  auto falses = [](tg::IntArrayRef shape) { return tg::gt(tg::zeros(shape), 0.0); };
  // Masks cover the S = 4 keys given, not the S + 2 the weights have.
  CHECK_THAT(error_of([&] {
               m.forward(q, kv, kv, {}, true, falses({3, 6}));
             }),
             Contains("2-D attn_mask has shape [3, 6]") && Contains("expected [L, S] = [3, 4]"));
  CHECK_THAT(error_of([&] {
               m.forward(q, kv, kv, {}, true, falses({4, 3, 5}));
             }),
             Contains("3-D attn_mask has shape [4, 3, 5]") && Contains("[B * num_heads, L, S] = [4, 3, 4]"));
  CHECK_THAT(error_of([&] {
               m.forward(q, kv, kv, falses({2, 5}));
             }),
             Contains("key_padding_mask has shape [2, 5], expected [B, S] = [2, 4]"));
  CHECK_THAT(error_of([&] {
               m.forward(q, kv, kv, {}, true, tg::zeros({3, 4}, tg::kInt64));
             }),
             Contains("attn_mask must be bool") && Contains("int64"));
  CHECK_THAT(error_of([&] {
               m.forward(q, kv, kv, tg::zeros({2, 4}, tg::kInt64));
             }),
             Contains("key_padding_mask must be bool") && Contains("int64"));
  // With the masks right, it runs: weights [B, L, S + 2].
  CHECK(m.forward(q, kv, kv, falses({2, 4}), true, falses({3, 4})).weights.shape().vec() == Shape{2, 3, 6});
}

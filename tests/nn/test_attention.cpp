// Attention: scaled_dot_product_attention, MultiheadAttention, TransformerEncoderLayer and
// TransformerEncoder.
//
// Golden tests: for every case that tests/golden_attention/make_attention_fixtures.py computed
// with PyTorch 1.13 in float64, the module is built from the case's options, given PyTorch's
// state_dict through a strict load_state_dict (so every key must match), run in eval mode on the
// same inputs and masks, and compared within 1e-10 (absolute, or relative above 1): outputs,
// attention weights, the gradients of (output*gout).sum() [+ (weights*gweights).sum()] with
// respect to every float input and every parameter, and the names and order of
// named_parameters() and state_dict(). Then gradient checks of the functional form, the module
// system's contracts (clone, init) and bad inputs.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>

#include "support/nn_prelude.h"

using namespace tg_golden;  // NOLINT(google-build-using-namespace): the golden runner, test files only
namespace F = tg::nn::functional;
using tg_test::all_close;
using tg_test::all_finite;
using tg_test::values;

namespace {

nn::TransformerEncoderLayerOptions layer_options(const Case& c) {
  return nn::TransformerEncoderLayerOptions(c.param1("d_model"), c.param1("nhead"))
      .dim_feedforward(c.param1("dim_feedforward"))
      .activation(c.flag("gelu") ? "gelu" : "relu")
      .layer_norm_eps(c.num("layer_norm_eps"))
      .batch_first(c.flag("batch_first"))
      .norm_first(c.flag("norm_first"));
}

Tensor uniform64(tg::IntArrayRef shape, std::uint64_t seed) {
  tg::Generator gen(seed);
  return (tg::rand(shape, tg::kFloat64, &gen) * 2.0 - 1.0).detach().requires_grad_();
}

}  // namespace

// ---- golden tests against PyTorch 1.13 -------------------------------------------------------------

TEST_CASE("MultiheadAttention matches PyTorch: outputs, weights and every gradient, with and without masks",
          "[attention]") {
  const int ran = tg_golden::for_each_case("golden_attention", "multihead_attention", [&](const Case& c) {
    nn::MultiheadAttention m(nn::MultiheadAttentionOptions(c.param1("embed_dim"), c.param1("num_heads"))
                                 .bias(c.flag("bias"))
                                 .batch_first(c.flag("batch_first")));
    tg_golden::run_multihead_case(c, m);
  });
  CHECK(ran == 16);
}

TEST_CASE("TransformerEncoderLayer matches PyTorch: relu and gelu, post-norm and norm_first, with masks",
          "[attention]") {
  const int ran = tg_golden::for_each_case("golden_attention", "transformer_encoder_layer", [&](const Case& c) {
    nn::TransformerEncoderLayer m(layer_options(c));
    const Tensor src_mask = mask_of(c, "src_mask"), kpm = mask_of(c, "src_key_padding_mask");
    run_case(c, m, {"src"}, [&](const Inputs& in) {
      return Outputs{{"output", m.forward(in.at("src"), src_mask, kpm)}};
    });
  });
  CHECK(ran == 7);
}

TEST_CASE("TransformerEncoder of 2 layers and a final norm matches PyTorch under the keys layers.0 to norm",
          "[attention]") {
  const int ran = tg_golden::for_each_case("golden_attention", "transformer_encoder", [&](const Case& c) {
    auto layer = std::make_shared<nn::TransformerEncoderLayer>(layer_options(c));
    std::shared_ptr<nn::LayerNorm> norm;
    if (c.flag("final_norm")) norm = std::make_shared<nn::LayerNorm>(nn::LayerNormOptions({c.param1("d_model")}));
    nn::TransformerEncoder m(layer, c.param1("num_layers"), norm);
    const Tensor mask = mask_of(c, "mask"), kpm = mask_of(c, "src_key_padding_mask");
    run_case(c, m, {"src"}, [&](const Inputs& in) { return Outputs{{"output", m.forward(in.at("src"), mask, kpm)}}; });
  });
  CHECK(ran == 4);
}

// ---- the functional form ---------------------------------------------------------------------------

TEST_CASE("scaled_dot_product_attention passes the gradient check without a mask and with bool, float and causal masks",
          "[attention]") {
  const Tensor q = uniform64({2, 3, 4}, 1), k = uniform64({2, 5, 4}, 2), v = uniform64({2, 5, 3}, 3);
  auto check = [&](const Tensor& mask, bool causal) {
    CHECK(tg::gradcheck(
        [&](const std::vector<Tensor>& x) {
      return F::scaled_dot_product_attention(x[0], x[1], x[2], mask, 0.0, causal);
        },
        {q, k, v}));
  };
  SECTION("no mask") { check({}, false); }
  SECTION("bool mask of shape L by S broadcast over the batch") {
    check(tg::tensor({{0, 1, 0, 0, 1}, {0, 0, 1, 1, 1}, {1, 0, 0, 0, 0}}, tg::kInt64).ne(0.0), false);
  }
  SECTION("float mask of shape 2 by 1 by S") { check(uniform64({2, 1, 5}, 4).detach(), false); }
  SECTION("causal") { check({}, true); }
  SECTION("gradient of the float mask itself") {
    const Tensor m = uniform64({3, 5}, 5);
    CHECK(tg::gradcheck([&](const std::vector<Tensor>& x) { return F::scaled_dot_product_attention(q, k, v, x[0]); },
                        {m}));
  }
}

TEST_CASE(
    "scaled_dot_product_attention: bool masks equal PyTorch's -inf float masks, causal equals triu, weights sum to 1",
    "[attention]") {
  const Tensor q = uniform64({2, 4, 3}, 11).detach(), k = uniform64({2, 4, 3}, 12).detach();
  const Tensor v = uniform64({2, 4, 2}, 13).detach();
  const Tensor causal = tg::gt(tg::triu(tg::ones({4, 4}), 1), 0.0);
  const Tensor as_float = tg::masked_fill(tg::zeros({4, 4}, tg::kFloat64), causal, -INFINITY);
  const auto a = F::scaled_dot_product_attention_with_weights(q, k, v, causal);
  const auto b = F::scaled_dot_product_attention_with_weights(q, k, v, as_float);
  const auto c = F::scaled_dot_product_attention_with_weights(q, k, v, {}, 0.0, true);
  CHECK(a.output.to_vector<double>() == b.output.to_vector<double>());
  CHECK(a.output.to_vector<double>() == c.output.to_vector<double>());
  CHECK(a.weights.shape().vec() == std::vector<std::int64_t>{2, 4, 4});
  CHECK(a.weights.at<double>({0, 0, 1}) == 0.0);  // query 0 sees key 0 only
  CHECK(a.weights.at<double>({0, 0, 0}) == Approx(1.0));
  const std::vector<double> rows = tg::sum(a.weights, {-1}).to_vector<double>();
  for (double r : rows) CHECK(r == Approx(1.0));
}

TEST_CASE("scaled_dot_product_attention: a fully masked query row is zero forward and backward, the other rows are not",
          "[attention]") {
  // tapegrad differs from PyTorch 1.13 here on purpose: PyTorch gives NaN (see docs/attention.md).
  const Tensor q = uniform64({3, 2}, 21), k = uniform64({3, 2}, 22), v = uniform64({3, 2}, 23);
  const Tensor mask = tg::tensor({{0, 0, 1}, {1, 1, 1}, {0, 1, 0}}, tg::kInt64).ne(0.0);
  for (const Tensor& m : {mask, tg::masked_fill(tg::zeros({3, 3}, tg::kFloat64), mask, -INFINITY)}) {
    for (const Tensor* x : {&q, &k, &v}) x->zero_grad();
    const auto r = F::scaled_dot_product_attention_with_weights(q, k, v, m);
    CHECK(r.output.select(0, 1).to_vector<double>() == std::vector<double>{0.0, 0.0});
    CHECK(r.weights.select(0, 1).to_vector<double>() == std::vector<double>{0.0, 0.0, 0.0});
    CHECK(all_finite(r.output));
    CHECK(all_finite(r.weights));
    CHECK(tg::sum(r.weights.select(0, 0)).item() == Approx(1.0));
    (r.output * uniform64({3, 2}, 24).detach()).sum().backward();
    for (const Tensor* x : {&q, &k, &v}) {
      REQUIRE(x->grad().defined());
      CHECK(all_finite(x->grad()));
    }
    CHECK(q.grad().select(0, 1).to_vector<double>() == std::vector<double>{0.0, 0.0});  // the dead row's query
  }
}

TEST_CASE("scaled_dot_product_attention: dropout in training keeps the expectation and uses the generator",
          "[attention]") {
  const Tensor q = tg::zeros({1, 2, 2}, tg::kFloat64), k = tg::zeros({1, 4, 2}, tg::kFloat64);
  const Tensor v = tg::ones({1, 4, 1}, tg::kFloat64);
  tg::Generator g1(5), g2(5);
  const auto a = F::scaled_dot_product_attention_with_weights(q, k, v, {}, 0.5, false, std::nullopt, &g1);
  const auto b = F::scaled_dot_product_attention_with_weights(q, k, v, {}, 0.5, false, std::nullopt, &g2);
  CHECK(a.weights.to_vector<double>() == b.weights.to_vector<double>());
  for (double w : a.weights.to_vector<double>()) CHECK((w == 0.0 || w == Approx(0.5)));  // 0.25 scaled by 2
}

TEST_CASE("scaled_dot_product_attention with a scale equals the default form with q rescaled, fused and composed",
          "[attention]") {
  // scale s replaces 1 / sqrt(E): softmax(q k^T s) = softmax((q s sqrt(E)) k^T / sqrt(E)).
  const Tensor q = uniform64({2, 3, 4}, 41), k = uniform64({2, 5, 4}, 42), v = uniform64({2, 5, 3}, 43);
  const double s = 0.8;
  const Tensor rescaled = q * (s * 2.0);  // sqrt(E) = 2
  const Tensor reference = F::scaled_dot_product_attention_with_weights(rescaled, k, v).output;
  const Tensor fused = F::scaled_dot_product_attention(q, k, v, {}, 0.0, false, s);
  const Tensor composed = F::scaled_dot_product_attention_with_weights(q, k, v, {}, 0.0, false, s).output;
  CHECK(fused.grad_fn_name().find("FusedScaledDotProductAttention") != std::string::npos);
  CHECK(all_close(values(fused), values(reference), 1e-13, 1e-13));
  CHECK(all_close(values(composed), values(reference), 1e-13, 1e-13));
  CHECK_FALSE(all_close(values(F::scaled_dot_product_attention(q, k, v)), values(reference), 1e-3, 1e-3));
  CHECK(tg::gradcheck(
      [&](const std::vector<Tensor>& x) { return F::scaled_dot_product_attention(x[0], x[1], x[2], {}, 0.0, true, s); },
      {q, k, v}));
  CHECK(tg::gradcheck(
      [&](const std::vector<Tensor>& x) {
    return F::scaled_dot_product_attention_with_weights(x[0], x[1], x[2], {}, 0.0, false, -1.5).output;
      },
      {q, k, v}));
  CHECK_THAT(error_of([&] { F::scaled_dot_product_attention(q, k, v, {}, 0.0, false, INFINITY); }),
             Contains("scaled_dot_product_attention") && Contains("scale must be finite, got inf"));
  CHECK_THAT(error_of([&] { F::scaled_dot_product_attention_with_weights(q, k, v, {}, 0.0, false, NAN); }),
             Contains("scale must be finite, got nan"));
}

// ---- module system ---------------------------------------------------------------------------------

TEST_CASE("MultiheadAttention has PyTorch's keys, shapes and initialisation", "[attention]") {
  tg::manual_seed(3);
  nn::MultiheadAttention m(16, 4);
  CHECK(m.state_dict().keys() ==
        std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"});
  CHECK(m.in_proj_weight.shape().vec() == std::vector<std::int64_t>{48, 16});
  CHECK(m.head_dim() == 4);
  const double xavier = std::sqrt(6.0 / (16 + 48)), linear = 1.0 / std::sqrt(16.0);
  CHECK(tg::amax(tg::abs(m.in_proj_weight)).item() <= xavier);
  CHECK(tg::amax(tg::abs(m.in_proj_weight)).item() > 0.9 * xavier);
  CHECK(tg::amax(tg::abs(m.out_proj->weight)).item() <= linear);
  CHECK(tg::amax(tg::abs(m.in_proj_bias)).item() == 0.0);
  CHECK(tg::amax(tg::abs(m.out_proj->bias)).item() == 0.0);
  nn::MultiheadAttention nb(nn::MultiheadAttentionOptions(8, 2).bias(false));
  CHECK(nb.state_dict().keys() == std::vector<std::string>{"in_proj_weight", "out_proj.weight"});
}

TEST_CASE("MultiheadAttention shapes: sequence first, batch_first, unbatched, weights per head", "[attention]") {
  nn::MultiheadAttention seq(8, 2);
  auto r = seq.forward(tg::randn({3, 2, 8}), tg::randn({5, 2, 8}), tg::randn({5, 2, 8}));
  CHECK(r.output.shape().vec() == std::vector<std::int64_t>{3, 2, 8});
  CHECK(r.weights.shape().vec() == std::vector<std::int64_t>{2, 3, 5});
  nn::MultiheadAttention bf(nn::MultiheadAttentionOptions(8, 2).batch_first(true));
  const Tensor x = tg::randn({2, 3, 8});
  r = bf.forward(x, x, x, {}, true, {}, false);
  CHECK(r.output.shape().vec() == std::vector<std::int64_t>{2, 3, 8});
  CHECK(r.weights.shape().vec() == std::vector<std::int64_t>{2, 2, 3, 3});
  r = seq.forward(tg::randn({3, 8}), tg::randn({4, 8}), tg::randn({4, 8}));
  CHECK(r.output.shape().vec() == std::vector<std::int64_t>{3, 8});
  CHECK(r.weights.shape().vec() == std::vector<std::int64_t>{3, 4});
  CHECK(bf(x).shape().vec() == std::vector<std::int64_t>{2, 3, 8});
}

TEST_CASE("TransformerEncoderLayer and TransformerEncoder have PyTorch's keys and clone independently", "[attention]") {
  auto layer =
      std::make_shared<nn::TransformerEncoderLayer>(nn::TransformerEncoderLayerOptions(8, 2).dim_feedforward(16));
  CHECK(layer->state_dict().keys() ==
        std::vector<std::string>{"self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
                                 "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight",
                                 "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"});
  CHECK(layer->options().dropout() == 0.1);
  CHECK(layer->self_attn->options().dropout() == 0.1);

  nn::TransformerEncoder enc(
      nn::TransformerEncoderOptions(layer, 3).norm(std::make_shared<nn::LayerNorm>(nn::LayerNormOptions({8}))));
  const auto keys = enc.state_dict().keys();
  CHECK(keys.size() == 3 * 12 + 2);
  CHECK(keys.front() == "layers.0.self_attn.in_proj_weight");
  CHECK(keys[12] == "layers.1.self_attn.in_proj_weight");
  CHECK(keys.back() == "norm.bias");
  // As PyTorch's deepcopy: every layer starts with the prototype's weights, in its own storage.
  CHECK(enc.layer(2)->linear1->weight.to_vector<float>() == layer->linear1->weight.to_vector<float>());
  CHECK_FALSE(enc.layer(2)->linear1->weight.shares_storage_with(layer->linear1->weight));

  auto copy = std::dynamic_pointer_cast<nn::TransformerEncoder>(enc.clone());
  REQUIRE(copy);
  CHECK(copy->state_dict().keys() == keys);
  CHECK(copy->layer(1)->self_attn->in_proj_weight.to_vector<float>() ==
        enc.layer(1)->self_attn->in_proj_weight.to_vector<float>());
  {
    tg::NoGradGuard guard;
    copy->layer(1)->self_attn->in_proj_weight.fill_(0.5);
    copy->norm->weight.fill_(2.0);
  }
  CHECK(enc.layer(1)->self_attn->in_proj_weight.at<float>({0, 0}) != 0.5f);
  CHECK(enc.norm->weight.at<float>({0}) == 1.0f);
  CHECK(copy->layer(1)->self_attn.get() != enc.layer(1)->self_attn.get());

  enc.eval();
  const Tensor out = enc.forward(tg::randn({5, 2, 8}), tg::gt(tg::triu(tg::ones({5, 5}), 1), 0.0));
  CHECK(out.shape().vec() == std::vector<std::int64_t>{5, 2, 8});
}

TEST_CASE("TransformerEncoderLayer: dropout acts in training only", "[attention]") {
  tg::manual_seed(1);
  nn::TransformerEncoderLayer layer(nn::TransformerEncoderLayerOptions(8, 2).dim_feedforward(16).dropout(0.5));
  const Tensor x = tg::randn({4, 2, 8});
  layer.eval();
  const auto a = layer(x).to_vector<float>(), b = layer(x).to_vector<float>();
  CHECK(a == b);
  layer.train();
  CHECK(layer(x).to_vector<float>() != a);
}

// ---- bad input -------------------------------------------------------------------------------------

TEST_CASE("attention options are checked in the constructors, naming the module and the bad value", "[attention]") {
  CHECK_THAT(error_of([] { nn::MultiheadAttention(10, 3); }),
             Contains("MultiheadAttention") && Contains("embed_dim 10 is not divisible by num_heads 3"));
  CHECK_THAT(error_of([] { nn::MultiheadAttention(0, 1); }), Contains("embed_dim must be positive, got 0"));
  CHECK_THAT(error_of([] { nn::MultiheadAttention(8, -2); }), Contains("num_heads must be positive, got -2"));
  CHECK_THAT(error_of([] { nn::MultiheadAttention(nn::MultiheadAttentionOptions(8, 2).dropout(1.0)); }),
             Contains("MultiheadAttention") && Contains("dropout must be in [0, 1), got 1"));
  CHECK_THAT(error_of([] { nn::MultiheadAttention(nn::MultiheadAttentionOptions(8, 2).kdim(0)); }),
             Contains("MultiheadAttention") && Contains("kdim and vdim must be positive, got kdim 0 and vdim 8"));
  CHECK_THAT(error_of([] { nn::TransformerEncoderLayer(6, 4); }),
             Contains("TransformerEncoderLayer") && Contains("d_model 6 is not divisible by nhead 4"));
  CHECK_THAT(error_of([] { nn::TransformerEncoderLayer(nn::TransformerEncoderLayerOptions(8, 2).activation("tanh")); }),
             Contains("TransformerEncoderLayer") && Contains("\"relu\" or \"gelu\"") && Contains("tanh"));
  CHECK_THAT(error_of([] { nn::TransformerEncoderLayer(nn::TransformerEncoderLayerOptions(8, 2).dim_feedforward(0)); }),
             Contains("dim_feedforward must be positive, got 0"));
  CHECK_THAT(error_of([] { nn::TransformerEncoderLayer(nn::TransformerEncoderLayerOptions(8, 2).dropout(-0.1)); }),
             Contains("TransformerEncoderLayer") && Contains("dropout must be in [0, 1), got -0.1"));
  auto layer = std::make_shared<nn::TransformerEncoderLayer>(8, 2);
  CHECK_THAT(error_of([&] { nn::TransformerEncoder(layer, 0); }),
             Contains("TransformerEncoder") && Contains("num_layers must be positive, got 0"));
  CHECK_THAT(error_of([] { nn::TransformerEncoder(nullptr, 2); }), Contains("encoder_layer must not be null"));
}

TEST_CASE("MultiheadAttention rejects a wrong embed dim or rank, naming the expected and actual values",
          "[attention]") {
  nn::MultiheadAttention m(8, 2);
  const Tensor x = tg::zeros({3, 2, 8});
  CHECK_THROWS_AS(m.forward(tg::zeros({3, 2, 6}), x, x), tg::Error);
  CHECK_THAT(error_of([&] {
               m.forward(tg::zeros({3, 2, 6}), x, x);
             }),
             Contains("MultiheadAttention") && Contains("expected query with embed_dim 8") && Contains("got 6") &&
                 Contains("[3, 2, 6]"));
  CHECK_THAT(error_of([&] {
               m.forward(x, tg::zeros({3, 2, 7}), tg::zeros({3, 2, 7}));
             }),
             Contains("expected key with embed_dim 8") && Contains("got 7"));
  CHECK_THAT(error_of([&] {
               m.forward(tg::zeros({1, 3, 2, 8}), x, x);
             }),
             Contains("MultiheadAttention") && Contains("3-D query") && Contains("[1, 3, 2, 8]"));
  CHECK_THAT(error_of([&] {
               m.forward(x, tg::zeros({3, 8}), tg::zeros({3, 8}));
             }),
             Contains("key and value must have as many dims as query (3)"));
  CHECK_THAT(error_of([&] {
               m.forward(x, tg::zeros({4, 2, 8}), tg::zeros({5, 2, 8}));
             }),
             Contains("key shape [4, 2, 8] does not match value shape [5, 2, 8]"));
  CHECK_THAT(error_of([&] {
               m.forward(x, tg::zeros({3, 5, 8}), tg::zeros({3, 5, 8}));
             }),
             Contains("different batch sizes, 2 and 5"));
}

TEST_CASE("MultiheadAttention rejects masks of the wrong shape, rank or dtype", "[attention]") {
  nn::MultiheadAttention m(8, 2);
  const Tensor q = tg::zeros({3, 2, 8}), kv = tg::zeros({4, 2, 8});
  auto bools = [](tg::IntArrayRef shape) { return tg::gt(tg::zeros(shape), 0.0); };
  CHECK_THAT(error_of([&] {
               m.forward(q, kv, kv, {}, true, bools({4, 3}));
             }),
             Contains("MultiheadAttention") && Contains("2-D attn_mask has shape [4, 3]") &&
                 Contains("expected [L, S] = [3, 4]"));
  CHECK_THAT(error_of([&] {
               m.forward(q, kv, kv, {}, true, bools({2, 3, 4}));
             }),
             Contains("3-D attn_mask has shape [2, 3, 4]") && Contains("[B * num_heads, L, S] = [4, 3, 4]"));
  CHECK_THAT(error_of([&] {
               m.forward(q, kv, kv, {}, true, bools({2, 2, 3, 4}));
             }),
             Contains("attn_mask must be 2-D [L, S] or 3-D") && Contains("got 4-D"));
  CHECK_THAT(error_of([&] {
               m.forward(q, kv, kv, bools({2, 3}));
             }),
             Contains("key_padding_mask has shape [2, 3], expected [B, S] = [2, 4]"));
  CHECK_THAT(error_of([&] {
               m.forward(q, kv, kv, tg::zeros({2, 4}, tg::kInt64));
             }),
             Contains("key_padding_mask must be bool") && Contains("int64"));
  nn::TransformerEncoderLayer layer(8, 2);
  CHECK_THAT(error_of([&] {
               layer.forward(tg::zeros({5, 2, 6}));
             }),
             Contains("TransformerEncoderLayer") && Contains("expected src with d_model 8") && Contains("got 6"));
  CHECK_THAT(error_of([&] {
               layer.forward(tg::zeros({5, 2, 8}), bools({4, 4}));
             }),
             Contains("2-D attn_mask has shape [4, 4]") && Contains("[5, 5]"));
}

TEST_CASE("scaled_dot_product_attention rejects mismatched sizes, masks that do not broadcast and bad dropout",
          "[attention]") {
  const Tensor q = tg::zeros({2, 3, 4}), k = tg::zeros({2, 5, 4}), v = tg::zeros({2, 5, 6});
  CHECK_THAT(error_of([&] { F::scaled_dot_product_attention(tg::zeros({4}), k, v); }),
             Contains("scaled_dot_product_attention") && Contains("at least 2 dims"));
  CHECK_THAT(error_of([&] {
               F::scaled_dot_product_attention(q, tg::zeros({2, 5, 3}), v);
             }),
             Contains("scaled_dot_product_attention") && Contains("got 4") && Contains("and 3"));
  CHECK_THAT(error_of([&] {
               F::scaled_dot_product_attention(q, k, tg::zeros({2, 4, 6}));
             }),
             Contains("same sequence length S") && Contains("got 5") && Contains("and 4"));
  CHECK_THAT(error_of([&] {
               F::scaled_dot_product_attention(q, k, v, tg::zeros({3, 4}));
             }),
             Contains("attn_mask of shape [3, 4] does not broadcast") && Contains("[2, 3, 5]"));
  CHECK_THAT(error_of([&] {
               F::scaled_dot_product_attention(q, k, v, tg::zeros({7, 2, 3, 5}));
             }),
             Contains("does not broadcast"));
  CHECK_THAT(error_of([&] { F::scaled_dot_product_attention(q, k, v, {}, 1.0); }),
             Contains("dropout_p must be in [0, 1), got 1"));
  CHECK_THAT(error_of([&] {
               F::scaled_dot_product_attention(q, k, v, tg::zeros({3, 5}, tg::kInt64));
             }),
             Contains("attn_mask must be bool") && Contains("int64"));
}

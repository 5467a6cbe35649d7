// TransformerDecoderLayer, TransformerDecoder and Transformer. Golden tests against PyTorch 1.13
// (tests/golden_attention/fixtures/transformer_decoder_layer.txt, transformer_decoder.txt and
// transformer.txt, from make_transformer_fixtures.py), gradient checks through the decoder layer,
// PyTorch's keys and defaults, the causal mask, clone, dropout and bad input. The regions between
// "// [doc:NAME]" and "// [/doc:NAME]" are quoted word for word by docs/attention.md.
#include <cmath>
#include <limits>

#include "support/nn_prelude.h"
#include "tapegrad/nn/transformer_decoder.h"

using namespace tg_golden;  // NOLINT(google-build-using-namespace): the golden runner, test files only

namespace {

nn::TransformerDecoderLayerOptions decoder_layer_options(const Case& c) {
  return nn::TransformerDecoderLayerOptions(c.param1("d_model"), c.param1("nhead"))
      .dim_feedforward(c.param1("dim_feedforward"))
      .activation(c.flag("gelu") ? "gelu" : "relu")
      .layer_norm_eps(c.num("layer_norm_eps"))
      .batch_first(c.flag("batch_first"))
      .norm_first(c.flag("norm_first"));
}

/// The four decoder masks of a case (undefined when absent).
struct DecoderMasks {
  Tensor tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask;
};

DecoderMasks decoder_masks(const Case& c) {
  return {mask_of(c, "tgt_mask"), mask_of(c, "memory_mask"), mask_of(c, "tgt_key_padding_mask"),
          mask_of(c, "memory_key_padding_mask")};
}

Tensor uniform64(tg::IntArrayRef shape, std::uint64_t seed) { return tg_test::uniform64(shape, -1.0, 1.0, seed); }

/// run_case of a TransformerDecoderLayer or TransformerDecoder: forward(tgt, memory) with the case's masks.
template <class Decoder>
void run_decoder_case(const Case& c, Decoder& m) {
  const DecoderMasks k = decoder_masks(c);
  run_case(c, m, {"tgt", "memory"}, [&](const Inputs& in) {
    return Outputs{{"output", m.forward(in.at("tgt"), in.at("memory"), k.tgt_mask, k.memory_mask,
                                        k.tgt_key_padding_mask, k.memory_key_padding_mask)}};
  });
}

}  // namespace

namespace guide {

// [doc:decoder_layer]
/// A decoder layer (causal self-attention over the target, then attention over the memory) and
/// a decoder of 3 such layers with a final LayerNorm.
std::shared_ptr<nn::TransformerDecoder> decoder_stack() {
  auto layer = std::make_shared<nn::TransformerDecoderLayer>(
      nn::TransformerDecoderLayerOptions(8, 2).dim_feedforward(16).batch_first(true));
  CHECK(layer->state_dict().keys() ==
        std::vector<std::string>{"self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
                                 "self_attn.out_proj.bias", "multihead_attn.in_proj_weight",
                                 "multihead_attn.in_proj_bias", "multihead_attn.out_proj.weight",
                                 "multihead_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight",
                                 "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias",
                                 "norm3.weight", "norm3.bias"});

  auto decoder =
      std::make_shared<nn::TransformerDecoder>(layer, 3, std::make_shared<nn::LayerNorm>(nn::LayerNormOptions({8})));
  decoder->eval();
  const Tensor tgt = tg::randn({2, 5, 8});     // [B, T, E]: the 5 target steps so far
  const Tensor memory = tg::randn({2, 7, 8});  // [B, S, E]: the encoder's output
  const Tensor causal = nn::Transformer::generate_square_subsequent_mask(5);
  const Tensor out = decoder->forward(tgt, memory, causal);
  CHECK(out.shape().vec() == std::vector<std::int64_t>{2, 5, 8});
  return decoder;
}
// [/doc:decoder_layer]

// [doc:transformer]
/// A Transformer of 2 + 2 layers on a batch of embedded source and target sequences.
void encoder_decoder() {
  tg::manual_seed(0);
  nn::Transformer model(nn::TransformerOptions(/*d_model=*/16, /*nhead=*/4)
                            .num_encoder_layers(2)
                            .num_decoder_layers(2)
                            .dim_feedforward(32)
                            .batch_first(true));
  model.eval();
  const Tensor src = tg::randn({2, 7, 16});  // [B, S, E]: the source sequence, embedded
  const Tensor tgt = tg::randn({2, 5, 16});  // [B, T, E]: the target so far (teacher forcing)
  // Source padding: the second source sequence has 4 real steps.
  const Tensor src_padding = tg::tensor({{0, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 1, 1, 1}}, tg::kInt64).ne(0.0);
  const Tensor out = model.forward(src, tgt, /*src_mask=*/{}, nn::Transformer::generate_square_subsequent_mask(5),
                                   /*memory_mask=*/{}, src_padding, /*tgt_key_padding_mask=*/{},
                                   /*memory_key_padding_mask=*/src_padding);
  CHECK(out.shape().vec() == std::vector<std::int64_t>{2, 5, 16});
  // PyTorch's keys: encoder.layers.N..., encoder.norm, decoder.layers.N..., decoder.norm.
  const auto keys = model.state_dict().keys();
  CHECK(keys.front() == "encoder.layers.0.self_attn.in_proj_weight");
  CHECK(keys[2 * 12] == "encoder.norm.weight");
  CHECK(keys[2 * 12 + 2] == "decoder.layers.0.self_attn.in_proj_weight");
  CHECK(keys.back() == "decoder.norm.bias");
}
// [/doc:transformer]

}  // namespace guide

// ---- golden tests against PyTorch 1.13 -------------------------------------------------------------

TEST_CASE("TransformerDecoderLayer matches PyTorch: relu and gelu, post-norm and norm_first, causal and memory masks",
          "[attention]") {
  const int ran = tg_golden::for_each_case("golden_attention", "transformer_decoder_layer", [&](const Case& c) {
    nn::TransformerDecoderLayer m(decoder_layer_options(c));
    run_decoder_case(c, m);
  });
  CHECK(ran == 6);
}

TEST_CASE("TransformerDecoder of 2 layers and a final norm matches PyTorch under the keys layers.0 to norm",
          "[attention]") {
  const int ran = tg_golden::for_each_case("golden_attention", "transformer_decoder", [&](const Case& c) {
    auto layer = std::make_shared<nn::TransformerDecoderLayer>(decoder_layer_options(c));
    std::shared_ptr<nn::LayerNorm> norm;
    if (c.flag("final_norm")) norm = std::make_shared<nn::LayerNorm>(nn::LayerNormOptions({c.param1("d_model")}));
    nn::TransformerDecoder m(layer, c.param1("num_layers"), norm);
    run_decoder_case(c, m);
  });
  CHECK(ran == 4);
}

TEST_CASE("Transformer of 2 + 2 layers matches PyTorch under the keys encoder.* and decoder.*, with every mask",
          "[attention]") {
  int ran = 0;
  for (const Case& c : tg_fixtures::load("golden_attention", "transformer")) {
    if (!c.has_tensor("output")) continue;  // the key list of the defaults, tested below
    tg::manual_seed(7);
    nn::Transformer m(nn::TransformerOptions(c.param1("d_model"), c.param1("nhead"))
                          .num_encoder_layers(c.param1("num_encoder_layers"))
                          .num_decoder_layers(c.param1("num_decoder_layers"))
                          .dim_feedforward(c.param1("dim_feedforward"))
                          .activation(c.flag("gelu") ? "gelu" : "relu")
                          .batch_first(c.flag("batch_first"))
                          .norm_first(c.flag("norm_first")));
    const DecoderMasks k = decoder_masks(c);
    const Tensor src_mask = mask_of(c, "src_mask"), src_kpm = mask_of(c, "src_key_padding_mask");
    run_case(c, m, {"src", "tgt"}, [&](const Inputs& in) {
      return Outputs{{"output", m.forward(in.at("src"), in.at("tgt"), src_mask, k.tgt_mask, k.memory_mask, src_kpm,
                                          k.tgt_key_padding_mask, k.memory_key_padding_mask)}};
    });
    ++ran;
  }
  CHECK(ran == 4);
}

// ---- keys, defaults, the causal mask -----------------------------------------------------------------

TEST_CASE("Transformer has PyTorch's defaults and, with them, PyTorch's 6 + 6 layer state_dict keys", "[attention]") {
  const Case& c = tg_fixtures::load_case("golden_attention", "transformer", "default Transformer keys");
  const nn::TransformerOptions o;
  CHECK(o.d_model() == 512);
  CHECK(o.nhead() == 8);
  CHECK(o.num_encoder_layers() == 6);
  CHECK(o.num_decoder_layers() == 6);
  CHECK(o.dim_feedforward() == 2048);
  CHECK(o.dropout() == 0.1);
  CHECK(o.activation() == "relu");
  CHECK(o.layer_norm_eps() == 1e-5);
  CHECK_FALSE(o.batch_first());
  CHECK_FALSE(o.norm_first());
  const nn::TransformerDecoderLayerOptions lo(512, 8);
  CHECK(lo.dim_feedforward() == 2048);
  CHECK(lo.dropout() == 0.1);
  nn::Transformer m;
  CHECK(m.state_dict().keys() == c.words("state"));
  CHECK(m.decoder->layer(5)->multihead_attn->options().dropout() == 0.1);
}

TEST_CASE("Transformer: the encoder reads src, the decoder reads tgt and the encoder's memory", "[attention]") {
  guide::encoder_decoder();
}

TEST_CASE("Transformer initialises every matrix xavier_uniform_ and leaves the LayerNorms at 1 and 0", "[attention]") {
  tg::manual_seed(4);
  nn::Transformer m(nn::TransformerOptions(32, 4).num_encoder_layers(1).num_decoder_layers(1).dim_feedforward(64));
  const double linear1 = std::sqrt(6.0 / (32 + 64)), in_proj = std::sqrt(6.0 / (32 + 96));
  auto max_abs = [](const Tensor& t) { return tg::amax(tg::abs(t)).item(); };
  CHECK(max_abs(m.decoder->layer(0)->linear1->weight) <= linear1);
  CHECK(max_abs(m.decoder->layer(0)->linear1->weight) > 0.9 * linear1);
  CHECK(max_abs(m.encoder->layer(0)->self_attn->in_proj_weight) <= in_proj);
  CHECK(max_abs(m.decoder->norm->weight - 1.0) == 0.0);
  CHECK(max_abs(m.decoder->layer(0)->multihead_attn->in_proj_bias) == 0.0);
}

TEST_CASE("generate_square_subsequent_mask is 0 on and below the diagonal and -inf above it", "[attention]") {
  const Tensor mask = nn::Transformer::generate_square_subsequent_mask(3);
  CHECK(mask.dtype() == tg::kFloat32);
  const std::vector<float> v = mask.to_vector<float>();
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(v == std::vector<float>{0, -inf, -inf, 0, 0, -inf, 0, 0, 0});
  CHECK(nn::Transformer::generate_square_subsequent_mask(2, tg::kFloat64).dtype() == tg::kFloat64);
  CHECK(nn::Transformer::generate_square_subsequent_mask(0).numel() == 0);
}

TEST_CASE("TransformerDecoderLayer and TransformerDecoder have PyTorch's keys and clone independently", "[attention]") {
  const auto stack = guide::decoder_stack();
  nn::TransformerDecoder& decoder = *stack;
  const auto& layer = decoder.options().decoder_layer();

  const auto keys = decoder.state_dict().keys();
  CHECK(keys.size() == 3 * 18 + 2);
  CHECK(keys[18] == "layers.1.self_attn.in_proj_weight");
  CHECK(keys.back() == "norm.bias");
  CHECK(decoder.layer(2)->linear1->weight.to_vector<float>() == layer->linear1->weight.to_vector<float>());
  CHECK_FALSE(decoder.layer(2)->linear1->weight.shares_storage_with(layer->linear1->weight));

  auto copy = std::dynamic_pointer_cast<nn::TransformerDecoder>(decoder.clone());
  REQUIRE(copy);
  CHECK(copy->state_dict().keys() == keys);
  {
    tg::NoGradGuard guard;
    copy->layer(1)->multihead_attn->in_proj_weight.fill_(0.5);
    copy->norm->weight.fill_(2.0);
  }
  CHECK(decoder.layer(1)->multihead_attn->in_proj_weight.at<float>({0, 0}) != 0.5f);
  CHECK(decoder.norm->weight.at<float>({0}) == 1.0f);
}

TEST_CASE("the decoder's causal mask: a target step's output does not depend on later steps", "[attention]") {
  tg::manual_seed(2);
  nn::TransformerDecoderLayer layer(nn::TransformerDecoderLayerOptions(8, 2).dim_feedforward(16));
  layer.eval();
  const Tensor tgt = tg::randn({4, 1, 8}), memory = tg::randn({3, 1, 8});
  const Tensor causal = nn::Transformer::generate_square_subsequent_mask(4);
  const Tensor a = layer.forward(tgt, memory, causal);
  Tensor changed = tgt.clone();
  {
    tg::NoGradGuard guard;
    changed.select(0, 3).fill_(5.0);  // change the last step only
  }
  const Tensor b = layer.forward(changed, memory, causal);
  CHECK(a.narrow(0, 0, 3).to_vector<float>() == b.narrow(0, 0, 3).to_vector<float>());
  CHECK(a.select(0, 3).to_vector<float>() != b.select(0, 3).to_vector<float>());
}

TEST_CASE("Transformer: custom_encoder and custom_decoder replace the halves, and clone() copies them apart",
          "[attention]") {
  tg::manual_seed(6);
  auto enc_layer =
      std::make_shared<nn::TransformerEncoderLayer>(nn::TransformerEncoderLayerOptions(8, 2).dim_feedforward(16));
  auto dec_layer =
      std::make_shared<nn::TransformerDecoderLayer>(nn::TransformerDecoderLayerOptions(8, 2).dim_feedforward(16));
  auto encoder = std::make_shared<nn::TransformerEncoder>(enc_layer, 1);  // no final norm
  auto decoder = std::make_shared<nn::TransformerDecoder>(dec_layer, 3);
  nn::Transformer t(nn::TransformerOptions(8, 2).custom_encoder(encoder).custom_decoder(decoder));
  const auto keys = t.state_dict().keys();
  CHECK(keys.size() == 12 + 3 * 18);
  CHECK(keys.front() == "encoder.layers.0.self_attn.in_proj_weight");
  CHECK(keys[12] == "decoder.layers.0.self_attn.in_proj_weight");
  CHECK(keys.back() == "decoder.layers.2.norm3.bias");
  CHECK(t.encoder->norm == nullptr);
  // As PyTorch's _reset_parameters, the matrices of the custom halves start xavier_uniform_ too.
  const double bound = std::sqrt(6.0 / (8 + 16));
  CHECK(tg::amax(tg::abs(t.decoder->layer(2)->linear1->weight)).item() <= bound);

  auto copy = std::dynamic_pointer_cast<nn::Transformer>(t.clone());
  REQUIRE(copy);
  CHECK(copy->state_dict().keys() == keys);
  CHECK(copy->decoder->layer(1)->linear2->weight.to_vector<float>() ==
        t.decoder->layer(1)->linear2->weight.to_vector<float>());
  {
    tg::NoGradGuard guard;
    copy->decoder->layer(1)->linear2->weight.fill_(0.25);
  }
  CHECK(t.decoder->layer(1)->linear2->weight.at<float>({0, 0}) != 0.25f);
  t.eval();
  const Tensor out = t.forward(tg::randn({6, 2, 8}), tg::randn({4, 2, 8}));
  CHECK(out.shape().vec() == Shape{4, 2, 8});
}

TEST_CASE("TransformerDecoderLayer and Transformer: dropout acts in training only", "[attention]") {
  tg::manual_seed(1);
  nn::TransformerDecoderLayer layer(nn::TransformerDecoderLayerOptions(8, 2).dim_feedforward(16).dropout(0.5));
  const Tensor x = tg::randn({4, 2, 8}), memory = tg::randn({3, 2, 8});
  layer.eval();
  const auto a = layer.forward(x, memory).to_vector<float>();
  CHECK(layer.forward(x, memory).to_vector<float>() == a);
  layer.train();
  CHECK(layer.forward(x, memory).to_vector<float>() != a);

  nn::Transformer t(nn::TransformerOptions(8, 2).num_encoder_layers(1).num_decoder_layers(1).dim_feedforward(16));
  t.eval();
  const auto e = t.forward(memory, x).to_vector<float>();
  CHECK(t.forward(memory, x).to_vector<float>() == e);
  t.train();
  CHECK(t.forward(memory, x).to_vector<float>() != e);
}

TEST_CASE("TransformerDecoderLayer in a Sequential attends to its own input as memory", "[attention]") {
  auto layer =
      std::make_shared<nn::TransformerDecoderLayer>(nn::TransformerDecoderLayerOptions(8, 2).dim_feedforward(8));
  layer->eval();
  const Tensor x = tg::randn({3, 2, 8});
  CHECK((*layer)(x).to_vector<float>() == layer->forward(x, x).to_vector<float>());
}

// ---- gradient checks ---------------------------------------------------------------------------------

TEST_CASE("gradcheck through TransformerDecoderLayer: post-norm and norm_first, relu and gelu, with every mask",
          "[attention]") {
  const Tensor causal = nn::Transformer::generate_square_subsequent_mask(3, tg::kFloat64);
  const Tensor tgt_padding = tg::tensor({{0, 0, 0}, {0, 0, 1}}, tg::kInt64).ne(0.0);
  const Tensor memory_padding = tg::tensor({{0, 1}, {0, 0}}, tg::kInt64).ne(0.0);
  for (const bool norm_first : {false, true}) {
    for (const char* activation : {"relu", "gelu"}) {
      INFO("norm_first " << norm_first << ", " << activation);
      tg::manual_seed(9);
      nn::TransformerDecoderLayer layer(
          nn::TransformerDecoderLayerOptions(4, 2).dim_feedforward(6).activation(activation).norm_first(norm_first));
      layer.to(tg::kFloat64);
      layer.eval();
      {
        tg::NoGradGuard guard;  // random biases and norms, so that their gradients are tested
        std::uint64_t seed = 100;
        for (const Tensor& p : layer.parameters()) p.add_(uniform64(p.shape(), ++seed).detach() * 0.3);
      }
      // tgt [T = 3, B = 2, E = 4], memory [S = 2, B = 2, E = 4]; then every parameter.
      std::vector<Tensor> inputs{uniform64({3, 2, 4}, 1), uniform64({2, 2, 4}, 2)};
      // relu's kink: the parameters are checked with gelu only (finite differences across a kink).
      if (std::string(activation) == "gelu")
        for (const Tensor& p : layer.parameters()) inputs.push_back(p);
      CHECK(tg::gradcheck(
          [&](const std::vector<Tensor>& x) {
        return layer.forward(x[0], x[1], causal, {}, tgt_padding, memory_padding);
          },
          inputs, 1e-6, 1e-6, 1e-4));
    }
  }
}

TEST_CASE("gradcheck through a Transformer of 1 + 1 layers with respect to src and tgt", "[attention]") {
  tg::manual_seed(5);
  nn::Transformer t(
      nn::TransformerOptions(4, 2).num_encoder_layers(1).num_decoder_layers(1).dim_feedforward(6).activation("gelu"));
  t.to(tg::kFloat64);
  t.eval();
  const Tensor causal = nn::Transformer::generate_square_subsequent_mask(2, tg::kFloat64);
  CHECK(tg::gradcheck([&](const std::vector<Tensor>& x) { return t.forward(x[0], x[1], {}, causal); },
                      {uniform64({3, 2, 4}, 1), uniform64({2, 2, 4}, 2)}, 1e-6, 1e-6, 1e-4));
}

// ---- bad input ---------------------------------------------------------------------------------------

TEST_CASE("decoder and Transformer options are checked in the constructors, naming the module and the value",
          "[attention]") {
  CHECK_THAT(error_of([] { nn::TransformerDecoderLayer(6, 4); }),
             Contains("TransformerDecoderLayer") && Contains("d_model 6 is not divisible by nhead 4"));
  CHECK_THAT(error_of([] { nn::TransformerDecoderLayer(nn::TransformerDecoderLayerOptions(8, 2).activation("tanh")); }),
             Contains("TransformerDecoderLayer") && Contains("\"relu\" or \"gelu\"") && Contains("tanh"));
  CHECK_THAT(error_of([] { nn::TransformerDecoderLayer(nn::TransformerDecoderLayerOptions(8, 2).dim_feedforward(0)); }),
             Contains("dim_feedforward must be positive, got 0"));
  CHECK_THAT(error_of([] { nn::TransformerDecoderLayer(nn::TransformerDecoderLayerOptions(8, 2).dropout(1.0)); }),
             Contains("TransformerDecoderLayer") && Contains("dropout must be in [0, 1), got 1"));
  CHECK_THAT(
      error_of([] { nn::TransformerDecoderLayer(nn::TransformerDecoderLayerOptions(8, 2).layer_norm_eps(-1e-5)); }),
      Contains("layer_norm_eps must be non-negative"));
  CHECK_THAT(error_of([] { nn::TransformerDecoderLayer(8, 0); }), Contains("nhead must be positive, got 0"));
  auto layer = std::make_shared<nn::TransformerDecoderLayer>(8, 2);
  CHECK_THAT(error_of([&] { nn::TransformerDecoder(layer, 0); }),
             Contains("TransformerDecoder") && Contains("num_layers must be positive, got 0"));
  CHECK_THAT(error_of([] { nn::TransformerDecoder(nullptr, 2); }), Contains("decoder_layer must not be null"));
  CHECK_THAT(error_of([] { nn::Transformer(nn::TransformerOptions(10, 4)); }),
             Contains("Transformer") && Contains("d_model 10 is not divisible by nhead 4"));
  CHECK_THAT(error_of([] { nn::Transformer(nn::TransformerOptions(8, 2).num_decoder_layers(0)); }),
             Contains("num_decoder_layers must be positive, got 0"));
  CHECK_THAT(error_of([] { nn::Transformer(nn::TransformerOptions(8, 2).num_encoder_layers(-1)); }),
             Contains("num_encoder_layers must be positive, got -1"));
  CHECK_THAT(error_of([] { nn::Transformer(nn::TransformerOptions(8, 2).activation("swish")); }),
             Contains("\"relu\" or \"gelu\"") && Contains("swish"));
  CHECK_THAT(error_of([] { nn::Transformer::generate_square_subsequent_mask(-2); }),
             Contains("generate_square_subsequent_mask") && Contains("sz must be non-negative, got -2"));
  CHECK_THAT(error_of([] { nn::Transformer::generate_square_subsequent_mask(2, tg::kInt64); }),
             Contains("dtype must be floating, got int64"));
}

TEST_CASE("decoder inputs and masks are checked, naming tgt, memory and the shapes", "[attention]") {
  nn::TransformerDecoderLayer layer(nn::TransformerDecoderLayerOptions(8, 2).dim_feedforward(16));
  const Tensor tgt = tg::zeros({4, 2, 8}), memory = tg::zeros({5, 2, 8});
  auto falses = [](tg::IntArrayRef shape) { return tg::gt(tg::zeros(shape), 0.0); };
  CHECK_THAT(error_of([&] {
               layer.forward(tg::zeros({4, 2, 6}), memory);
             }),
             Contains("TransformerDecoderLayer") && Contains("expected tgt with d_model 8") && Contains("got 6"));
  CHECK_THAT(error_of([&] {
               layer.forward(tgt, tg::zeros({5, 2, 7}));
             }),
             Contains("expected memory with d_model 8 in its last dim, got 7"));
  CHECK_THAT(error_of([&] {
               layer.forward(tg::zeros({1, 4, 2, 8}), memory);
             }),
             Contains("3-D tgt") && Contains("[1, 4, 2, 8]"));
  CHECK_THAT(error_of([&] {
               layer.forward(tgt, tg::zeros({5, 8}));
             }),
             Contains("memory must have as many dims as tgt (3), got shape [5, 8]"));
  CHECK_THAT(error_of([&] {
               layer.forward(tgt, tg::zeros({5, 3, 8}));
             }),
             Contains("MultiheadAttention") && Contains("different batch sizes, 2 and 3"));
  // tgt_mask is [T, T], memory_mask [T, S].
  CHECK_THAT(error_of([&] {
               layer.forward(tgt, memory, falses({4, 5}));
             }),
             Contains("2-D attn_mask has shape [4, 5]") && Contains("[4, 4]"));
  CHECK_THAT(error_of([&] {
               layer.forward(tgt, memory, {}, falses({4, 4}));
             }),
             Contains("2-D attn_mask has shape [4, 4]") && Contains("[4, 5]"));
  CHECK_THAT(error_of([&] {
               layer.forward(tgt, memory, {}, {}, falses({2, 5}));
             }),
             Contains("key_padding_mask has shape [2, 5], expected [B, S] = [2, 4]"));
  CHECK_THAT(error_of([&] {
               layer.forward(tgt, memory, {}, {}, {}, falses({2, 4}));
             }),
             Contains("key_padding_mask has shape [2, 4], expected [B, S] = [2, 5]"));
  CHECK_THAT(error_of([&] {
               layer.forward(tgt, memory, {}, {}, tg::zeros({2, 4}, tg::kInt64));
             }),
             Contains("TransformerDecoderLayer") && Contains("tgt_key_padding_mask must be bool") && Contains("int64"));
  CHECK_THAT(error_of([&] {
               layer.forward(tgt, memory, {}, {}, {}, tg::zeros({2, 5}, tg::kInt64));
             }),
             Contains("memory_key_padding_mask must be bool") && Contains("int64"));
  CHECK_THAT(error_of([&] {
               layer.forward(tgt, memory, tg::zeros({4, 4}, tg::kInt64));
             }),
             Contains("attn_mask must be bool") && Contains("int64"));

  nn::Transformer t(nn::TransformerOptions(8, 2).num_encoder_layers(1).num_decoder_layers(1).dim_feedforward(16));
  CHECK_THAT(error_of([&] {
               t.forward(tg::zeros({5, 3, 8}), tgt);
             }),
             Contains("Transformer") && Contains("the batch number of src and tgt must be equal, got 3 and 2"));
  CHECK_THAT(error_of([&] {
               t.forward(tg::zeros({5, 2, 6}), tg::zeros({4, 2, 6}));
             }),
             Contains("the feature number of src and tgt must be equal to d_model 8") && Contains("[5, 2, 6]"));
  CHECK_THAT(error_of([&] {
               t.forward(tg::zeros({5, 8}), tgt);
             }),
             Contains("src and tgt must have the same number of dims"));
  nn::Transformer bf(nn::TransformerOptions(8, 2).num_encoder_layers(1).num_decoder_layers(1).batch_first(true));
  CHECK_THAT(error_of([&] {
               bf.forward(tg::zeros({3, 5, 8}), tg::zeros({2, 5, 8}));
             }),
             Contains("got 3 and 2") && Contains("batch_first"));
}

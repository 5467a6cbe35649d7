// Channel and spatial attention for CNNs: SEBlock, ChannelAttention, SpatialAttention, CBAM.
//
// Golden tests against the references of tests/golden_attention/make_vision_attention_fixtures.py
// (written with nn.AdaptiveAvgPool2d / AdaptiveMaxPool2d as the common PyTorch implementations
// are), gradient checks through the input and every parameter, the keys, the attention maps'
// shapes (the guide's example, quoted by docs/attention.md) and one test per bad input.
#include "support/nn_prelude.h"
#include "tapegrad/nn/attention/vision.h"

namespace {

using Strings = std::vector<std::string>;

tg_golden::Outputs pair(const nn::VisionAttentionOutput& o) {
  return {{"output", o.output}, {"attention", o.attention}};
}

}  // namespace

TEST_CASE("SEBlock, ChannelAttention, SpatialAttention and CBAM match the references: outputs, maps, every gradient",
          "[attention][vision]") {
  std::map<std::string, int> seen;
  for (const Case& c : tg_fixtures::load("golden_attention", "vision_attention")) {
    const std::string kind = c.text("module");
    ++seen[kind];
    if (kind == "se") {
      nn::SEBlock m(nn::SEBlockOptions(c.param1("channels")).reduction(c.param1("reduction")).bias(c.flag("bias")));
      tg_golden::run_case(c, m, [&](const Tensor& x) { return pair(m.forward_with_attention(x)); });
    } else if (kind == "channel") {
      nn::ChannelAttention m(
          nn::ChannelAttentionOptions(c.param1("channels")).reduction(c.param1("reduction")).bias(c.flag("bias")));
      tg_golden::run_case(c, m, [&](const Tensor& x) { return pair(m.forward_with_attention(x)); });
    } else if (kind == "spatial") {
      nn::SpatialAttention m(nn::SpatialAttentionOptions(c.param1("kernel_size")).bias(c.flag("bias")));
      tg_golden::run_case(c, m, [&](const Tensor& x) { return pair(m.forward_with_attention(x)); });
    } else {
      REQUIRE(kind == "cbam");
      nn::CBAM m(c.param1("channels"), c.param1("reduction"), c.param1("kernel_size"));
      tg_golden::run_case(c, m, [&](const Tensor& x) {
        const nn::CBAMOutput o = m.forward_with_attention(x);
        return tg_golden::Outputs{{"output", o.output},
                                  {"channel_attention", o.channel_attention},
                                  {"spatial_attention", o.spatial_attention}};
      });
    }
  }
  CHECK(seen == std::map<std::string, int>{{"se", 3}, {"channel", 2}, {"spatial", 2}, {"cbam", 2}});
}

TEST_CASE("channel and spatial attention pass the gradient check through the input and every parameter",
          "[attention][vision]") {
  // Random inputs: no ties in the max-pooled descriptors, so amax is differentiable there.
  const Tensor x = tg_test::uniform64({2, 4, 3, 3}, -1.0, 1.0, 21);
  const auto check = [&](nn::Module& m) {
    INFO(m.type_name());
    m.to(tg::kFloat64);
    CHECK(
        tg::gradcheck([&](const std::vector<Tensor>& in) { return m(in[0]); }, tg_golden::input_and_parameters(x, m)));
  };
  nn::SEBlock se(4, 2);
  nn::ChannelAttention channel(4, 2);
  nn::SpatialAttention spatial(nn::SpatialAttentionOptions(3).bias(true));
  nn::CBAM cbam(4, 2, 3);
  check(se);
  check(channel);
  check(spatial);
  check(cbam);
  CHECK(
      tg::gradcheck([&](const std::vector<Tensor>& in) { return cbam.forward_with_attention(in[0]).spatial_attention; },
                    tg_golden::input_and_parameters(x, cbam)));
}

// [doc:cbam]
TEST_CASE("channel attention weighs each channel, spatial attention each position: the shapes of their maps",
          "[attention][vision]") {
  const Tensor x = tg::randn({2, 32, 8, 8});  // [B, C, H, W]

  nn::SEBlock se(32);  // reduction 16: Linear 32 -> 2, ReLU, Linear 2 -> 32, Sigmoid
  CHECK(tg_golden::keys_of(se.named_parameters()) == Strings{"fc.0.weight", "fc.0.bias", "fc.2.weight", "fc.2.bias"});
  const nn::VisionAttentionOutput s = se.forward_with_attention(x);
  CHECK(tg_test::shape_of(s.attention) == std::vector<std::int64_t>{2, 32, 1, 1});  // one weight per channel

  nn::CBAM cbam(32, 16, 7);  // channel attention (one MLP for the mean and the max), then spatial (7 x 7 conv)
  CHECK(tg_golden::keys_of(cbam.named_parameters()) ==
        Strings{"channel_attention.mlp.0.weight", "channel_attention.mlp.0.bias", "channel_attention.mlp.2.weight",
                "channel_attention.mlp.2.bias", "spatial_attention.conv.weight"});
  const nn::CBAMOutput c = cbam.forward_with_attention(x);
  CHECK(tg_test::shape_of(c.channel_attention) == std::vector<std::int64_t>{2, 32, 1, 1});  // which channels
  CHECK(tg_test::shape_of(c.spatial_attention) == std::vector<std::int64_t>{2, 1, 8, 8});   // where in the image
  CHECK(tg_test::shape_of(c.output) == tg_test::shape_of(x));
}
// [/doc:cbam]

TEST_CASE("channel and spatial attention: options, no-bias keys, 1/r bottleneck sizes, clone, maps in (0, 1)",
          "[attention][vision]") {
  nn::SEBlock se(nn::SEBlockOptions(12).reduction(4).bias(false));
  CHECK(se.state_dict().keys() == Strings{"fc.0.weight", "fc.2.weight"});
  CHECK(tg_test::shape_of(se.fc->at<nn::Linear>(0)->weight) == std::vector<std::int64_t>{3, 12});
  CHECK(tg_test::shape_of(se.fc->at<nn::Linear>(2)->weight) == std::vector<std::int64_t>{12, 3});
  CHECK(se.fc->size() == 4);  // Linear, ReLU, Linear, Sigmoid

  nn::ChannelAttention ca(10, 3);  // 10 / 3 = 3 hidden units
  CHECK(tg_test::shape_of(ca.mlp->at<nn::Linear>(0)->weight) == std::vector<std::int64_t>{3, 10});
  CHECK(ca.mlp->size() == 3);  // the sigmoid comes after the two descriptors are summed

  nn::SpatialAttention sa;  // kernel 7, padding 3, no bias
  CHECK(sa.state_dict().keys() == Strings{"conv.weight"});
  CHECK(tg_test::shape_of(sa.conv->weight) == std::vector<std::int64_t>{1, 2, 7, 7});
  const Tensor x = tg::randn({1, 5, 4, 6});
  const nn::VisionAttentionOutput s = sa.forward_with_attention(x);
  CHECK(tg_test::shape_of(s.attention) == std::vector<std::int64_t>{1, 1, 4, 6});
  for (double a : tg_test::values(s.attention)) CHECK((a > 0 && a < 1));
  CHECK(tg_test::all_close(tg_test::values(s.output), tg_test::values(x * s.attention)));

  nn::CBAM cbam(8, 2, 3);
  auto copy = std::dynamic_pointer_cast<nn::CBAM>(cbam.clone());
  REQUIRE(copy != nullptr);
  CHECK(copy->spatial_attention->conv->weight.data_ptr() != cbam.spatial_attention->conv->weight.data_ptr());
  const Tensor y = tg::randn({2, 8, 3, 3});
  CHECK(tg_test::values(copy->forward(y)) == tg_test::values(cbam(y)));
  CHECK(cbam.options().kernel_size() == 3);
}

TEST_CASE("channel and spatial attention reject a reduction above the channel count, even kernels, bad inputs",
          "[attention][vision][bad_input]") {
  CHECK_THAT(error_of([] { nn::SEBlock(8); }),
             Contains("SEBlock: reduction ratio 16 is larger than the channel count 8"));
  CHECK_THAT(error_of([] { nn::ChannelAttention(4, 5); }),
             Contains("ChannelAttention: reduction ratio 5 is larger than the channel count 4"));
  CHECK_THAT(error_of([] { nn::CBAM(12); }), Contains("CBAM: reduction ratio 16 is larger than the channel count 12"));
  CHECK_THAT(error_of([] { nn::SEBlock(8, 0); }), Contains("reduction ratio must be positive, got 0"));
  CHECK_THAT(error_of([] { nn::SEBlock(0, 1); }), Contains("channels must be positive, got 0"));
  CHECK_THAT(error_of([] { nn::SpatialAttention(4); }),
             Contains("SpatialAttention: kernel_size must be odd so that padding k/2 keeps H and W, got 4"));
  CHECK_THAT(error_of([] { nn::SpatialAttention(0); }), Contains("kernel_size must be positive, got 0"));
  CHECK_THAT(error_of([] { nn::CBAM(16, 4, 6); }), Contains("CBAM: kernel_size must be odd") && Contains("got 6"));

  nn::SEBlock se(8, 2);
  CHECK_THAT(error_of([&] {
               se(tg::zeros({2, 8, 3}));
             }),
             Contains("SEBlock(channels=8): expected input [B, C, H, W] (4-D), got shape [2, 8, 3]"));
  CHECK_THAT(error_of([&] {
               se(tg::zeros({2, 6, 3, 3}));
             }),
             Contains("SEBlock(channels=8): expected 8 channels, got 6 (shape [2, 6, 3, 3])"));
  CHECK_THAT(error_of([&] { se(tg::zeros({2, 8, 3, 3}, tg::kInt64)); }), Contains("expected float input, got int64"));
  nn::ChannelAttention ca(8, 2);
  CHECK_THAT(error_of([&] {
               ca(tg::zeros({2, 4, 3, 3}));
             }),
             Contains("ChannelAttention(channels=8): expected 8 channels, got 4"));
  nn::SpatialAttention sa(3);
  CHECK_THAT(error_of([&] {
               sa(tg::zeros({8, 3, 3}));
             }),
             Contains("SpatialAttention(kernel_size=3): expected input [B, C, H, W] (4-D), got shape [8, 3, 3]"));
  CHECK_THAT(error_of([&] { sa(tg::zeros({1, 8, 3, 3}, tg::kFloat64)); }), Contains("the input is float64"));
  nn::CBAM cbam(8, 2, 3);
  CHECK_THAT(error_of([&] {
               cbam(tg::zeros({1, 7, 3, 3}));
             }),
             Contains("CBAM(channels=8): expected 8 channels, got 7"));
}

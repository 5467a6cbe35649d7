// PyTorch habits, module by module: what a PyTorch user writes first works the same here.
// Softmax and LogSoftmax without a dim, AdaptiveMaxPool2d, Sequential from a vector and from
// named pairs, Unflatten, Upsample and functional::interpolate. The first case compares values
// and gradients with PyTorch's (tests/golden/make_habits_fixtures.py, habits_modules).
#include <catch2/catch.hpp>
#include <functional>
#include <memory>

#include "helpers.h"
#include "support/fixtures.h"
#include "tapegrad/tapegrad.h"

using Catch::Matchers::Contains;
using tg::Tensor;
using tg_test::all_close;
using tg_test::shape_of;
using tg_test::values;
namespace nn = tg::nn;

TEST_CASE("The habit modules give PyTorch's values and gradients", "[habits][nn][golden]") {
  using Make = std::function<std::shared_ptr<nn::Module>()>;
  using Up = nn::UpsampleOptions;
  const auto up = [](Up options) { return [options] { return std::make_shared<nn::Upsample>(options); }; };
  const std::vector<std::pair<std::string, Make>> cases =
      {
          {"nn.Softmax()(x), x of shape [2, 3, 4]",
           [] {
    return std::make_shared<nn::Softmax>();
           }},
          {"nn.Softmax()(x), x of shape [3, 4]", [] { return std::make_shared<nn::Softmax>(); }},
          {"nn.LogSoftmax()(x), x of shape [2, 3, 4, 2]", [] { return std::make_shared<nn::LogSoftmax>(); }},
          {"nn.LogSoftmax()(x), x of shape [5]", [] { return std::make_shared<nn::LogSoftmax>(); }},
          {"nn.AdaptiveMaxPool2d((3, 2))(x)",
           [] {
    return std::make_shared<nn::AdaptiveMaxPool2d>(tg::Int2{3, 2});
           }},
                                                  {"nn.AdaptiveMaxPool2d((4, 4))(x)",
                                                   [] {
    return std::make_shared<nn::AdaptiveMaxPool2d>(tg::Int2{4, 4});
                                                   }},
      {"nn.Upsample(scale_factor=2)(x)", up(Up().scale_factor(2))},
      {"nn.Upsample(size=(5, 7))(x)", up(Up().size({5, 7}))},
      {"nn.Upsample(scale_factor=1.5)(x)", up(Up().scale_factor(1.5))},
      {"nn.Upsample(scale_factor=2, mode='bilinear')(x)", up(Up().scale_factor(2).mode("bilinear"))},
      {"nn.Upsample(size=(5, 7), mode='bilinear')(x)", up(Up().size({5, 7}).mode("bilinear"))},
      {"nn.Upsample(size=(5, 7), mode='bilinear', align_corners=True)(x)",
       up(Up().size({5, 7}).mode("bilinear").align_corners(true))},
      {"nn.Upsample(scale_factor=1.5, mode='bilinear', align_corners=True)(x)",
       up(Up().scale_factor(1.5).mode("bilinear").align_corners(true))},
      {"nn.Unflatten(1, (3, -1))(x)",
       [] {
    return std::make_shared<nn::Unflatten>(1, std::vector<std::int64_t>{3, -1});
       }},
      {"nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))(x)",
       [] {
    return std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Linear>(4, 3), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(3, 2)});
       }},
      {"nn.Sequential(OrderedDict(fc1=nn.Linear(4, 3), act=nn.Tanh(), fc2=nn.Linear(3, 2)))(x)",
       [] {
    return std::make_shared<nn::Sequential>(
        std::vector<std::pair<std::string, std::shared_ptr<nn::Module>>>{{"fc1", std::make_shared<nn::Linear>(4, 3)},
                                                                         {"act", std::make_shared<nn::Tanh>()},
                                                                         {"fc2", std::make_shared<nn::Linear>(3, 2)}});
       }},
      };
  const auto same = [](const Tensor& t, const tg_fixtures::Case& c, const std::string& key) {
    UNSCOPED_INFO(c.name << ": " << key);
    return shape_of(t) == c.stored(key).shape && all_close(values(t), c.stored(key).values, 1e-10, 1e-12);
  };
  for (const auto& [name, make] : cases) {
    const tg_fixtures::Case& c = tg_fixtures::load_case("golden", "habits_modules", name);
    const std::shared_ptr<nn::Module> m = make();
    m->to(tg::kFloat64);
    const auto params = m->named_parameters();
    {
      tg::NoGradGuard no_grad;
      for (const auto& [key, p] : params) p.copy_(c.tensor(key));  // PyTorch's keys and values
    }
    const Tensor x = c.tensor("x").requires_grad_();
    const Tensor out = m->forward(x);
    CHECK(same(out, c, "output"));
    (out * c.tensor("gout")).sum().backward();
    CHECK(same(x.grad(), c, "grad_x"));
    for (const auto& [key, p] : params) CHECK(same(p.grad(), c, "grad_" + key));
  }
}

TEST_CASE("Softmax and LogSoftmax without a dim use PyTorch's implicit dim", "[habits][nn]") {
  CHECK(nn::implicit_softmax_dim(0) == 0);
  CHECK(nn::implicit_softmax_dim(1) == 0);
  CHECK(nn::implicit_softmax_dim(2) == 1);
  CHECK(nn::implicit_softmax_dim(3) == 0);
  CHECK(nn::implicit_softmax_dim(4) == 1);
  const Tensor x2 = tg::rand({3, 4}), x3 = tg::rand({2, 3, 4});
  nn::Softmax sm;
  nn::LogSoftmax lsm;
  CHECK(values(sm(x2)) == values(tg::softmax(x2, 1)));
  CHECK(values(sm(x3)) == values(tg::softmax(x3, 0)));
  CHECK(values(lsm(x2)) == values(tg::log_softmax(x2, 1)));
  CHECK(values(nn::LogSoftmax(-1)(x3)) == values(tg::log_softmax(x3, -1)));
  CHECK(values(nn::Softmax(2)(x3)) == values(tg::softmax(x3, 2)));
}

TEST_CASE("AdaptiveMaxPool2d is the module of adaptive_max_pool2d", "[habits][nn]") {
  const Tensor x = tg::rand({2, 3, 7, 5});
  nn::AdaptiveMaxPool2d pool({3, 2});
  CHECK(shape_of(pool(x)) == std::vector<std::int64_t>{2, 3, 3, 2});
  CHECK(values(pool(x)) == values(tg::adaptive_max_pool2d(x, {3, 2})));
  CHECK(pool.type_name() == "AdaptiveMaxPool2d");
}

TEST_CASE("Sequential from a vector and from named pairs", "[habits][nn]") {
  tg::manual_seed(3);
  std::vector<std::shared_ptr<nn::Module>> layers{std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::ReLU>(),
                                                  std::make_shared<nn::Linear>(8, 2)};
  auto seq = std::make_shared<nn::Sequential>(layers);
  CHECK(seq->size() == 3);
  CHECK(seq->state_dict().contains("2.bias"));
  auto named = std::make_shared<nn::Sequential>(std::vector<std::pair<std::string, std::shared_ptr<nn::Module>>>{
      {"fc1", layers[0]}, {"act", layers[1]}, {"fc2", layers[2]}});
  nn::Sequential braced{{"fc1", std::make_shared<nn::Linear>(4, 8)}, {"act", std::make_shared<nn::ReLU>()}};
  CHECK(named->state_dict().keys() == std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"});
  CHECK(braced.state_dict().keys() == std::vector<std::string>{"fc1.weight", "fc1.bias"});
  const Tensor x = tg::rand({5, 4});
  CHECK(values((*seq)(x)) == values((*named)(x)));  // the same modules in the same order
  CHECK_THROWS_WITH(nn::Sequential({{"fc", layers[0]}, {"fc", layers[2]}}), Contains("fc"));
}

TEST_CASE("Unflatten splits one dim, the inverse of Flatten", "[habits][nn]") {
  const Tensor x = tg::rand({2, 12});
  nn::Unflatten unflatten(1, {3, -1});
  const Tensor y = unflatten(x);
  CHECK(shape_of(y) == std::vector<std::int64_t>{2, 3, 4});
  CHECK(values(nn::Flatten()(y)) == values(x));
  CHECK_THROWS_WITH(nn::Unflatten(1, {5, -1})(x), Contains("unflatten"));
}

TEST_CASE("Upsample and interpolate: output size from size or scale_factor", "[habits][nn][upsample]") {
  const Tensor x = tg::rand({1, 2, 3, 5});
  nn::Upsample up(nn::UpsampleOptions().scale_factor(2).mode("bilinear"));
  CHECK(shape_of(up(x)) == std::vector<std::int64_t>{1, 2, 6, 10});
  CHECK(values(up(x)) == values(tg::upsample_bilinear2d(x, {6, 10}, false, tg::Scale2{2, 2})));
  // floor(3 * 1.5) = 4, floor(5 * 1.5) = 7, and the scale, not in/out, sets the source step.
  const Tensor y = nn::functional::interpolate(x, nn::InterpolateOptions().scale_factor(1.5));
  CHECK(shape_of(y) == std::vector<std::int64_t>{1, 2, 4, 7});
  CHECK(values(y) == values(tg::upsample_nearest2d(x, {4, 7}, tg::Scale2{1.5, 1.5})));
  const Tensor z =
      nn::functional::interpolate(x, nn::InterpolateOptions().size({4, 4}).mode("bilinear").align_corners(true));
  CHECK(values(z) == values(tg::upsample_bilinear2d(x, {4, 4}, true)));
}

TEST_CASE("Upsample: bad options name the module and the option", "[habits][nn][upsample][bad-input]") {
  CHECK_THROWS_WITH(nn::Upsample(nn::UpsampleOptions()),
                    Contains("Upsample") && Contains("exactly one of size and scale_factor"));
  CHECK_THROWS_WITH(nn::Upsample(nn::UpsampleOptions().size(4).scale_factor(2)), Contains("both"));
  CHECK_THROWS_WITH(nn::Upsample(nn::UpsampleOptions().size(4).mode("bicubic")), Contains("unknown mode \"bicubic\""));
  CHECK_THROWS_WITH(nn::Upsample(nn::UpsampleOptions().size(4).align_corners(true)),
                    Contains("align_corners") && Contains("nearest"));
  const Tensor x = tg::rand({1, 1, 2, 2});
  CHECK_THROWS_WITH(nn::functional::interpolate(x, nn::InterpolateOptions().scale_factor(0.25)),
                    Contains("interpolate") && Contains("output size of 0x0"));
  CHECK_THROWS_WITH(nn::functional::interpolate(x, nn::InterpolateOptions().scale_factor(-1)),
                    Contains("interpolate") && Contains("positive and finite"));
  CHECK_THROWS_WITH(nn::functional::interpolate(tg::rand({2, 2}), nn::InterpolateOptions().size(4)),
                    Contains("interpolate") && Contains("3-D or 4-D"));
}

TEST_CASE("Modules name themselves and the fix when given the wrong dtype", "[habits][nn][bad-input]") {
  nn::Linear fc(784, 10);
  CHECK_THROWS_WITH(fc(tg::zeros({2, 784}, tg::kInt64)),
                    Contains("Linear(784 -> 10): expected float input, got int64; call .to(kFloat32)"));
  CHECK_THROWS_WITH(fc(tg::zeros({2, 784}, tg::kFloat64)),
                    Contains("Linear(784 -> 10): the input is float64 but the parameters are float32") &&
                        Contains("input.to(kFloat32)") && Contains(".to(kFloat64)"));
  fc.to(tg::kFloat64);
  CHECK(fc(tg::zeros({2, 784}, tg::kFloat64)).dtype() == tg::kFloat64);  // the fix the message names works
  nn::Conv2d conv(nn::ConvOptions(3, 8, 3));
  CHECK_THROWS_WITH(conv(tg::zeros({1, 3, 5, 5}, tg::kInt64)), Contains("Conv2d(3 -> 8): expected float input"));
  nn::Conv1d conv1(nn::ConvOptions(3, 8, 3));
  CHECK_THROWS_WITH(conv1(tg::zeros({1, 3, 5}, tg::kFloat64)), Contains("Conv1d(3 -> 8): the input is float64"));
  nn::LayerNorm ln(nn::LayerNormOptions({4}));
  CHECK_THROWS_WITH(ln(tg::zeros({2, 4}, tg::kInt64)), Contains("LayerNorm: expected float input, got int64"));
  nn::BatchNorm1d bn(nn::BatchNormOptions(4));
  CHECK_THROWS_WITH(bn(tg::zeros({2, 4}, tg::kFloat64)), Contains("BatchNorm1d: the input is float64"));
  nn::MultiheadAttention mha(nn::MultiheadAttentionOptions(8, 2));
  const Tensor q = tg::zeros({3, 2, 8}, tg::kInt64);
  CHECK_THROWS_WITH(mha.forward(q, q, q), Contains("MultiheadAttention: expected float input, got int64"));
  nn::Bilinear bil(nn::BilinearOptions(2, 3, 4));
  CHECK_THROWS_WITH(bil.forward(tg::zeros({1, 2}), tg::zeros({1, 3}, tg::kInt64)),
                    Contains("Bilinear: expected float input, got int64"));
}

TEST_CASE("cross_entropy on classes-last logits says the class dim comes second", "[habits][loss][bad-input]") {
  const Tensor logits = tg::rand({2, 5, 7});            // [B, T, C] as a sequence model gives them
  const Tensor target = tg::zeros({2, 5}, tg::kInt64);  // [B, T]
  CHECK_THROWS_WITH(nn::functional::cross_entropy(logits, target), Contains("cross_entropy") &&
                                                                       Contains("the class dim comes second") &&
                                                                       Contains("input.transpose(1, 2)"));
  CHECK(nn::functional::cross_entropy(logits.transpose(1, 2), target).numel() == 1);  // the fix the message names works
  // Any other mismatch gets no such hint.
  CHECK_THROWS_WITH(nn::functional::cross_entropy(tg::rand({2, 7}), tg::zeros({3}, tg::kInt64)),
                    !Contains("class dim comes second") && Contains("needs a target of shape [2]"));
}

TEST_CASE("LSTM and GRU: out and state destructure from lstm(x), and the output alone inside Sequential",
          "[habits][nn][rnn]") {
  tg::manual_seed(3);
  auto lstm = std::make_shared<nn::LSTM>(nn::RNNOptions(4, 3).num_layers(2));
  const Tensor x = tg::randn({5, 2, 4});
  auto [out, state] = (*lstm)(x);  // out, (h_n, c_n) = lstm(x)
  auto [h_n, c_n] = state;
  CHECK(shape_of(out) == std::vector<std::int64_t>{5, 2, 3});
  CHECK(shape_of(h_n) == std::vector<std::int64_t>{2, 2, 3});
  CHECK(shape_of(c_n) == std::vector<std::int64_t>{2, 2, 3});
  // The top layer's last output is h_n's last row.
  CHECK(values(out.select(0, 4)) == values(h_n.select(0, 1)));
  // forward(x) is the same call; a given state continues the sequence.
  const nn::RNNOutput again = lstm->forward(x);
  CHECK(values(again.output) == values(out));
  auto [out2, state2] = (*lstm)(x, nn::RNNState{h_n, c_n});
  CHECK(values(out2) != values(out));
  CHECK(values(state2.c) != values(c_n));

  // Through a Module pointer (as Sequential calls it) the LSTM yields the output sequence.
  nn::Module& as_module = *lstm;
  CHECK(values(as_module(x)) == values(out));
  nn::Sequential seq(std::vector<std::shared_ptr<nn::Module>>{lstm, std::make_shared<nn::Linear>(3, 2)});
  CHECK(shape_of(seq(x)) == std::vector<std::int64_t>{5, 2, 2});
  CHECK(nn::summary(seq, {5, 2, 4}).find("LSTM") != std::string::npos);

  nn::GRU gru(nn::RNNOptions(4, 3).batch_first(true));
  auto [gout, gstate] = gru(tg::randn({2, 5, 4}));
  CHECK(shape_of(gout) == std::vector<std::int64_t>{2, 5, 3});
  CHECK(shape_of(gstate.h) == std::vector<std::int64_t>{1, 2, 3});
  CHECK_FALSE(gstate.c.defined());
}

TEST_CASE("LSTM and GRU name themselves and the fix when given the wrong dtype", "[habits][nn][rnn][bad-input]") {
  nn::LSTM lstm(4, 3);
  CHECK_THROWS_WITH(lstm(tg::zeros({5, 2, 4}, tg::kInt64)),
                    Contains("LSTM(4 -> 3): expected float input, got int64; call .to(kFloat32)"));
  nn::GRU gru(4, 3);
  CHECK_THROWS_WITH(gru(tg::zeros({5, 2, 4}, tg::kFloat64)), Contains("GRU(4 -> 3): the input is float64"));
}

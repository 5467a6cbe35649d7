// FeatureGate: attention over a single time step, x * sigmoid(W x + b).
//
// Golden tests against the reference of tests/golden_attention/make_vision_attention_fixtures.py,
// a gradient check through the input and both parameters, why a softmax over one step is no
// attention at all (the guide's example, quoted by docs/attention.md), keys and bad inputs.
#include "support/nn_prelude.h"
#include "tapegrad/nn/attention/gate.h"

TEST_CASE("FeatureGate matches the reference: output, gate values and every gradient", "[attention][feature_gate]") {
  for (const Case& c : tg_fixtures::load("golden_attention", "feature_gate")) {
    nn::FeatureGate m(nn::FeatureGateOptions(c.param1("features")).bias(c.flag("bias")));
    tg_golden::run_case(c, m, [&](const Tensor& x) {
      const nn::FeatureGateOutput out = m.forward_with_gate(x);
      return tg_golden::Outputs{{"output", out.output}, {"gate", out.gate}};
    });
  }
}

TEST_CASE("FeatureGate passes the gradient check through the input, gate.weight and gate.bias",
          "[attention][feature_gate]") {
  nn::FeatureGate m(4);
  m.to(tg::kFloat64);
  const Tensor x = tg_test::uniform64({3, 2, 4}, -2.0, 2.0, 11);
  CHECK(tg::gradcheck([&](const std::vector<Tensor>& in) { return m(in[0]); }, tg_golden::input_and_parameters(x, m)));
  CHECK(tg::gradcheck([&](const std::vector<Tensor>& in) { return m.forward_with_gate(in[0]).gate; },
                      tg_golden::input_and_parameters(x, m)));
}

// [doc:feature_gate]
TEST_CASE("attention over one time step: a softmax keeps the step whole, a feature gate chooses features",
          "[attention][feature_gate]") {
  // One step of 4 features per batch item: x [B = 2, T = 1, F = 4].
  const Tensor x = tg::tensor({{{1.0, -2.0, 0.5, 3.0}}, {{0.0, 1.0, -1.0, 2.0}}});
  // Softmax attention over T: whatever the scores, exp(s) / exp(s) = 1, so the step is kept
  // whole, the context equals x, and the scores get no gradient.
  const Tensor scores = tg::randn({2, 1}).requires_grad_();  // one score per item
  const Tensor alpha = tg::softmax(scores, 1);               // [2, 1]
  CHECK(tg_test::values(alpha) == std::vector<double>{1, 1});
  const Tensor context = (alpha.unsqueeze(2) * x).sum(1);  // [2, 4]
  CHECK(tg_test::values(context) == tg_test::values(x.squeeze(1)));
  context.sum().backward();
  CHECK(tg_test::values(scores.grad()) == std::vector<double>{0, 0});

  // A feature gate weighs each feature in (0, 1) instead: x * sigmoid(W x + b).
  nn::FeatureGate gate(4);  // its Linear is the child "gate": keys gate.weight, gate.bias
  const nn::FeatureGateOutput out = gate.forward_with_gate(x.squeeze(1));  // [2, 4] and [2, 4]
  for (double g : tg_test::values(out.gate)) CHECK((g > 0 && g < 1));
  CHECK(tg_test::all_close(tg_test::values(out.output), tg_test::values(x.squeeze(1) * out.gate)));
  CHECK(tg_test::shape_of(gate(x)) == std::vector<std::int64_t>{2, 1, 4});  // any [..., F]
}
// [/doc:feature_gate]

TEST_CASE("FeatureGate has the keys gate.weight and gate.bias, and clones independently", "[attention][feature_gate]") {
  nn::FeatureGate m(6);
  CHECK(tg_golden::keys_of(m.named_parameters()) == std::vector<std::string>{"gate.weight", "gate.bias"});
  CHECK(tg_test::shape_of(m.gate->weight) == std::vector<std::int64_t>{6, 6});
  nn::FeatureGate nobias(nn::FeatureGateOptions(3).bias(false));
  CHECK(nobias.state_dict().keys() == std::vector<std::string>{"gate.weight"});
  auto copy = std::dynamic_pointer_cast<nn::FeatureGate>(m.clone());
  REQUIRE(copy != nullptr);
  CHECK(copy->gate->weight.data_ptr() != m.gate->weight.data_ptr());
  const Tensor x = tg::randn({2, 6});
  CHECK(tg_test::values(copy->forward(x)) == tg_test::values(m(x)));
}

TEST_CASE("FeatureGate rejects a bad feature count, a wrong last dim and a wrong dtype",
          "[attention][feature_gate][bad_input]") {
  CHECK_THAT(error_of([] { nn::FeatureGate(0); }), Contains("FeatureGate: features must be positive, got 0"));
  nn::FeatureGate m(4);
  CHECK_THAT(error_of([&] {
               m(tg::zeros({2, 5}));
             }),
             Contains("FeatureGate(features=4): the input's last dim is 5, expected 4 (shape [2, 5])"));
  CHECK_THAT(error_of([&] { m(tg::zeros({}, tg::kFloat32)); }), Contains("expected input [..., 4], got []"));
  CHECK_THAT(error_of([&] { m(tg::zeros({2, 4}, tg::kInt64)); }), Contains("expected float input, got int64"));
  CHECK_THAT(error_of([&] { m(tg::zeros({2, 4}, tg::kFloat64)); }), Contains("the input is float64"));
}

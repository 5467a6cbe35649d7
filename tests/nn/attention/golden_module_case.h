#pragma once
// Runs one case of tests/golden_attention/make_vision_attention_fixtures.py against a tapegrad
// module: PyTorch's state through a strict load_state_dict (every key must match, so the key
// lists are checked too), the forward in eval mode on the case's x, every output compared within
// 1e-10 (absolute, or relative above 1), then the gradients of sum((out * g<out>).sum()) with
// respect to x and every parameter.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "support/fixtures.h"
#include "tapegrad/tapegrad.h"

namespace tg_golden {

constexpr double kTol = 1e-10;

/// got against the case's tensor key: same shape, every element within kTol scaled by max(1, |want|).
inline void check_close(const tg_fixtures::Case& c, const std::string& key, const tg::Tensor& got) {
  INFO("case '" << c.name << "' (" << c.where << "), tensor '" << key << "'");
  const auto& want = c.stored(key);
  REQUIRE(got.defined());
  REQUIRE(got.shape().vec() == want.shape);
  const std::vector<double> g = got.to(tg::kFloat64).contiguous().to_vector<double>();
  double worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double err = std::abs(g[i] - want.values[i]) / std::max(1.0, std::abs(want.values[i]));
    if (!(err <= worst)) {
      worst = std::isnan(err) ? INFINITY : err;
      at = i;
    }
  }
  INFO("worst element " << at << ": got " << (g.empty() ? 0.0 : g[at]) << ", want "
                        << (g.empty() ? 0.0 : want.values[at]));
  CHECK(worst <= kTol);
}

inline std::vector<std::string> keys_of(const std::vector<std::pair<std::string, tg::Tensor>>& v) {
  std::vector<std::string> out;
  for (const auto& [k, t] : v) out.push_back(k);
  return out;
}

/// (key, tensor) of each output: "output", "attention", "gate", ...; the upstream gradient is "g" + key.
using Outputs = std::vector<std::pair<std::string, tg::Tensor>>;

/// Loads the case's state into m (strict), runs forward(x) in eval mode, checks outputs and gradients.
inline void run_case(const tg_fixtures::Case& c, tg::nn::Module& m,
                     const std::function<Outputs(const tg::Tensor&)>& forward) {
  INFO("case '" << c.name << "' (" << c.where << ")");
  m.to(tg::kFloat64);
  m.eval();
  CHECK(keys_of(m.named_parameters()) == c.words("params"));
  CHECK(m.state_dict().keys() == c.words("state"));
  tg::nn::StateDict state;
  for (const std::string& k : c.words("state")) state.insert(k, c.tensor("state." + k));
  m.load_state_dict(state);

  const tg::Tensor x = c.tensor("x").requires_grad_();
  tg::Tensor loss;
  for (const auto& [key, out] : forward(x)) {
    check_close(c, key, out);
    const tg::Tensor term = (out * c.tensor("g" + key)).sum();
    loss = loss.defined() ? loss + term : term;
  }
  loss.backward();
  check_close(c, "grad.x", x.grad().defined() ? x.grad() : tg::zeros_like(x));
  for (const auto& [k, p] : m.named_parameters())
    check_close(c, "grad." + k, p.grad().defined() ? p.grad() : tg::zeros_like(p));
}

}  // namespace tg_golden

namespace tg_golden {

/// {x, then every parameter of m}: the inputs of a gradient check through a module (gradcheck
/// perturbs each in place, so the module sees the perturbed parameters).
inline std::vector<tg::Tensor> input_and_parameters(const tg::Tensor& x, const tg::nn::Module& m) {
  std::vector<tg::Tensor> out{x};
  for (const tg::Tensor& p : m.parameters()) out.push_back(p);
  return out;
}

}  // namespace tg_golden

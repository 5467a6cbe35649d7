#pragma once
// The runner of the golden cases of tests/golden_attention/make_transformer_fixtures.py: build the
// module from the case's options, load PyTorch's state_dict through a strict load_state_dict,
// check the names and order of named_parameters() and state_dict(), run forward in eval mode and
// compare within 1e-10 (absolute, or relative above 1) the outputs and the gradients of
// (output*gout).sum() [+ (weights*gweights).sum()] with respect to every float input and every
// parameter.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "support/fixtures.h"
#include "tapegrad/tapegrad.h"

namespace tg_attention_golden {

constexpr double kTol = 1e-10;

using tg::Tensor;
using tg_fixtures::Case;
using Outputs = std::vector<std::pair<std::string, Tensor>>;  // (key, tensor): output, weights
using Inputs = std::map<std::string, Tensor>;

/// A fixture mask: `index` tensors of 0/1 are bool masks, `tensor`s float masks. Undefined if absent.
inline Tensor mask_of(const Case& c, const std::string& key) {
  if (!c.has_tensor(key)) return {};
  const Tensor t = c.tensor(key);
  return c.stored(key).is_index ? tg::ne(t, 0.0) : t;
}

/// got against the case's tensor key: same shape, every element within kTol scaled by max(1, |want|).
inline void check_close(const Case& c, const std::string& key, const Tensor& got) {
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

inline std::vector<std::string> keys_of(const std::vector<std::pair<std::string, Tensor>>& v) {
  std::vector<std::string> out;
  for (const auto& [k, t] : v) out.push_back(k);
  return out;
}

/// Loads PyTorch's state (strict), checks the key lists, runs forward in eval mode and compares
/// the outputs and the gradients of every float input and every parameter.
inline void run_case(const Case& c, tg::nn::Module& m, const std::vector<std::string>& input_keys,
                     const std::function<Outputs(const Inputs&)>& forward) {
  INFO("case '" << c.name << "' (" << c.where << ")");
  m.to(tg::kFloat64);
  m.eval();
  CHECK(keys_of(m.named_parameters()) == c.words("params"));
  CHECK(m.state_dict().keys() == c.words("state"));
  tg::nn::StateDict state;
  for (const std::string& k : c.words("state")) state.insert(k, c.tensor("state." + k));
  m.load_state_dict(state);

  Inputs inputs;
  for (const std::string& k : input_keys)
    if (c.has_tensor(k)) inputs[k] = c.tensor(k).requires_grad_();
  const Outputs outputs = forward(inputs);
  const std::map<std::string, std::string> upstream{{"output", "gout"}, {"weights", "gweights"}};
  Tensor loss;
  for (const auto& [key, out] : outputs) {
    check_close(c, key, out);
    const Tensor term = (out * c.tensor(upstream.at(key))).sum();
    loss = loss.defined() ? loss + term : term;
  }
  loss.backward();
  for (const auto& [k, t] : inputs) check_close(c, "grad." + k, t.grad().defined() ? t.grad() : tg::zeros_like(t));
  for (const auto& [k, p] : m.named_parameters())
    check_close(c, "grad." + k, p.grad().defined() ? p.grad() : tg::zeros_like(p));
}

}  // namespace tg_attention_golden

#pragma once
// The runner of the golden cases of a module against PyTorch (fixtures of
// tests/golden_attention/make_*_fixtures.py and tests/golden_modules/make_module_fixtures.py):
// PyTorch's state through a strict load_state_dict (every key must match, and the names and order
// of named_parameters() and state_dict() are checked too), the forward in eval mode on the case's
// inputs, every output compared within 1e-10 (absolute, or relative above 1), then the gradients
// of the sum of (output * its upstream gradient).sum() with respect to every float input and
// every parameter. A case with the flag forward_only compares the outputs alone.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "support/fixtures.h"
#include "tapegrad/tapegrad.h"

namespace tg_golden {

constexpr double kTol = 1e-10;

/// (key, tensor) of each output: "output", "weights", "gate", ...
using Outputs = std::vector<std::pair<std::string, tg::Tensor>>;
/// The case's float inputs by key, each requiring grad.
using Inputs = std::map<std::string, tg::Tensor>;
/// The key of the upstream gradient of an output.
using Upstream = std::function<std::string(const std::string&)>;

/// A fixture mask: `index` tensors of 0/1 are bool masks, `tensor`s float masks. Undefined if absent.
inline tg::Tensor mask_of(const tg_fixtures::Case& c, const std::string& key) {
  if (!c.has_tensor(key)) return {};
  const tg::Tensor t = c.tensor(key);
  return c.stored(key).is_index ? tg::ne(t, 0.0) : t;
}

/// got against the case's tensor key: same shape, every element within kTol scaled by
/// max(1, |want|); a NaN expected must be a NaN got. Returns the worst error.
inline double check_close(const tg_fixtures::Case& c, const std::string& key, const tg::Tensor& got) {
  INFO("case '" << c.name << "' (" << c.where << "), tensor '" << key << "'");
  const auto& want = c.stored(key);
  REQUIRE(got.defined());
  REQUIRE(got.shape().vec() == want.shape);
  const std::vector<double> g = got.to(tg::kFloat64).contiguous().to_vector<double>();
  double worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    double err;
    if (std::isnan(want.values[i])) err = std::isnan(g[i]) ? 0.0 : INFINITY;
    else err = std::abs(g[i] - want.values[i]) / std::max(1.0, std::abs(want.values[i]));
    if (!(err <= worst)) {  // also catches NaN
      worst = std::isnan(err) ? INFINITY : err;
      at = i;
    }
  }
  INFO("worst element " << at << ": got " << (g.empty() ? 0.0 : g[at]) << ", want "
                        << (g.empty() ? 0.0 : want.values[at]));
  CHECK(worst <= kTol);
  return worst;
}

inline std::vector<std::string> keys_of(const std::vector<std::pair<std::string, tg::Tensor>>& v) {
  std::vector<std::string> out;
  for (const auto& [k, t] : v) out.push_back(k);
  return out;
}

/// Checks the key lists of m against the case's "params" and "state", then loads the case's
/// state into m through a strict load_state_dict.
inline void load_case_state(const tg_fixtures::Case& c, tg::nn::Module& m) {
  CHECK(keys_of(m.named_parameters()) == c.words("params"));
  CHECK(m.state_dict().keys() == c.words("state"));
  tg::nn::StateDict state;
  for (const std::string& k : c.words("state")) state.insert(k, c.tensor("state." + k));
  m.load_state_dict(state);  // strict: PyTorch's keys, no more, no fewer, same shapes
}

/// The upstream gradients of the attention fixtures: output -> gout, weights -> gweights,
/// context -> gcontext, alpha -> galpha.
inline std::string attention_upstream(const std::string& key) {
  static const std::map<std::string, std::string> upstream{
      {"output", "gout"}, {"weights", "gweights"}, {"context", "gcontext"}, {"alpha", "galpha"}};
  return upstream.at(key);
}

/// The gradient of t, or zeros when nothing reached it.
inline tg::Tensor grad_or_zeros(const tg::Tensor& t) { return t.grad().defined() ? t.grad() : tg::zeros_like(t); }

/// Loads the case's state into m (strict), runs forward on the case's inputs of input_keys (those
/// present) in eval mode in float64 and compares the outputs and, unless the case is
/// forward_only, the gradients of every input and every parameter.
inline void run_case(const tg_fixtures::Case& c, tg::nn::Module& m, const std::vector<std::string>& input_keys,
                     const std::function<Outputs(const Inputs&)>& forward,
                     const Upstream& upstream = attention_upstream) {
  INFO("case '" << c.name << "' (" << c.where << ")");
  m.to(tg::kFloat64);
  m.eval();
  load_case_state(c, m);

  Inputs inputs;
  for (const std::string& k : input_keys)
    if (c.has_tensor(k)) inputs[k] = c.tensor(k).requires_grad_();
  const Outputs outputs = forward(inputs);
  const bool forward_only = c.has_param("forward_only") && c.flag("forward_only");
  tg::Tensor loss;
  for (const auto& [key, out] : outputs) {
    check_close(c, key, out);
    if (forward_only) continue;
    const tg::Tensor term = (out * c.tensor(upstream(key))).sum();
    loss = loss.defined() ? loss + term : term;
  }
  if (forward_only) return;
  loss.backward();
  for (const auto& [k, t] : inputs) check_close(c, "grad." + k, grad_or_zeros(t));
  for (const auto& [k, p] : m.named_parameters()) check_close(c, "grad." + k, grad_or_zeros(p));
}

/// A case of one input "x" (make_vision_attention_fixtures.py): the upstream gradient of each
/// output is "g" + its key.
inline void run_case(const tg_fixtures::Case& c, tg::nn::Module& m,
                     const std::function<Outputs(const tg::Tensor&)>& forward) {
  run_case(
      c, m, {"x"}, [&](const Inputs& in) { return forward(in.at("x")); },
      [](const std::string& key) { return "g" + key; });
}

/// A MultiheadAttention case (make_attention_fixtures.py, make_transformer_fixtures.py): self
/// attention (query as key and value) or not, the case's masks, and the weights compared when
/// need_weights (else they must be undefined).
inline void run_multihead_case(const tg_fixtures::Case& c, tg::nn::MultiheadAttention& m) {
  const bool self = c.flag("self"), need_weights = c.flag("need_weights");
  const bool average = c.flag("average_attn_weights");
  const tg::Tensor kpm = mask_of(c, "key_padding_mask"), mask = mask_of(c, "attn_mask");
  run_case(c, m, {"query", "key", "value"}, [&](const Inputs& in) {
    const tg::Tensor& q = in.at("query");
    const auto r = self ? m.forward(q, q, q, kpm, need_weights, mask, average)
                        : m.forward(q, in.at("key"), in.at("value"), kpm, need_weights, mask, average);
    Outputs out{{"output", r.output}};
    if (need_weights) out.emplace_back("weights", r.weights);
    else CHECK_FALSE(r.weights.defined());
    return out;
  });
}

/// Runs fn on every case of the fixture file set/family, each after tg::manual_seed(7) (so a
/// module's own initialisation, which the case's state then replaces, is reproducible); returns
/// how many cases ran.
inline int for_each_case(const std::string& set, const std::string& family,
                         const std::function<void(const tg_fixtures::Case&)>& fn) {
  int ran = 0;
  for (const tg_fixtures::Case& c : tg_fixtures::load(set, family)) {
    tg::manual_seed(7);
    fn(c);
    ++ran;
  }
  return ran;
}

/// {x, then every parameter of m}: the inputs of a gradient check through a module (gradcheck
/// perturbs each in place, so the module sees the perturbed parameters).
inline std::vector<tg::Tensor> input_and_parameters(const tg::Tensor& x, const tg::nn::Module& m) {
  std::vector<tg::Tensor> out{x};
  for (const tg::Tensor& p : m.parameters()) out.push_back(p);
  return out;
}

}  // namespace tg_golden

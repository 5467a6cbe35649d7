// load_state_dict(strict = false) returns the keys it could not match, as PyTorch's does, and a
// 0-d entry (BatchNorm's num_batches_tracked) loads from a tensor of shape [1], as PyTorch
// allows; every other shape mismatch stays an error.
#include <catch2/catch.hpp>

#include "golden_io/io_helpers.h"
#include "support/helpers.h"
#include "tapegrad/tapegrad.h"

using namespace tg;
using Catch::Matchers::Contains;
using tg_io_test::TempDir;

TEST_CASE("load_state_dict not strict: loads what matches, returns the missing and unexpected keys",
          "[io][state_dict]") {
  manual_seed(3);
  nn::Linear source(3, 2), target(3, 2);
  nn::StateDict state;
  state.insert("weight", source.weight.detach());
  state.insert("extra.weight", zeros({1}));
  const nn::IncompatibleKeys keys = target.load_state_dict(state, /*strict=*/false);
  CHECK(keys.missing_keys == std::vector<std::string>{"bias"});
  CHECK(keys.unexpected_keys == std::vector<std::string>{"extra.weight"});
  CHECK(target.weight.to_vector<float>() == source.weight.to_vector<float>());
  CHECK(target.bias.to_vector<float>() != source.bias.to_vector<float>());
  // Strict: the same state is an error naming both lists; nothing is written.
  nn::Linear untouched(3, 2);
  const auto before = untouched.weight.to_vector<float>();
  CHECK_TG_ERROR(untouched.load_state_dict(state),
                 Contains("missing keys: bias") && Contains("unexpected keys: extra.weight"));
  CHECK(untouched.weight.to_vector<float>() == before);
  // A full match returns two empty lists.
  const nn::IncompatibleKeys none = target.load_state_dict(source.state_dict(), false);
  CHECK(none.missing_keys.empty());
  CHECK(none.unexpected_keys.empty());
  // Shape mismatches stay errors when not strict.
  nn::StateDict wrong;
  wrong.insert("weight", zeros({2, 4}));
  CHECK_TG_ERROR(target.load_state_dict(wrong, false),
                 Contains("shape mismatches: weight (expected [2, 3], got [2, 4])"));
}

TEST_CASE("a 0-d entry loads from a one-element 1-d tensor and from no other shape", "[io][state_dict]") {
  nn::BatchNorm1d bn(4);
  nn::StateDict state = bn.state_dict();
  nn::StateDict as_one;
  for (const auto& [k, v] : state) as_one.insert(k, k == "num_batches_tracked" ? full({1}, 7.0, kInt64) : v);
  bn.load_state_dict(as_one);
  CHECK(bn.num_batches_tracked.dim() == 0);
  CHECK(bn.num_batches_tracked.item<std::int64_t>() == 7);
  // Through a file, as PyTorch writes it when num_batches_tracked was saved as [1].
  TempDir dir;
  const std::string path = (dir / "bn.safetensors").string();
  save_safetensors(path, {{"weight", ones({4})},
                          {"bias", zeros({4})},
                          {"running_mean", zeros({4})},
                          {"running_var", ones({4})},
                          {"num_batches_tracked", full({1}, 9.0, kInt64)}});
  nn::BatchNorm1d loaded(4);
  const nn::IncompatibleKeys keys = tg::load(loaded, path);
  CHECK(keys.missing_keys.empty());
  CHECK(loaded.num_batches_tracked.item<std::int64_t>() == 9);
  for (const std::vector<std::int64_t>& shape : {std::vector<std::int64_t>{2}, std::vector<std::int64_t>{1, 1}}) {
    nn::StateDict bad;
    for (const auto& [k, v] : state) bad.insert(k, k == "num_batches_tracked" ? zeros(shape, kInt64) : v);
    CHECK_TG_ERROR(bn.load_state_dict(bad), Contains("shape mismatches: num_batches_tracked (expected [], got"));
  }
}
